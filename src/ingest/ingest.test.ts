/**
 * ingestUnits on both engines, with writers at once: three writers of a table that does
 * not exist yet, each bringing a column of its own (on PostgreSQL two transactions creating
 * one table, or adding one column, fail), and the same unit from two writers (stored once).
 * A table dropped outside the node is made again by the next unit.
 */
import "../features.ts";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PostgresServer } from "../../test/support/postgres.ts";
import "../commands/all.ts";
import { Node } from "../node/node.ts";
import { ingestUnits } from "./ingest.ts";
import { columnName, parseRows } from "./rows.ts";

const work = mkdtempSync(join(tmpdir(), "anylog-ingest-"));
let pg: PostgresServer | undefined;
afterAll(async () => {
  await pg?.stop();
  rmSync(work, { recursive: true, force: true });
});

const OPTIONS = { createTable: true, updateTsdInfo: true };

for (const engine of ["sqlite", "psql"] as const) {
  describe(`ingestUnits on ${engine}`, () => {
    let node: Node;
    afterAll(async () => node?.shutdown("test done"));

    const run = async (line: string) => {
      const r = await node.execute(line, node.context("script"));
      if (!r.ok) throw new Error(`${line}: ${r.error.message}`);
      return r.value;
    };

    test("writers of one new table at once, each with a column of its own: all stored, every column there", async () => {
      node = new Node({ env: { ANYLOG_HOME: join(work, engine) } });
      let where = "where type = sqlite";
      if (engine === "psql") {
        pg = await PostgresServer.start();
        where = `where type = psql and ip = 127.0.0.1 and port = ${pg.port} and user = postgres`;
      }
      await run(`connect dbms almgm ${where}`);
      await run("create table tsd_info where dbms = almgm");
      await run(`connect dbms d ${where}`);
      for (let round = 0; round < 5; round++) {
        const outcomes = await Promise.all(
          [0, 1, 2].map((w) => ingestUnits(node, "d", `new${round}`, [{ hash: `r${round}w${w}`, source: "test", rows: [{ w, [`only${w}`]: w * 10 }] }], OPTIONS)),
        );
        expect(outcomes.map((r) => (r.ok ? r.value[0]?.status : r.error.message))).toEqual(["stored", "stored", "stored"]);
        const rows = (await run(`sql d format = json and stat = false "select w, only0, only1, only2 from new${round} order by w"`)) as { Query: unknown[] };
        expect(rows.Query).toEqual([
          { w: 0, only0: 0, only1: null, only2: null },
          { w: 1, only0: null, only1: 10, only2: null },
          { w: 2, only0: null, only1: null, only2: 20 },
        ]);
      }
    });

    test("a table dropped behind the node's back is made again by the next unit", async () => {
      const one = (hash: string) => ingestUnits(node, "d", "gone", [{ hash, source: "test", rows: [{ w: 1 }] }], OPTIONS);
      // the second unit finds the table and keeps its columns
      for (const hash of ["first", "second"]) expect((await one(hash)).ok).toBe(true);
      const db = node.databases.get("d")!;
      expect((await db.exec("DROP TABLE gone")).ok).toBe(true);
      const after = await one("after");
      expect(after.ok && after.value[0]?.status).toBe("stored");
      expect(await run('sql d format = json and stat = false "select count(*) as n from gone"')).toEqual({ Query: [{ n: 1 }] });
    });

    test("a key longer than PostgreSQL keeps (63 characters) is its column in every unit", async () => {
      const long = "k".repeat(70);
      for (let i = 0; i < 3; i++) {
        const rows = parseRows(JSON.stringify({ [long]: i }));
        if (!rows.ok) throw new Error(rows.error.message);
        const r = await ingestUnits(node, "d", "longkeys", [{ hash: `long${i}`, source: "test", rows: rows.value }], OPTIONS);
        expect(r.ok && r.value[0]?.status).toBe("stored");
      }
      // (its name keeps 54 characters and a hash: cut to 63, two long keys shared one column)
      expect(await run(`sql d format = json and stat = false "select sum(${columnName(long)}) as s from longkeys"`)).toEqual({ Query: [{ s: 3 }] });
    });

    test("the same unit from two writers at once is stored once", async () => {
      const unit = { hash: "twice", source: "test", rows: [{ w: 7 }] };
      const [a, b] = await Promise.all([ingestUnits(node, "d", "same", [unit], OPTIONS), ingestUnits(node, "d", "same", [unit], OPTIONS)]);
      expect([a, b].map((r) => (r.ok ? r.value[0]?.status : r.error.message)).sort()).toEqual(["duplicate", "stored"]);
      expect(await run('sql d format = json and stat = false "select count(*) as n from same"')).toEqual({ Query: [{ n: 1 }] });
    });

    test("3,000 one-row units in one call (a buffer after an outage): each row tagged with its own unit's file id; one bad unit fails alone", async () => {
      const units = Array.from({ length: 3_000 }, (_, i) => ({
        hash: `many${i}`,
        source: "test",
        // a few shapes of keys (one INSERT text each), one unit adding a column, and one value its column cannot hold
        rows: [i === 1_500 ? { n: i, v: "not a number" } : i % 3 === 0 ? { n: i, v: i + 0.25, extra: `e${i}` } : { n: i, v: i + 0.25 }],
      }));
      const r = await ingestUnits(node, "d", "many", units, OPTIONS);
      if (!r.ok) throw new Error(r.error.message);
      const statuses = r.value.map((o) => o.status);
      expect(statuses[1_500]).toBe("failed");
      expect(statuses.filter((s) => s === "stored").length).toBe(2_999);
      const byId = new Map(r.value.flatMap((o, i) => (o.status === "stored" ? [[o.fileId, i] as const] : [])));
      const rows = (await run('sql d format = json and stat = false "select n, v, extra, tsd_id from many order by n"')) as { Query: Array<{ n: number; v: number; extra: string | null; tsd_id: number }> };
      expect(rows.Query.length).toBe(2_999);
      for (const row of rows.Query) {
        expect(byId.get(Number(row.tsd_id))).toBe(row.n); // the row carries its own unit's file id
        expect(Number(row.v)).toBe(row.n + 0.25);
        expect(row.extra).toBe(row.n % 3 === 0 ? `e${row.n}` : null);
      }
      // the same units again: every one a duplicate, nothing written twice
      const again = await ingestUnits(node, "d", "many", units.filter((_, i) => i !== 1_500), OPTIONS);
      expect(again.ok && again.value.every((o) => o.status === "duplicate")).toBe(true);
      expect(await run('sql d format = json and stat = false "select count(*) as n from many"')).toEqual({ Query: [{ n: 2_999 }] });
    }, 60_000);
  });
}
