/**
 * @module processes/blockchain-sync
 * Blockchain Sync (`run blockchain sync where source = master and time = 30 seconds and
 * dest = file and connection = ip:port`): keeps the local copy of the metadata in step with
 * the master every `time`. The first sync runs before the command returns (so the next
 * script lines see the ledger); when the master is unreachable the node keeps working from
 * its local copy and catches up when the master returns. `run blockchain sync` alone, while
 * running, syncs now.
 */
import type { Args } from "../../commands/spec.ts";
import type { Dictionary } from "../../language/dictionary.ts";
import type { Node } from "../../node/node.ts";
import { splitAddress } from "../../network/tcp-transport.ts";
import { type Result, fail, ok } from "../../util/result.ts";
import { type NodeProcess, type ProcessStatus, registerProcess } from "../registry.ts";

/** A value that is one of `allowed`, or the name of a dictionary key holding one (`dest = blockchain_destination`). */
function resolveWords(value: string, allowed: string[], dictionary: Dictionary): string[] | undefined {
  const direct = value.split(",").map((s) => s.trim().toLowerCase());
  if (direct.every((w) => allowed.includes(w))) return direct;
  const viaKey = dictionary.lookup(value.trim());
  if (viaKey !== undefined) return resolveWords(viaKey, allowed, dictionary);
  return undefined;
}

class BlockchainSync implements NodeProcess {
  private master?: string;
  private interval = 60;
  private dest = { file: true, dbms: false };
  private timer?: ReturnType<typeof setTimeout>;
  private running = false;
  private inFlight?: Promise<void>;
  private lastSync?: Date;
  private lastError?: string;
  private syncs = 0;

  constructor(private readonly node: Node) {}

  async start(args: Args): Promise<Result<string>> {
    if (Object.keys(args.options).length === 0) {
      return fail("bad_option", "blockchain sync is not running: start it with 'run blockchain sync where source = master and time = 30 seconds and dest = file and connection = <master ip:port>'");
    }
    const d = this.node.dictionary;
    const source = resolveWords(args.str("source", "master"), ["master", "blockchain"], d);
    if (!source) return fail("bad_option", `'run blockchain sync' source must be master (or a dictionary key holding it), not '${args.str("source")}'`);
    if (source[0] === "blockchain") return fail("unavailable", "syncing from a blockchain platform is not in this build: use source = master");
    const dest = resolveWords(args.list("dest").join(",") || "file", ["file", "dbms"], d);
    if (!dest) return fail("bad_option", `'run blockchain sync' dest must be file and/or dbms, not '${args.list("dest").join(",")}'`);
    const connection = args.str("connection");
    if (!connection || !splitAddress(connection)) {
      return fail("bad_option", `'run blockchain sync' needs connection = <master ip:port>${connection ? `, not '${connection}'` : ""}`);
    }
    const local = this.node.metadata.local();
    if (!local.ok) return local;
    this.master = connection.trim();
    this.interval = Math.max(1, args.int("time") ?? 60);
    this.dest = { file: dest.includes("file"), dbms: dest.includes("dbms") };
    this.running = true;
    await this.syncNow();
    this.schedule();
    return ok(this.details() + (this.lastError ? ` (first sync failed: ${this.lastError}; working from the local copy)` : ""));
  }

  async runAgain(args: Args): Promise<Result<string>> {
    if (Object.keys(args.options).length > 0) {
      return fail("conflict", "Blockchain Sync is already running; 'exit synchronizer' first to change its settings, or 'run blockchain sync' alone to sync now");
    }
    await this.syncNow();
    return this.lastError ? fail("peer_failed", this.lastError) : ok(`synced with ${this.master}`);
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      void this.syncNow().then(() => this.schedule());
    }, this.interval * 1000);
  }

  /** One sync; a sync already under way is joined, not doubled. */
  private syncNow(): Promise<void> {
    if (!this.inFlight) {
      this.inFlight = (async () => {
        const r = await this.node.metadata.syncOnce(this.master!, this.dest);
        this.syncs++;
        if (r.ok) {
          this.lastSync = new Date();
          if (this.lastError) this.node.log.info(`Blockchain Sync: master ${this.master} answers again`);
          this.lastError = undefined;
          if (r.value.pulled + r.value.removed + r.value.pushed > 0) {
            this.node.log.info(`Blockchain Sync: ${r.value.pulled} new, ${r.value.removed} removed, ${r.value.pushed} sent to the master (ledger change ${r.value.seq})`);
          }
        } else {
          if (this.lastError !== r.error.message) this.node.log.warn(`Blockchain Sync: ${r.error.message}; using the local copy`);
          this.lastError = r.error.message;
        }
      })().finally(() => {
        this.inFlight = undefined;
      });
    }
    return this.inFlight;
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.inFlight;
  }

  status(): ProcessStatus {
    return this.running ? "Running" : "Not declared";
  }

  details(): string {
    if (!this.running) return "";
    return `Sync every ${this.interval} seconds with master using: ${this.master}`;
  }

  info(): Record<string, unknown> {
    const local = this.node.metadata.local();
    return {
      source: "master",
      connection: this.master,
      interval_seconds: this.interval,
      dest: Object.entries(this.dest).filter(([, on]) => on).map(([k]) => k),
      master_reachable: this.running ? this.lastError === undefined : undefined,
      last_sync: this.lastSync?.toISOString(),
      last_error: this.lastError,
      syncs: this.syncs,
      local_policies: local.ok ? local.value.size : undefined,
      pending_policies: local.ok ? local.value.pending().length : undefined,
      ledger_change: local.ok ? local.value.masterSeq : undefined,
    };
  }
}

registerProcess({
  name: "Blockchain Sync",
  order: 50,
  aliases: ["synchronizer", "blockchain sync"],
  run: {
    words: ["run", "blockchain", "sync"],
    summary: "Keeps the local copy of the metadata in step with the master; alone, syncs now",
    options: {
      source: { type: "str", help: "master" },
      time: { type: "duration", help: "how often to sync (e.g. 30 seconds)" },
      dest: { type: "list", help: "file and/or dbms" },
      connection: { type: "str", help: "ip:port of the master" },
      platform: { type: "str", help: "blockchain platform (not in this build)" },
    },
    examples: ["run blockchain sync where source = master and time = 30 seconds and dest = file and connection = !ledger_conn", "run blockchain sync"],
  },
  create: (node) => new BlockchainSync(node),
});
