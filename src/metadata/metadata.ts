/**
 * @module metadata/metadata
 * The metadata layer of one node: its local copy (loaded from `!blockchain_file` on first
 * use, so a node answers from it when the master is away), the exchange with the master
 * over the peer protocol (push a policy, pull the changes after a change number), and one
 * synchronisation step, which the Blockchain Sync process repeats.
 */
import type { Node } from "../node/node.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { peerTimeoutMs } from "../network/peers.ts";
import { LocalCopy, idOf } from "./local-copy.ts";
import { LEDGER_DBMS, type LedgerChange, changesSince, deletePolicy, insertPolicy, requireLedger } from "./master-ledger.ts";
import { canonicalJson, type Policy, body, policyType, preparePolicy } from "./policy.ts";
import { authorOf, signPolicy } from "./signatures.ts";
import { judge } from "./trust.ts";
import { nodeAuthOf, nodeSigner } from "../security/node-auth.ts";
import type { Database } from "../storage/database.ts";

export interface SyncReport {
  pulled: number;
  removed: number;
  pushed: number;
  seq: number;
}

export class Metadata {
  private copy?: LocalCopy;
  private membersOf?: { version: number; members: Set<string> };
  private readonly membersByLedger = new WeakMap<Database, { seq: number; members: Map<string, Policy> }>();

  constructor(private readonly node: Node) {}

  /** The local copy at `!blockchain_file` (loaded once; again if the path changes). */
  local(): Result<LocalCopy> {
    const path = this.node.dictionary.lookup("blockchain_file");
    if (!path) return fail("bad_value", "'!blockchain_file' is not set: it names the local copy of the metadata");
    if (this.copy?.path === path) return ok(this.copy);
    const loaded = LocalCopy.load(path);
    if (!loaded.ok) return loaded;
    this.copy = loaded.value;
    if (nodeAuthOf(this.node).enabled) {
      const enforced = this.enforce();
      if (!enforced.ok) return enforced;
    }
    return loaded;
  }

  /**
   * With node authentication on: drops from the local copy every policy the network's members
   * did not sign (metadata/trust), each named in the log, and writes the copy. The node's own
   * policies still waiting for the master stay: the master judges them. Returns how many went.
   */
  enforce(): Result<number> {
    const local = this.local();
    if (!local.ok) return local;
    const copy = local.value;
    const own = nodeAuthOf(this.node).key?.publicKey;
    let dropped = 0;
    for (const [p, why] of judge(copy.select(["*"], [])).refused) {
      const id = idOf(p)!;
      if (copy.isPending(id) && own !== undefined && authorOf(p) === own) continue;
      copy.remove(id);
      dropped++;
      this.node.log.warn(`metadata: ${policyType(p)} policy ${id} dropped from ${copy.path}: ${why}`);
    }
    if (dropped > 0) {
      const saved = copy.save();
      if (!saved.ok) return saved;
    }
    return ok(dropped);
  }

  /** The public keys of the network's members, by the local copy (node authentication). */
  members(): Set<string> {
    const local = this.local();
    if (!local.ok) return new Set();
    if (this.membersOf?.version !== local.value.version) this.membersOf = { version: local.value.version, members: judge(local.value.select(["*"], [])).members };
    return this.membersOf.members;
  }

  /**
   * With node authentication on, a master takes a policy only when its members signed it:
   * judged with the ledger's active policies (a member policy admits its key at once).
   */
  async admit(db: Database, policy: Policy): Promise<Result<void>> {
    if (!nodeAuthOf(this.node).enabled) return ok(undefined);
    const members = await this.ledgerMembers(db);
    if (!members.ok) return members;
    const why = judge([...members.value, policy]).refused.get(policy);
    return why === undefined ? ok(undefined) : fail("forbidden", `policy refused (node authentication is on): ${why}`);
  }

  /**
   * The ledger's active member policies (only they decide who is a member), kept between
   * pushes and brought up to date with the changes since: a push reads what changed, not the
   * whole ledger, and each member's signature is checked once.
   */
  private async ledgerMembers(db: Database): Promise<Result<Policy[]>> {
    let known = this.membersByLedger.get(db);
    let changes = await changesSince(db, known?.seq ?? 0);
    if (!changes.ok) return changes;
    if (known && changes.value.seq < known.seq) {
      // the ledger was replaced by an older one: read it whole
      known = undefined;
      changes = await changesSince(db, 0);
      if (!changes.ok) return changes;
    }
    const members = known?.members ?? new Map<string, Policy>();
    for (const c of changes.value.changes) {
      if (policyType(c.policy) !== "member") continue;
      if (c.status === "active") members.set(idOf(c.policy)!, c.policy);
      else members.delete(idOf(c.policy)!);
    }
    this.membersByLedger.set(db, { seq: changes.value.seq, members });
    return ok([...members.values()]);
  }

  /** With node authentication on, an unsigned policy this node declares is signed with its key. */
  private signed(prepared: Policy): Result<Policy> {
    if (!nodeAuthOf(this.node).enabled || typeof body(prepared).signature === "string") return ok(prepared);
    const key = nodeSigner(this.node);
    if (!key.ok) return fail(key.error.code, `node authentication is on, so the node signs its policies: ${key.error.message}`);
    return preparePolicy(signPolicy(prepared, key.value));
  }

  /**
   * Adds a policy to the local copy and/or the master (`blockchain insert`; the ingest
   * declares new tables with it). A policy already there is left as it is. When the master
   * is the node's own (its sync source or `!ledger_conn`) and away, a policy also written
   * locally is kept pending and sent on the next sync; another master away is an error.
   */
  async insert(policy: unknown, where: { local: boolean; master?: string }): Promise<Result<string>> {
    const { local, master } = where;
    if (!local && !master) return fail("bad_option", "'blockchain insert' needs local = true and/or master = ip:port");
    const valid = preparePolicy(policy);
    if (!valid.ok) return valid;
    const prepared = this.signed(valid.value);
    if (!prepared.ok) return prepared;
    const id = idOf(prepared.value)!;
    let note = "";
    let pending = false;
    if (master) {
      const pushed = await this.push(master, prepared.value);
      if (!pushed.ok) {
        if (!local || !this.isOwnMaster(master)) return pushed;
        pending = true;
        note = ` (master ${master} is unreachable: kept locally and sent when it returns)`;
      } else note = pushed.value.inserted ? ` (added to master ${master})` : ` (master ${master} already has it)`;
    }
    if (local) {
      const copy = this.local();
      if (!copy.ok) return copy;
      if (!master && nodeAuthOf(this.node).enabled) {
        const why = judge([...copy.value.select(["*"], []), prepared.value]).refused.get(prepared.value);
        if (why !== undefined) return fail("forbidden", `policy refused (node authentication is on): ${why}`);
      }
      if (copy.value.add(prepared.value, pending)) {
        const saved = copy.value.save();
        if (!saved.ok) return saved;
      } else note += " (already in the local copy)";
    }
    return ok(`policy ${id} inserted${note}`);
  }

  /** Masters this node already works with: its sync source and `!ledger_conn`. */
  isOwnMaster(address: string): boolean {
    const sync = this.node.processes.get("Blockchain Sync")?.info().connection;
    return address === sync || address === this.node.dictionary.lookup("ledger_conn");
  }

  private async ask(master: string, command: string): Promise<Result<unknown>> {
    const r = await this.node.peers.request(master, { command, from: this.node.name }, peerTimeoutMs(this.node));
    if (!r.ok) return fail(r.error.code, `master ${master}: ${r.error.message}`);
    if (!r.value.ok) return fail("peer_failed", `master ${master} refused: ${r.value.message}`);
    return ok(r.value.reply);
  }

  /** Sends a prepared policy to the master's ledger. */
  async push(master: string, policy: Policy): Promise<Result<{ inserted: boolean }>> {
    const r = await this.ask(master, `blockchain push where policy = ${canonicalJson(policy)}`);
    if (!r.ok) return r;
    const inserted = (r.value as { inserted?: unknown } | null)?.inserted === true;
    return ok({ inserted });
  }

  /** Asks the master to mark a policy deleted. */
  async deleteOnMaster(master: string, id: string): Promise<Result<void>> {
    const r = await this.ask(master, `blockchain delete policy where id = ${id}`);
    return r.ok ? ok(undefined) : r;
  }

  /** The changes of the master's ledger after `since`. */
  async pull(master: string, since: number): Promise<Result<{ seq: number; changes: LedgerChange[] }>> {
    const r = await this.ask(master, `blockchain pull where since = ${since}`);
    if (!r.ok) return r;
    const v = r.value as { seq?: unknown; changes?: unknown } | null;
    if (typeof v?.seq !== "number" || !Array.isArray(v.changes)) return fail("peer_failed", `master ${master} sent a reply that is not a ledger update`);
    return ok({ seq: v.seq, changes: v.changes as LedgerChange[] });
  }

  /**
   * One synchronisation with the master: pull what changed, apply it, send the policies
   * only this node has, write the local copy (and the local ledger table with `dbms`).
   */
  async syncOnce(master: string, dest: { file: boolean; dbms: boolean }): Promise<Result<SyncReport>> {
    const local = this.local();
    if (!local.ok) return local;
    const copy = local.value;
    let update = await this.pull(master, copy.masterSeq);
    if (!update.ok) return update;
    let fullReload = false;
    if (update.value.seq < copy.masterSeq) {
      // the master's ledger is older than our copy (restored or replaced): take it whole
      update = await this.pull(master, 0);
      if (!update.ok) return update;
      fullReload = true;
    }
    const report: SyncReport = { pulled: 0, removed: 0, pushed: 0, seq: update.value.seq };
    const onMaster = new Set<string>();
    for (const change of update.value.changes) {
      const id = idOf(change.policy);
      if (!id) continue;
      if (change.status === "deleted") {
        if (copy.remove(id)) report.removed++;
        continue;
      }
      onMaster.add(id);
      if (copy.add(change.policy)) report.pulled++;
      copy.confirmed(id);
    }
    if (fullReload) {
      for (const id of this.allIds(copy)) {
        if (!onMaster.has(id) && !copy.isPending(id) && copy.remove(id)) report.removed++;
      }
    }
    copy.masterSeq = update.value.seq;
    if (nodeAuthOf(this.node).enabled) {
      const dropped = this.enforce();
      if (!dropped.ok) return dropped;
      report.pulled -= Math.min(report.pulled, dropped.value);
    }
    for (const p of copy.pending()) {
      const pushed = await this.push(master, p);
      if (!pushed.ok) break; // the master went away mid-sync: the rest waits for the next one
      copy.confirmed(idOf(p)!);
      report.pushed++;
    }
    if (dest.file) {
      const saved = copy.save();
      if (!saved.ok) return saved;
    }
    if (dest.dbms) {
      const mirrored = await this.mirror(update.value.changes);
      if (!mirrored.ok) return mirrored;
    }
    return ok(report);
  }

  private allIds(copy: LocalCopy): string[] {
    return copy.select(["*"], []).map((p) => idOf(p)!).filter(Boolean);
  }

  /** Applies changes to this node's own ledger table (sync with `dest = dbms`). */
  private async mirror(changes: LedgerChange[]): Promise<Result<void>> {
    const db = await requireLedger(this.node.databases.get(LEDGER_DBMS));
    if (!db.ok) return db;
    for (const c of changes) {
      const r = c.status === "deleted" ? await deletePolicy(db.value, idOf(c.policy)!) : await insertPolicy(db.value, c.policy, "sync");
      if (!r.ok) return r;
    }
    return ok(undefined);
  }
}
