/**
 * @module test/support/script-node
 * A node started from a script of its own (`anylog start --script FILE`), as the seeds
 * deploy them: the caller owns its home folder (so a test can stop and restart it with its
 * data), and it is ready when the node logs that it is up (the script has run).
 */
import type { Subprocess } from "bun";
import { REPO_ROOT, anylogCommand } from "./node-process.ts";

const nodes = new Set<ScriptNode>();

export interface ScriptNodeOptions {
  home: string;
  script: string;
  set?: Record<string, string>;
  env?: Record<string, string>;
  restPort?: number;
}

export class ScriptNode {
  private out = "";
  private err = "";
  private constructor(
    readonly options: ScriptNodeOptions,
    private readonly proc: Subprocess<"ignore", "pipe", "pipe">,
  ) {
    const drain = async (s: ReadableStream<Uint8Array>, into: "out" | "err") => {
      const d = new TextDecoder();
      for await (const c of s) this[into] += d.decode(c, { stream: true });
    };
    void drain(proc.stdout, "out");
    void drain(proc.stderr, "err");
  }

  static async start(options: ScriptNodeOptions, readyWithinMs = 60_000): Promise<ScriptNode> {
    const sets = Object.entries(options.set ?? {}).flatMap(([k, v]) => ["--set", `${k}=${v}`]);
    const env: Record<string, string> = { ...(process.env as Record<string, string>), ANYLOG_HOME: options.home, ...(options.env ?? {}) };
    delete env.ANYLOG_CONFIG;
    const proc = Bun.spawn([...anylogCommand(), "start", "--script", options.script, ...sets], {
      cwd: REPO_ROOT,
      env,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const node = new ScriptNode(options, proc);
    nodes.add(node);
    const deadline = Date.now() + readyWithinMs;
    while (!/\[start\] node '.*' is up/.test(node.err)) {
      if (proc.exitCode !== null) throw new Error(`anylog exited (${proc.exitCode}) while starting:\n${node.err}`);
      if (Date.now() > deadline) throw new Error(`the node's script did not finish within ${readyWithinMs / 1000} s:\n${node.err}`);
      await Bun.sleep(50);
    }
    return node;
  }

  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  /** A command through this node's REST server (GET, or POST when `post`); the reply body. */
  async rest(command: string, post = false): Promise<{ status: number; text: string }> {
    if (!this.options.restPort) throw new Error("this node was started without a REST port");
    const r = await fetch(`http://127.0.0.1:${this.options.restPort}/`, {
      method: post ? "POST" : "GET",
      headers: { command, "User-Agent": "AnyLog/1.23" },
      signal: AbortSignal.timeout(60_000),
    });
    return { status: r.status, text: await r.text() };
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** SIGKILL (a power cut: nothing is flushed or closed) and wait for the process to be gone. */
  async kill(): Promise<void> {
    this.proc.kill("SIGKILL");
    await this.proc.exited;
    nodes.delete(this);
  }

  /** SIGTERM and wait; returns the exit code. */
  async stop(): Promise<number> {
    this.proc.kill("SIGTERM");
    const code = await Promise.race([this.proc.exited, Bun.sleep(20_000).then(() => -1)]);
    if (code === -1) this.proc.kill("SIGKILL");
    nodes.delete(this);
    return code;
  }
}

/** Stops every script node still running (afterEach / afterAll). */
export async function stopScriptNodes(): Promise<void> {
  await Promise.all([...nodes].map((n) => n.stop()));
}
