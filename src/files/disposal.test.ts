/**
 * File disposal with real files in a temporary directory: each mode puts a stored file where
 * it belongs, compressing writes .gz and removes the original, a refused file goes to the
 * error directory with its reason, a missing file is an outcome and not an error.
 */
import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { type DisposalSettings, FileDisposal } from "./disposal.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A temporary tree: a watch directory with one file in it, and where files go. */
function tree() {
  const root = mkdtempSync(join(tmpdir(), "disposal-"));
  dirs.push(root);
  const file = join(root, "watch", "db.t.0.abc.json");
  mkdirSync(join(root, "watch"));
  writeFileSync(file, '{"v":1}\n');
  const errorDir = join(root, "err");
  const settings = (s: Omit<DisposalSettings, "errorDir">): DisposalSettings => ({ errorDir, ...s });
  return { root, file, errorDir, settings };
}

test("delete: a stored file is removed", () => {
  const { file, settings } = tree();
  expect(new FileDisposal(settings({ stored: { to: "delete" }, compress: true })).stored(file)).toEqual({ ok: true, value: { kind: "deleted" } });
  expect(existsSync(file)).toBe(false);
});

test("backup, archive by day: the stored file is moved there", () => {
  for (const to of ["backup", "archive"] as const) {
    const { root, file, settings } = tree();
    const dir = join(root, to);
    const d = new FileDisposal(settings({ stored: { to, dir }, compress: false, now: () => new Date("2026-03-04T23:59:00Z") }));
    const where = to === "archive" ? join(dir, "2026-03-04", "db.t.0.abc.json") : join(dir, "db.t.0.abc.json");
    expect(d.stored(file)).toEqual({ ok: true, value: { kind: "moved", path: where } });
    expect(existsSync(file)).toBe(false);
    expect(readFileSync(where, "utf8")).toBe('{"v":1}\n');
  }
});

test("compress writes the .gz (no temporary left) and removes the original; a .gz is moved as it is", () => {
  const { root, file, settings } = tree();
  const dir = join(root, "bkup");
  const d = new FileDisposal(settings({ stored: { to: "backup", dir }, compress: true }));
  expect(d.stored(file)).toEqual({ ok: true, value: { kind: "moved", path: join(dir, "db.t.0.abc.json.gz") } });
  expect(existsSync(file)).toBe(false);
  expect(gunzipSync(readFileSync(join(dir, "db.t.0.abc.json.gz"))).toString()).toBe('{"v":1}\n');
  const gz = join(root, "watch", "db.t.0.def.json.gz");
  writeFileSync(gz, "gz bytes");
  expect(d.stored(gz)).toEqual({ ok: true, value: { kind: "moved", path: join(dir, "db.t.0.def.json.gz") } });
  expect(readdirSync(dir).sort()).toEqual(["db.t.0.abc.json.gz", "db.t.0.def.json.gz"]);
});

test("refused: the file goes to the error directory with <name>.err.txt giving the reason, never compressed", () => {
  const { file, errorDir, settings } = tree();
  const d = new FileDisposal(settings({ stored: { to: "delete" }, compress: true }));
  expect(d.refused(file, "column 'v' is int, the value \"x\" does not fit")).toEqual({ ok: true, value: { kind: "moved", path: join(errorDir, "db.t.0.abc.json") } });
  expect(existsSync(file)).toBe(false);
  expect(readFileSync(join(errorDir, "db.t.0.abc.json"), "utf8")).toBe('{"v":1}\n');
  expect(readFileSync(join(errorDir, "db.t.0.abc.json.err.txt"), "utf8")).toBe("column 'v' is int, the value \"x\" does not fit\n");
});

test("a missing file is an outcome, not an error, in every mode", () => {
  const { root, errorDir, settings } = tree();
  const gone = join(root, "watch", "gone.json");
  for (const stored of [{ to: "delete" } as const, { to: "backup", dir: join(root, "b") } as const, { to: "archive", dir: join(root, "a") } as const]) {
    for (const compress of [false, true]) {
      const d = new FileDisposal(settings({ stored, compress }));
      expect(d.stored(gone)).toEqual({ ok: true, value: { kind: "missing" } });
      expect(d.refused(gone, "why")).toEqual({ ok: true, value: { kind: "missing" } });
    }
  }
  expect(existsSync(join(errorDir, "gone.json.err.txt"))).toBe(false);
});

test("a directory that cannot be made is an io error naming the file", () => {
  const { root, file, settings } = tree();
  writeFileSync(join(root, "blocker"), "");
  const r = new FileDisposal(settings({ stored: { to: "backup", dir: join(root, "blocker", "bkup") }, compress: false })).stored(file);
  expect(r.ok ? "" : `${r.error.code}: ${r.error.message}`).toStartWith("io: stored db.t.0.abc.json but cannot move it to");
  expect(existsSync(file)).toBe(true);
});
