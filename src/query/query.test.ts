import "../features.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PostgresServer } from "../../test/support/postgres.ts";
import { restApp } from "../network/rest.ts";
import { Node } from "../node/node.ts";
import type { Database } from "../storage/database.ts";
import { hhmmss } from "./reply.ts";
import { readStatement } from "./statement.ts";
import { showTime, zoneOf } from "./time.ts";

const work = mkdtempSync(join(tmpdir(), "anylog-query-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("statement check", () => {
  const refused: Array<[string, string]> = [
    ["delete from readings", "not DELETE"],
    ["  INSERT INTO readings VALUES (1)", "not INSERT"],
    ["update readings set n = 1", "not UPDATE"],
    ["drop table readings", "not DROP"],
    ["pragma query_only = off", "not PRAGMA"],
    ["attach 'x.db' as x", "not ATTACH"],
    ["with d as (delete from readings returning *) select * from d", "not WITH ... DELETE"],
    ["explain analyze update readings set n = 1", "not EXPLAIN ... UPDATE"],
    ["select * into copy from readings", "not SELECT INTO"],
    ["select 1; delete from readings", "one statement at a time"],
    ["/* hidden */ delete from readings", "not DELETE"],
    ["selec * from readings", "'selec' does not start a query"],
    ["  ;  ", "the query is empty"],
  ];
  for (const [sql, message] of refused) {
    test(`refused: ${sql}`, () => {
      const r = readStatement(sql);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.code).toBe("bad_value");
        expect(r.error.message).toContain(message);
      }
    });
  }

  test("quoted text, quoted names, comments and dollar quotes hide keywords and semicolons", () => {
    for (const sql of [
      "select 'delete; drop' as x from readings;",
      'select "update" from readings',
      "select 1 -- ; delete from readings\n",
      "select $$ ; insert $$ as x",
      "with t as (select n from readings) select * from t",
      "explain query plan select * from readings",
    ]) {
      const r = readStatement(sql);
      expect(r.ok ? r.value.kind : r.error.message).toMatch(/^(SELECT|WITH|EXPLAIN)$/);
    }
    const r = readStatement('select * from "My Table" where a = 1;');
    expect(r.ok && r.value).toEqual({ kind: "SELECT", text: 'select * from "My Table" where a = 1', table: "My Table" });
  });
});

describe("times and elapsed", () => {
  test("a UTC time shown in utc, a named zone and with an offset; 6 fraction digits", () => {
    const utc = zoneOf("utc");
    const et = zoneOf("et");
    if (!utc.ok || !et.ok) throw new Error("zones");
    expect(showTime("2024-01-02 03:04:05.123456", utc.value)).toBe("2024-01-02 03:04:05.123456");
    expect(showTime("2024-01-02T03:04:05Z", utc.value)).toBe("2024-01-02 03:04:05.000000");
    expect(showTime("2024-01-02 03:04:05.5", et.value)).toBe("2024-01-01 22:04:05.500000");
    expect(showTime("2024-07-02 03:04:05+02:00", utc.value)).toBe("2024-07-02 01:04:05.000000");
    expect(showTime("not a time", utc.value)).toBe("not a time");
    expect(zoneOf("Mars/Olympus").ok).toBe(false);
  });

  test("elapsed time is HH:MM:SS", () => {
    expect(hhmmss(0)).toBe("00:00:00");
    expect(hhmmss(3_723_999)).toBe("01:02:03");
  });
});

/** The `sql` and `get rows count` contract, the same on both engines. */
function queryContract(engine: string, connectCommand: () => Promise<string>) {
  describe(`sql on ${engine}`, () => {
    let node: Node;
    let db: Database;
    const run = (command: string) => node.execute(command);
    const value = async (command: string) => {
      const r = await run(command);
      if (!r.ok) throw new Error(`${command}: ${r.error.message}`);
      return r.value;
    };
    const error = async (command: string) => {
      const r = await run(command);
      if (r.ok) throw new Error(`${command} should fail`);
      return r.error;
    };
    const count = async () => ((await value('sql test stat = false "select count(*) as c from readings"')) as { Query: Array<{ c: number }> }).Query[0]!.c;

    beforeAll(async () => {
      node = new Node({ env: { ANYLOG_HOME: join(work, engine) } });
      expect((await run(await connectCommand())).ok).toBe(true);
      db = node.databases.get("test")!;
      for (const statement of [
        "CREATE TABLE readings (device VARCHAR(20), value DOUBLE PRECISION, n INTEGER, ts TIMESTAMP)",
        "INSERT INTO readings VALUES ('a', 1.5, 1, '2024-01-02 03:04:05.123456'), ('b', 2.5, 2, '2024-01-02 03:04:06'), ('c', NULL, 3, NULL)",
        "CREATE TABLE par_parted_20240101 (n INTEGER)",
        "CREATE TABLE par_parted_20240102 (n INTEGER)",
        "INSERT INTO par_parted_20240101 VALUES (1)",
        "INSERT INTO par_parted_20240102 VALUES (2), (3)",
        "CREATE VIEW parted AS SELECT * FROM par_parted_20240101 UNION ALL SELECT * FROM par_parted_20240102",
      ]) {
        const r = await db.exec(statement);
        if (!r.ok) throw new Error(r.error.message);
      }
    });
    afterAll(async () => node?.shutdown("test done"));

    test("JSON: the rows under Query, numbers as numbers, NULL as null, and Statistics", async () => {
      const r = (await value('sql test "select device, value, n from readings order by n"')) as Record<string, unknown>;
      expect(r.Query).toEqual([
        { device: "a", value: 1.5, n: 1 },
        { device: "b", value: 2.5, n: 2 },
        { device: "c", value: null, n: 3 },
      ]);
      expect(r.Statistics).toEqual([{ Count: 3, Time: expect.stringMatching(/^\d\d:\d\d:\d\d$/), Nodes: 1 }]);
    });

    // SQLite's limit is enforced by the query workers a started node uses (storage/query-worker.test.ts, test/query-limits.test.ts)
    test.skipIf(engine !== "psql")("max_time: the server stops a query past its time (statement_timeout)", async () => {
      const t0 = Date.now();
      const e = await error('sql test max_time = 1 "select pg_sleep(10) is null as slept"');
      expect(e.message).toMatch(/statement timeout/);
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(await count()).toBe(3); // the connection goes on answering
    });

    test('quotes inside the query are written \\" (a column named by a keyword)', async () => {
      expect(await value('sql test stat = false "select n as \\"order\\" from readings where n = 1"')).toEqual({ Query: [{ order: 1 }] });
    });

    test("stat = false drops Statistics", async () => {
      expect(await value('sql test stat = false "select n from readings where n = 2"')).toEqual({ Query: [{ n: 2 }] });
    });

    test("format = table: a text table, then Statistics unless stat = false", async () => {
      const text = String(await value('sql test format = table "select device, n from readings order by n"'));
      const lines = text.split("\n");
      expect(lines[0]!.trim().split(/\s+/)).toEqual(["device", "n"]);
      expect(lines[1]).toMatch(/^\s+-+\|-+\|$/);
      expect(lines.slice(2, 5).map((l) => l.trim())).toEqual(["a     |1|", "b     |2|", "c     |3|"]);
      expect(JSON.parse(lines.at(-1)!)).toEqual({ Statistics: [{ Count: 3, Time: expect.any(String), Nodes: 1 }] });
      const bare = String(await value('sql test format = table and stat = false "select device from readings where n > 5"'));
      expect(bare.split("\n").map((l) => l.trim())).toEqual(["device", "------|"]);
    });

    test("count(*) and sum are numbers", async () => {
      const r = await value('sql test stat = false "select count(*) as c, sum(value) as s, sum(n) as t from readings"');
      expect(r).toEqual({ Query: [{ c: 3, s: 4, t: 6 }] });
    });

    test("timestamps: 'YYYY-MM-DD HH:MM:SS.ffffff', stored UTC shown in the asked zone", async () => {
      const utc = await value('sql test timezone = utc and stat = false "select ts from readings order by n"');
      expect(utc).toEqual({ Query: [{ ts: "2024-01-02 03:04:05.123456" }, { ts: "2024-01-02 03:04:06.000000" }, { ts: null }] });
      const et = await value('sql test timezone = et and stat = false "select max(ts) as latest from readings"');
      expect(et).toEqual({ Query: [{ latest: "2024-01-01 22:04:06.000000" }] });
    });

    test("json:list, json:output and extend", async () => {
      expect(await value('sql test format = json:list "select n from readings where n < 3 order by n"')).toEqual([{ n: 1 }, { n: 2 }]);
      expect(await value('sql test format = json:output "select n from readings where n < 3 order by n"')).toBe('{"n":1}\n{"n":2}');
      const r = await value('sql test extend = (@dbms, @table as source) and stat = false "select n from readings where n = 1"');
      expect(r).toEqual({ Query: [{ dbms: "test", source: "readings", n: 1 }] });
    });

    test("a statement that is not a query is refused, naming its kind; nothing changes", async () => {
      for (const [sql, kind] of [
        ["delete from readings", "DELETE"],
        ["insert into readings (n) values (9)", "INSERT"],
        ["drop table readings", "DROP"],
        ["with d as (delete from readings returning n) select * from d", "WITH ... DELETE"],
        ["select 1; delete from readings", "one statement at a time"],
      ]) {
        const e = await error(`sql test "${sql}"`);
        expect(e.code).toBe("bad_value");
        expect(e.message).toContain(kind!);
      }
      expect(await count()).toBe(3);
    });

    test("the engine refuses writes on its own, below the statement check", async () => {
      for (const sql of ["delete from readings", "create table sneaky (a integer)"]) {
        const r = await db.read(sql);
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.error.message).toContain(`dbms 'test' (${db.engine})`);
      }
      await db.read("select 1; delete from readings"); // PostgreSQL refuses it; SQLite runs the first statement only
      expect(await count()).toBe(3);
      expect((await db.exec("INSERT INTO readings (n) VALUES (4)")).ok).toBe(true); // writes still work after a read
      expect((await db.exec("DELETE FROM readings WHERE n = 4")).ok).toBe(true);
    });

    test("bad SQL, an unknown table, an unknown dbms: errors naming the dbms and the engine's message", async () => {
      const bad = await error('sql test "select * fromm readings"');
      expect(bad.message).toStartWith(`dbms 'test' (${engine}): `);
      expect(bad.message).toContain("fromm");
      const missing = await error('sql test "select * from missing_table"');
      expect(missing.message).toStartWith(`dbms 'test' (${engine}): `);
      expect(missing.message).toContain("missing_table");
      const unknown = await error('sql nope "select 1"');
      expect(unknown.code).toBe("not_found");
      expect(unknown.message).toContain("dbms 'nope' is not connected");
    });

    test("every answered query is counted in the metrics, errors are not", async () => {
      const before = node.metrics.queries;
      await value('sql test "select 1 as one"');
      await error('sql test "select * fromm readings"');
      expect(node.metrics.queries).toBe(before + 1);
    });

    test("REST: GET / with a sql command header answers JSON or a table; a write is 400 and changes nothing", async () => {
      const app = restApp(node, { timeout: 30, pool: (work) => work() });
      const get = (command: string) => app.request("/", { headers: { command } });
      const json = await get('sql test stat = false "select n from readings where n = 3"');
      expect(json.status).toBe(200);
      expect(await json.json()).toEqual({ Query: [{ n: 3 }] });
      const table = await get('sql test format = table "select n from readings where n = 3"');
      expect(await table.text()).toContain('"Statistics"');
      const refused = await get('sql test "delete from readings"');
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as { error: string }).error).toContain("not DELETE");
      expect(await count()).toBe(3);
    });

    test("get rows count: per physical table, per table with group = table, json, filters", async () => {
      const json = await value("get rows count where dbms = test and format = json");
      expect(json).toEqual([
        { dbms: "test", table: "par_parted_20240101", rows: 1 },
        { dbms: "test", table: "par_parted_20240102", rows: 2 },
        { dbms: "test", table: "readings", rows: 3 },
      ]);
      expect(await value("get rows count where dbms = test and table = parted and group = table and format = json")).toEqual([{ dbms: "test", table: "parted", rows: 3 }]);
      const text = String(await value("get rows count where dbms = test and table = readings"));
      expect(text.split("\n").map((l) => l.trim())).toEqual(["DBMS Table    Rows", "----|--------|----|", "test|readings|3   |"]);
      expect((await error("get rows count where dbms = test and table = missing_table")).code).toBe("not_found");
      expect((await error("get rows count where dbms = nope")).code).toBe("not_found");
    });
  });
}

queryContract("sqlite", async () => "connect dbms test where type = sqlite");

let pg: PostgresServer | undefined;
afterAll(async () => pg?.stop());
queryContract("psql", async () => {
  pg = await PostgresServer.start();
  return `connect dbms test where type = psql and ip = 127.0.0.1 and port = ${pg.port} and user = postgres`;
});
