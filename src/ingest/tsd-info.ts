/**
 * @module ingest/tsd-info
 * `almgm.tsd_info`, the record of every stored file (or REST body), keyed by its hash:
 * claimed as `processing` before its rows are written, `stored` after they commit. A hash
 * already stored is a duplicate; one left `processing` by a crash is resolved by looking
 * for its rows (tagged with its file id) in the data table. The statements are drizzle's,
 * built when the code is bundled (storage/fixed-sql.ts).
 */
import type { Database } from "../storage/database.ts";
import { tsdInfoStatements } from "../storage/fixed-sql.ts" with { type: "macro" };
import { runQuery, runStatement } from "../storage/orm.ts";
import { type Result, fail, ok } from "../util/result.ts";

export const TSD_DBMS = "almgm";

export interface Claim {
  hash: string;
  dbms: string;
  table: string;
  source: string;
  instructions: string;
}

/** What a claim found: a new file id, a hash already stored, or one a crash left half-done. */
export type ClaimResult = { kind: "new"; fileId: number } | { kind: "stored"; fileId: number; rows: number } | { kind: "unfinished"; fileId: number };

export async function requireTsdInfo(db: Database | undefined): Promise<Result<Database>> {
  if (!db) return fail("unavailable", `dbms '${TSD_DBMS}' is not connected: 'connect dbms ${TSD_DBMS} where type = sqlite' and 'create table tsd_info where dbms = ${TSD_DBMS}'`);
  const exists = await db.tableExists("tsd_info");
  if (!exists.ok) return exists;
  return exists.value ? ok(db) : fail("unavailable", `dbms '${db.name}' has no tsd_info table: 'create table tsd_info where dbms = ${db.name}'`);
}

/** The statements of claim and settle, by engine. */
const statements = tsdInfoStatements();

/** Claims hashes in one transaction. */
export function claim(db: Database, claims: Claim[]): Promise<Result<ClaimResult[]>> {
  const s = statements[db.engine];
  return db.transaction<ClaimResult[]>(async (tx) => {
    // one claimer at a time (other tables' buffers, other nodes on the same server), so two
    // cannot take the same file id
    const locked = await tx.lockWriters("tsd_info");
    if (!locked.ok) return locked;
    const top = await runQuery(tx, s.top);
    if (!top.ok) return top;
    let next = Number(top.value[0]?.top ?? 0) + 1;
    const time = new Date().toISOString();
    const out: ClaimResult[] = [];
    for (const c of claims) {
      const found = await runQuery(tx, s.find, { hash: c.hash });
      if (!found.ok) return found;
      const f = found.value[0];
      if (f) {
        out.push(f.status === "stored" ? { kind: "stored", fileId: Number(f.file_id), rows: Number(f.rows) } : { kind: "unfinished", fileId: Number(f.file_id) });
        continue;
      }
      const fileId = next++;
      const r = await runStatement(tx, s.insert, { fileId, dbms: c.dbms, table: c.table, source: c.source, hash: c.hash, instructions: c.instructions, time });
      if (!r.ok) return r;
      out.push({ kind: "new", fileId });
    }
    return ok(out);
  });
}

/** Marks claims stored (with their row counts) and forgets the ones whose rows were not written. */
export function settle(db: Database, stored: Array<{ fileId: number; rows: number }>, failed: number[]): Promise<Result<void>> {
  const s = statements[db.engine];
  return db.transaction<void>(async (tx) => {
    const time = new Date().toISOString();
    for (const { fileId, rows } of stored) {
      const r = await runStatement(tx, s.stored, { fileId, rows, time });
      if (!r.ok) return r;
    }
    for (const fileId of failed) {
      const r = await runStatement(tx, s.forget, { fileId });
      if (!r.ok) return r;
    }
    return ok(undefined);
  });
}
