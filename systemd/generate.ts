/**
 * @module systemd/generate
 * The four role units from one template, so they cannot drift: `make units` runs this and
 * writes systemd/anylog-<role>.service from systemd/anylog.service.in (`--check` only says
 * whether the committed units match). test/systemd.test.ts compares them with `renderUnits`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROLES } from "../src/role/schema.ts";

const DIR = import.meta.dir;

/** The roles with a unit of their own: every role but generic (whose commands say what it is). */
export const UNIT_ROLES = ROLES.filter((r) => r !== "generic");

export const unitName = (role: string) => `anylog-${role}.service`;

/** One role's unit: `##` lines dropped, @ROLE@ and @OTHER_UNITS@ filled in. */
export function renderUnit(template: string, role: string): string {
  const others = UNIT_ROLES.filter((r) => r !== role).map(unitName).join(" ");
  return template
    .split("\n")
    .filter((line) => !line.startsWith("##"))
    .join("\n")
    .replaceAll("@ROLE@", role)
    .replaceAll("@OTHER_UNITS@", others);
}

/** File name to text for every role unit, from the template on disk. */
export function renderUnits(template = readFileSync(join(DIR, "anylog.service.in"), "utf8")): Map<string, string> {
  const left = template.replace(/^##.*$/gm, "").match(/@[A-Z_]+@/g)?.filter((p) => p !== "@ROLE@" && p !== "@OTHER_UNITS@");
  if (left?.length) throw new Error(`anylog.service.in: unknown placeholder ${left[0]}`);
  return new Map(UNIT_ROLES.map((role) => [unitName(role), renderUnit(template, role)]));
}

if (import.meta.main) {
  const check = process.argv.includes("--check");
  let stale = 0;
  for (const [name, text] of renderUnits()) {
    const path = join(DIR, name);
    let current = "";
    try {
      current = readFileSync(path, "utf8");
    } catch {}
    if (current === text) continue;
    stale++;
    if (check) process.stderr.write(`systemd/${name} differs from what anylog.service.in gives (make units)\n`);
    else {
      writeFileSync(path, text);
      process.stdout.write(`wrote systemd/${name}\n`);
    }
  }
  process.exit(check && stale ? 1 : 0);
}
