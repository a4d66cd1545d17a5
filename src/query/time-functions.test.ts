/**
 * AnyLog's time functions written as each engine's SQL: increments' bucket numbers are the
 * same numbers on SQLite and PostgreSQL (checked against a real PostgreSQL in
 * test/query-network.test.ts); period finds its bounds from the last time before its date.
 */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { back, bucketSql, lastTimeQuery, periodOf, unitOf, withBuckets, withPeriod } from "./time-functions.ts";

describe("time functions", () => {
  test("units by any spelling; buckets of seconds since 1970, or of months", () => {
    expect(["Minutes", '"hour"', "day", "weeks", "month", "YEAR", "fortnight"].map(unitOf)).toEqual(["minute", "hour", "day", "week", "month", "year", undefined]);
    const db = new Database(":memory:");
    const bucket = (unit: Parameters<typeof bucketSql>[1], n: number, t: string) => (db.query(`SELECT ${bucketSql("sqlite", unit, n, `'${t}'`)} AS b`).get() as { b: number }).b;
    expect(bucket("minute", 5, "1970-01-01 00:14:59.999000")).toBe(2);
    expect(bucket("hour", 1, "2026-11-02 10:30:00.000000")).toBe(Math.floor(Date.UTC(2026, 10, 2, 10, 30) / 3_600_000));
    expect(bucket("month", 3, "2026-11-02 10:30:00.000000")).toBe(Math.floor((2026 * 12 + 10) / 3));
    expect(bucket("year", 1, "2026-11-02 10:30:00.000000")).toBe(2026);
    expect(bucketSql("psql", "minute", 5, '"ts"')).toBe('FLOOR(EXTRACT(EPOCH FROM "ts") / 300)');
  });

  test("increments in a query become the engine's bucket; a bad one is an error showing how to write it", () => {
    const w = withBuckets('select increments(minute, 5, "ts") as b, count(*) from t group by increments(minute, 5, "ts")', "sqlite");
    expect(w.ok && w.value).toBe(`select (CAST(strftime('%s', "ts") AS INTEGER) / 300) as b, count(*) from t group by (CAST(strftime('%s', "ts") AS INTEGER) / 300)`);
    const bad = withBuckets("select increments(minute, ts) from t", "sqlite");
    expect(!bad.ok && bad.error.message).toMatch(/write increments\(<second\|minute/);
    expect(withBuckets("select 'increments(x)' from t", "psql")).toEqual({ ok: true, value: "select 'increments(x)' from t" });
  });

  test("period: the last time at or before the date, then the n units that end there", () => {
    const sql = "select count(*) from t where period(hour, 2, '2026-11-03 06:30:00', ts, device = 'd1') and v > 1";
    const p = periodOf(sql);
    if (!p.ok || !p.value) throw new Error("no period");
    expect(p.value).toMatchObject({ unit: "hour", n: 2, before: "2026-11-03 06:30:00.000000", column: "ts", filter: "device = 'd1'" });
    expect(lastTimeQuery(p.value, "t")).toBe(`SELECT MAX(ts) AS "last" FROM t WHERE ts <= '2026-11-03 06:30:00.000000' AND (device = 'd1')`);
    expect(withPeriod(sql, p.value, "2026-11-03 05:10:00.123456")).toBe(
      "select count(*) from t where (ts > '2026-11-03 03:10:00.123000' AND ts <= '2026-11-03 05:10:00.123456') and v > 1",
    );
    expect(withPeriod(sql, p.value, null)).toBe("select count(*) from t where (1 = 0) and v > 1");
    const now = periodOf("select 1 from t where period(minute, 10, now(), ts)", new Date(Date.UTC(2026, 0, 1, 12)));
    expect(now.ok && now.value?.before).toBe("2026-01-01 12:00:00.000000");
    expect(back(new Date(Date.UTC(2026, 2, 31, 8)), "month", 1).toISOString()).toBe("2026-02-28T08:00:00.000Z");
    expect(back(new Date(Date.UTC(2026, 0, 15)), "month", 13).toISOString()).toBe("2024-12-15T00:00:00.000Z");
    expect(back(new Date(Date.UTC(2024, 1, 29)), "year", 1).toISOString()).toBe("2023-02-28T00:00:00.000Z");
    for (const wrong of ["period(hour, 2, ts)", "period(eon, 2, now(), ts)", "period(hour, 2, 'yesterday', ts)"]) {
      const r = periodOf(`select 1 from t where ${wrong}`);
      expect(r.ok).toBe(false);
    }
    expect(periodOf("select 1 from t where period(hour, 1, now(), ts) or period(hour, 2, now(), ts)").ok).toBe(false);
  });
});
