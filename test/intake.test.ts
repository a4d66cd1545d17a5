/**
 * The intake through a real operator (SQLite), as a user sees it: in journal mode (a
 * streamer, `time = 60 seconds`) a PUT is answered before its rows are stored, `get
 * streaming` shows them cached with the time left and the journal holding them, `flush
 * buffers` stores them, and /metrics carries the journal's figures. A body over 4 MB is
 * taken in chunks in every mode (journal, write_immediate, mode: file) and stored whole,
 * once; a big body that is bad is a 400 naming where, and leaves nothing behind.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OperatorNode, command, put, select, streamingInfo, waitFor } from "./support/operator.ts";
import { stopScriptNodes } from "./support/script-node.ts";

// bound waits for real processes; nothing here measures speed
setDefaultTimeout(120_000);

const work = mkdtempSync(join(tmpdir(), "anylog-intake-"));
let op: OperatorNode;

beforeAll(async () => {
  op = await OperatorNode.start({ engine: "sqlite", dir: join(work, "op"), dbms: "edge", streamer: true, before: ["set buffer threshold where time = 60 seconds and volume = 10KB"] });
  expect(op.scriptErrors()).toEqual([]);
});
afterAll(async () => {
  await stopScriptNodes();
  rmSync(work, { recursive: true, force: true });
});

/** Rows counted straight (no `flush buffers` first, unlike `select`). */
async function countNow(table: string): Promise<number> {
  const r = await command(op.url, `sql edge format=json and stat=false "select count(*) as n from ${table}"`);
  if (r.status !== 200) return 0; // no table yet
  return Number((r.json as { Query: Array<{ n: number }> }).Query[0]?.n);
}

/** A body of `rows` rows, one object per line, about `rows` * 120 bytes. */
const lines = (from: number, rows: number) => Array.from({ length: rows }, (_, i) => JSON.stringify({ id: from + i, ts: "2026-12-01 10:00:00", device: `dev${i % 10}`, v: i * 0.25, note: "padding text for a realistic row" })).join("\n");

describe("journal mode", () => {
  test("a PUT is answered at once, waits in its buffer as get streaming shows, and is stored by flush buffers", async () => {
    for (let i = 0; i < 5; i++) expect((await put(op.url, "edge", "readings", JSON.stringify({ id: i, v: i }))).status).toBe(200);
    expect(await countNow("readings")).toBe(0); // 60 s to go
    const s = await streamingInfo(op.url);
    const t = (s as unknown as { tables: Array<Record<string, unknown>>; journal: Record<string, unknown> }).tables.find((r) => r["dbms-table"] === "edge.readings")!;
    expect(t).toMatchObject({ "streaming calls": 5, "streaming rows": 5, "cached rows": 5, "threshold time": 60, "threshold volume": 10240 });
    expect(Number(t["time left"])).toBeGreaterThan(30);
    const journal = (s as unknown as { journal: Record<string, unknown> }).journal;
    expect(journal["journal pending"]).toBe(5);
    expect(String(journal["oldest pending"])).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    const text = await command(op.url, "get streaming");
    expect(text.text).toContain("edge.readings");
    expect(text.text).toMatch(/Journal: .* 5 unit\(s\) not yet stored/);
    const metrics = await fetch(`${op.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^anylog_journal_pending_units 5$/m);
    expect(metrics).toMatch(/^# TYPE anylog_journal_bytes gauge$/m);

    expect((await command(op.url, "flush buffers", true)).status).toBe(200);
    expect(await countNow("readings")).toBe(5);
    expect(((await streamingInfo(op.url)) as unknown as { journal: Record<string, unknown> }).journal["journal pending"]).toBe(0);
    const config = await command(op.url, "get streaming config where format = json");
    expect(config.json).toMatchObject({ journal_size: 64 * 1024 * 1024, thresholds: [{ scope: "default", time: 60, volume: 10240 }] });
  });

  test("a value that contradicts what an acknowledged, not yet stored PUT gave its column is 400 at once", async () => {
    expect((await put(op.url, "edge", "fresh", JSON.stringify({ id: 1, v: 1.5 }))).status).toBe(200);
    const r = await put(op.url, "edge", "fresh", JSON.stringify({ id: 2, v: "text" }));
    expect(r.status).toBe(400);
    expect((r.json as { error: string }).error).toMatch(/'v'/);
    expect(await select(op, "edge", "select id, v from fresh")).toEqual([{ id: 1, v: 1.5 }]);
  });

  test("set buffer threshold where journal_size: too small or per table is refused; a size is kept", async () => {
    expect((await command(op.url, "set buffer threshold where journal_size = 10KB", true)).status).toBe(400);
    expect((await command(op.url, "set buffer threshold where journal_size = 8MB and table = readings", true)).status).toBe(400);
    expect((await command(op.url, "set buffer threshold where journal_size = 128MB", true)).status).toBe(200);
    expect(((await streamingInfo(op.url)) as unknown as { journal: Record<string, unknown> }).journal["journal limit"]).toBe(128 * 1024 * 1024);
  });
});

describe("a body over 4 MB is taken in chunks", () => {
  const spoolDir = () => join(op.home, "data", "journal", "spool");

  test("journal mode: answered, then stored whole and once; the same body again changes nothing", async () => {
    const body = lines(1_000_000, 50_000); // ~6 MB
    expect(body.length).toBeGreaterThan(4 * 1024 * 1024);
    const r = await put(op.url, "edge", "big", body);
    expect(r.status).toBe(200);
    expect((await put(op.url, "edge", "big", body)).status).toBe(200);
    expect(await select(op, "edge", "select count(*) as n, count(distinct id) as d, min(id) as lo, max(id) as hi from big")).toEqual([{ n: 50_000, d: 50_000, lo: 1_000_000, hi: 1_049_999 }]);
    await waitFor("the spool files removed", () => readdirSync(spoolDir()).length === 0, 20_000);
  });

  test("write_immediate: stored before the answer", async () => {
    expect((await command(op.url, "set buffer threshold where table = bigimm and write_immediate = true", true)).status).toBe(200);
    expect((await put(op.url, "edge", "bigimm", lines(2_000_000, 40_000))).status).toBe(200);
    expect(await countNow("bigimm")).toBe(40_000);
  });

  test("mode: file: the body byte for byte as a file of the watch directory, stored by the operator; the same body streamed is a duplicate", async () => {
    const body = lines(3_000_000, 40_000);
    const r = await put(op.url, "edge", "bigfile", body, { mode: "file" });
    expect(r.status).toBe(200);
    await waitFor("the file stored", async () => (await countNow("bigfile")) === 40_000, 60_000);
    expect(await select(op, "edge", "select count(distinct id) as d from bigfile")).toEqual([{ d: 40_000 }]);
    const hash = (r.json as Record<string, string>)["AnyLog.hash"];
    const kept = join(op.bkupDir, `edge.bigfile.rest.${hash}.json`);
    await waitFor("the file in the backup directory", () => existsSync(kept), 20_000);
    expect(readFileSync(kept, "utf8") === body).toBe(true);
    expect((await put(op.url, "edge", "bigfile", body)).status).toBe(200); // streamed: the same data, stored once
    expect(await select(op, "edge", "select count(*) as n from bigfile")).toEqual([{ n: 40_000 }]);
  });

  test("a big body that is bad is a 400 saying after which row, nothing is stored and no spool file is left", async () => {
    const body = `${lines(4_000_000, 40_000)}\n{"id": 1, "v": }\n${lines(4_100_000, 10)}`;
    const r = await put(op.url, "edge", "bigbad", body);
    expect(r.status).toBe(400);
    expect((r.json as { error: string }).error).toMatch(/after row \d+/);
    const cut = await put(op.url, "edge", "bigbad", `[${lines(4_200_000, 40_000).replaceAll("\n", ",")}`);
    expect(cut.status).toBe(400);
    expect(await countNow("bigbad")).toBe(0);
    expect(readdirSync(spoolDir())).toEqual([]);
    expect(existsSync(join(op.errorDir))).toBe(true);
  });
});
