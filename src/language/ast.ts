/**
 * @module language/ast
 * What the parser produces: statements of the command language, with command calls whose
 * options are checked against the command's declaration but whose values are still raw
 * tokens (dictionary references are replaced only when the statement runs).
 */
import type { CommandSpec } from "../commands/spec.ts";
import type { Token } from "./tokens.ts";

/** One `key = value` of a where-clause, in the order written (keys may repeat). */
export interface RawOption {
  key: string;
  tokens: Token[];
  /** For a `nested` option: the options inside its parentheses. */
  nested?: RawOption[];
  pos: number;
}

export interface CommandCall {
  spec: CommandSpec;
  /** Tokens of each positional argument, by name. */
  positional: Record<string, Token[]>;
  options: RawOption[];
  /** The tail text as written (e.g. the command after `task`). */
  tail?: string;
  /** The whole command text. */
  text: string;
}

export type Condition =
  | { kind: "not"; operand: Condition }
  | { kind: "and" | "or"; left: Condition; right: Condition }
  | { kind: "compare"; op: "==" | "!=" | "<" | ">" | "<=" | ">="; left: Token[]; right: Token[] }
  | { kind: "truthy"; operand: Token[] };

export type Statement =
  | { kind: "empty" }
  | { kind: "label"; name: string }
  | { kind: "assign"; name: string; value: { kind: "command"; call: CommandCall } | { kind: "text"; tokens: Token[] } }
  | { kind: "if"; condition: Condition; then?: Statement }
  | { kind: "do" | "else"; body: Statement }
  | { kind: "goto"; label: string }
  | { kind: "end-script" }
  | { kind: "on-error"; action: { kind: "ignore" } | { kind: "end" } | { kind: "goto"; label: string } }
  | { kind: "command"; call: CommandCall };
