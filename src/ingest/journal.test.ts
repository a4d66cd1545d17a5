/**
 * The journal on real files: what was appended and not done comes back on the next open,
 * in order; a record cut short by a crash is cut off (it was never acknowledged) and the
 * records before it are kept; segments go once all their entries are done; past its bound
 * an append is refused and nothing in it is dropped; a damaged record ends the segment.
 */
import { afterAll, expect, test } from "bun:test";
import { appendFileSync, fdatasync, fstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Journal, type JournalEntry } from "./journal.ts";

const work = mkdtempSync(join(tmpdir(), "anylog-journal-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(work, `j${n++}`);

const entry = (i: number, body = `{"id": ${i}}`): JournalEntry => ({ dbms: "test", table: "t", hash: `h${i}`, source: "rest", body });

function open(dir: string, maxBytes = 64 * 1024 * 1024) {
  const r = Journal.open(dir, maxBytes);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

test("entries come back on the next open, in order, until every entry of their segment is done", async () => {
  const dir = freshDir();
  const { journal, left } = open(dir);
  expect(left).toEqual([]);
  const refs = [];
  for (let i = 0; i < 10; i++) {
    const r = await journal.append(entry(i));
    expect(r.ok).toBe(true);
    if (r.ok) refs.push(r.value);
  }
  for (const ref of refs.slice(0, 4)) journal.done(ref);
  expect(journal.status().pending).toBe(6);
  await journal.close();
  const again = open(dir);
  // a segment goes only when all of it is done: all 10 come back, the first 4 stored again
  // is what tsd_info makes a no-op
  expect(again.left.map((l) => l.entry.hash)).toEqual(refs.map((_, i) => `h${i}`));
  for (const l of again.left) again.journal.done(l.ref);
  await again.journal.close();
  expect(open(dir).left).toEqual([]);
});

test("a segment whose entries are all done is removed once a new one begins", async () => {
  const dir = freshDir();
  const { journal } = open(dir);
  const big = "x".repeat(600 * 1024);
  const refs = [];
  for (let i = 0; i < 10; i++) {
    const r = await journal.append(entry(i, JSON.stringify({ id: i, big })));
    if (r.ok) refs.push(r.value);
  }
  expect(readdirSync(dir).length).toBeGreaterThan(1); // 6 MB: more than one 4 MB segment
  for (const ref of refs) journal.done(ref);
  expect(journal.status()).toMatchObject({ pending: 0 });
  expect(journal.bytes).toBe(0);
  expect(readdirSync(dir)).toEqual([]);
  await journal.close();
});

test("a record cut short by a crash is cut off; the records before it are kept and the next appends follow them", async () => {
  const dir = freshDir();
  const { journal } = open(dir);
  for (let i = 0; i < 3; i++) await journal.append(entry(i));
  await journal.close();
  const [file] = readdirSync(dir);
  const path = join(dir, file!);
  const whole = statSync(path).size;
  appendFileSync(path, Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 65, 66])); // a header promising 200 bytes, then 2
  const again = open(dir);
  expect(again.left.map((l) => l.entry.hash)).toEqual(["h0", "h1", "h2"]);
  expect(statSync(path).size).toBe(whole);
  expect((await again.journal.append(entry(3))).ok).toBe(true);
  await again.journal.close();
  expect(open(dir).left.map((l) => l.entry.hash)).toEqual(["h0", "h1", "h2", "h3"]);
});

test("a damaged record (its checksum does not match) ends what is read of its segment", async () => {
  const dir = freshDir();
  const { journal } = open(dir);
  for (let i = 0; i < 3; i++) await journal.append(entry(i));
  await journal.close();
  const path = join(dir, readdirSync(dir)[0]!);
  const bytes = readFileSync(path);
  const second = 8 + bytes.readUInt32LE(0); // where the second record begins
  bytes[second + 8 + 3]! ^= 0xff; // a byte of its payload
  writeFileSync(path, bytes);
  expect(open(dir).left.map((l) => l.entry.hash)).toEqual(["h0"]);
});

test("past its bound an append is refused as unavailable, saying why, and nothing in the journal is dropped", async () => {
  const dir = freshDir();
  const { journal } = open(dir, 2048);
  const refs = [];
  let refused;
  for (let i = 0; i < 100; i++) {
    const r = await journal.append(entry(i, JSON.stringify({ id: i, pad: "p".repeat(100) })));
    if (!r.ok) {
      refused = r.error;
      break;
    }
    refs.push(r.value);
  }
  expect(refused?.code).toBe("unavailable");
  expect(refused?.message).toMatch(/journal is full/);
  expect(refs.length).toBeGreaterThan(5);
  // once entries are stored there is room again
  for (const ref of refs) journal.done(ref);
  expect((await journal.append(entry(1000))).ok).toBe(true);
  await journal.close();
  // the new entry shares the segment of the stored ones, which therefore stays: all come back
  expect(open(dir).left.map((l) => l.entry.hash).at(-1)).toBe("h1000");
});

test("many appends at once share fsyncs and all come back", async () => {
  const dir = freshDir();
  const { journal } = open(dir);
  const rs = await Promise.all(Array.from({ length: 500 }, (_, i) => journal.append(entry(i))));
  expect(rs.every((r) => r.ok)).toBe(true);
  await journal.close();
  const left = open(dir).left;
  expect(new Set(left.map((l) => l.entry.hash)).size).toBe(500);
});

test("an empty segment file left by a crash is removed; a missing folder is made", () => {
  const dir = freshDir();
  const { journal } = open(dir);
  void journal.close();
  writeFileSync(join(dir, "000000000007.jrn"), "");
  truncateSync(join(dir, "000000000007.jrn"), 0);
  expect(open(dir).left).toEqual([]);
  expect(readdirSync(dir).filter((f) => f.endsWith(".jrn"))).toEqual([]);
});

test("a segment sealed by size while its sync runs is closed after the sync, not under it (EBADF lost acknowledged PUTs)", async () => {
  const dir = freshDir();
  // a slow disk when it matters: the sync waits before it runs, so the next append comes while
  // it is under way; it fails as the kernel would if its file was closed meanwhile (EBADF), or
  // if the number now names another file (the new segment's: A's records would go unsynced)
  let delayMs = 0;
  const sync = async (fd: number) => {
    const file = fstatSync(fd).ino;
    await Bun.sleep(delayMs);
    let now: number | undefined;
    try {
      now = fstatSync(fd).ino;
    } catch {
      throw new Error("EBADF: bad file descriptor, fdatasync");
    }
    if (now !== file) throw new Error(`fd ${fd} was closed and now names another file`);
    await new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
  };
  const r = Journal.open(dir, 64 * 1024 * 1024, sync);
  if (!r.ok) throw new Error(r.error.message);
  const { journal } = r.value;
  const body = "x".repeat(64 * 1024);
  let appended = 0;
  const append = async (i: number) => {
    const a = await journal.append(entry(i, body));
    expect(a.ok ? "ok" : a.error.message).toBe("ok");
    appended++;
  };
  for (let round = 0; round < 3; round++) {
    // fill the segment to just under its 4 MiB
    delayMs = 0;
    for (let i = 0; i < 63; i++) await append(round * 100 + i);
    // the first append's sync starts at once (and is slow); the second finds the segment full and seals it
    delayMs = 20;
    await Promise.all([append(round * 100 + 63), append(round * 100 + 64)]);
  }
  await journal.close();
  const again = open(dir);
  expect(again.left.length).toBe(appended);
  await again.journal.close();
});

test("a segment holding message ids is kept (.kept) once stored, and its ids come back on the next open", async () => {
  const dir = freshDir();
  const { journal, messages } = open(dir);
  expect(messages).toEqual([]);
  const plain = await journal.append(entry(1));
  const held = await journal.append({ ...entry(2), messages: ["m-a", "m-b"] });
  if (!plain.ok || !held.ok) throw new Error("append failed");
  journal.done(plain.value);
  journal.done(held.value);
  await journal.close();
  expect(readdirSync(dir).filter((f) => f.endsWith(".kept"))).toHaveLength(1);
  expect(readdirSync(dir).filter((f) => f.endsWith(".jrn"))).toHaveLength(0);
  const again = open(dir);
  expect(again.left).toEqual([]); // stored: not stored again
  expect(again.messages).toEqual(["m-a", "m-b"]);
  // a segment not yet stored: its entries come back, their ids too
  const pending = await again.journal.append({ ...entry(3), messages: ["m-c"] });
  expect(pending.ok).toBe(true);
  await again.journal.close();
  const third = open(dir);
  expect(third.left.map((l) => l.entry.messages)).toEqual([["m-c"]]);
  expect(third.messages.sort()).toEqual(["m-a", "m-b", "m-c"]);
  await third.journal.close();
});
