/**
 * @module role/role
 * Which role file a node runs and the script it expands to: `--config`, else
 * `$ANYLOG_CONFIG`, else /etc/anylog/node.yaml when present, else (when no script is
 * given either) the embedded default.
 */
import { existsSync, readFileSync } from "node:fs";
import { type Result, fail, ok } from "../util/result.ts";
import { DEFAULT_ROLE_FILE } from "./default.ts";
import { DEFAULT_VALUES } from "./default-values.ts";
import { expandRole } from "./expand.ts";
import { type RoleConfig, finishRole, formatProblem } from "./load.ts";

export const SYSTEM_ROLE_FILE = "/etc/anylog/node.yaml";

/** The role file in force, or undefined when there is none. */
export function roleFilePath(config: string | undefined, env: Record<string, string | undefined> = process.env): string | undefined {
  if (config) return config;
  if (env.ANYLOG_CONFIG) return env.ANYLOG_CONFIG;
  return existsSync(SYSTEM_ROLE_FILE) ? SYSTEM_ROLE_FILE : undefined;
}

/**
 * Checks a role file (or the embedded default); problems come as FILE:LINE:COL key: message
 * lines. The YAML library is loaded only for a role file (the default's values are built in).
 */
export async function checkRole(file: string | undefined, env: Record<string, string | undefined> = process.env): Promise<Result<RoleConfig> & { problems?: string[] }> {
  const r = file ? (await import("./yaml.ts")).loadRoleFile(file, env) : finishRole(DEFAULT_VALUES, DEFAULT_ROLE_FILE, env);
  const name = file ?? DEFAULT_ROLE_FILE;
  if (!r.config) {
    const problems = r.problems.map((p) => formatProblem(name, p));
    return { ...fail("bad_value", problems[0] ?? `${name}: invalid`), problems };
  }
  return ok(r.config);
}

/** The script a role file expands to (secrets read from their files). */
export function roleScript(config: RoleConfig, keep: Set<string> = new Set()): string {
  return expandRole(config, { keep, readFile: (path) => readFileSync(path, "utf8") });
}
