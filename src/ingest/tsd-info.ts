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

/** Units per statement of claim and settle (each statement takes its units as one JSON parameter). */
const PER_STATEMENT = 5_000;

function* slices<T>(items: T[]): Generator<T[]> {
  for (let i = 0; i < items.length; i += PER_STATEMENT) yield items.slice(i, i + PER_STATEMENT);
}

/** Claims hashes in one transaction: the known ones are looked up, the new ones inserted, a few statements in all. */
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
    const known = new Map<string, ClaimResult>();
    for (const part of slices(claims)) {
      const found = await runQuery(tx, s.find, { hashes: JSON.stringify(part.map((c) => [c.hash])) });
      if (!found.ok) return found;
      for (const f of found.value) {
        const fileId = Number(f.file_id);
        known.set(String(f.file_hash), f.status === "stored" ? { kind: "stored", fileId, rows: Number(f.rows) } : { kind: "unfinished", fileId });
      }
    }
    const out: ClaimResult[] = [];
    const fresh: Array<[number, string, string, string, string, string]> = [];
    for (const c of claims) {
      const k = known.get(c.hash);
      if (k) {
        out.push(k);
        continue;
      }
      const fileId = next++;
      fresh.push([fileId, c.dbms, c.table, c.source, c.hash, c.instructions]);
      out.push({ kind: "new", fileId });
      known.set(c.hash, { kind: "unfinished", fileId }); // the same hash again in this list: claimed, not yet stored
    }
    const time = new Date().toISOString();
    for (const part of slices(fresh)) {
      const r = await runStatement(tx, s.insert, { time, claims: JSON.stringify(part) });
      if (!r.ok) return r;
    }
    return ok(out);
  });
}

/** Marks claims stored (with their row counts) and forgets the ones whose rows were not written. */
export function settle(db: Database, stored: Array<{ fileId: number; rows: number }>, failed: number[]): Promise<Result<void>> {
  const s = statements[db.engine];
  return db.transaction<void>(async (tx) => {
    const time = new Date().toISOString();
    for (const part of slices(stored)) {
      const r = await runStatement(tx, s.stored, { time, stored: JSON.stringify(part.map((u) => [u.fileId, u.rows])) });
      if (!r.ok) return r;
    }
    for (const part of slices(failed)) {
      const r = await runStatement(tx, s.forget, { ids: JSON.stringify(part.map((id) => [id])) });
      if (!r.ok) return r;
    }
    return ok(undefined);
  });
}
