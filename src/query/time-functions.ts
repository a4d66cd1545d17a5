/**
 * @module query/time-functions
 * AnyLog's time functions, which no SQL engine has:
 *  - `increments(unit, n, column)` in a select list groups the rows by time buckets of n
 *    units (second, minute, hour, day, week, month, year); each engine is given its own
 *    bucket number (seconds since 1970 divided, or months since year 0), so the buckets of
 *    SQLite and PostgreSQL operators are the same numbers and merge;
 *  - `period(unit, n, now() | 'date', column [, filter])` in a WHERE keeps the n units that
 *    end at the last row at or before the date (the last row found first, across the network).
 */
import type { Engine } from "../storage/database.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { blankQuoted } from "./statement.ts";

type Unit = "second" | "minute" | "hour" | "day" | "week" | "month" | "year";
const SECONDS: Partial<Record<Unit, number>> = { second: 1, minute: 60, hour: 3600, day: 86_400, week: 604_800 };

/** `minutes`, `Hour`, `"day"` → the unit; undefined when it is none. */
export function unitOf(text: string): Unit | undefined {
  const u = text.trim().replace(/^["'`]|["'`]$/g, "").toLowerCase().replace(/s$/, "");
  return (["second", "minute", "hour", "day", "week", "month", "year"] as const).find((x) => x === u);
}

/** The bucket number of `column` (SQL text) in buckets of n units, in the engine's SQL. */
export function bucketSql(engine: Engine, unit: Unit, n: number, column: string): string {
  const seconds = SECONDS[unit];
  if (seconds !== undefined) {
    const width = seconds * n;
    return engine === "psql" ? `FLOOR(EXTRACT(EPOCH FROM ${column}) / ${width})` : `(CAST(strftime('%s', ${column}) AS INTEGER) / ${width})`;
  }
  const months = (unit === "year" ? 12 : 1) * n;
  return engine === "psql"
    ? `FLOOR((EXTRACT(YEAR FROM ${column}) * 12 + EXTRACT(MONTH FROM ${column}) - 1) / ${months})`
    : `((CAST(strftime('%Y', ${column}) AS INTEGER) * 12 + CAST(strftime('%m', ${column}) AS INTEGER) - 1) / ${months})`;
}

/** Each call `name(...)` in `sql` (outside quotes), with where its text starts and ends and its arguments' text. */
export function callsOf(sql: string, name: string): Array<{ start: number; end: number; args: string[] }> {
  const blank = blankQuoted(sql);
  const found: Array<{ start: number; end: number; args: string[] }> = [];
  const re = new RegExp(`\\b${name}\\s*\\(`, "gi");
  for (let m = re.exec(blank); m; m = re.exec(blank)) {
    const open = m.index + m[0].length - 1;
    let depth = 0;
    let from = open + 1;
    const args: string[] = [];
    let i = open;
    for (; i < blank.length; i++) {
      const c = blank[i];
      if (c === "(") depth++;
      else if (c === ")" && --depth === 0) break;
      else if (c === "," && depth === 1) {
        args.push(sql.slice(from, i).trim());
        from = i + 1;
      }
    }
    args.push(sql.slice(from, i).trim());
    found.push({ start: m.index, end: i + 1, args });
    re.lastIndex = i + 1;
  }
  return found;
}

/** `sql` with every `increments(unit, n, column)` written as the engine's bucket number. */
export function withBuckets(sql: string, engine: Engine): Result<string> {
  let out = sql;
  for (const call of callsOf(sql, "increments").reverse()) {
    const [u, n, column] = call.args;
    const unit = unitOf(u ?? "");
    const count = Number(n);
    if (!unit || !Number.isInteger(count) || count < 1 || !column || call.args.length !== 3) {
      return fail("bad_value", `increments(${call.args.join(", ")}): write increments(<second|minute|hour|day|week|month|year>, <n>, <time column>)`);
    }
    out = `${out.slice(0, call.start)}${bucketSql(engine, unit, count, column)}${out.slice(call.end)}`;
  }
  return ok(out);
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** A time as the node stores it: 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC). */
export function storedTime(d: Date): string {
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}000`;
}

/** `end` moved back n units (months and years by the calendar). */
export function back(end: Date, unit: Unit, n: number): Date {
  const seconds = SECONDS[unit];
  if (seconds !== undefined) return new Date(end.getTime() - seconds * n * 1000);
  // by the calendar, a day past the month's end kept to its last day (March 31 less a month is February 28)
  const months = end.getUTCFullYear() * 12 + end.getUTCMonth() - (unit === "year" ? 12 : 1) * n;
  const year = Math.floor(months / 12);
  const month = months - year * 12;
  const day = Math.min(end.getUTCDate(), new Date(Date.UTC(year, month + 1, 0)).getUTCDate());
  return new Date(Date.UTC(year, month, day, end.getUTCHours(), end.getUTCMinutes(), end.getUTCSeconds(), end.getUTCMilliseconds()));
}

export interface PeriodCall {
  start: number;
  end: number;
  unit: Unit;
  n: number;
  /** The date the period ends at or before ('YYYY-MM-DD HH:MM:SS...', UTC). */
  before: string;
  column: string;
  filter?: string;
}

/** The `period(...)` call of a query's WHERE, if it has one (two are an error). */
export function periodOf(sql: string, now: Date = new Date()): Result<PeriodCall | undefined> {
  const calls = callsOf(sql, "period");
  if (calls.length === 0) return ok(undefined);
  if (calls.length > 1) return fail("bad_value", "a query has one period(...) at most");
  const call = calls[0]!;
  const [u, n, date, column, filter] = call.args;
  const unit = unitOf(u ?? "");
  const count = Number(n);
  if (!unit || !Number.isFinite(count) || count <= 0 || !date || !column || call.args.length > 5) {
    return fail("bad_value", `period(${call.args.join(", ")}): write period(<unit>, <n>, now() | '<date>', <time column> [, <filter>])`);
  }
  let before: string;
  if (/^now\s*\(\s*\)$/i.test(date)) before = storedTime(now);
  else {
    const text = date.replace(/^'|'$/g, "");
    const t = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text.replace(" ", "T")}Z`);
    if (Number.isNaN(t.getTime())) return fail("bad_value", `period(...): '${text}' is not a date and time`);
    before = storedTime(t);
  }
  return ok({ start: call.start, end: call.end, unit, n: count, before, column, filter });
}

/** The query that finds the last time at or before the period's date. */
export function lastTimeQuery(p: PeriodCall, table: string): string {
  return `SELECT MAX(${p.column}) AS "last" FROM ${table} WHERE ${p.column} <= '${p.before}'${p.filter ? ` AND (${p.filter})` : ""}`;
}

/** `sql` with its period(...) replaced by the condition it stands for, given the last time found. */
export function withPeriod(sql: string, p: PeriodCall, last: string | null): string {
  let condition = "(1 = 0)"; // no row before the date: nothing is in the period
  if (last) {
    const end = new Date(`${last.trim().replace(" ", "T").replace(/(\.\d{3})\d*$/, "$1")}Z`);
    // up to the last time as found (microseconds and all), from n units before it
    if (!Number.isNaN(end.getTime())) condition = `(${p.column} > '${storedTime(back(end, p.unit, p.n))}' AND ${p.column} <= '${last.trim()}')`;
  }
  return `${sql.slice(0, p.start)}${condition}${sql.slice(p.end)}`;
}
