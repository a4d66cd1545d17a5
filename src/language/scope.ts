/**
 * @module language/scope
 * Where a command's `!name` and `$NAME` references are looked up, by who sent it. A
 * command from the console, a script or the scheduler reads the whole dictionary and the
 * whole environment; one that came over REST or from a peer reads the environment only
 * for the node's own deployment variables (ANYLOG_*, EDGELAKE_* and those a role file
 * reads, e.g. NODE_TYPE or LEDGER_CONN), never one that holds a secret. Shown text
 * (`echo`) masks secrets: a dictionary value or variable whose name says it is one.
 */
import type { CommandContext } from "../commands/context.ts";
import { FIELDS } from "../role/schema.ts";
import type { Scope } from "./bind.ts";

/** Names of values that are secrets (masked wherever they are shown). */
export const SECRET_NAME = /pass|secret|token|pwd|private/i;

/** The environment variables a role file reads (EdgeLake's deployment variables). */
const DEPLOYMENT_VARIABLES = new Set(Object.values(FIELDS).flatMap((f) => (f.env ? [f.env] : [])));

/** Whether a request from REST or a peer may read environment variable `name`. */
export const readableRemotely = (name: string): boolean => !SECRET_NAME.test(name) && (/^(ANYLOG|EDGELAKE)_/i.test(name) || DEPLOYMENT_VARIABLES.has(name));

/** The scope of a command, by where it came from. */
export function scopeOf(ctx: CommandContext): Scope {
  const dictionary = ctx.node.dictionary;
  if (ctx.source !== "rest" && ctx.source !== "peer") return dictionary;
  return { lookup: (name) => dictionary.lookup(name), env: (name) => (readableRemotely(name) ? dictionary.env(name) : undefined) };
}

/** `scope` with secrets shown as *** (for text that is displayed). */
export function maskedScope(scope: Scope): Scope {
  const masked = (value: string | undefined) => (value === undefined ? undefined : "***");
  return {
    lookup: (name) => (SECRET_NAME.test(name) ? masked(scope.lookup(name)) : scope.lookup(name)),
    env: (name) => (SECRET_NAME.test(name) ? masked(scope.env(name)) : scope.env(name)),
  };
}
