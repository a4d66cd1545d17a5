/**
 * @module commands/spec
 * The shape of a command declaration. Every command is data: its words, its positional
 * arguments, its typed `where` options, its help text, its REST method and its handler.
 * The parser, `help`, the REST method check and the role file all read these declarations.
 */
import type { Result } from "../util/result.ts";
import type { CommandContext } from "./context.ts";

/** The types an argument or option value can have; `language/values.ts` converts to them. */
export type ValueType =
  | "str" // any text
  | "int" // whole number
  | "float" // number
  | "bool" // true / false
  | "duration" // "30 seconds", "1 minute", "2 hours", "1 day"; a bare number means seconds
  | "ipport" // "host:port"
  | "list" // "(a, b)" or "a,b" or a single value: a list of text
  | "nested" // "(k = v and ...)": options of their own, declared by `options`
  | "json" // a JSON object, inline `{...}` or from a dictionary value
  | "any"; // kept as text, its meaning left to the handler

export interface OptionSpec {
  type: ValueType;
  help: string;
  required?: boolean;
  /** The key may be given more than once; the handler gets an array. */
  multiple?: boolean;
  /** Options of a `nested` value. */
  options?: OptionTable;
  /** Keys of a `nested` value accepted by prefix. */
  patterns?: OptionPattern[];
}

export interface OptionTable {
  [key: string]: OptionSpec;
}

/** Keys that are not listed but accepted by prefix (e.g. `column.` in an MQTT topic). */
export interface OptionPattern {
  prefix: string;
  spec: OptionSpec;
}

export interface PositionalSpec {
  name: string;
  type: ValueType;
  help: string;
  optional?: boolean;
  /** A literal word that must stand before this argument (`partition ... using <column>`). */
  after?: string;
  /** Takes every remaining token before `where` (joined by spaces, or a list for `list`). */
  rest?: boolean;
}

/**
 * A free-text tail: everything after `keyword` (or after the positionals when there is no
 * keyword) is kept as text, e.g. `task <command>`, `bring [a][b]`, `run client (...) <command>`.
 */
export interface TailSpec {
  name: string;
  help: string;
  keyword?: string;
  required?: boolean;
  /** The tail text starts with the keyword itself (`bring [a][b]`), not after it (`task <command>`). */
  keepKeyword?: boolean;
  /** Replace `!name` / `$NAME` in the tail now (true) or leave it for whoever runs it later. */
  substitute: boolean;
}

export type HttpMethod = "GET" | "POST";

/**
 * What a handler receives: values already substituted and converted to their declared types,
 * with narrowing getters so handlers never cast.
 */
export class Args {
  constructor(
    readonly positional: Record<string, unknown>,
    readonly options: Record<string, unknown>,
    /** Text of the tail, when the command declares one and the user gave it. */
    readonly tail?: string,
  ) {}

  private value(name: string): unknown {
    return name in this.options ? this.options[name] : this.positional[name];
  }
  has(name: string): boolean {
    return this.value(name) !== undefined;
  }
  str(name: string): string | undefined;
  str(name: string, fallback: string): string;
  str(name: string, fallback?: string): string | undefined {
    const v = this.value(name);
    return typeof v === "string" ? v : v === undefined ? fallback : String(v);
  }
  int(name: string): number | undefined;
  int(name: string, fallback: number): number;
  int(name: string, fallback?: number): number | undefined {
    const v = this.value(name);
    return typeof v === "number" ? v : fallback;
  }
  bool(name: string, fallback: boolean): boolean {
    const v = this.value(name);
    return typeof v === "boolean" ? v : fallback;
  }
  list(name: string): string[] {
    const v = this.value(name);
    return Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)];
  }
  /** A `nested` option (or each of a repeated one). */
  nested(name: string): Array<Record<string, unknown>> {
    const v = this.value(name);
    const all = Array.isArray(v) ? v : v === undefined ? [] : [v];
    return all.filter((x): x is Record<string, unknown> => typeof x === "object" && x !== null);
  }
  json(name: string): unknown {
    return this.value(name);
  }
}

/**
 * Where a command sent across the network goes (`run client (...)`, the REST `destination`
 * header): the peers named, or the network (`peers` undefined: the nodes the metadata says
 * hold the data), with the options given in the parentheses or as REST headers.
 */
export interface NetworkTarget {
  peers?: string[];
  /** Answer with the peers that replied (naming the others) instead of failing. */
  subset: boolean;
  /** How long to wait for each peer. */
  timeoutMs: number;
}

/** What a command yields: text, or data (shown as JSON). `undefined` means nothing to show. */
export type Reply = string | number | boolean | null | undefined | object;

export interface CommandSpec {
  /** The words that name the command, lower case: `["run", "tcp", "server"]`. */
  words: string[];
  summary: string;
  /** Extra usage lines for `help <command>` (examples). */
  examples?: string[];
  /** GET for commands that only read, POST for commands that change state. */
  method: HttpMethod | "of-tail";
  positional?: PositionalSpec[];
  options?: OptionTable;
  patterns?: OptionPattern[];
  /** Accept any option key (e.g. policy attribute filters of `blockchain get`), as text. */
  anyOption?: boolean;
  /** Options may be given without a leading `where` (`schedule time=... and name=...`). */
  bareOptions?: boolean;
  tail?: TailSpec;
  handler(ctx: CommandContext, args: Args): Promise<Result<Reply>> | Result<Reply>;
  /**
   * How the command runs across the network: it asks the peers itself and merges their
   * replies into one (`sql` answers as if by one database). Without it each peer runs the
   * command and the replies come back side by side, by peer.
   */
  network?(ctx: CommandContext, args: Args, target: NetworkTarget): Promise<Result<Reply>>;
  /**
   * The command mostly waits on other machines (peers, a database server): it holds no Query
   * Pool worker while it waits, so a silent peer or server cannot starve the node's other commands.
   */
  waitsOnNetwork?: boolean;
  /**
   * `false`: not run when a peer sends it over TCP (it could take the node over: stop it,
   * run a file, open connections or listeners, change users, schedule other commands).
   */
  peer?: false;
  /**
   * Options and positionals that name a path on this node (options ending in `_dir` always
   * do): a request from REST or a peer may name paths under the node's home only (security/paths).
   */
  paths?: string[];
}

/** Option shorthands for command tables: a flag, a text, a directory. */
export const boolOption = (help: string) => ({ type: "bool", help }) as const;
export const strOption = (help: string) => ({ type: "str", help }) as const;
export const dirOption = (help: string) => ({ type: "str", help: `${help} directory` }) as const;

/** Declares a command (identity function that keeps the literal types). */
export const command = (spec: CommandSpec): CommandSpec => spec;
