/**
 * Volume through a real operator, on SQLite and on PostgreSQL: 200,000 rows by REST PUT
 * streaming (200 PUTs of 1,000 rows, 4 in flight at once) are all queryable, and count,
 * distinct ids and the sums of an integer and a float column match what was sent; tsd_info
 * holds one stored entry per PUT. Then 400 files renamed into the watch directory in small
 * bursts all land and none stays behind (Bun's fs.watch drops some rename events). The
 * operator runs with threads = 3: files of six tables at once are stored by several workers
 * (one per table), every row once.
 * Bounded waits only: nothing here measures speed (bench/ does).
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Engine, OperatorNode, dropFile, operatorInfo, put, select, waitFor } from "./support/operator.ts";
import { PostgresServer } from "./support/postgres.ts";
import { stopScriptNodes } from "./support/script-node.ts";

setDefaultTimeout(240_000);

const work = mkdtempSync(join(tmpdir(), "anylog-volume-"));
afterAll(async () => {
  await stopScriptNodes();
  rmSync(work, { recursive: true, force: true });
});

const PUTS = 200;
const ROWS_PER_PUT = 1000;
const IN_FLIGHT = 4;
const T0 = Date.UTC(2025, 5, 1);
/** Operator workers, and the tables written at once to keep them busy. */
const THREADS = 3;
const TABLES = 6;

/** Row n: an integer value and a float reading with an exact binary fraction, so sums are exact on both engines. */
const row = (n: number) => ({ id: n, ts: new Date(T0 + n * 1000).toISOString(), device: `d${n % 10}`, value: n % 1000, reading: (n % 1000) / 4 });

interface Totals {
  n: number;
  ids: number;
  lo: number;
  hi: number;
  value: number;
  reading: number;
}

async function totals(op: OperatorNode, table: string): Promise<Totals> {
  const rows = await select(
    op,
    "vol",
    `select count(*) as n, count(distinct id) as ids, min(id) as lo, max(id) as hi, sum(value) as value, sum(reading) as reading from ${table}`,
  );
  const r = rows[0] ?? {};
  return { n: Number(r.n), ids: Number(r.ids), lo: Number(r.lo), hi: Number(r.hi), value: Number(r.value), reading: Number(r.reading) };
}

for (const engine of ["sqlite", "psql"] as Engine[]) {
  describe(`volume on ${engine}`, () => {
    let pg: PostgresServer | undefined;
    let op: OperatorNode;
    afterAll(async () => {
      await op?.node.stop();
      await pg?.stop();
    });

    test(`${PUTS * ROWS_PER_PUT} rows by REST PUT streaming, ${IN_FLIGHT} in flight: all there, counts and sums match`, async () => {
      if (engine === "psql") pg = await PostgresServer.start();
      op = await OperatorNode.start({ engine, pg, dir: join(work, engine), dbms: "vol", streamer: true, operator: `create_table = true and update_tsd_info = true and threads = ${THREADS}` });
      expect(op.scriptErrors()).toEqual([]);

      const sent: Totals = { n: 0, ids: 0, lo: 0, hi: PUTS * ROWS_PER_PUT - 1, value: 0, reading: 0 };
      let next = 0;
      const failures: string[] = [];
      const sender = async () => {
        while (next < PUTS) {
          const k = next++;
          const rows = Array.from({ length: ROWS_PER_PUT }, (_, i) => row(k * ROWS_PER_PUT + i));
          // half the PUTs as a JSON array, half as one object per line
          const body = k % 2 === 0 ? JSON.stringify(rows) : rows.map((r) => JSON.stringify(r)).join("\n");
          const r = await put(op.url, "vol", "readings", body, { timeoutMs: 120_000 });
          if (r.status !== 200 || (r.json as Record<string, string>)["AnyLog.status"] !== "Success") {
            failures.push(`PUT ${k}: ${r.status} ${r.text.slice(0, 200)}`);
            continue;
          }
          for (const x of rows) {
            sent.n++;
            sent.value += x.value;
            sent.reading += x.reading;
          }
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, sender));
      expect(failures).toEqual([]);
      sent.ids = sent.n;
      expect(sent.n).toBe(PUTS * ROWS_PER_PUT);

      // an acknowledged PUT is committed: no waiting needed before the query
      expect(await totals(op, "readings")).toEqual(sent);
      const perDevice = await select(op, "vol", "select device, count(*) as n from readings group by device order by device");
      expect(perDevice.map((r) => [r.device, Number(r.n)])).toEqual(Array.from({ length: 10 }, (_, d) => [`d${d}`, sent.n / 10]));

      const stored = await select(op, "almgm", "select count(*) as n, sum(rows) as r from tsd_info where table_name = 'readings' and status = 'stored'");
      expect(Number(stored[0]?.n)).toBe(PUTS);
      expect(Number(stored[0]?.r)).toBe(sent.n);
      const info = await operatorInfo(op.url);
      expect(info.tables["vol.readings"]).toMatchObject({ rows: sent.n, files: PUTS, errors: 0 });

      // the same again is a duplicate: Success, nothing stored twice
      const again = await put(op.url, "vol", "readings", JSON.stringify(Array.from({ length: ROWS_PER_PUT }, (_, i) => row(i))));
      expect(again.status).toBe(200);
      expect((await totals(op, "readings")).n).toBe(sent.n);
    });

    test("400 files renamed into the watch directory in small bursts all land, none stays behind", async () => {
      const FILES = 400;
      const ROWS = 50;
      let seed = 7;
      const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
      const sent: Totals = { n: 0, ids: 0, lo: 1_000_000, hi: 1_000_000 + FILES * ROWS - 1, value: 0, reading: 0 };
      for (let f = 0; f < FILES; ) {
        const burst = 1 + Math.floor(rand() * 4);
        for (let b = 0; b < burst && f < FILES; b++, f++) {
          const rows = Array.from({ length: ROWS }, (_, i) => row(1_000_000 + f * ROWS + i));
          for (const x of rows) {
            sent.n++;
            sent.value += x.value;
            sent.reading += x.reading;
          }
          dropFile(op.watchDir, `vol.files.test.f${f}.0.json`, rows.map((r) => JSON.stringify(r)).join("\n"));
        }
        await Bun.sleep(rand() * 60);
      }
      sent.ids = sent.n;
      await waitFor(
        "every file stored and out of the watch directory",
        async () => readdirSync(op.watchDir).length === 0 && (await totals(op, "files")).n === sent.n,
        60_000,
        250,
      ).catch((e) => {
        throw new Error(`${e instanceof Error ? e.message : e}; left in the watch directory: ${readdirSync(op.watchDir).length}`);
      });
      expect(await totals(op, "files")).toEqual(sent);
      expect(readdirSync(op.errorDir)).toEqual([]);
      expect(readdirSync(op.bkupDir)).toHaveLength(FILES);
    });

    test(`files of ${TABLES} tables at once with threads = ${THREADS}: every row once; on PostgreSQL several workers at a time, one per table`, async () => {
      const FILES = 20;
      const ROWS = 200;
      const expected = new Map<string, number>();
      for (let t = 0; t < TABLES; t++) {
        for (let f = 0; f < FILES; f++) {
          const rows = Array.from({ length: ROWS }, (_, i) => row(2_000_000 + (t * FILES + f) * ROWS + i));
          dropFile(op.watchDir, `vol.par${t}.test.f${f}.0.json`, rows.map((r) => JSON.stringify(r)).join("\n"));
        }
        expected.set(`par${t}`, FILES * ROWS);
      }
      // the workers at work, as get operator shows them, until every file is stored
      let most = 0;
      await waitFor(
        "every table's files stored",
        async () => {
          const info = await operatorInfo(op.url);
          most = Math.max(most, (info.busy_tables as string[]).length);
          return [...expected.keys()].every((t) => info.tables[`vol.${t}`]?.files === FILES);
        },
        60_000,
        5,
      );
      // on PostgreSQL the workers' transactions run side by side; SQLite takes one at a time
      // (and is done before a look sees it busy)
      if (engine === "psql") expect(most).toBeGreaterThan(1);
      expect(most).toBeLessThanOrEqual(THREADS);
      for (const [table, n] of expected) expect((await totals(op, table)).n).toBe(n);
      expect(readdirSync(op.errorDir)).toEqual([]);
      expect((await operatorInfo(op.url)).threads).toBe(THREADS);
    });
  });
}
