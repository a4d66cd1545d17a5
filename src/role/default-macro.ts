/**
 * @module role/default-macro
 * The macro behind role/default-values.ts: the embedded default's YAML read into values
 * (plain data, which the bundler inlines). Never imported at run time.
 */
import { DEFAULT_ROLE } from "./default.ts";
import { readRoleYaml } from "./yaml.ts";

export function defaultRoleValues(): { values: Array<[string, unknown]>; problems: unknown[] } {
  const read = readRoleYaml(DEFAULT_ROLE);
  if (read.problems.length > 0) throw new Error(`the embedded default role does not check: ${JSON.stringify(read.problems)}`);
  return read;
}
