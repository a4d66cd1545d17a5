/**
 * @module role/default-values
 * The embedded default role's values, read from its YAML when the executable is built (a
 * Bun macro: `defaultRoleValues` runs at bundle time, or from source at transpile time), so
 * a node started on the default never loads the YAML library (~20 ms and ~3 MiB of its
 * start-up). The environment and the defaults are applied at start, as for a role file.
 */
import { defaultRoleValues } from "./default-macro.ts" with { type: "macro" };
import type { FileValues } from "./load.ts";

export const DEFAULT_VALUES = defaultRoleValues() as unknown as FileValues;
