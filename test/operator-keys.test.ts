/**
 * No value lost or changed silently (issue #9), through a real operator on SQLite and on
 * PostgreSQL, by streaming PUT and by watch-dir file: every key keeps its own column (keys in
 * other scripts, keys that would become one name refused naming both, keys named like the
 * bookkeeping columns kept under a leading _, long keys of the same start in two columns,
 * a UTF-8 key over 63 bytes found again by the next PUT), a key's column is the same after a
 * restart; integers keep every digit up to 64 bits (INTEGER on SQLite, BIGINT on PostgreSQL),
 * a number no column holds and a lone surrogate are 400s naming the key; and table names the
 * node uses itself (partitions, sqlite_*, pg_*, index names) are refused, so a hand-made
 * partition cannot break its table.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Engine, OperatorNode, type Reply, dropFile, put, select, waitFor } from "./support/operator.ts";
import { PostgresServer } from "./support/postgres.ts";
import { stopScriptNodes } from "./support/script-node.ts";

setDefaultTimeout(120_000);

const work = mkdtempSync(join(tmpdir(), "anylog-keys-"));
afterAll(async () => {
  await stopScriptNodes();
  rmSync(work, { recursive: true, force: true });
});

/** The error of a refused PUT (400, a JSON `{error}`). */
function refused(r: Reply): string {
  expect(r.status).toBe(400);
  return (r.json as { error?: string } | undefined)?.error ?? r.text;
}

const ndjson = (rows: object[]) => rows.map((x) => JSON.stringify(x)).join("\n");

for (const engine of ["sqlite", "psql"] as Engine[]) {
  describe(`keys and values on ${engine}`, () => {
    let pg: PostgresServer | undefined;
    let op: OperatorNode;
    afterAll(async () => {
      await op?.node.stop();
      await pg?.stop();
    });

    /** Rows of a table, every column but the bookkeeping ones, by `n`. */
    const rowsOf = async (table: string): Promise<Array<Record<string, unknown>>> =>
      (await select(op, "keys", `select * from ${table} order by n`)).map((r) => {
        const { row_id: _r, insert_timestamp: _i, tsd_name: _n, tsd_id: _t, ...data } = r;
        return { ...data, n: Number(data.n) };
      });

    test("keys in other scripts each keep their own column", async () => {
      if (engine === "psql") pg = await PostgresServer.start();
      op = await OperatorNode.start({ engine, pg, dir: join(work, engine), dbms: "keys", before: ["partition keys pt using ts by 1 day"] });
      expect(op.scriptErrors()).toEqual([]);
      expect((await put(op.url, "keys", "script", JSON.stringify({ n: 1, 温度: 10, 湿度: 20, Grüße: "hallo" }))).status).toBe(200);
      expect((await put(op.url, "keys", "script", JSON.stringify({ n: 2, 湿度: 21 }))).status).toBe(200);
      expect(await rowsOf("script")).toEqual([
        { n: 1, 温度: 10, 湿度: 20, grüße: "hallo" },
        { n: 2, 温度: null, 湿度: 21, grüße: null },
      ]);
    });

    test("keys that would become one column are refused, naming both: by PUT and by file", async () => {
      const dashes = refused(await put(op.url, "keys", "clash", JSON.stringify({ id: 1, "a-b": 1, a_b: 2, "a b": 3 })));
      expect(dashes).toContain("the keys 'a-b' and 'a_b' both become column 'a_b'");
      const cases = refused(await put(op.url, "keys", "clash", ndjson([{ id: 1 }, { id: 2, Val: 1, val: 2, VAL: 3 }])));
      expect(cases).toContain("line 2: the keys 'Val' and 'val' both become column 'val'");
      dropFile(op.watchDir, "keys.clash.test.0.json", JSON.stringify({ id: 3, Val: 1, val: 2 }));
      const reason = join(op.errorDir, "keys.clash.test.0.json.err.txt");
      await waitFor("the clashing file in the error directory", () => existsSync(reason));
      expect(readFileSync(reason, "utf8")).toContain("the keys 'Val' and 'val' both become column 'val'");
      expect((await put(op.url, "keys", "clash", JSON.stringify({ n: 1, "a-b": 1, Val: 2 }))).status).toBe(200);
      expect(await rowsOf("clash")).toEqual([{ n: 1, a_b: 1, val: 2 }]);
    });

    test("keys named like the bookkeeping columns are kept under a leading _", async () => {
      const row = { n: 1, row_id: 77, insert_timestamp: "mine", tsd_name: "x", tsd_id: 99, xmin: 5 };
      expect((await put(op.url, "keys", "books", JSON.stringify(row))).status).toBe(200);
      const [back] = await select(op, "keys", "select row_id, tsd_id, _row_id, _insert_timestamp, _tsd_name, _tsd_id, _xmin from books");
      expect({ ...back, _row_id: Number(back?._row_id), _tsd_id: Number(back?._tsd_id), _xmin: Number(back?._xmin) }).toMatchObject({
        _row_id: 77,
        _insert_timestamp: "mine",
        _tsd_name: "x",
        _tsd_id: 99,
        _xmin: 5,
      });
      expect(Number(back?.row_id)).toBe(1); // the node's own
    });

    test("long keys: two of the same start are two columns, and a UTF-8 key over 63 bytes is found again by the next PUT", async () => {
      const a = "k".repeat(70);
      const b = "k".repeat(71);
      const u = "温".repeat(30); // 90 bytes
      expect((await put(op.url, "keys", "longs", JSON.stringify({ n: 1, [a]: 1, [b]: 2, [u]: 3 }))).status).toBe(200);
      expect((await put(op.url, "keys", "longs", JSON.stringify({ n: 2, [u]: 4 }))).status).toBe(200);
      const back = await rowsOf("longs");
      expect(back.map((r) => Object.values(r).map((v) => (v === null ? null : Number(v))))).toEqual([
        [1, 1, 2, 3],
        [2, null, null, 4],
      ]);
      for (const name of Object.keys(back[0]!)) expect(Buffer.byteLength(name)).toBeLessThanOrEqual(63);
    });

    test("integers keep every digit up to 64 bits, in an INTEGER / BIGINT column", async () => {
      const body = '{"n": 1, "big": 9007199254740993}\n{"n": 2, "big": -9223372036854775808}\n{"n": 3, "big": 9223372036854775807}\n{"n": 4, "big": 12}';
      expect((await put(op.url, "keys", "bigs", body)).status).toBe(200);
      const back = await select(op, "keys", "select n, big from bigs order by n");
      expect(back.map((r) => String(r.big))).toEqual(["9007199254740993", "-9223372036854775808", "9223372036854775807", "12"]);
      // compared in the database, not through a float
      const exact = await select(op, "keys", "select n from bigs where big = 9007199254740993");
      expect(exact.map((r) => Number(r.n))).toEqual([1]);
      const type =
        engine === "sqlite"
          ? await select(op, "keys", "select type from pragma_table_info('bigs') where name = 'big'")
          : await select(op, "keys", "select data_type as type from information_schema.columns where table_name = 'bigs' and column_name = 'big'");
      expect(String(type[0]?.type).toLowerCase()).toBe(engine === "sqlite" ? "integer" : "bigint");
      // into the same column by a file, as text digits
      dropFile(op.watchDir, "keys.bigs.test.1.json", '{"n": 5, "big": "9007199254740995"}');
      await waitFor("the file's big integer", async () => (await select(op, "keys", "select count(*) as c from bigs")).at(0)?.c == 5);
      expect(String((await select(op, "keys", "select big from bigs where n = 5"))[0]?.big)).toBe("9007199254740995");
    });

    test("a number no column type holds is a 400 naming its key", async () => {
      expect(refused(await put(op.url, "keys", "huge", '{"n": 1, "x": 1e400}'))).toContain("'x' is 1e400, beyond the largest float");
      expect(refused(await put(op.url, "keys", "huge", `{"n": 1, "digits": ${"9".repeat(10_000)}}`))).toContain("'digits' is 999999999999999999999999...(10000 characters), an integer beyond 64 bits");
      expect(refused(await put(op.url, "keys", "huge", '{"n": 1, "y": 9223372036854775808}'))).toContain("'y' is 9223372036854775808, an integer beyond 64 bits");
    });

    test("a lone surrogate is a 400 naming its key, in a value or in the key", async () => {
      expect(refused(await put(op.url, "keys", "surrogates", '{"n": 1, "s": "\\ud800"}'))).toContain(`'s' is "\\ud800", text with a lone surrogate`);
      expect(refused(await put(op.url, "keys", "surrogates", '{"n": 1, "\\udc00": "x"}'))).toContain('the key "\\udc00" holds a lone surrogate');
      expect((await put(op.url, "keys", "surrogates", '{"n": 2, "s": "\\ud83d\\ude00"}')).status).toBe(200);
      expect(await rowsOf("surrogates")).toEqual([{ n: 2, s: "😀" }]);
    });

    test("a key's column is the same after a restart", async () => {
      expect((await put(op.url, "keys", "stable", JSON.stringify({ n: 1, "Temp C": 20.5, 温度: 1 }))).status).toBe(200);
      await op.node.stop();
      await op.restart();
      expect((await put(op.url, "keys", "stable", JSON.stringify({ 温度: 2, "Temp C": 21.5, n: 2 }))).status).toBe(200);
      expect(await rowsOf("stable")).toEqual([
        { n: 1, temp_c: 20.5, 温度: 1 },
        { n: 2, temp_c: 21.5, 温度: 2 },
      ]);
    });

    test("table names the node uses itself are refused, by PUT and by file; the partitioned table stays writable", async () => {
      for (const table of ["par_pt_20261202", "PAR_PT_2026", "sqlite_stat1", "pg_class", "pt_tsd_id_idx"]) {
        for (const mode of ["streaming", "file"] as const) {
          const error = refused(await put(op.url, "keys", table, JSON.stringify({ id: "not-a-number" }), { mode }));
          expect(error).toContain(`'${table}' is not a table name for data`);
        }
      }
      expect(refused(await put(op.url, "keys", "par_pt_20261202", "{}"))).toContain("send the rows to table 'pt'");
      dropFile(op.watchDir, "keys.par_pt_20261203.test.0.json", JSON.stringify({ id: "not-a-number" }));
      const reason = join(op.errorDir, "keys.par_pt_20261203.test.0.json.err.txt");
      await waitFor("the partition-named file in the error directory", () => existsSync(reason));
      expect(readFileSync(reason, "utf8")).toContain("time partition of table 'pt'");
      for (const [id, ts] of [
        [1, "2026-12-02 10:00:00"],
        [2, "2026-12-03 10:00:00"],
      ] as const) {
        expect((await put(op.url, "keys", "pt", JSON.stringify({ id, ts }))).status).toBe(200);
      }
      expect((await select(op, "keys", "select id from pt order by id")).map((r) => Number(r.id))).toEqual([1, 2]);
    });
  });
}
