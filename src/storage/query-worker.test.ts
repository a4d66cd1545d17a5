/**
 * Query workers on their own: a read answers as the in-process read does, one that never
 * ends is stopped at its deadline (its worker killed, the next read served by a new one), and
 * a machine where no worker can start reads in the node instead of failing every query.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { queryWorkersInUse, stopQueryWorkers, useQueryWorkers } from "./query-worker.ts";
import { SqliteDatabase } from "./sqlite.ts";

const work = mkdtempSync(join(tmpdir(), "anylog-qworker-"));
afterAll(() => {
  stopQueryWorkers();
  rmSync(work, { recursive: true, force: true });
});

const LIMITS = { timeoutMs: 10_000, maxBytes: 1024 * 1024 };

describe("query workers", () => {
  const opened = SqliteDatabase.open({ name: "w", engine: "sqlite", directory: work });
  if (!opened.ok) throw new Error(opened.error.message);
  const db = opened.value;

  test("a read in a worker answers as a read in the node; a runaway one is stopped and the next is served", async () => {
    await db.exec("CREATE TABLE t (i INTEGER, big INTEGER, ts TIMESTAMP)");
    await db.exec("INSERT INTO t VALUES (1, 9007199254740993, '2026-01-01 00:00:00'), (2, 3, NULL)");
    const inNode = await db.read("select i, big, ts, i * 2 as d from t order by i");
    useQueryWorkers([process.execPath, join(import.meta.dir, "..", "main.ts"), "query-worker"], 1);
    const inWorker = await db.read("select i, big, ts, i * 2 as d from t order by i", LIMITS);
    expect(inWorker).toEqual(inNode);
    expect(inWorker.ok && inWorker.value.rows[0]).toEqual([1, "9007199254740993", "2026-01-01 00:00:00", 2]);

    const t0 = Date.now();
    const runaway = await db.read("with recursive r(x) as (select 1 union all select x+1 from r) select count(*) from r", { ...LIMITS, timeoutMs: 1_000 });
    expect(runaway.ok).toBe(false);
    if (!runaway.ok) expect(runaway.error.code).toBe("timeout");
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect((await db.read("select count(*) as n from t", LIMITS)).ok).toBe(true);
    const bad = await db.read("select nope from t", LIMITS);
    expect(!bad.ok && bad.error.message).toMatch(/dbms 'w' \(sqlite\): no such column: nope/);
  });

  test("a large result comes a page at a time; a reader that stops early or gives up frees the worker", async () => {
    await db.exec("CREATE TABLE big AS WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 200000) SELECT i, 'row ' || i AS label FROM r");
    let rows = 0;
    let pages = 0;
    for await (const page of db.readPaged("select i, label from big order by i", LIMITS)) {
      expect(page.ok).toBe(true);
      if (!page.ok) break;
      expect(page.value.columns.map((c) => c.name)).toEqual(["i", "label"]);
      expect(page.value.rows[0]?.[0]).toBe(rows + 1);
      rows += page.value.rows.length;
      pages++;
    }
    expect(rows).toBe(200_000);
    expect(pages).toBeGreaterThan(2);
    // held whole, the same read is refused past its volume
    const whole = await db.read("select i, label from big", { ...LIMITS, maxBytes: 100_000 });
    expect(!whole.ok && whole.error.message).toMatch(/larger than 100000 bytes \(max_volume\)/);

    // the pool has one worker: each read below gets it only if the one before gave it back
    for await (const page of db.readPaged("select i from big", LIMITS)) {
      expect(page.ok).toBe(true);
      break;
    }
    const gaveUp = new AbortController();
    const runaway = db.read("with recursive r(x) as (select 1 union all select x+1 from r) select count(*) from r", { ...LIMITS, signal: gaveUp.signal });
    setTimeout(() => gaveUp.abort(), 300);
    const stopped = await runaway;
    expect(!stopped.ok && stopped.error.message).toMatch(/asker gave up/);
    const after = await db.read("select count(*) as n from big", LIMITS);
    expect(after.ok && after.value.rows).toEqual([[200000]]);
  });

  test("where no worker can start, reads go on in the node", async () => {
    stopQueryWorkers();
    useQueryWorkers(["/nonexistent/anylog", "query-worker"]);
    const r = await db.read("select count(*) as n from t", LIMITS);
    expect(r.ok && r.value.rows).toEqual([[2]]);
    expect(queryWorkersInUse()).toBe(false);
  });
});
