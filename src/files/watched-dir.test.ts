/**
 * The watched directory reports each settled file once, with real files in a temporary
 * directory: renamed in, written slowly, present before the start, ignored names, stop.
 */
import { afterEach, expect, test } from "bun:test";
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SETTLE_MS, WatchedDirectory, ignoredName } from "./watched-dir.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Longer than a re-listing twice over: a file the watcher missed is found by then. */
const LONG_ENOUGH = 2600;

const open: Array<{ watched: WatchedDirectory; dir: string }> = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.watched.stop();
    rmSync(o.dir, { recursive: true, force: true });
  }
});

/** A started watched directory over a fresh temporary directory, and what it reported (path, size then). */
async function watching(before?: (dir: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), "watched-dir-"));
  before?.(dir);
  const reports: Array<{ path: string; size: number; at: number }> = [];
  const errors: string[] = [];
  const watched = new WatchedDirectory({
    directory: dir,
    onSettled: (path) => reports.push({ path, size: statSync(path).size, at: Date.now() }),
    onError: (m) => errors.push(m),
  });
  open.push({ watched, dir });
  const started = await watched.start();
  expect(started).toEqual({ ok: true, value: undefined });
  return { dir, watched, reports, errors };
}

test("a file renamed in is reported once", async () => {
  const { dir, reports, errors } = await watching();
  const outside = mkdtempSync(join(tmpdir(), "watched-dir-src-"));
  writeFileSync(join(outside, "a.json"), '{"v":1}\n');
  renameSync(join(outside, "a.json"), join(dir, "a.json"));
  rmSync(outside, { recursive: true });
  await sleep(LONG_ENOUGH);
  expect(reports.map((r) => r.path)).toEqual([join(dir, "a.json")]);
  expect(errors).toEqual([]);
});

test("a file still being written is reported only once it has settled, with all it holds", async () => {
  const { dir, reports } = await watching();
  const path = join(dir, "slow.json");
  let last = 0;
  for (let t = 0; t <= 300; t += 30) {
    appendFileSync(path, `{"t":${t}}\n`);
    last = Date.now();
    await sleep(30);
  }
  const size = statSync(path).size;
  await sleep(LONG_ENOUGH);
  expect(reports.length).toBe(1);
  expect(reports[0]!.size).toBe(size);
  expect(reports[0]!.at - last).toBeGreaterThanOrEqual(SETTLE_MS - 5);
});

test("ignored names are never reported; other names are", async () => {
  const { dir, reports } = await watching();
  for (const name of ["x.json.tmp", "x.json.err.txt", ".hidden.json", "X.TMP"]) writeFileSync(join(dir, name), "{}\n");
  mkdirSync(join(dir, "sub"));
  writeFileSync(join(dir, "sub", "deep.json"), "{}\n");
  writeFileSync(join(dir, "b.json"), "{}\n");
  await sleep(LONG_ENOUGH);
  expect(reports.map((r) => r.path)).toEqual([join(dir, "b.json")]);
  expect([ignoredName("a.tmp"), ignoredName("/w/a.json.err.txt"), ignoredName("/w/.a.json"), ignoredName("/w/a.json")]).toEqual([true, true, true, false]);
});

test("a file present before the start is reported", async () => {
  const { dir, reports } = await watching((d) => writeFileSync(join(d, "early.json"), "{}\n"));
  await sleep(LONG_ENOUGH);
  expect(reports.map((r) => r.path)).toEqual([join(dir, "early.json")]);
});

test("a released path is reported again when a file of that name comes back", async () => {
  const { dir, watched, reports } = await watching();
  const path = join(dir, "again.json");
  writeFileSync(path, "{}\n");
  await sleep(1000);
  expect(reports.length).toBe(1);
  rmSync(path);
  watched.release(path);
  writeFileSync(path, "{}\n");
  await sleep(LONG_ENOUGH);
  expect(reports.map((r) => r.path)).toEqual([path, path]);
});

test("stop ends the reporting, a file settling included", async () => {
  const { dir, watched, reports } = await watching();
  writeFileSync(join(dir, "settling.json"), "{}\n");
  await watched.stop();
  writeFileSync(join(dir, "late.json"), "{}\n");
  await sleep(LONG_ENOUGH);
  expect(reports).toEqual([]);
});

test("a stop while starting ends the start with an error; an aborted signal too", async () => {
  const dir = mkdtempSync(join(tmpdir(), "watched-dir-"));
  const watched = new WatchedDirectory({ directory: dir, onSettled: () => {} });
  open.push({ watched, dir });
  const starting = watched.start();
  await watched.stop();
  const r = await starting;
  expect(r.ok ? "" : r.error.code).toBe("unavailable");
  const abort = new AbortController();
  const again = watched.start(abort.signal);
  abort.abort();
  const r2 = await again;
  expect(r2.ok ? "" : r2.error.message).toContain("stopped while it was starting");
  expect(await watched.start()).toEqual({ ok: true, value: undefined });
});
