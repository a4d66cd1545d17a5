/**
 * @module node/node
 * A running node: its dictionary, its processes (from the registry), its metrics, and the
 * one entry point every front end uses to run a command (`execute`). The console, scripts,
 * the REST server and the TCP peer server all come through here. The core imports no
 * feature: commands and processes register themselves (src/features.ts loads them all), and
 * a feature keeps its per-node state in a slot of its own (node/slot.ts), not on `Node`.
 */
import type { CommandContext, Session, Source } from "../commands/context.ts";
import type { Reply } from "../commands/spec.ts";
import { Dictionary } from "../language/dictionary.ts";
import { runScript, runText, type ScriptReport } from "../language/interpreter.ts";
import { type Logger, logger } from "../util/log.ts";
import { type Result, fail } from "../util/result.ts";
import { Metrics } from "./metrics.ts";
import { ProcessSet } from "../processes/registry.ts";
import { defaultDictionary } from "./identity.ts";
import { readFileSync } from "node:fs";
import type { PeerTransport } from "../network/transport.ts";
import { AuthenticatedTransport } from "../security/peer-auth.ts";
import { TcpTransport } from "../network/tcp-transport.ts";
import { Databases } from "../storage/databases.ts";
import { Metadata } from "../metadata/metadata.ts";

export interface NodeOptions {
  /** Values set over the defaults (`--set key=value`). */
  set?: Record<string, string>;
  env?: Record<string, string | undefined>;
}

export class Node {
  readonly dictionary: Dictionary;
  readonly processes: ProcessSet;
  readonly metrics = new Metrics();
  readonly log: Logger = logger("node");
  readonly startedAt = new Date();
  /** Outgoing peer connections (servers listen through the same transport); signed and checked with node authentication on. */
  readonly peers: PeerTransport = new AuthenticatedTransport(new TcpTransport(), this);
  /** The logical databases connected with `connect dbms`. */
  readonly databases = new Databases();
  /** Policies: the local copy and the exchange with the master. */
  readonly metadata: Metadata = new Metadata(this);
  private stopping?: Promise<void>;
  private readonly exitWaiters: Array<() => void> = [];
  private readonly stoppingListeners: Array<(reason: string) => void> = [];

  /** Calls `listener` once, when shutdown begins (before any process stops). */
  onStopping(listener: (reason: string) => void): void {
    this.stoppingListeners.push(listener);
  }

  constructor(options: NodeOptions = {}) {
    const env = options.env ?? process.env;
    this.dictionary = new Dictionary({ ...defaultDictionary(env), ...(options.set ?? {}) }, env);
    this.processes = new ProcessSet(this);
  }

  get name(): string {
    return this.dictionary.lookup("node_name") ?? "anylog";
  }

  /** A context for commands from `source`; output that is not a reply goes to `out`. */
  context(source: Source, out: (r: Reply) => void = () => {}, session: Session = {}): CommandContext {
    return { node: this, source, session, out };
  }

  /** Runs one command text and returns its reply or error. */
  async execute(text: string, ctx: CommandContext = this.context("console")): Promise<Result<Reply>> {
    if (this.stopping && ctx.source !== "console") return fail("unavailable", "the node is shutting down");
    const step = await runText(text, ctx);
    if (!step.result.ok) this.metrics.noteError(text, step.result.error.message);
    return step.result;
  }

  /** Runs a script file; errors are reported with file and line and the script goes on. */
  async runScriptFile(
    path: string,
    ctx: CommandContext,
    onError: (where: string, message: string) => void,
  ): Promise<Result<ScriptReport>> {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(e);
      return fail("not_found", `cannot read script '${path}': ${why}`);
    }
    return runScript(text, path, ctx, onError);
  }

  /** Stops every process (buffers flushed, files closed) once; later calls wait for the same stop. */
  shutdown(reason: string): Promise<void> {
    if (!this.stopping) {
      this.log.info(`shutting down: ${reason}`);
      for (const listener of this.stoppingListeners.splice(0)) listener(reason);
      this.stopping = this.processes.stopAll().then(async () => {
        await this.peers.close();
        await this.databases.closeAll();
        for (const w of this.exitWaiters.splice(0)) w();
      });
    }
    return this.stopping;
  }

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  /** Resolves when the node has shut down (after `exit node`, SIGTERM or SIGINT). */
  untilStopped(): Promise<void> {
    if (this.stopping) return this.stopping;
    return new Promise((resolve) => this.exitWaiters.push(resolve));
  }
}
