/**
 * @module processes/query-pool
 * The Query Pool: a bounded set of workers that run the commands arriving from peers and
 * REST clients, so a burst of requests queues instead of swamping the node. Started with
 * the node (3 workers, as AnyLog does); `set query pool <n>` changes the size.
 */
import { command } from "../../commands/spec.ts";
import { addCommand } from "../../commands/table.ts";
import type { Node } from "../../node/node.ts";
import { type Result, fail, ok } from "../../util/result.ts";
import { type NodeProcess, type ProcessStatus, registerProcess } from "../registry.ts";

export const DEFAULT_QUERY_WORKERS = 3;

export class QueryPool implements NodeProcess {
  private workers = 0;
  private busy = 0;
  private readonly queue: Array<() => void> = [];
  private running = false;
  private served = 0;

  async start(): Promise<Result<string>> {
    return this.resize(DEFAULT_QUERY_WORKERS);
  }

  resize(workers: number): Result<string> {
    if (workers < 1 || workers > 1000) return fail("bad_value", `a query pool needs 1 to 1000 workers, not ${workers}`);
    this.workers = workers;
    this.running = true;
    this.drain();
    return ok(`Threads Pool: ${workers}`);
  }

  /** Runs `task` when a worker is free (at once when the pool is not running). */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (!this.running) return task();
    if (this.busy < this.workers) this.busy++;
    else await new Promise<void>((wake) => this.queue.push(wake)); // `drain` reserved our worker
    try {
      return await task();
    } finally {
      this.busy--;
      this.served++;
      this.drain();
    }
  }

  /** Hands free workers to waiting tasks, reserving each before waking it. */
  private drain(): void {
    while (this.queue.length > 0 && this.busy < this.workers) {
      this.busy++;
      this.queue.shift()!();
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const wake of this.queue.splice(0)) {
      this.busy++;
      wake();
    }
  }

  status(): ProcessStatus {
    return this.running ? "Running" : "Not declared";
  }

  details(): string {
    return this.running ? `Threads Pool: ${this.workers}` : "";
  }

  info(): Record<string, unknown> {
    return { workers: this.workers, busy: this.busy, queued: this.queue.length, served: this.served };
  }
}

registerProcess({
  name: "Query Pool",
  order: 140,
  aliases: ["query pool", "query"],
  create: () => new QueryPool(),
});

/** The query pool of a node (registered above, so always present). */
export const queryPool = (node: Node): QueryPool => node.processes.instance("Query Pool", QueryPool);

addCommand(
  command({
    words: ["set", "query", "pool"],
    summary: "Sets how many commands from peers and REST clients run at once",
    method: "POST",
    positional: [{ name: "workers", type: "int", help: "worker count" }],
    handler: (ctx, args) => queryPool(ctx.node).resize(args.int("workers", DEFAULT_QUERY_WORKERS)),
  }),
);
