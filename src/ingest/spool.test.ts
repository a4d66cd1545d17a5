/**
 * Spooling a big body: the hash is the one the whole text has, the rows come back chunk by
 * chunk as parsing the whole would give them, the rows' own text is what spoolToJson
 * writes, and a body that is bad (or refused by `admit`) leaves no spool file behind.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fail, ok } from "../util/result.ts";
import { dataHash } from "./intake.ts";
import { parseRows } from "./rows.ts";
import { spoolBody, spoolToJson, spooledChunks } from "./spool.ts";

const work = mkdtempSync(join(tmpdir(), "anylog-spool-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A stream of `text` in pieces of `size` bytes (cut anywhere, even inside a character). */
function pieces(text: string, size: number): ReadableStream<Uint8Array> {
  const bytes = Buffer.from(text, "utf8");
  let off = 0;
  return new ReadableStream({
    pull(controller) {
      if (off >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(off, off + size));
      off += size;
    },
  });
}

const rows = Array.from({ length: 30_000 }, (_, i) => ({ id: i, name: `sensör ${i} "x"`, v: i / 7, big: i === 5 ? 9007199254740993n : i }));
const rawJSON = (JSON as unknown as { rawJSON(text: string): object }).rawJSON; // (not in TypeScript's lib yet)
const text = rows.map((r) => JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? rawJSON(String(v)) : v))).join("\n");

test("the hash is the whole text's, the rows come back in chunks as parsing the whole gives them, with their types", async () => {
  const dir = join(work, "a");
  const r = await spoolBody(pieces(text, 7777), dir, "test.t\n", async () => ok(undefined));
  if (!r.ok) throw new Error(r.error.message);
  expect(r.value.hash).toBe(dataHash("test", "t", text));
  expect(r.value.spooled.rows).toBe(30_000);
  expect(Object.fromEntries(r.value.spooled.types)).toEqual({ id: "int", name: "text", v: "float", big: "int" });
  const chunks = [...spooledChunks(r.value.spooled.path)];
  expect(chunks.length).toBeGreaterThan(1);
  const back = chunks.flatMap((c) => (c.ok ? c.value : []));
  const whole = parseRows(text);
  expect(whole.ok && back).toEqual(whole.ok ? whole.value : []);
  expect(back[5]!.big).toBe(9007199254740993n); // all 17 digits

  const target = join(work, "out", "test.t.json");
  expect(spoolToJson(r.value.spooled.path, target).ok).toBe(true);
  const again = parseRows(readFileSync(target, "utf8"));
  expect(again.ok && again.value).toEqual(whole.ok ? whole.value : []);
});

test("a bad body, or one admit refuses, is an error naming where, and leaves no spool file", async () => {
  const dir = join(work, "b");
  const bad = await spoolBody(pieces(`${text}\n{"id": 1, "v": }`, 5000), dir, "x", async () => ok(undefined));
  expect(bad.ok).toBe(false);
  if (!bad.ok) expect(bad.error.message).toMatch(/after row \d+/);
  const cut = await spoolBody(pieces(`[${text.split("\n").slice(0, 100).join(",")}]`.slice(0, -5), 100), dir, "x", async () => ok(undefined));
  expect(cut.ok).toBe(false);
  let calls = 0;
  const refused = await spoolBody(pieces(text, 5000), dir, "x", async () => (++calls === 3 ? fail("bad_value", "column 'v' is int") : ok(undefined)));
  expect(refused.ok).toBe(false);
  if (!refused.ok) expect(refused.error.message).toContain("column 'v' is int");
  expect(readdirSync(dir)).toEqual([]);
});
