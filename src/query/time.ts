/**
 * @module query/time
 * Times in a query's answer. Rows store times in UTC (AnyLog's convention); a query shows
 * them in the zone it asks for — `timezone = utc | local | pt | mt | ct | et | <tz database
 * name>`, local by default, as AnyLog does — written 'YYYY-MM-DD HH:MM:SS.ffffff'.
 */
import { type Result, fail, ok } from "../util/result.ts";

export type Zone = { kind: "utc" } | { kind: "local" } | { kind: "named"; name: string; parts: Intl.DateTimeFormat };

const SHORT: Record<string, string> = {
  pt: "America/Los_Angeles",
  mt: "America/Denver",
  ct: "America/Chicago",
  et: "America/New_York",
};

/** The zone a `timezone` option names (local when there is none). */
export function zoneOf(name: string | undefined): Result<Zone> {
  const key = (name ?? "local").trim();
  const lower = key.toLowerCase();
  if (lower === "utc" || lower === "gmt" || lower === "z") return ok({ kind: "utc" });
  if (lower === "local") return ok({ kind: "local" });
  const iana = SHORT[lower] ?? key;
  try {
    const parts = new Intl.DateTimeFormat("en-US", {
      timeZone: iana,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    return ok({ kind: "named", name: iana, parts });
  } catch {
    return fail("bad_value", `timezone '${key}' is not utc, local, pt, mt, ct, et or a tz database name such as Europe/London`);
  }
}

const TIME = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?\s*(Z|[+-]\d\d(?::?\d\d)?)?$/i;

/** Whether text is a date and time (what an undeclared SQLite expression such as max(ts) yields). */
export const looksLikeTime = (text: string): boolean => TIME.test(text.trim());

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** A UTC time text shown in `zone`; text that is not a time comes back unchanged. */
export function showTime(text: string, zone: Zone): string {
  const m = TIME.exec(text.trim());
  if (!m) return text;
  const [, y, mo, d, h, mi, s = "0", frac = "", offset] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (offset && offset.toUpperCase() !== "Z") {
    const o = /^([+-])(\d\d):?(\d\d)?$/.exec(offset)!;
    ms -= (o[1] === "-" ? -1 : 1) * (Number(o[2]) * 60 + Number(o[3] ?? 0)) * 60_000;
  }
  const t = new Date(ms);
  let fields: [number, number, number, number, number, number];
  if (zone.kind === "utc") fields = [t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate(), t.getUTCHours(), t.getUTCMinutes(), t.getUTCSeconds()];
  else if (zone.kind === "local") fields = [t.getFullYear(), t.getMonth() + 1, t.getDate(), t.getHours(), t.getMinutes(), t.getSeconds()];
  else {
    const p = Object.fromEntries(zone.parts.formatToParts(t).map((x) => [x.type, Number(x.value)]));
    fields = [p.year!, p.month!, p.day!, p.hour!, p.minute!, p.second!];
  }
  const [Y, M, D, hh, mm, ss] = fields;
  return `${pad(Y, 4)}-${pad(M)}-${pad(D)} ${pad(hh)}:${pad(mm)}:${pad(ss)}.${frac.padEnd(6, "0").slice(0, 6)}`;
}
