/**
 * Network query plans: what each operator runs and what the asking node runs over the
 * merged rows, for the shapes the planner splits and the ones it ships as rows; queries a
 * network cannot run are errors that say why. (test/query-network.test.ts runs random queries
 * through real operators against one database.)
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MergeTable } from "./merge.ts";
import { planNetworkQuery } from "./plan.ts";

const spill = mkdtempSync(join(tmpdir(), "anylog-merge-"));
afterAll(() => rmSync(spill, { recursive: true, force: true }));

/** One reply's rows (objects) merged and queried. */
function mergeRows(table: string, columns: string[], rows: Array<Record<string, unknown>>, local: string) {
  const merge = new MergeTable(table, columns, spill);
  const added = merge.addObjects(0, rows);
  if (!added.ok) return added;
  return merge.answer(local, false);
}

async function plan(sql: string) {
  const p = await planNetworkQuery(sql);
  if (!p.ok) throw new Error(p.error.message);
  return p.value;
}

describe("network query plans", () => {
  test("aggregates are split: count and sum summed, avg as sum and count, range as max - min; group keys, having, order and limit on the merge", async () => {
    const p = await plan("select device, count(*) as c, avg(value), range(value) from readings where value > 3 group by device having count(*) > 2 order by c desc limit 5 offset 1");
    expect(p.mode).toBe("aggregate");
    expect(p.remote).toBe(
      'SELECT "device" AS "__g0", COUNT(*) AS "__p0", SUM("value") AS "__p1s", COUNT("value") AS "__p1c", MAX("value") AS "__p2", MIN("value") AS "__p3" FROM "readings" WHERE ("value" > 3) GROUP BY "device"',
    );
    expect(p.local).toBe(
      'SELECT "__g0" AS "device", COALESCE(SUM("__p0"), 0) AS "c", (CAST(SUM("__p1s") AS REAL) / SUM("__p1c")) AS "avg(value)", (MAX("__p2") - MIN("__p3")) AS "range(value)" FROM "readings" GROUP BY "__g0" HAVING (COALESCE(SUM("__p0"), 0) > 2) ORDER BY "c" DESC LIMIT 5 OFFSET 1',
    );
    // two operators' partials give the one-database answer
    const merged = mergeRows(p.table, p.columns, [
      { __g0: "a", __p0: 2, __p1s: 10, __p1c: 2, __p2: 7, __p3: 3 },
      { __g0: "a", __p0: 1, __p1s: 2.5, __p1c: 1, __p2: 9.5, __p3: 2.5 },
      { __g0: "b", __p0: 4, __p1s: 40, __p1c: 4, __p2: 11, __p3: 9 },
      { __g0: "c", __p0: 5, __p1s: 5, __p1c: 5, __p2: 1, __p3: 1 },
    ], p.local);
    expect(merged.ok && merged.value.columns).toEqual(["device", "c", "avg(value)", "range(value)"]);
    expect(merged.ok && merged.value.rows).toEqual([["b", 4, 10, 2], ["a", 3, 12.5 / 3, 7]]);
  });

  test("count over operators that sent nothing is 0, as on one database", async () => {
    const p = await plan("select count(*) from t");
    const merged = mergeRows(p.table, p.columns, [], p.local);
    expect(merged.ok && merged.value.rows).toEqual([[0]]);
  });

  test("group by an ordinal or an alias, and an order over aggregates, map to the merged columns", async () => {
    const p = await plan("select device as d, max(v) - min(v) as spread from t group by 1 order by max(v) desc, d");
    expect(p.remote).toBe('SELECT "device" AS "__g0", MAX("v") AS "__p0", MIN("v") AS "__p1" FROM "t" GROUP BY "device"');
    expect(p.local).toBe('SELECT "__g0" AS "d", (MAX("__p0") - MIN("__p1")) AS "spread" FROM "t" GROUP BY "__g0" ORDER BY MAX("__p0") DESC, "d"');
  });

  test("count(distinct), a column outside the group keys and plain rows ship the matching rows and run the query itself", async () => {
    for (const sql of ["select count(distinct device) from t where v < 10", "select device, max(v) from t", "select * from t where v > 1 order by ts desc limit 10"]) {
      const p = await plan(sql);
      expect(p.mode).toBe("rows");
      expect(p.local).toBe(sql);
    }
    expect((await plan("select count(distinct device) from t where v < 10")).remote).toBe('SELECT * FROM "t" WHERE ("v" < 10)');
    // ORDER BY stays on the asking node (NULLs and text order differ by engine); a bare LIMIT goes along
    expect((await plan("select * from t where v > 1 order by ts desc limit 10")).remote).toBe('SELECT * FROM "t" WHERE ("v" > 1)');
    expect((await plan("select v from t limit 10 offset 5")).remote).toBe('SELECT * FROM "t" LIMIT 15');
  });

  test("range() in a query shipped as rows is written as SQLite has it, under the name the user wrote", async () => {
    const p = await plan("select range(v), count(distinct d) from t group by d");
    expect(p.mode).toBe("rows");
    expect(p.local).toBe('select (max(v) - min(v)) AS "range(v)", count(distinct d) from t group by d');
  });

  test("what a network query cannot be: several statements, a write, a join, a subquery, WITH", async () => {
    const cases: Array<[string, RegExp]> = [
      ["select 1 from t; select 2 from t", /one SELECT/],
      ["delete from t", /SELECT/],
      ["select a from t1 join t2 on t1.x = t2.x", /one table/],
      ["select a from (select 1 as a) x", /one table/],
      ["select a from t where a in (select b from u)", /subquery/],
      ["with x as (select 1) select * from x", /WITH/],
      ["select from where", /could not be read/],
    ];
    for (const [sql, message] of cases) {
      const p = await planNetworkQuery(sql);
      expect(p.ok).toBe(false);
      if (!p.ok) expect(p.error.message).toMatch(message);
    }
  });

  test("a column the table declares floating point keeps whole values as floats", () => {
    const merge = new MergeTable("t", ["v", "w"], spill, ["v"]);
    expect(merge.add(0, ["v", "w"], [[3, 3], [2.5, 2.5]]).ok).toBe(true);
    const answered = merge.answer("select v / 2, w / 2 from t", false);
    expect(answered.ok && answered.value.rows).toEqual([[1.5, 1], [1.25, 1.25]]);
  });

  test("merged columns keep each operator's values: an int on one and a float on another", () => {
    const merged = mergeRows("t", ["v"], [{ v: 3 }, { v: 2.5 }, { v: null }, { w: true }], "select sum(v), count(v), count(*), max(w) from t");
    expect(merged.ok && merged.value.rows).toEqual([[5.5, 2, 4, 1]]);
  });

  test("a large merge moves to a file and streams its answer; a reply that failed part-way is taken out; the file goes with the query", async () => {
    const merge = new MergeTable("t", ["i", "label"], spill);
    for (let page = 0; page < 40; page++) {
      const rows = Array.from({ length: 10_000 }, (_, k) => [page * 10_000 + k, `label of row ${page * 10_000 + k}`]);
      expect(merge.add(page % 2, ["i", "label"], rows).ok).toBe(true);
    }
    expect(merge.add(2, ["label", "i", "extra"], [["late", -1, "x"]]).ok).toBe(true);
    merge.drop(2);
    expect(readdirSync(join(spill)).length).toBe(1);
    const answered = merge.answer("select * from t order by i", true);
    if (!answered.ok) throw new Error(answered.error.message);
    const { columns, rows, more } = answered.value;
    expect(columns).toEqual(["i", "label", "extra"]);
    expect(more).toBeDefined();
    let count = rows.length;
    let last = rows[rows.length - 1]![0] as number;
    for await (const page of more!) {
      if (!page.ok) throw new Error(page.error.message);
      expect(page.value[0]![0]).toBe(last + 1);
      last = page.value[page.value.length - 1]![0] as number;
      count += page.value.length;
    }
    expect(count).toBe(400_000);
    expect(readdirSync(spill)).toEqual([]);
    expect(existsSync(spill)).toBe(true);
  });

  test("rows ordered by columns that sort alike everywhere, and limited, are limited on the operators too", async () => {
    const ordered = async (sql: string) => {
      const p = await planNetworkQuery(sql, [], ["ts", "v"]);
      if (!p.ok) throw new Error(p.error.message);
      return p.value.remote;
    };
    expect(await ordered("select * from t where v > 1 order by ts desc, v limit 10 offset 5")).toBe('SELECT * FROM "t" WHERE ("v" > 1) ORDER BY "ts" DESC NULLS LAST, "v" ASC NULLS FIRST LIMIT 15');
    expect(await ordered("select device, v from t limit 3")).toBe('SELECT * FROM "t" LIMIT 3');
    // text may sort otherwise on PostgreSQL; an alias named like a column orders by the alias; no limit; an expression
    for (const sql of ["select * from t order by device limit 5", "select v as ts from t order by ts limit 5", "select * from t order by ts", "select * from t order by v + 1 limit 5"]) {
      expect(await ordered(sql)).not.toMatch(/LIMIT|ORDER/);
    }
  });
});