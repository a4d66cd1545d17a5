/**
 * @module metadata/master-ledger
 * The master's ledger table (`ledger` in the `blockchain` dbms): adding a policy once,
 * marking one deleted, and the changes after a change number, which is all a syncing node
 * asks for. Every change takes the next `seq`, inside one transaction. The statements are
 * drizzle's, built when the code is bundled (storage/fixed-sql.ts).
 */
import type { Database, Row } from "../storage/database.ts";
import { ledgerStatements } from "../storage/fixed-sql.ts" with { type: "macro" };
import { runQuery, runStatement } from "../storage/orm.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { type Policy, body, policyType } from "./policy.ts";
import { idOf } from "./local-copy.ts";

/** One change of the ledger, as sent to syncing nodes. */
export interface LedgerChange {
  seq: number;
  status: "active" | "deleted";
  policy: Policy;
}

export const LEDGER_DBMS = "blockchain";

/** The ledger's statements, by engine. */
const statements = ledgerStatements();

async function nextSeq(tx: Database): Promise<Result<number>> {
  // one writer at a time, so two masters' transactions cannot take the same seq
  const locked = await tx.lockWriters("ledger");
  if (!locked.ok) return locked;
  const r = await runQuery(tx, statements[tx.engine].top);
  if (!r.ok) return r;
  return ok(Number(r.value[0]?.top ?? 0) + 1);
}

/** Checks that `db` has the ledger table (a master), with an error that says what is missing. */
export async function requireLedger(db: Database | undefined): Promise<Result<Database>> {
  if (!db) return fail("unavailable", `this node keeps no ledger: a master connects dbms '${LEDGER_DBMS}' and runs 'create table ledger where dbms = ${LEDGER_DBMS}'`);
  const exists = await db.tableExists("ledger");
  if (!exists.ok) return exists;
  if (!exists.value) return fail("unavailable", `dbms '${db.name}' has no ledger table: run 'create table ledger where dbms = ${db.name}'`);
  return ok(db);
}

/** Adds a prepared policy; `inserted` is false when the ledger already has it. */
export function insertPolicy(db: Database, policy: Policy, host: string): Promise<Result<{ inserted: boolean; seq: number }>> {
  const id = idOf(policy)!;
  const s = statements[db.engine];
  return db.transaction<{ inserted: boolean; seq: number }>(async (tx) => {
    const found = await runQuery(tx, s.find, { id });
    if (!found.ok) return found;
    const existing = found.value[0];
    if (existing && existing.status === "active") return ok({ inserted: false, seq: Number(existing.seq) });
    const seq = await nextSeq(tx);
    if (!seq.ok) return seq;
    const attrs = body(policy);
    const row = {
      seq: seq.value,
      type: policyType(policy),
      id,
      company: typeof attrs.company === "string" ? attrs.company : null,
      date: typeof attrs.date === "string" ? attrs.date : null,
      host,
      policy: JSON.stringify(policy),
    };
    const written = await runStatement(tx, existing ? s.reactivate : s.insert, row);
    if (!written.ok) return written;
    return ok({ inserted: true, seq: seq.value });
  });
}

/** Marks a policy deleted (syncing nodes drop it); false when there is no such active policy. */
export function deletePolicy(db: Database, id: string): Promise<Result<boolean>> {
  const s = statements[db.engine];
  return db.transaction(async (tx) => {
    const found = await runQuery(tx, s.find, { id });
    if (!found.ok) return found;
    if (found.value[0]?.status !== "active") return ok(false);
    const seq = await nextSeq(tx);
    if (!seq.ok) return seq;
    const r = await runStatement(tx, s.markDeleted, { seq: seq.value, id });
    return r.ok ? ok(true) : r;
  });
}

/** The changes after `since`, oldest first, and the newest change number. */
export async function changesSince(db: Database, since: number): Promise<Result<{ seq: number; changes: LedgerChange[] }>> {
  const s = statements[db.engine];
  const rows = await runQuery(db, s.since, { since });
  if (!rows.ok) return rows;
  const top = await runQuery(db, s.newest);
  if (!top.ok) return top;
  const changes = rows.value.map((r: Row) => ({
    seq: Number(r.seq),
    status: r.status === "deleted" ? ("deleted" as const) : ("active" as const),
    policy: JSON.parse(String(r.policy)) as Policy,
  }));
  return ok({ seq: Number(top.value[0]?.seq ?? 0), changes });
}
