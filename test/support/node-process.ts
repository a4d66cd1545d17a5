/**
 * @module test/support/node-process
 * Real `anylog start` processes for integration tests: free loopback ports, a fresh
 * ANYLOG_HOME, a bounded wait for `GET /health`, REST calls through `fetch` and through the
 * real `curl` binary, and a clean `stop()` (SIGTERM, exit code 0) or a hard `kill()`.
 *
 * The executable is `$ANYLOG_BIN` (the Makefile points it at the compiled binary), else
 * `bun src/main.ts` from the repository root. Every started node is remembered, so a test
 * file's `afterEach(killAll)` cleans up even when the test failed half-way.
 */
import type { Subprocess } from "bun";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const REPO_ROOT = resolve(import.meta.dir, "../..");
const BUN = join(REPO_ROOT, "node_modules/.bin/bun");

/** The command line that runs the executable under test. */
export function anylogCommand(): string[] {
  const bin = process.env.ANYLOG_BIN;
  return bin ? [bin] : [BUN, join(REPO_ROOT, "src/main.ts")];
}

/** `count` distinct free TCP ports on 127.0.0.1 (all held open at once, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((ok, bad) => {
          const s = createServer();
          s.once("error", bad);
          s.listen({ host: "127.0.0.1", port: 0 }, () => ok(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((done) => s.close(() => done()))));
  return ports;
}

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

/** What the real curl binary saw: status, lower-case headers, body, curl's own exit code. */
export interface CurlReply {
  status: number;
  headers: Record<string, string>;
  body: string;
  exitCode: number;
  stderr: string;
}

/** Runs `curl -sS -i <args>` and splits the reply (1xx interim replies skipped). */
export async function curl(args: string[], boundSeconds = 30): Promise<CurlReply> {
  const proc = Bun.spawn(["curl", "-sS", "-i", "--max-time", String(boundSeconds), "-H", "Expect:", ...args], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  let rest = out;
  let status = 0;
  let headers: Record<string, string> = {};
  for (;;) {
    const end = rest.indexOf("\r\n\r\n");
    if (!rest.startsWith("HTTP/") || end < 0) break;
    const lines = rest.slice(0, end).split("\r\n");
    status = Number(lines[0]!.split(" ")[1]);
    headers = {};
    for (const l of lines.slice(1)) {
      const at = l.indexOf(":");
      if (at > 0) headers[l.slice(0, at).trim().toLowerCase()] = l.slice(at + 1).trim();
    }
    rest = rest.slice(end + 4);
    if (status >= 200) break;
  }
  return { status, headers, body: rest, exitCode, stderr: err };
}

export interface RestReply {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface StartOptions {
  /** `--set KEY=VALUE` values besides the two ports. */
  set?: Record<string, string>;
  /** Extra environment variables for the node. */
  env?: Record<string, string>;
  /**
   * A start-up script (`--script`), written into the node's ANYLOG_HOME; it replaces the
   * embedded default, so it must start the servers itself (MINIMAL_SCRIPT does only that).
   */
  script?: string;
  /** Bound on the wait for `/health` (ms). */
  readyWithinMs?: number;
}

/** A node with the TCP and REST servers and nothing else (no operator, no databases). */
export const MINIMAL_SCRIPT = `run tcp server where external_ip = 127.0.0.1 and external_port = !anylog_server_port and bind = true
run rest server where external_ip = 127.0.0.1 and external_port = !anylog_rest_port and bind = true
`;

const running = new Set<AnylogNode>();

/** One `anylog start` process on loopback. */
export class AnylogNode {
  private stdoutText = "";
  private stderrText = "";
  private readonly drained: Promise<void>;
  exitCode: number | null = null;

  private constructor(
    readonly proc: Subprocess<"ignore", "pipe", "pipe">,
    readonly tcpPort: number,
    readonly restPort: number,
    readonly home: string,
  ) {
    const drain = async (stream: ReadableStream<Uint8Array>, into: "stdoutText" | "stderrText") => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) this[into] += decoder.decode(chunk, { stream: true });
    };
    this.drained = Promise.all([drain(proc.stdout, "stdoutText"), drain(proc.stderr, "stderrText")]).then(() => {});
    void proc.exited.then((code) => {
      this.exitCode = code;
    });
  }

  /** Starts a node and waits (bounded) until `GET /health` answers. */
  static async start(options: StartOptions = {}): Promise<AnylogNode> {
    const [tcpPort, restPort] = (await freePorts(2)) as [number, number];
    const home = mkdtempSync(join(tmpdir(), "anylog-test-"));
    const set = { anylog_server_port: String(tcpPort), anylog_rest_port: String(restPort), ...(options.set ?? {}) };
    const argv = [...anylogCommand(), "start", ...Object.entries(set).flatMap(([k, v]) => ["--set", `${k}=${v}`])];
    if (options.script !== undefined) {
      const file = join(home, "start.al");
      writeFileSync(file, options.script);
      argv.push("--script", file);
    }
    const env: Record<string, string> = { ...(process.env as Record<string, string>), ANYLOG_HOME: home, ...(options.env ?? {}) };
    delete env.ANYLOG_CONFIG; // the embedded default role, whatever the developer's shell says
    const proc = Bun.spawn(argv, { cwd: REPO_ROOT, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const node = new AnylogNode(proc, tcpPort, restPort, home);
    running.add(node);
    const bound = options.readyWithinMs ?? 15_000;
    const deadline = Date.now() + bound;
    for (;;) {
      if (node.exitCode !== null || proc.killed) {
        await node.drained;
        throw new Error(`anylog exited with code ${proc.exitCode} before it was ready:\n${node.stderr}`);
      }
      try {
        const r = await fetch(`${node.url}/health`, { signal: AbortSignal.timeout(1000) });
        if (r.ok) {
          await r.text();
          return node;
        }
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        node.kill();
        await proc.exited;
        throw new Error(`anylog did not answer GET /health within ${bound / 1000} s; its stderr:\n${node.stderr}`);
      }
      await Bun.sleep(50);
    }
  }

  get url(): string {
    return `http://127.0.0.1:${this.restPort}`;
  }

  /** `127.0.0.1:<tcp port>`, the address peers use. */
  get tcpAddress(): string {
    return `127.0.0.1:${this.tcpPort}`;
  }

  get pid(): number {
    return this.proc.pid;
  }

  get stdout(): string {
    return this.stdoutText;
  }

  get stderr(): string {
    return this.stderrText;
  }

  /** One command through REST with fetch (GET unless told; the AnyLog User-Agent is sent). */
  async rest(
    command: string | undefined,
    options: { method?: string; headers?: Record<string, string>; body?: string; path?: string } = {},
  ): Promise<RestReply> {
    const headers: Record<string, string> = { "User-Agent": "AnyLog/1.23", ...(options.headers ?? {}) };
    if (command !== undefined) headers.command = command;
    const r = await fetch(`${this.url}${options.path ?? "/"}`, {
      method: options.method ?? "GET",
      headers,
      body: options.body,
      signal: AbortSignal.timeout(60_000),
    });
    const text = await r.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: r.status, headers: r.headers, text, json };
  }

  /** The real curl binary against this node: `args` then the node's URL (`path`, default `/`). */
  curl(args: string[], path = "/"): Promise<CurlReply> {
    return curl([...args, `${this.url}${path}`]);
  }

  /** SIGTERM, wait (bounded) for the exit; an exit code other than 0 throws with the node's stderr. */
  async stop(withinMs = 15_000): Promise<number> {
    if (this.exitCode === null) this.proc.kill("SIGTERM");
    const code = await this.waitExit(withinMs);
    if (code !== 0) throw new Error(`anylog (pid ${this.pid}) exited with code ${code} on SIGTERM; its stderr:\n${this.stderr}`);
    return code;
  }

  /** Waits (bounded) for the process to end by itself; SIGKILL and throw when it does not. */
  async waitExit(withinMs = 15_000): Promise<number> {
    const timer = Bun.sleep(withinMs).then(() => "late" as const);
    const outcome = await Promise.race([this.proc.exited, timer]);
    if (outcome === "late") {
      this.kill();
      await this.proc.exited;
      throw new Error(`anylog (pid ${this.pid}) did not exit within ${withinMs / 1000} s; its stderr:\n${this.stderr}`);
    }
    await this.drained;
    this.cleanup();
    return outcome;
  }

  /** SIGKILL: the node dies at once, as on a power cut. */
  kill(): void {
    if (this.exitCode === null && !this.proc.killed) this.proc.kill("SIGKILL");
  }

  private cleanup(): void {
    running.delete(this);
    rmSync(this.home, { recursive: true, force: true });
  }

  /** For afterEach: SIGKILL whatever still runs, wait for it, remove its home. */
  async dispose(): Promise<void> {
    this.kill();
    await this.proc.exited;
    this.cleanup();
  }
}

export const startNode = (options?: StartOptions) => AnylogNode.start(options);

/** Kills every node a test started and has not stopped (use in afterEach / afterAll). */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((n) => n.dispose()));
}

/** A reply body must never show a stack trace or a source path. */
export function hasStackTrace(body: string): boolean {
  return /^\s+at\s.*:\d+:\d+\)?\s*$/m.test(body) || /^\s+at\s+<anonymous>/m.test(body) || /\.ts:\d/.test(body) || /\bsrc\/[\w/-]+\.ts\b/.test(body);
}

/** Pids of the query workers whose parent is `pid`. */
export function workersOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .flatMap((d) => {
      try {
        const cmd = readFileSync(`/proc/${d}/cmdline`, "utf8");
        const ppid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${d}/status`, "utf8"))?.[1]);
        return cmd.includes("query-worker") && ppid === pid ? [Number(d)] : [];
      } catch {
        return [];
      }
    });
}
