/**
 * Parser and interpreter fuzz: thousands of malformed command lines, generated from a grammar
 * of fragments (the real command table's words and examples, where-clauses, quotes,
 * unbalanced brackets, dictionary and environment references, JSON pieces, if/then/do/else,
 * unicode, control characters, very long tokens) by a seeded PRNG, so every run tries the
 * same lines. Each line goes through `parseStatement` and a real in-process Node's `execute`;
 * random multi-line combinations go through the script reader and the script runner.
 *
 * What must hold: nothing throws, every outcome is a Result (`ok` boolean; an error has a
 * known code and a non-empty message without a stack), `execute` always resolves, and no
 * line makes a handler fail unexpectedly (code `internal`).
 *
 * The node is real but kept off the network: its peer transport answers every request with
 * an error and its listen never binds (so `run client`, `run tcp server` run their real
 * parsing and binding only), the REST process is a stand-in that checks its listen address
 * without serving, and `shutdown` (from `exit node`) is recorded instead of stopping it.
 */
import "../src/features.ts";
import "../src/commands/all.ts";
import "../src/processes/all.ts";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CommandContext } from "../src/commands/context.ts";
import type { Args } from "../src/commands/spec.ts";
import { allCommands } from "../src/commands/table.ts";
import { runScript } from "../src/language/interpreter.ts";
import type { Statement } from "../src/language/ast.ts";
import { parseStatement } from "../src/language/parser.ts";
import { readScript } from "../src/language/script.ts";
import { listenAddress } from "../src/network/listen-address.ts";
import type { PeerTransport } from "../src/network/transport.ts";
import { Node } from "../src/node/node.ts";
import type { NodeProcess } from "../src/processes/registry.ts";
import { type Level, setLogLevel } from "../src/util/log.ts";
import { type Result, fail, ok } from "../src/util/result.ts";
import { prng } from "./support/prng.ts";

// bun's default is 5 s per test and hook (bunfig.toml's [test] timeout is not read by bun 1.3):
// these bound waits for real processes and sockets; none of them measures speed
setDefaultTimeout(120_000);

/** Deterministic by default; ANYLOG_FUZZ_SEED / ANYLOG_FUZZ_LINES explore further by hand. */
const LINES = Number(process.env.ANYLOG_FUZZ_LINES) || 6000;
const SCRIPTS = Math.max(600, Math.floor(LINES / 10));
const SEED = Number(process.env.ANYLOG_FUZZ_SEED) || 0x0a11_06_23;

const CODES = new Set([
  "syntax",
  "unknown_command",
  "bad_option",
  "forbidden",
  "bad_value",
  "wrong_method",
  "not_found",
  "conflict",
  "unavailable",
  "peer_failed",
  "timeout",
  "io",
  "internal",
]);

// ------------------------------------------------------------------ deterministic randomness


const rand = prng(SEED);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
const chance = (p: number) => rand() < p;

// ------------------------------------------------------------------ the grammar's fragments

const specs = allCommands();
const commandNames = specs.map((s) => s.words.join(" "));
const commandWords = [...new Set(specs.flatMap((s) => s.words))];
const optionNames = [...new Set(specs.flatMap((s) => Object.keys(s.options ?? {})))];

/** Valid-looking lines to mutate: every example of the table, plus forms the seeds use. */
const bases = [
  ...specs.flatMap((s) => s.examples ?? []),
  "get status where format = json",
  "get processes where format=json",
  "run client (127.0.0.1:32048) get status",
  "run client (127.0.0.1:32048, 127.0.0.1:32148) get processes where format = json",
  "blockchain get operator where company = !company_name bring.first [*][id]",
  "blockchain get (cluster, operator) where [cluster][id] = !cluster_id bring [operator][ip] : [operator][port]",
  'run msg client where broker=rest and port=!anylog_rest_port and user-agent=anylog and log=false and topic=(name=!mqtt_topic and dbms=!default_dbms and table="bring [sensor]" and column.timestamp.timestamp="bring [ts]" and column.value=(type=float and value="bring [value]"))',
  'schedule time = 1 day and name = "Remove Old Partitions" task drop partition where dbms=!default_dbms and table=rand_data and keep=!partition_keep',
  'sql mydb format=table and stat=false "select count(*) from t where a = 1"',
  "partition !default_dbms * using timestamp by 1 day",
  'policy = create policy operator where name = !node_name and company = !company_name and ip = !external_ip and port = !anylog_server_port.int',
  "<new_policy = {\"operator\": {\"name\": !node_name, \"port\": !anylog_server_port.int}}>",
  "if not !is_policy then blockchain insert where policy=!new_policy and local=true and master=!ledger_conn",
  "if !default_dbms == test then echo yes",
  "do echo then branch",
  "else echo else branch",
  "on error goto end_label",
  "set buffer threshold where time=60 seconds and volume=10KB and write_immediate=true",
  "connect dbms !default_dbms where type=sqlite",
  "set query pool 4",
  "exit tcp",
  "get dictionary",
  "x = get status where format=json",
  "trace level = 1 rest",
];

const refs = ["!node_name", "!x", "!x.int", "!x.float", "!x.bool", "!nope", "!nope.int", "!anylog_path", "!ip.int", "$HOME", "$FUZZ_ENV", "$NOT_SET_ANYWHERE", "!", "$", "!!", "!.", "!x.", "!x.nope"];
const jsonBits = ['{"a": 1}', '{"a": !x}', '{"a": !x.int, "b": [1, 2, {"c": null}]}', '{"a":', "{}", "{ }", '{"policy": {"name": "n", "ip": !ip}}', '{"k": "}"}', "[1, 2]", '"{"', "{{{", "}}}"];
const brackets = ["(", ")", "{", "}", "[", "]", "<", ">", "((", "))", "(a, b)", "(k = v and x = y)", "(k = (n = (m = 1)))", "[a][b]", "[*][id]", "[", "[]", "()", "(,)", "(=)", "<>", "< >"];
const quotes = ['"', "'", '"quoted text"', "'single'", '"unterminated', "'unterminated", '"a \\" b"', "'it''s'", '""', "''", '"\\\\"', '"tab\there"'];
const ops = ["=", "==", "!=", "<", ">", "<=", ">=", ",", "=>", "= =", "==="];
const keywords = ["where", "and", "or", "not", "if", "if not", "then", "do", "else", "goto", "end script", "on error", "on error ignore", "bring", "bring.first", "bring.count", "task", "using", "by", "is", "is not", "format", "json", "table", "true", "false", ":label:", "::", "#", "# comment"];
const unicode = ["ünïcödé", "日本語", "🚀", "\u200b", "\ufeff", "\u202e", "\ud800", "\udfff", "Ω≈ç√", "ﬁ", "é"];
const controls = ["\x00", "\x07", "\x08", "\t", "\r", "\n", "\x1b[31m", "\x7f", "\u0085", "\u2028"];
const numbers = ["0", "-1", "1.5", "99999999999999999999999", "1e309", "NaN", "0x10", "32048", "65536", "-0", "1_000"];
const addresses = ["127.0.0.1:1", "10.0.0.7:32148", "[::1]:32048", "host:port", ":", "1.2.3.4:", ":99", "256.1.1.1:80"];

function longToken(): string {
  switch (int(6)) {
    case 0:
      return "a".repeat(1000 + int(20000));
    case 1:
      return "(".repeat(50 + int(400));
    case 2:
      return `${"(".repeat(100 + int(300))}x${")".repeat(100 + int(300))}`;
    case 3:
      return `"${"q".repeat(5000)}`;
    case 4:
      return `{${'"k": {'.repeat(200)}`;
    default:
      return Array.from({ length: 200 + int(500) }, () => pick(["and", "where", "=", "x"])).join(" ");
  }
}

function fragment(): string {
  switch (int(14)) {
    case 0:
      return pick(commandWords);
    case 1:
      return pick(commandNames);
    case 2:
      return pick(optionNames);
    case 3:
      return pick(refs);
    case 4:
      return pick(jsonBits);
    case 5:
      return pick(brackets);
    case 6:
      return pick(quotes);
    case 7:
      return pick(ops);
    case 8:
      return pick(keywords);
    case 9:
      return pick(unicode);
    case 10:
      return pick(controls);
    case 11:
      return pick(numbers);
    case 12:
      return pick(addresses);
    default:
      return chance(0.1) ? longToken() : `${pick(optionNames)} = ${pick([...numbers, ...refs, ...quotes])}`;
  }
}

const fragments = (n: number) => Array.from({ length: n }, fragment);
const join_ = (parts: string[]) => parts.join(chance(0.85) ? " " : pick(["", "  ", "\t", " and ", ","]));

/** Breaks a valid-looking line: truncation, insertion, deletion, duplication, swaps. */
function mutate(line: string): string {
  let s = line;
  const rounds = 1 + int(3);
  for (let r = 0; r < rounds; r++) {
    const at = int(s.length + 1);
    switch (int(7)) {
      case 0:
        s = s.slice(0, at); // cut anywhere, also mid-word or mid-quote
        break;
      case 1:
        s = `${s.slice(0, at)} ${fragment()} ${s.slice(at)}`;
        break;
      case 2:
        s = s.slice(0, at) + pick(["(", ")", "{", "}", '"', "'", "[", "]", "<", ">", "=", "!"]) + s.slice(at);
        break;
      case 3: {
        const end = at + int(20);
        s = s.slice(0, at) + s.slice(end);
        break;
      }
      case 4: {
        const words = s.split(" ");
        const i = int(words.length);
        const j = int(words.length);
        [words[i], words[j]] = [words[j]!, words[i]!];
        s = words.join(" ");
        break;
      }
      case 5:
        s = `${s} ${pick(["and", "where", "and where", "then", "=", "bring", "task", ","])}`;
        break;
      default:
        s = s.replace(/=/g, () => (chance(0.3) ? "" : "="));
    }
  }
  return s;
}

function line(): string {
  switch (int(9)) {
    case 0:
    case 1:
      return mutate(pick(bases));
    case 2:
      return join_([pick(commandNames), ...fragments(int(8))]);
    case 3:
      return join_([pick(commandNames), "where", ...fragments(1 + int(6))]);
    case 4:
      return join_(fragments(1 + int(10)));
    case 5:
      return join_([pick(["if", "if not", "if ("]), ...fragments(int(4)), ...(chance(0.7) ? ["then"] : []), ...(chance(0.7) ? [pick(commandNames)] : []), ...fragments(int(4))]);
    case 6:
      return join_([pick(["do", "else"]), ...(chance(0.8) ? [pick(commandNames)] : []), ...fragments(int(5))]);
    case 7:
      return join_([pick(["x", "y_1", "new_policy", "Ω", "!x", "1x", "x.y"]), pick(["=", "==", " = "]), ...(chance(0.5) ? [pick(commandNames)] : []), ...fragments(int(5))]);
    default:
      return mutate(join_([pick(commandNames), ...fragments(int(4))]));
  }
}

const generated: string[] = Array.from({ length: LINES }, line);

// ------------------------------------------------------------------ checks

function checkResult(r: unknown, what: string): Result<unknown> {
  expect(typeof r, what).toBe("object");
  expect(r, what).not.toBeNull();
  const res = r as Result<unknown>;
  expect(typeof res.ok, what).toBe("boolean");
  if (!res.ok) {
    expect(typeof res.error?.message, what).toBe("string");
    expect(res.error.message.length, what).toBeGreaterThan(0);
    expect(CODES.has(res.error.code), `${what}: unknown code ${res.error.code}`).toBe(true);
    expect(res.error.message, what).not.toMatch(STACK_LINE);
  }
  return res;
}

/** A stack frame line: "    at name (file:line:col)" or "    at file:line:col". */
const STACK_LINE = /^\s+at\s.*:\d+:\d+\)?\s*$/m;

const show = (s: string) => JSON.stringify(s.length > 300 ? `${s.slice(0, 300)}...(${s.length} chars)` : s);

/** A promise settled within `ms`, else an error naming `what`. */
async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, bad) => {
    timer = setTimeout(() => bad(new Error(`did not resolve within ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

// ------------------------------------------------------------------ an offline node

/**
 * Commands that reach outside the machine (database servers, message brokers, mail) are
 * parsed but not run: the fuzz must not depend on, or wait for, hosts it names at random.
 * Everything else runs for real. A reference (`!x`) cannot smuggle such a value in: the
 * dictionary only holds what executed lines put there, and those never name these.
 */
const NOT_RUN = [/\bpsql\b|postgres|mongo/i];
const NOT_RUN_COMMANDS = new Set(["run mqtt client", "run msg client", "run kafka consumer", "run smtp client", "run message broker"]);

function commandsOf(stmt: Statement): string[] {
  switch (stmt.kind) {
    case "command":
      return [stmt.call.spec.words.join(" ")];
    case "assign":
      return stmt.value.kind === "command" ? [stmt.value.call.spec.words.join(" ")] : [];
    case "if":
      return stmt.then ? commandsOf(stmt.then) : [];
    case "do":
    case "else":
      return commandsOf(stmt.body);
    default:
      return [];
  }
}

/** Whether a line is run on the node (it is always parsed). */
function runnable(text: string): boolean {
  if (NOT_RUN.some((re) => re.test(text))) return false;
  const stmt = parseStatement(text);
  return !stmt.ok || !commandsOf(stmt.value).some((c) => NOT_RUN_COMMANDS.has(c));
}


/** A peer transport that never touches the network. */
const offlineTransport: PeerTransport = {
  request: async (peer) => fail("peer_failed", `fuzz: no network to ${peer}`),
  listen: async (host, port) => ok({ address: { host, port }, close: async () => {}, share: () => ok(() => {}) }),
  close: async () => {},
};

/** The REST process, checking its arguments as the real one does, without serving. */
function standInRest(): NodeProcess {
  let running = false;
  return {
    async start(args: Args) {
      const a = listenAddress(args, 5);
      if (!a.ok) return a;
      running = true;
      return ok(`stand-in REST on ${a.value.host}:${a.value.port}`);
    },
    async stop() {
      running = false;
    },
    status: () => (running ? "Running" : "Not declared"),
    details: () => "",
    info: () => ({}),
  };
}

let home: string;
let node: Node;
const shutdowns: string[] = [];

function offlineNode(): Node {
  const n = new Node({ env: { ANYLOG_HOME: home, FUZZ_ENV: "from env", HOME: home, NODE_NAME: "fuzz" }, set: { x: "42" } });
  Object.assign(n, { peers: offlineTransport });
  const rest = standInRest();
  const get = n.processes.get.bind(n.processes);
  n.processes.get = (name: string) => (name === "REST" ? rest : get(name));
  const find = n.processes.find.bind(n.processes);
  n.processes.find = (words: string) => {
    const f = find(words);
    return f && f.def.name === "REST" ? { def: f.def, proc: rest } : f;
  };
  n.shutdown = async (reason: string) => {
    shutdowns.push(reason);
  };
  return n;
}

beforeAll(() => {
  setLogLevel("error"); // the fuzz starts and stops processes thousands of times
  home = mkdtempSync(join(tmpdir(), "anylog-fuzz-"));
  node = offlineNode();
});
afterAll(async () => {
  // the real shutdown: stops what the fuzz started, closes databases it opened
  await Node.prototype.shutdown.call(node, "fuzz finished");
  rmSync(home, { recursive: true, force: true });
  setLogLevel((process.env.ANYLOG_LOG_LEVEL as Level | undefined) ?? "info");
});

// ------------------------------------------------------------------ the tests

describe(`parser fuzz (${LINES} generated lines, seed ${SEED})`, () => {
  test("the generator is deterministic and varied", () => {
    const again = prng(SEED);
    expect(again()).toBe(prng(SEED)());
    expect(new Set(generated).size).toBeGreaterThan(LINES * 0.9);
    expect(generated.length).toBeGreaterThanOrEqual(5000);
  });

  test("parseStatement never throws and always gives a Result", () => {
    let errors = 0;
    for (const text of generated) {
      let r: unknown;
      try {
        r = parseStatement(text);
      } catch (e) {
        throw new Error(`parseStatement threw ${e instanceof Error ? e.message : String(e)} on ${show(text)}`);
      }
      if (!checkResult(r, `parseStatement(${show(text)})`).ok) errors++;
    }
    // a malformed corpus: most lines must be refused, some still parse
    expect(errors).toBeGreaterThan(LINES / 4);
    expect(errors).toBeLessThan(LINES);
  });

  test("node.execute always resolves to a Result, and no handler fails unexpectedly", async () => {
    const internal: string[] = [];
    let ctx: CommandContext = node.context("console");
    let ran = 0;
    for (let i = 0; i < generated.length; i++) {
      const text = generated[i]!;
      if (!runnable(text)) continue;
      ran++;
      if (i % 40 === 0) ctx = node.context(pick(["console", "rest", "script", "peer"] as const)); // fresh session now and then
      let r: unknown;
      try {
        r = await bounded(node.execute(text, ctx), 10_000, show(text));
      } catch (e) {
        throw new Error(`node.execute failed on ${show(text)}: ${e instanceof Error ? e.message : String(e)}`);
      }
      const res = checkResult(r, `execute(${show(text)})`);
      if (!res.ok && res.error.code === "internal") internal.push(`${show(text)} -> ${res.error.message}`);
    }
    expect(ran).toBeGreaterThan(generated.length * 0.9);
    expect(internal, `handlers failed unexpectedly on ${internal.length} lines:\n${internal.slice(0, 20).join("\n")}`).toEqual([]);
  }, 120_000);
});

describe(`script reader fuzz (${SCRIPTS} random scripts)`, () => {
  const structure = [
    "<",
    ">",
    "<run tcp server where",
    "external_ip = !ip and",
    "and external_port = 32048",
    "and",
    "if !x == 42 {",
    "if not !nope {",
    "if ( !x > 1 {",
    "if {",
    "} else {",
    "}",
    "else {",
    "# a comment",
    "AL fuzz +> get status",
    "AL +> ",
    ":label_one:",
    "end script",
    "on error ignore",
    "on error end script",
    "",
    "   ",
  ];

  function script(): string {
    const n = 1 + int(30);
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(chance(0.35) ? pick(structure) : pick(generated));
    return lines.join(chance(0.9) ? "\n" : "\r\n");
  }

  const scripts = Array.from({ length: SCRIPTS }, script);

  test("readScript never throws and always gives a Result", () => {
    for (const text of scripts) {
      let r: unknown;
      try {
        r = readScript(text);
      } catch (e) {
        throw new Error(`readScript threw ${e instanceof Error ? e.message : String(e)} on ${show(text)}`);
      }
      checkResult(r, `readScript(${show(text)})`);
    }
  });

  test("runScript runs them to an end without throwing (scripts without goto, which may loop by design)", async () => {
    const reported: string[] = [];
    const internal: string[] = [];
    let ran = 0;
    for (const text of scripts) {
      if (/goto/i.test(text) || !text.split(/\r?\n/).every(runnable)) continue;
      ran++;
      const ctx = node.context("script");
      const r = await bounded(
        runScript(text, "fuzz.al", ctx, (where, message) => {
          reported.push(where);
          expect(where).toMatch(/^fuzz\.al(:\d+)?$/);
          expect(message.length).toBeGreaterThan(0);
          if (/failed unexpectedly/.test(message) || STACK_LINE.test(message)) internal.push(`${where}: ${message}`);
        }),
        30_000,
        show(text),
      );
      const res = checkResult(r, `runScript(${show(text)})`);
      if (res.ok) {
        const report = res.value as { statements: number; errors: number; ended: string };
        expect(["end", "end script", "error"]).toContain(report.ended);
      }
    }
    expect(ran).toBeGreaterThan(SCRIPTS / 2);
    expect(reported.length).toBeGreaterThan(0);
    expect(internal).toEqual([]);
  }, 120_000);

  test("the node came through it all and still answers", async () => {
    const r = await node.execute("get status where format=json");
    expect(r.ok).toBe(true);
    if (r.ok) expect((r.value as { status: string }).status).toBe("running");
  });
});

describe("findings of the fuzz, now fixed", () => {
  // A missing 'and' between two options was swallowed into the first option's value
  // (INTERFACE §2: a command that cannot run names the word at fault).
  test("an option value with a bare '=' in it (a missing 'and') is refused", () => {
    for (const text of ["get status where format = json x = 2", "run tcp server where external_ip = 1.2.3.4 external_port = 5"]) {
      const r = parseStatement(text);
      expect(r.ok, text).toBe(false);
    }
  });

  // Parentheses nest by recursion in `tokenize`: thousands of levels overflowed the stack;
  // a nesting limit gives a `syntax` error value instead.
  test("deeply nested parentheses give a syntax error value, not a throw", () => {
    const n = 25_000;
    const r = parseStatement(`get status where format = ${"(".repeat(n)}${")".repeat(n)}`);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain("nested more than");
  }, 60_000);
});
