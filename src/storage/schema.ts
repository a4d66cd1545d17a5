/**
 * @module storage/schema
 * The node's fixed tables (the `ledger` of the metadata, later `tsd_info`), each declared
 * once. From one declaration come the CREATE statements for SQLite and PostgreSQL and the
 * drizzle-orm table objects whose statements are built when the code is bundled
 * (storage/fixed-sql.ts; `storage/orm.ts` runs them through the storage interface, so
 * transactions work the same on both engines). This module itself needs no drizzle.
 */
import type { Engine } from "./database.ts";

type ColumnKind = "int" | "text";

export interface ColumnDecl {
  kind: ColumnKind;
  notNull?: boolean;
  unique?: boolean;
  /** Documentation, shown nowhere but here. */
  doc: string;
}

export interface TableDecl<C extends Record<string, ColumnDecl>> {
  name: string;
  columns: C;
  indexes: Array<keyof C & string>;
}

/** The AnyLog ledger: one row per policy, `seq` ordering every change the master made. */
export const LEDGER = {
  name: "ledger",
  columns: {
    seq: { kind: "int", notNull: true, unique: true, doc: "change number: a new policy or a deletion gets the next one" },
    policy_type: { kind: "text", notNull: true, doc: "the policy's root key (operator, cluster, ...)" },
    policy_id: { kind: "text", notNull: true, unique: true, doc: "the policy's id (hash of its content)" },
    company: { kind: "text", doc: "the policy's company attribute" },
    date: { kind: "text", doc: "when the policy was prepared (ISO 8601)" },
    host: { kind: "text", doc: "the node that sent the policy" },
    status: { kind: "text", notNull: true, doc: "active or deleted" },
    policy: { kind: "text", notNull: true, doc: "the policy as JSON" },
  },
  indexes: ["policy_type", "company"],
} as const satisfies TableDecl<Record<string, ColumnDecl>>;

/** `almgm.tsd_info`: one row per data file an operator stored (or refused as a duplicate). */
export const TSD_INFO = {
  name: "tsd_info",
  columns: {
    file_id: { kind: "int", notNull: true, unique: true, doc: "sequence number of the file on this node" },
    dbms_name: { kind: "text", notNull: true, doc: "logical database of the rows" },
    table_name: { kind: "text", notNull: true, doc: "table of the rows" },
    source: { kind: "text", doc: "device or source segment of the file name" },
    file_hash: { kind: "text", notNull: true, unique: true, doc: "md5 of \"<dbms>.<table>\\n<content>\": the same data for the same table again is a duplicate" },
    instructions: { kind: "text", doc: "mapping instructions id of the file name" },
    file_time: { kind: "text", notNull: true, doc: "when the file was stored (ISO 8601)" },
    rows: { kind: "int", notNull: true, doc: "rows inserted from the file" },
    status: { kind: "text", notNull: true, doc: "stored, or the reason it failed" },
  },
  indexes: ["dbms_name", "table_name"],
} as const satisfies TableDecl<Record<string, ColumnDecl>>;

/** The fixed tables by name, for `create table <name> where dbms = ...`. */
export const FIXED_TABLES: Record<string, TableDecl<Record<string, ColumnDecl>>> = { ledger: LEDGER, tsd_info: TSD_INFO };

/** CREATE TABLE / INDEX statements for an engine; safe to run again on an existing table. */
export function createStatements<C extends Record<string, ColumnDecl>>(t: TableDecl<C>, engine: Engine): string[] {
  const cols = Object.entries(t.columns).map(([name, c]) => {
    const type = c.kind === "int" ? (engine === "psql" ? "BIGINT" : "INTEGER") : "TEXT";
    return `${name} ${type}${c.notNull ? " NOT NULL" : ""}${c.unique ? " UNIQUE" : ""}`;
  });
  return [
    `CREATE TABLE IF NOT EXISTS ${t.name} (${cols.join(", ")})`,
    ...t.indexes.map((col) => `CREATE INDEX IF NOT EXISTS ${t.name}_${col}_idx ON ${t.name} (${col})`),
  ];
}

/** The TypeScript row of a declared table. */
export type RowOf<C extends Record<string, ColumnDecl>> = {
  [K in keyof C]: C[K]["kind"] extends "int" ? number : C[K]["notNull"] extends true ? string : string | null;
};

export type LedgerRow = RowOf<typeof LEDGER.columns>;

export type TsdInfoRow = RowOf<typeof TSD_INFO.columns>;
