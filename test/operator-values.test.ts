/**
 * Values through a real operator come back as they were sent, on SQLite and PostgreSQL,
 * with the node in a time zone other than UTC (America/New_York, which skips 02:00-03:00
 * on 2026-03-08): timestamps with and without fractions (one inside the skipped hour),
 * integers up to 2^53, floats, text with quotes and non-ASCII, booleans, nulls; by a
 * streaming PUT and by a watch-dir file. Keys and a table named by SQL keywords (group,
 * order, user, select) are stored and read back like any other. Times written with T and Z,
 * an offset or as epoch seconds are stored as UTC and compare in time order. Compressed
 * files (.json.gz) are stored; a broken one goes to the error directory. Times are taken as
 * UTC (as AnyLog stores them) and read back with `timezone = utc`.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { type Engine, OperatorNode, command, dropFile, put, select, waitFor } from "./support/operator.ts";
import { PostgresServer } from "./support/postgres.ts";
import { stopScriptNodes } from "./support/script-node.ts";

setDefaultTimeout(120_000);

const work = mkdtempSync(join(tmpdir(), "anylog-values-"));
afterAll(async () => {
  await stopScriptNodes();
  rmSync(work, { recursive: true, force: true });
});

const ROWS = [
  { n: 1, ts: "2026-01-01 00:00:01", big: 9007199254740991, f: 0.1, t: `it's "quoted"`, ok: true },
  { n: 2, ts: "2026-03-08 02:30:00", big: -42, f: -1.5e-7, t: "Grüße, 温度 ✓", ok: false },
  { n: 3, ts: "2026-06-30 23:59:59.25", big: 0, f: 12345.678, t: "", ok: null },
  { n: 4, ts: null, big: null, f: null, t: null, ok: true },
];

/** Booleans read back as 1/0 from SQLite and true/false from PostgreSQL. */
const asBool = (v: unknown) => (v === null ? null : v === true || v === 1);
/** Times come back in UTC (timezone = utc) with six fraction digits. */
const EXPECTED = ROWS.map((r) => ({ ...r, ts: r.ts === null ? null : `${r.ts.split(".")[0]}.${(r.ts.split(".")[1] ?? "").padEnd(6, "0")}` }));

for (const engine of ["sqlite", "psql"] as Engine[]) {
  describe(`values on ${engine}, node in America/New_York`, () => {
    let pg: PostgresServer | undefined;
    let op: OperatorNode;
    afterAll(async () => {
      await op?.node.stop();
      await pg?.stop();
    });

    const readBack = async (table: string) =>
      (await select(op, "vals", `select n, ts, big, f, t, ok from ${table} order by n`, "timezone = utc")).map((r) => ({ ...r, n: Number(r.n), big: r.big === null ? null : Number(r.big), ok: asBool(r.ok) }));

    test("a streaming PUT: every value as sent", async () => {
      if (engine === "psql") pg = await PostgresServer.start();
      op = await OperatorNode.start({ engine, pg, dir: join(work, engine), dbms: "vals", env: { TZ: "America/New_York" }, before: ["partition vals by_day using ts by 1 day"] });
      expect(op.scriptErrors()).toEqual([]);
      const r = await put(op.url, "vals", "by_put", ROWS.map((x) => JSON.stringify(x)).join("\n"));
      expect(r.status).toBe(200);
      expect(await readBack("by_put")).toEqual(EXPECTED);
    });

    test("keys and a table named by SQL keywords (group, order, user, select), and a header in capitals", async () => {
      const rows = [
        { n: 1, group: "a", order: 2, user: "u1", select: true },
        { n: 2, group: "b", order: 1, user: "u2", select: false },
      ];
      expect((await put(op.url, "vals", "Order", rows.map((x) => JSON.stringify(x)).join("\n"))).status).toBe(200);
      dropFile(op.watchDir, "vals.order.test.1.json", JSON.stringify({ n: 3, group: "c", order: 0, user: "u3", select: null }));
      await waitFor("the file's row", async () => (await select(op, "vals", 'select count(*) as c from \\"order\\"').catch(() => [{ c: 0 }]))[0]?.c == 3);
      const back = await select(op, "vals", 'select * from \\"order\\" order by n');
      // (the quotes around "order" are escaped for the command language)
      expect(back.map((r) => [Number(r.n), r.group, Number(r.order), r.user, asBool(r.select)])).toEqual([
        [1, "a", 2, "u1", true],
        [2, "b", 1, "u2", false],
        [3, "c", 0, "u3", null],
      ]);
    });

    test("times written with T and Z, an offset, or as epoch seconds are stored as UTC and compare in time order", async () => {
      const rows = [
        { n: 1, ts: "2026-01-01T10:00:00Z" },
        { n: 2, ts: "2026-01-01T12:30:00+02:00" },
        { n: 3, ts: "2026-01-01 11:00:00" },
        { n: 5, ts: "2026-01-01T05:20:00.250-05:00" },
      ];
      expect((await put(op.url, "vals", "times", rows.map((x) => JSON.stringify(x)).join("\n"))).status).toBe(200);
      // a number into the time column made by the first PUT: epoch seconds
      expect((await put(op.url, "vals", "times", JSON.stringify({ n: 4, ts: Date.UTC(2026, 0, 1, 11, 15) / 1000 }))).status).toBe(200);
      const back = await select(op, "vals", "select n, ts from times order by ts", "timezone = utc");
      expect(back.map((r) => [Number(r.n), r.ts])).toEqual([
        [1, "2026-01-01 10:00:00.000000"],
        [5, "2026-01-01 10:20:00.250000"],
        [2, "2026-01-01 10:30:00.000000"],
        [3, "2026-01-01 11:00:00.000000"],
        [4, "2026-01-01 11:15:00.000000"],
      ]);
      const before = await select(op, "vals", "select n from times where ts < '2026-01-01 10:45:00' order by n");
      expect(before.map((r) => Number(r.n))).toEqual([1, 2, 5]);
    });

    test("a compressed file (.json.gz) is stored; a broken one goes to the error directory saying why", async () => {
      mkdirSync(op.watchDir, { recursive: true });
      writeFileSync(join(op.watchDir, ".gz.part"), gzipSync(ROWS.map((x) => JSON.stringify(x)).join("\n")));
      renameSync(join(op.watchDir, ".gz.part"), join(op.watchDir, "vals.by_gz.test.0.json.gz"));
      dropFile(op.watchDir, "vals.by_gz.test.1.json.gz", "not gzip at all");
      await waitFor("the compressed file's rows", async () => (await select(op, "vals", "select count(*) as c from by_gz").catch(() => [{ c: 0 }]))[0]?.c == 4);
      expect(await readBack("by_gz")).toEqual(EXPECTED);
      await waitFor("the broken file in the error directory", () => existsSync(join(op.errorDir, "vals.by_gz.test.1.json.gz.err.txt")));
      expect(readFileSync(join(op.errorDir, "vals.by_gz.test.1.json.gz.err.txt"), "utf8")).toMatch(/cannot read|gzip|header|incorrect/i);
    });

    test("get operator: per table, inserts, summary and config, as text and as JSON", async () => {
      const text = (await command(op.url, "get operator")).text;
      expect(text).toMatch(/^Operator: Running/);
      expect(text).toMatch(/vals\.by_put\s*\|1\s*\|4\s*\|0/);
      const inserts = (await command(op.url, "get operator inserts where format = json")).json as Array<Record<string, unknown>>;
      expect(inserts.find((r) => r.table === "vals.by_put")).toMatchObject({ files: 1, rows: 4, errors: 0, last_insert: expect.stringMatching(/^\d{4}-/) });
      const summary = (await command(op.url, "get operator summary where format = json")).json as Record<string, number>;
      expect(summary.rows_stored).toBe(inserts.reduce((n, r) => n + Number(r.rows), 0));
      expect(summary.files_queued).toBe(0);
      const config = (await command(op.url, "get operator config where format = json")).json as Record<string, unknown>;
      expect(config).toMatchObject({ watch_dir: op.watchDir, create_table: true, update_tsd_info: true, threads: 1 });
      expect((await command(op.url, "get operator config")).text).toContain(op.watchDir);
      const bad = await command(op.url, "get operator everything");
      expect(bad.status).toBe(400);
      expect(bad.text).toContain("inserts, summary, config");
    });

    test("a time without a zone goes to the partition of its UTC day, as it is stored", async () => {
      // 23:30 in New York would be the next day in UTC: the node must not read it as local time
      const r = await put(op.url, "vals", "by_day", [{ n: 1, ts: "2026-01-01T23:30:00" }, { n: 2, ts: "2026-01-02 00:30:00" }].map((x) => JSON.stringify(x)).join("\n"));
      expect(r.status).toBe(200);
      const report = (await command(op.url, "get partitions where dbms = vals and format = json")).json as Array<{ table: string; partitions: string[] }>;
      expect(report.find((p) => p.table === "by_day")?.partitions).toEqual(["par_by_day_20260101", "par_by_day_20260102"]);
      expect(await select(op, "vals", "select n from par_by_day_20260101")).toEqual([{ n: 1 }]);
    });

    test("a watch-dir file: every value as sent", async () => {
      dropFile(op.watchDir, "vals.by_file.test.0.json", JSON.stringify(ROWS));
      await waitFor("the file's rows", async () => (await select(op, "vals", "select count(*) as c from by_file").catch(() => [{ c: 0 }]))[0]?.c == 4);
      expect(await readBack("by_file")).toEqual(EXPECTED);
    });
  });
}
