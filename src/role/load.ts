/**
 * @module role/load
 * Reading a role file: YAML to checked values, with every problem reported as
 * `FILE:LINE:COL key: message` (unknown keys with the closest known one, wrong types,
 * fields a role needs). Environment variables of the EdgeLake deployment files override
 * the file; defaults fill the rest.
 */
import { readFileSync } from "node:fs";
import { isMap, isScalar, isSeq, LineCounter, type Node as YamlNode, parseDocument } from "yaml";
import { closest } from "../util/similar.ts";
import { FIELDS, type Field, ROLES, type Role, SECTIONS } from "./schema.ts";

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

function checkScalar(field: Field, raw: unknown): { value?: Value; error?: string } {
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

const describe = (v: unknown) => (v === null ? "nothing" : Array.isArray(v) ? "a list" : typeof v === "object" ? "a section" : `'${String(v)}'`);

/** Checks YAML text; returns the config or every problem found. */
export function checkRoleText(text: string, file: string, env: Record<string, string | undefined> = process.env): { config?: RoleConfig; problems: Problem[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const problems: Problem[] = [];
  const at = (node: YamlNode | null | undefined) => lines.linePos(node?.range?.[0] ?? 0);
  for (const e of doc.errors) {
    const pos = lines.linePos(e.pos[0]);
    problems.push({ line: pos.line, col: pos.col, key: "yaml", message: e.message.split("\n")[0]! });
  }
  if (problems.length > 0) return { problems };
  const values = new Map<string, Value>();

  function walk(node: YamlNode | null, prefix: string): void {
    if (!isMap(node)) {
      const pos = at(node);
      problems.push({ line: pos.line, col: pos.col, key: prefix || "(file)", message: `expected a section of keys, got ${describe(node?.toJSON())}` });
      return;
    }
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode;
      const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
      const path = prefix ? `${prefix}.${key}` : key;
      const pos = at(keyNode);
      const field = FIELDS[path];
      const valueNode = pair.value as YamlNode | null;
      if (!field && SECTIONS.has(path)) {
        walk(valueNode, path);
        continue;
      }
      if (!field) {
        const siblings = [...Object.keys(FIELDS), ...SECTIONS].filter((p) => p.split(".").slice(0, -1).join(".") === prefix).map((p) => p.split(".").pop()!);
        const near = closest(key, siblings, 1);
        problems.push({ line: pos.line, col: pos.col, key: path, message: `unknown key${near.length ? `; did you mean '${near[0]}'?` : ""}` });
        continue;
      }
      const raw = valueNode?.toJSON();
      if (raw === null || raw === undefined) continue; // `key:` with no value keeps the default
      if (field.type === "topics") {
        const topics = checkTopics(valueNode, path, at);
        problems.push(...topics.problems);
        if (topics.value) values.set(path, topics.value);
        continue;
      }
      const checked = checkScalar(field, raw);
      const vpos = at(valueNode);
      if (checked.error) problems.push({ line: vpos.line, col: vpos.col, key: path, message: checked.error });
      else values.set(path, checked.value!);
    }
  }
  if (doc.contents) walk(doc.contents as YamlNode, "");

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
  if (values.get("database.type") === "psql" && !values.has("database.user")) {
    problems.push({ line: 1, col: 1, key: "database.user", message: "missing: a psql database needs a user" });
  }
  if (problems.length > 0) return { problems };
  return { config: { file, roles, values }, problems };
}

function checkTopics(node: YamlNode | null, path: string, at: (n: YamlNode | null | undefined) => { line: number; col: number }): { value?: MqttTopic[]; problems: Problem[] } {
  const problems: Problem[] = [];
  if (!isSeq(node)) {
    const pos = at(node);
    return { problems: [{ line: pos.line, col: pos.col, key: path, message: "expected a list of topics" }] };
  }
  const topics: MqttTopic[] = [];
  node.items.forEach((item, i) => {
    const pos = at(item as YamlNode);
    const t = (item as YamlNode).toJSON() as Record<string, unknown> | null;
    const key = `${path}[${i}]`;
    if (!t || typeof t !== "object" || Array.isArray(t)) {
      problems.push({ line: pos.line, col: pos.col, key, message: "expected {name, dbms, table, columns}" });
      return;
    }
    const unknown = Object.keys(t).find((k) => !["name", "dbms", "table", "columns"].includes(k));
    if (unknown) problems.push({ line: pos.line, col: pos.col, key: `${key}.${unknown}`, message: `unknown key; a topic has name, dbms, table, columns` });
    for (const need of ["name", "dbms", "table"]) {
      if (typeof t[need] !== "string") problems.push({ line: pos.line, col: pos.col, key: `${key}.${need}`, message: "missing: a topic needs it" });
    }
    const columns = (t.columns ?? {}) as Record<string, unknown>;
    if (typeof columns !== "object" || Array.isArray(columns)) problems.push({ line: pos.line, col: pos.col, key: `${key}.columns`, message: "expected column: '[json][path]' pairs" });
    topics.push({ name: String(t.name), dbms: String(t.dbms), table: String(t.table), columns: Object.fromEntries(Object.entries(columns).map(([k, v]) => [k, String(v)])) });
  });
  return { value: topics, problems };
}

/** Reads and checks a role file. */
export function loadRoleFile(file: string, env: Record<string, string | undefined> = process.env): { config?: RoleConfig; problems: Problem[] } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { problems: [{ line: 0, col: 0, key: "file", message: code === "ENOENT" ? "no such file" : String(e) }] };
  }
  return checkRoleText(text, file, env);
}
