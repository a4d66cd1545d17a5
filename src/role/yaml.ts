/**
 * @module role/yaml
 * A role file's YAML to values: each key checked against the schema (unknown keys with the
 * closest known one, wrong types), with its line and column. The one module that loads the
 * YAML library; the embedded default's values are read by it when the executable is built.
 */
import { readFileSync } from "node:fs";
import { isMap, isScalar, isSeq, LineCounter, type Node as YamlNode, parseDocument } from "yaml";
import { closest } from "../util/similar.ts";
import { type FileValues, type MqttTopic, type Problem, type RoleConfig, type Value, checkScalar, describe, finishRole } from "./load.ts";
import { FIELDS, SECTIONS } from "./schema.ts";

/** The values of a role file's YAML text, each checked against its field, with every problem found. */
export function readRoleYaml(text: string): FileValues {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const problems: Problem[] = [];
  const at = (node: YamlNode | null | undefined) => lines.linePos(node?.range?.[0] ?? 0);
  for (const e of doc.errors) {
    const pos = lines.linePos(e.pos[0]);
    problems.push({ line: pos.line, col: pos.col, key: "yaml", message: e.message.split("\n")[0]! });
  }
  if (problems.length > 0) return { values: [], problems };
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
  return { values: [...values], problems };
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
  return finishRole(readRoleYaml(text), file, env);
}
