/**
 * @module processes/streamer
 * The Streamer (`run streamer`): lets streaming buffers wait for their time threshold. While
 * it runs, PUTs in streaming mode are stored when their buffer reaches its volume or time
 * (or at once with write_immediate); without it every streaming PUT is stored at once.
 * `get streaming` shows the buffers; stopping it writes them all.
 */
import type { Node } from "../../node/node.ts";
import { type Result, ok } from "../../util/result.ts";
import { type NodeProcess, type ProcessStatus, registerProcess } from "../registry.ts";

class Streamer implements NodeProcess {
  private running = false;

  constructor(private readonly node: Node) {}

  async start(): Promise<Result<string>> {
    this.running = true;
    if (this.node.streaming) this.node.streaming.timed = true;
    return ok(this.details());
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.node.streaming) {
      this.node.streaming.timed = false;
      await this.node.streaming.flushAll();
    }
  }

  status(): ProcessStatus {
    return this.running ? "Running" : "Not declared";
  }

  details(): string {
    if (!this.running) return "";
    const buffers = this.node.streaming?.report() ?? [];
    return `Buffers: ${buffers.length}, Waiting PUTs: ${buffers.reduce((n, b) => n + Number(b.waiting_puts), 0)}`;
  }

  info(): Record<string, unknown> {
    const s = this.node.streaming;
    return {
      operator: s ? "running" : "not running (streaming PUTs need 'run operator')",
      default_thresholds: s?.thresholdsFor("", ""),
      buffers: s?.report() ?? [],
    };
  }
}

registerProcess({
  name: "Streamer",
  order: 130,
  aliases: ["streamer", "streaming"],
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
