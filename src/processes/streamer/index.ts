/**
 * @module processes/streamer
 * The Streamer (`run streamer`): lets streaming buffers wait for their time threshold. While
 * it runs, a streaming PUT is acknowledged once it is in the intake's journal and stored
 * when its buffer reaches its volume or time (or at once, before the answer, with
 * write_immediate); without it every streaming PUT is stored before it is answered.
 * `get streaming` shows the buffers; stopping it writes them all.
 */
import { bufferThresholds } from "../../ingest/buffers.ts";
import { intakeOf } from "../../ingest/intake.ts";
import type { Node } from "../../node/node.ts";
import { type Result, ok } from "../../util/result.ts";
import { type NodeProcess, type ProcessStatus, registerProcess } from "../registry.ts";

class Streamer implements NodeProcess {
  private running = false;

  constructor(private readonly node: Node) {}

  async start(): Promise<Result<string>> {
    this.running = true; // the intake asks whether a streamer runs for every unit
    return ok(this.details());
  }

  async stop(): Promise<void> {
    this.running = false;
    await intakeOf(this.node)?.flushAll();
  }

  status(): ProcessStatus {
    return this.running ? "Running" : "Not declared";
  }

  details(): string {
    if (!this.running) return "";
    const tables = intakeOf(this.node)?.report().tables ?? [];
    return `Buffers: ${tables.length}, Cached rows: ${tables.reduce((n, t) => n + t.cachedRows, 0)}`;
  }

  info(): Record<string, unknown> {
    const intake = intakeOf(this.node);
    return {
      operator: intake ? "running" : "not running (streaming PUTs need 'run operator')",
      default_thresholds: bufferThresholds(this.node).for("", ""),
      buffers: intake?.report().tables.length ?? 0,
    };
  }
}

registerProcess({
  name: "Streamer",
  order: 130,
  aliases: ["streamer", "streaming"], // (`get streaming` is its own command: ingest/commands.ts)
  run: {
    words: ["run", "streamer"],
    summary: "Lets streaming buffers fill up to their time and volume thresholds before they are stored",
    options: {
      prep_dir: { type: "str", help: "prep directory (kept for AnyLog scripts; buffers are stored directly)" },
      watch_dir: { type: "str", help: "watch directory (kept for AnyLog scripts)" },
      err_dir: { type: "str", help: "error directory (kept for AnyLog scripts)" },
    },
  },
  create: (node) => new Streamer(node),
});
