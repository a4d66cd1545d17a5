/**
 * @module role/load
 * Checking a role file's values: each against its field (`checkScalar`), then the
 * environment variables of the EdgeLake deployment files over the file, defaults for the
 * rest, and the fields a role needs (`finishRole`). Every problem is reported as
 * `FILE:LINE:COL key: message`. Reading the YAML itself is role/yaml.ts (loaded only for a
 * role file: the embedded default's values are read when the executable is built).
 */
import { closest } from "../util/similar.ts";
import { FIELDS, type Field, ROLES, type Role } from "./schema.ts";

export interface Problem {
  line: number;
  col: number;
  key: string;
  message: string;
}

export interface MqttTopic {
  name: string;
  dbms: string;
  table: string;
  columns: Record<string, string>;
}

export type Value = string | number | boolean | string[] | MqttTopic[];

export interface RoleConfig {
  file: string;
  roles: Role[];
  /** Checked values by dotted path, defaults and environment applied. */
  values: Map<string, Value>;
}

export function formatProblem(file: string, p: Problem): string {
  return `${file}:${p.line}:${p.col} ${p.key}: ${p.message}`;
}

export function checkScalar(field: Field, raw: unknown): { value?: Value; error?: string } {
  switch (field.type) {
    case "string":
      if (typeof raw === "string" || typeof raw === "number") {
        const s = String(raw);
        if (field.values && !field.values.includes(s)) return { error: `'${s}' is not one of ${field.values.join(", ")}` };
        return { value: s };
      }
      return { error: `expected text, got ${describe(raw)}` };
    case "int":
      if (typeof raw === "number" && Number.isInteger(raw)) return { value: raw };
      if (typeof raw === "string" && /^\d+$/.test(raw)) return { value: Number(raw) };
      return { error: `expected a whole number, got ${describe(raw)}` };
    case "bool":
      if (typeof raw === "boolean") return { value: raw };
      if (typeof raw === "string" && /^(true|false)$/i.test(raw)) return { value: raw.toLowerCase() === "true" };
      return { error: `expected true or false, got ${describe(raw)}` };
    case "roles": {
      const list = Array.isArray(raw) ? raw : typeof raw === "string" ? raw.split(/[,\s]+/).filter(Boolean) : undefined;
      if (!list || list.length === 0) return { error: `expected a role or a list of roles (${ROLES.join(", ")})` };
      for (const r of list) {
        if (!ROLES.includes(String(r).toLowerCase() as Role)) {
          const near = closest(String(r), ROLES, 1);
          return { error: `unknown role '${String(r)}'${near.length ? ` (did you mean '${near[0]}'?)` : ""}; roles: ${ROLES.join(", ")}` };
        }
      }
      return { value: list.map((r) => String(r).toLowerCase()) };
    }
    case "strings":
      if (Array.isArray(raw) && raw.every((x) => typeof x === "string")) return { value: raw as string[] };
      return { error: "expected a list of command lines" };
    case "topics":
      return { error: "internal: topics are checked as a list" };
  }
}

export const describe = (v: unknown) => (v === null ? "nothing" : Array.isArray(v) ? "a list" : typeof v === "object" ? "a section" : `'${String(v)}'`);

/** A role's values from its file (before the environment and defaults), with the problems found reading them. */
export interface FileValues {
  values: Array<[string, Value]>;
  problems: Problem[];
}

/** The environment over the file's values, defaults for the rest, and what a role needs; the config or every problem. */
export function finishRole(read: FileValues, file: string, env: Record<string, string | undefined> = process.env): { config?: RoleConfig; problems: Problem[] } {
  const problems = [...read.problems];
  if (problems.some((p) => p.key === "yaml")) return { problems };
  const values = new Map<string, Value>(read.values);
  // the environment overrides the file
  for (const [path, field] of Object.entries(FIELDS)) {
    const v = field.env ? env[field.env] : undefined;
    if (v === undefined || v === "") continue;
    const checked = checkScalar(field, field.type === "roles" ? v : v);
    if (checked.error) problems.push({ line: 0, col: 0, key: path, message: `$${field.env}: ${checked.error}` });
    else values.set(path, checked.value!);
  }
  // defaults
  for (const [path, field] of Object.entries(FIELDS)) if (!values.has(path) && field.default !== undefined) values.set(path, field.default);

  const roles = values.get("role") as Role[];
  for (const [path, field] of Object.entries(FIELDS)) {
    const needing = field.neededBy?.filter((r) => roles.includes(r));
    if (!needing?.length || values.has(path)) continue;
    if (path === "ledger.master" && roles.includes("master")) continue; // a master is its own
    problems.push({ line: 1, col: 1, key: path, message: `missing: a ${needing[0]} node needs it (${field.doc})` });
  }
  if (values.get("security.authentication") === true && !values.has("security.admin_password_file")) {
    problems.push({ line: 1, col: 1, key: "security.admin_password_file", message: "missing: authentication needs the file of the first admin's password" });
  }
  if (values.get("security.node_authentication") === true && !values.has("security.node_key_password_file")) {
    problems.push({ line: 1, col: 1, key: "security.node_key_password_file", message: "missing: node authentication needs the file of the node key's password" });
  }
  if (values.get("database.type") === "psql" && !values.has("database.user")) {
    problems.push({ line: 1, col: 1, key: "database.user", message: "missing: a psql database needs a user" });
  }
  if (problems.length > 0) return { problems };
  return { config: { file, roles, values }, problems };
}

