/**
 * @module util/volume
 * Sizes as people write them in commands and role files: "10KB", "2MB", "500" (bytes).
 */
import { type Result, fail, ok } from "./result.ts";

/** "10KB", "2MB", "500" (bytes). */
export function parseVolume(text: string): Result<number> {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m|gb|g)?\s*$/i.exec(text);
  if (!m) return fail("bad_value", `'${text}' is not a volume such as 10KB or 2MB`);
  const unit = (m[2] ?? "b").toLowerCase();
  const scale = unit.startsWith("k") ? 1024 : unit.startsWith("m") ? 1024 ** 2 : unit.startsWith("g") ? 1024 ** 3 : 1;
  return ok(Math.round(Number(m[1]) * scale));
}
