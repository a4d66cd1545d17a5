/**
 * @module metadata/local-copy
 * The node's local copy of the metadata (`blockchain.json`): every policy in ledger order,
 * the master's change number it has caught up to, and the policies declared here that the
 * master does not have yet (kept and retried). Look-ups by type and attribute use indexes
 * built on first use. The file is rewritten atomically.
 */
import { existsSync, readFileSync } from "node:fs";
import { writeFileAtomic } from "../util/atomic-file.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { type Policy, body, policyType } from "./policy.ts";

interface FileShape {
  anylog_ledger: 1;
  master_seq: number;
  pending: string[];
  policies: Policy[];
}

export class LocalCopy {
  private readonly policies = new Map<string, Policy>(); // id -> policy, in ledger order
  private readonly pendingIds = new Set<string>();
  masterSeq = 0;
  /** Goes up at every change: what was computed from the copy is stale when it moved. */
  version = 0;
  private byType?: Map<string, Policy[]>;
  private readonly indexes = new Map<string, Map<string, Policy[]>>();

  private constructor(readonly path: string) {}

  /** Loads the copy at `path`; a missing file is an empty copy, a damaged one an error. */
  static load(path: string): Result<LocalCopy> {
    const copy = new LocalCopy(path);
    if (!existsSync(path)) return ok(copy);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, "utf8"));
    } catch (e) {
      return fail("io", `the local metadata copy ${path} cannot be read: ${e instanceof Error ? e.message : String(e)}`);
    }
    const list = Array.isArray(parsed) ? parsed : (parsed as Partial<FileShape>).policies;
    if (!Array.isArray(list)) return fail("io", `the local metadata copy ${path} has no list of policies`);
    for (const p of list as Policy[]) {
      const id = idOf(p);
      if (id) copy.policies.set(id, p);
    }
    if (!Array.isArray(parsed)) {
      const f = parsed as Partial<FileShape>;
      copy.masterSeq = typeof f.master_seq === "number" ? f.master_seq : 0;
      for (const id of f.pending ?? []) if (copy.policies.has(id)) copy.pendingIds.add(id);
    }
    return ok(copy);
  }

  /** Writes the file atomically: one policy per line, so it reads and diffs well. */
  save(): Result<void> {
    const lines = [...this.policies.values()].map((p) => JSON.stringify(p));
    const text = `{"anylog_ledger": 1, "master_seq": ${this.masterSeq}, "pending": ${JSON.stringify([...this.pendingIds])}, "policies": [\n${lines.join(",\n")}\n]}\n`;
    return writeFileAtomic(this.path, text);
  }

  get size(): number {
    return this.policies.size;
  }

  has(id: string): boolean {
    return this.policies.has(id);
  }

  get(id: string): Policy | undefined {
    return this.policies.get(id);
  }

  /** Adds a prepared policy; false when a policy with its id is already here. */
  add(p: Policy, pending = false): boolean {
    const id = idOf(p);
    if (!id || this.policies.has(id)) return false;
    this.policies.set(id, p);
    if (pending) this.pendingIds.add(id);
    this.changed(policyType(p));
    return true;
  }

  remove(id: string): boolean {
    const p = this.policies.get(id);
    if (!p) return false;
    this.policies.delete(id);
    this.pendingIds.delete(id);
    this.changed(policyType(p));
    return true;
  }

  pending(): Policy[] {
    return [...this.pendingIds].map((id) => this.policies.get(id)!).filter(Boolean);
  }

  confirmed(id: string): void {
    this.pendingIds.delete(id);
  }

  isPending(id: string): boolean {
    return this.pendingIds.has(id);
  }

  /** Policies of the types (`*` for all) whose attributes equal every filter value, in ledger order. */
  select(types: string[], filters: Array<[string, string]>): Policy[] {
    let candidates: Policy[];
    const all = types.includes("*");
    if (!all && types.length === 1 && filters.length > 0) {
      candidates = this.indexed(types[0]!, filters[0]![0]).get(filters[0]![1]) ?? [];
      filters = filters.slice(1);
    } else if (all) {
      candidates = [...this.policies.values()];
    } else {
      candidates = types.flatMap((t) => this.typed().get(t) ?? []);
      if (types.length > 1) candidates = this.inLedgerOrder(candidates);
    }
    if (filters.length === 0) return candidates;
    return candidates.filter((p) => filters.every(([k, v]) => matches(body(p)[k], v)));
  }

  private typed(): Map<string, Policy[]> {
    if (!this.byType) {
      this.byType = new Map();
      for (const p of this.policies.values()) {
        const t = policyType(p);
        const list = this.byType.get(t);
        if (list) list.push(p);
        else this.byType.set(t, [p]);
      }
    }
    return this.byType;
  }

  private indexed(type: string, key: string): Map<string, Policy[]> {
    const name = `${type}\u0000${key}`;
    let index = this.indexes.get(name);
    if (!index) {
      index = new Map();
      for (const p of this.typed().get(type) ?? []) {
        const v = body(p)[key];
        if (v === undefined || v === null) continue;
        const k = String(v);
        const list = index.get(k);
        if (list) list.push(p);
        else index.set(k, [p]);
      }
      this.indexes.set(name, index);
    }
    return index;
  }

  private inLedgerOrder(list: Policy[]): Policy[] {
    const order = new Map<Policy, number>();
    let i = 0;
    for (const p of this.policies.values()) order.set(p, i++);
    return list.sort((a, b) => order.get(a)! - order.get(b)!);
  }

  private changed(type: string): void {
    this.version++;
    this.byType = undefined;
    for (const key of [...this.indexes.keys()]) if (key.startsWith(`${type}\u0000`)) this.indexes.delete(key);
  }
}

export function idOf(p: Policy): string | undefined {
  const t = Object.keys(p)[0];
  const id = t ? (p[t] as Record<string, unknown> | undefined)?.id : undefined;
  return typeof id === "string" ? id : undefined;
}

function matches(actual: unknown, wanted: string): boolean {
  if (actual === undefined || actual === null) return false;
  if (Array.isArray(actual)) return actual.some((a) => String(a) === wanted);
  return String(actual) === wanted;
}
