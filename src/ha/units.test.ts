/** The dates `get tsd` and `run data consumer` take. */
import { expect, test } from "bun:test";
import { parseDate } from "./units.ts";

test("relative days (with or without d, as seed 003 writes -30), hours, minutes; AnyLog's short dates; bad text is an error", () => {
  const now = Date.UTC(2026, 11, 5, 12, 0, 0);
  const at = (text: string) => {
    const r = parseDate(text, now);
    if (!r.ok) throw new Error(r.error.message);
    return r.value;
  };
  expect(at("-30d")).toBe(new Date(now - 30 * 86_400_000).toISOString());
  expect(at("-30")).toBe(at("-30d"));
  expect(at("-2h")).toBe(new Date(now - 2 * 3_600_000).toISOString());
  expect(at("-15m")).toBe(new Date(now - 15 * 60_000).toISOString());
  expect(at("26-12-01 10:00:00")).toBe("2026-12-01T10:00:00.000Z");
  expect(at("2026-12-01")).toBe("2026-12-01T00:00:00.000Z");
  expect(parseDate(undefined)).toEqual({ ok: true, value: undefined });
  const bad = parseDate("yesterdayish");
  expect(bad.ok).toBe(false);
  if (!bad.ok) expect(bad.error.message).toContain("-30d");
});
