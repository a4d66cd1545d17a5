/**
 * @module processes/data-consumer
 * The Consumer (`run data consumer where start_date = -30d [and end_date = ...] [and mode =
 * active | suspend]`): every few seconds it compares the units this operator holds over the
 * date range with what each other operator of its cluster holds — first a digest per day
 * (`get tsd digest`), then, for a day that differs, the peer's list of units (`get tsd
 * details`, the `tsd_<member>` view of it) — and pulls each unit it lacks (`ha unit`),
 * storing it under the same hash as coming from that member. A member that was down, or
 * restored from an empty disk, so becomes complete — its own units come back from the
 * copies its peers keep. `set consumer mode = suspend` pauses it; `get consumer` shows the
 * range, the peers, units pulled and still missing, and the last error.
 */
import type { Args } from "../../commands/spec.ts";
import { command } from "../../commands/spec.ts";
import { addCommands } from "../../commands/table.ts";
import { type Member, clusterView } from "../../ha/cluster.ts";
import { type Digest, HA_SOURCE, type Unit, currentHoldings, digestOf, parseDate, storeUnit } from "../../ha/units.ts";
import type { Node } from "../../node/node.ts";
import { type Result, fail, ok } from "../../util/result.ts";
import { type NodeProcess, type ProcessStatus, registerProcess } from "../registry.ts";

const NAME = "Consumer";
/** The wait between two comparisons. */
const INTERVAL_MS = 3_000;
/** How long a peer has to answer. */
const ASK_TIMEOUT_MS = 30_000;

interface PeerState {
  pulled: number;
  missing: number;
  lastError?: string;
  lastErrorTime?: string;
}

class DataConsumer implements NodeProcess {
  private running = false;
  private startText = "-30d";
  private endText?: string;
  mode: "active" | "suspend" = "active";
  private peers: Member[] = [];
  private readonly state = new Map<string, PeerState>();
  private viewError?: string;
  private timer?: ReturnType<typeof setTimeout>;
  private working?: Promise<void>;
  private rounds = 0;

  constructor(private readonly node: Node) {}

  async start(args: Args): Promise<Result<string>> {
    const start = args.str("start_date") ?? "-30d";
    const end = args.str("end_date");
    for (const d of [start, end]) {
      const parsed = parseDate(d);
      if (!parsed.ok) return parsed;
    }
    const mode = (args.str("mode") ?? "active").toLowerCase();
    if (mode !== "active" && mode !== "suspend") return fail("bad_value", `mode '${mode}' is not active or suspend`);
    this.startText = start;
    this.endText = end;
    this.mode = mode;
    this.running = true;
    this.schedule(0);
    return ok(this.details());
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.working = this.round().finally(() => {
        this.working = undefined;
        this.schedule(INTERVAL_MS);
      });
    }, ms);
  }

  private async round(): Promise<void> {
    if (this.mode !== "active") return;
    this.rounds++;
    const view = clusterView(this.node);
    if (!view.ok) {
      this.viewError = view.error.message;
      return;
    }
    this.viewError = undefined;
    this.peers = view.value.peers;
    // (the range is relative to now at each comparison: -30d moves on with the clock; it
    // starts at a day's beginning so both sides digest whole days)
    const start = parseDate(this.startText);
    const end = parseDate(this.endText);
    if (!start.ok || !end.ok) return;
    const range = { start: start.value && `${start.value.slice(0, 10)}T00:00:00.000Z`, end: end.value };
    const mine = await currentHoldings(this.node, range);
    if (!mine.ok) {
      this.viewError = mine.error.message;
      return;
    }
    const held = new Set(mine.value.map((h) => h.hash));
    const digest = digestOf(mine.value);
    for (const peer of this.peers) {
      if (!this.running || this.mode !== "active") return;
      await this.pullFrom(peer, held, digest, range);
    }
  }

  /** Pulls from `peer` every unit of the range it holds and this node lacks (looking only at days whose digests differ). */
  private async pullFrom(peer: Member, held: Set<string>, digest: Digest, range: { start?: string; end?: string }): Promise<void> {
    const state = this.state.get(peer.address) ?? { pulled: 0, missing: 0 };
    this.state.set(peer.address, state);
    const bounds = (start?: string, end?: string) => [...(start ? [`start_date = "${start}"`] : []), ...(end ? [`end_date = "${end}"`] : [])];
    const theirs = await this.ask<Digest>(peer, `get tsd digest${bounds(range.start, range.end).length > 0 ? ` where ${bounds(range.start, range.end).join(" and ")}` : ""}`);
    if (!theirs.ok) return this.note(state, theirs.error.message);
    const days = Object.keys(theirs.value).filter((day) => theirs.value[day]!.hash !== digest[day]?.hash);
    const missing: Array<{ hash: string; source: string }> = [];
    for (const day of days.sort()) {
      const next = new Date(Date.parse(`${day}T00:00:00.000Z`) + 86_400_000).toISOString();
      const end = range.end && range.end < next ? range.end : next;
      const where = ["table = *", "limit = 0", "format = json", ...bounds(`${day}T00:00:00.000Z`, end)].join(" and ");
      const listed = await this.ask<Array<{ hash: string; source: string }>>(peer, `get tsd details where ${where}`);
      if (!listed.ok) return this.note(state, listed.error.message);
      missing.push(...listed.value.filter((h) => !held.has(h.hash)));
    }
    state.missing = missing.length;
    for (const h of missing) {
      if (!this.running || this.mode !== "active") return;
      const unit = await this.ask<Unit>(peer, `ha unit where hash = ${h.hash}`);
      if (!unit.ok) return this.note(state, unit.error.message);
      // what the peer had from another member keeps that member as its origin
      const origin = h.source.startsWith(HA_SOURCE) ? Number(h.source.slice(HA_SOURCE.length)) : peer.member;
      const stored = await storeUnit(this.node, unit.value, origin);
      if (!stored.ok) return this.note(state, `unit ${h.hash} from ${peer.address}: ${stored.error.message}`);
      held.add(h.hash);
      state.pulled++;
      state.missing--;
    }
  }

  private async ask<T>(peer: Member, cmd: string): Promise<Result<T>> {
    const r = await this.node.peers.request(peer.address, { command: cmd }, ASK_TIMEOUT_MS);
    if (!r.ok) return r;
    if (!r.value.ok) return fail(r.value.code, `${peer.address}: ${r.value.message}`);
    return ok(r.value.reply as T);
  }

  private note(state: PeerState, error: string): void {
    state.lastError = error;
    state.lastErrorTime = new Date().toISOString();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.working;
  }

  status(): ProcessStatus {
    return this.running ? "Running" : "Not declared";
  }

  details(): string {
    if (!this.running) return "";
    const pulled = [...this.state.values()].reduce((n, s) => n + s.pulled, 0);
    return `Mode: ${this.mode}, Range: ${this.startText}${this.endText ? ` to ${this.endText}` : ""}, Peers: ${this.peers.length}, Units pulled: ${pulled}${this.viewError ? `, Waiting: ${this.viewError}` : ""}`;
  }

  info(): Record<string, unknown> {
    if (!this.running) return {};
    return {
      mode: this.mode,
      start_date: this.startText,
      end_date: this.endText ?? null,
      comparisons: this.rounds,
      cluster_error: this.viewError ?? null,
      peers: this.peers.map((p) => {
        const s = this.state.get(p.address) ?? { pulled: 0, missing: 0 };
        return { member: p.member, name: p.name, address: p.address, pulled: s.pulled, missing: s.missing, last_error: s.lastError ?? null, last_error_time: s.lastErrorTime ?? null };
      }),
    };
  }
}

registerProcess({
  name: NAME,
  order: 90,
  aliases: ["consumer", "data consumer"],
  run: {
    words: ["run", "data", "consumer"],
    summary: "Pulls the units this operator lacks from the other operators of its cluster, over a date range",
    options: {
      start_date: { type: "str", help: "first date stored: -30d (the default), -12h, or 'YY-MM-DD HH:MM:SS'" },
      end_date: { type: "str", help: "last date stored (default: now)" },
      mode: { type: "str", help: "active (the default) or suspend" },
    },
    examples: ["run data consumer where start_date = -30d", "run data consumer where start_date = -7d and mode = suspend"],
  },
  create: (node) => new DataConsumer(node),
});

addCommands(
  command({
    words: ["set", "consumer", "mode"],
    summary: "Pauses (suspend) or resumes (active) the data consumer",
    method: "POST",
    tail: { name: "mode", help: "= active | suspend", required: true, substitute: true },
    examples: ["set consumer mode = suspend", "set consumer mode = active"],
    handler(ctx, args) {
      const consumer = ctx.node.processes.get(NAME);
      if (!(consumer instanceof DataConsumer) || consumer.status() !== "Running") return fail("unavailable", "the data consumer is not running: start it with 'run data consumer where start_date = -30d'");
      const mode = (args.tail ?? "").replace(/^\s*=\s*/, "").trim().toLowerCase();
      if (mode !== "active" && mode !== "suspend") return fail("bad_value", `mode '${mode}' is not active or suspend`);
      consumer.mode = mode;
      return ok(`Consumer mode: ${mode}`);
    },
  }),
);
