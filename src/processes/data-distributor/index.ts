/**
 * @module processes/data-distributor
 * The Distributor (`run data distributor`): pushes every unit this operator stores first
 * (its tsd_info entries whose source is not a cluster peer's) to the other operators of
 * its cluster, as the gzip-compressed payload of an `ha store` peer message, in file id
 * order. Per member it keeps how far it got (`<distr_dir>/distributor.json`, written after
 * each answer), so a member that is down gets its units when it returns, and a restart —
 * or a kill -9 — goes on from there: a unit sent twice is stored once (its hash). A unit
 * still being stored holds the member's queue until it is. Units a peer sent are never
 * sent on (no ping-pong). `get distributor` shows, per member, units sent, pending and the
 * last error.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { Args } from "../../commands/spec.ts";
import { type Member, clusterView } from "../../ha/cluster.ts";
import { fromPeer, pendingAfter, readUnit, unitsAfter } from "../../ha/units.ts";
import { intakeOf } from "../../ingest/intake.ts";
import type { Node } from "../../node/node.ts";
import { writeFileAtomic } from "../../util/atomic-file.ts";
import { type Result, errorText, fail, ok } from "../../util/result.ts";
import { type NodeProcess, type ProcessStatus, registerProcess } from "../registry.ts";

/** How often the members' queues are looked at when nothing wakes the distributor. */
const TICK_MS = 1_000;
/** The longest wait before a member that did not answer is tried again. */
const MAX_BACKOFF_MS = 30_000;
/** Units read from tsd_info per look. */
const BATCH = 50;
/** How long a member has to store a unit and answer. */
const SEND_TIMEOUT_MS = 60_000;
/** A claim left `processing` this long (a crash) no longer holds the queue. */
const STUCK_MS = 10 * 60_000;

interface MemberState {
  /** The last file id this member answered for. */
  upTo: number;
  sent: number;
  refused: number;
  /** Units stored here first that it does not have yet (as of the last look). */
  pending: number;
  lastError?: string;
  lastErrorTime?: string;
  /** Not before (a member that did not answer). */
  retryAt: number;
  backoffMs: number;
}

class DataDistributor implements NodeProcess {
  private running = false;
  private stateFile = "";
  private clusterId?: string;
  private readonly members = new Map<number, MemberState>();
  private peers: Member[] = [];
  private viewError?: string;
  private timer?: ReturnType<typeof setTimeout>;
  private working?: Promise<void>;
  private wake = false;
  private unlisten?: () => void;

  constructor(private readonly node: Node) {}

  async start(args: Args): Promise<Result<string>> {
    const home = this.node.dictionary.lookup("anylog_path") ?? ".";
    const dir = args.str("distr_dir") ?? this.node.dictionary.lookup("distr_dir") ?? join(home, "data", "distr");
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      return fail("io", `cannot create ${dir}: ${errorText(e)}`);
    }
    this.stateFile = join(dir, "distributor.json");
    this.clusterId = args.str("cluster_id");
    this.members.clear();
    try {
      const saved = JSON.parse(readFileSync(this.stateFile, "utf8")) as Record<string, number>;
      for (const [m, upTo] of Object.entries(saved)) this.members.set(Number(m), fresh(Number(upTo)));
    } catch {
      // (no state yet: every member starts from the first unit)
    }
    this.running = true;
    this.schedule(0);
    return ok(this.details());
  }

  /** Looks again now: a unit was just stored. */
  private poke(): void {
    this.wake = true;
    if (!this.working) this.schedule(0);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.working = this.round().finally(() => {
        this.working = undefined;
        this.schedule(this.wake ? 0 : TICK_MS);
        this.wake = false;
      });
    }, ms);
  }

  /** One pass over the members: each gets what it lacks, in order, until one does not answer. */
  private async round(): Promise<void> {
    this.listen();
    const view = clusterView(this.node, this.clusterId);
    if (!view.ok) {
      this.viewError = view.error.message;
      return;
    }
    this.viewError = undefined;
    this.peers = view.value.peers;
    for (const peer of this.peers) {
      const state = this.members.get(peer.member) ?? fresh(0);
      this.members.set(peer.member, state);
      if (state.retryAt <= Date.now()) await this.catchUp(peer, state, view.value.me.member);
      const pending = await pendingAfter(this.node, state.upTo);
      if (pending.ok) state.pending = pending.value;
    }
  }

  /** Hears every unit the intake stores (the operator may start after the distributor). */
  private listen(): void {
    if (this.unlisten) return;
    const intake = intakeOf(this.node);
    if (intake) this.unlisten = intake.onOutcome((e) => e.outcome.status === "stored" && !fromPeer(e.source) && this.poke());
  }

  private async catchUp(peer: Member, state: MemberState, origin: number): Promise<void> {
    while (this.running) {
      const next = await unitsAfter(this.node, state.upTo, BATCH);
      if (!next.ok) return this.note(state, next.error.message);
      if (next.value.length === 0) return;
      for (const u of next.value) {
        if (!this.running) return;
        if (u.status === "processing") {
          if (Date.now() - Date.parse(u.time) < STUCK_MS) return; // being stored: the queue waits for it
          state.upTo = u.fileId; // left by a crash and never settled
          continue;
        }
        if (fromPeer(u.source) || u.status !== "stored") {
          state.upTo = u.fileId;
          continue;
        }
        const unit = await readUnit(this.node, u.hash);
        const sent = unit.ok
          ? await this.node.peers.request(peer.address, { command: `ha store where origin = ${origin}`, body: gzipSync(JSON.stringify(unit.value)) }, SEND_TIMEOUT_MS)
          : unit;
        if (!sent.ok || !sent.value.ok) {
          const why = !sent.ok ? sent.error.message : sent.value.ok ? "" : sent.value.message;
          const code = !sent.ok ? sent.error.code : sent.value.ok ? "" : sent.value.code;
          if (unit.ok && (!sent.ok || code === "unavailable" || code === "io" || code === "timeout")) {
            // the member is away or cannot store now: it gets this unit, and what follows, later
            state.backoffMs = Math.min(MAX_BACKOFF_MS, state.backoffMs * 2 || 1_000);
            state.retryAt = Date.now() + state.backoffMs;
            return this.note(state, `${peer.address}: ${why}`);
          }
          state.refused++; // refused for good (or no longer readable here): counted, and the queue goes on
          this.note(state, `${peer.address} refused unit ${u.hash}: ${why}`);
        } else state.sent++;
        state.upTo = u.fileId;
        state.backoffMs = 0;
        this.save();
      }
      this.save();
    }
  }

  private note(state: MemberState, error: string): void {
    state.lastError = error;
    state.lastErrorTime = new Date().toISOString();
  }

  private save(): void {
    const saved = Object.fromEntries([...this.members].map(([m, s]) => [m, s.upTo]));
    const r = writeFileAtomic(this.stateFile, JSON.stringify(saved));
    if (!r.ok) this.node.log.warn(`Distributor: ${r.error.message}`);
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.unlisten?.();
    this.unlisten = undefined;
    await this.working;
  }

  status(): ProcessStatus {
    return this.running ? "Running" : "Not declared";
  }

  details(): string {
    if (!this.running) return "";
    return `Members: ${this.peers.length}, Units sent: ${[...this.members.values()].reduce((n, s) => n + s.sent, 0)}${this.viewError ? `, Waiting: ${this.viewError}` : ""}`;
  }

  info(): Record<string, unknown> {
    if (!this.running) return {};
    return {
      state_file: this.stateFile,
      cluster_error: this.viewError ?? null,
      members: this.peers.map((p) => {
        const s = this.members.get(p.member) ?? fresh(0);
        return { member: p.member, name: p.name, address: p.address, sent: s.sent, pending: s.pending, refused: s.refused, sent_up_to_file_id: s.upTo, last_error: s.lastError ?? null, last_error_time: s.lastErrorTime ?? null };
      }),
    };
  }
}

const fresh = (upTo: number): MemberState => ({ upTo, sent: 0, refused: 0, pending: 0, retryAt: 0, backoffMs: 0 });

registerProcess({
  name: "Distributor",
  order: 70,
  aliases: ["distributor", "data distributor"],
  run: {
    words: ["run", "data", "distributor"],
    summary: "Pushes every unit this operator stores to the other operators of its cluster, until each has it",
    options: {
      cluster_id: { type: "str", help: "the cluster (default: the operator policy's)" },
      distr_dir: { type: "str", help: "where the distributor keeps how far each member got" },
      archive_dir: { type: "str", help: "accepted for AnyLog's scripts (the database is the archive here)" },
    },
    examples: ["run data distributor", "run data distributor where cluster_id = 7a00b26006a6ab7b8af4c400a5c47f2a and distr_dir = !distr_dir"],
  },
  create: (node) => new DataDistributor(node),
});
