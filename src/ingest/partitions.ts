/**
 * @module ingest/partitions
 * Time partitions: `partition <dbms> <table|*> using <column> by <n> <unit>` makes a table
 * a set of physical tables `par_<table>_<start>` (one per n units of the column's time) with
 * a view named after the table over all of them, so queries on the table see every
 * partition and dropping old data is dropping old tables.
 */
import { type Database, quoteName } from "../storage/database.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { nodeSlot } from "../node/slot.ts";

export type PartitionUnit = "hour" | "day" | "week" | "month" | "year";

export interface PartitionRule {
  dbms: string;
  /** A table name or `*` for every table of the dbms. */
  table: string;
  column: string;
  count: number;
  unit: PartitionUnit;
}

const UNITS: Record<string, PartitionUnit> = {
  hour: "hour", hours: "hour", day: "day", days: "day", week: "week", weeks: "week",
  month: "month", months: "month", year: "year", years: "year",
};

/** "1 day", "7 days", "12 hours", "month" to a count and unit. */
export function parseInterval(text: string): Result<{ count: number; unit: PartitionUnit }> {
  const m = /^\s*(\d+)?\s*([a-z]+)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  const count = m?.[1] ? Number(m[1]) : 1;
  if (!m || !unit || count < 1) return fail("bad_value", `'${text}' is not a partition interval such as '1 day', '12 hours', '1 month'`);
  return ok({ count, unit });
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** The name of the partition holding `time` under `rule`. */
export function partitionName(table: string, rule: PartitionRule, time: Date): string {
  const t = time;
  let start: string;
  switch (rule.unit) {
    case "hour": {
      const hours = Math.floor(t.getTime() / 3_600_000 / rule.count) * rule.count;
      const d = new Date(hours * 3_600_000);
      start = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}`;
      break;
    }
    case "day":
    case "week": {
      const span = rule.unit === "week" ? 7 * rule.count : rule.count;
      const days = Math.floor(t.getTime() / 86_400_000 / span) * span;
      const d = new Date(days * 86_400_000);
      start = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
      break;
    }
    case "month": {
      const months = Math.floor((t.getUTCFullYear() * 12 + t.getUTCMonth()) / rule.count) * rule.count;
      start = `${Math.floor(months / 12)}${pad((months % 12) + 1)}`;
      break;
    }
    case "year":
      start = String(Math.floor(t.getUTCFullYear() / rule.count) * rule.count);
      break;
  }
  return `par_${table}_${start}`;
}

/** The partition rules of a node. */
/** The partition rules of a node (`partition ...`). */
export const partitionRules = nodeSlot(() => new PartitionRules());

export class PartitionRules {
  private readonly rules: PartitionRule[] = [];

  set(rule: PartitionRule): void {
    const i = this.rules.findIndex((r) => r.dbms === rule.dbms && r.table === rule.table);
    if (i >= 0) this.rules[i] = rule;
    else this.rules.push(rule);
  }

  /** The rule for a table: its own, else the dbms-wide `*` one. */
  find(dbms: string, table: string): PartitionRule | undefined {
    return this.rules.find((r) => r.dbms === dbms && r.table === table) ?? this.rules.find((r) => r.dbms === dbms && r.table === "*");
  }

  all(): readonly PartitionRule[] {
    return this.rules;
  }
}

/** The partitions of a table, oldest first. */
export async function listPartitions(db: Database, table: string): Promise<Result<string[]>> {
  const tables = await db.tables();
  if (!tables.ok) return tables;
  const prefix = `par_${table}_`;
  return ok(tables.value.filter((t) => t.startsWith(prefix) && /^\d+$/.test(t.slice(prefix.length))).sort());
}

/** Recreates the view named after the table over its partitions (dropped when none is left). */
export async function rebuildView(db: Database, table: string): Promise<Result<void>> {
  const parts = await listPartitions(db, table);
  if (!parts.ok) return parts;
  const dropped = await db.exec(`DROP VIEW IF EXISTS ${quoteName(table)}`);
  if (!dropped.ok) return dropped;
  if (parts.value.length === 0) return ok(undefined);
  const r = await db.exec(`CREATE VIEW ${quoteName(table)} AS ${parts.value.map((p) => `SELECT * FROM ${quoteName(p)}`).join(" UNION ALL ")}`);
  return r.ok ? ok(undefined) : r;
}

/** Drops the oldest partitions, keeping the newest `keep` (without keep: the oldest one, never the only one). */
export async function dropPartitions(db: Database, table: string, keep: number | undefined): Promise<Result<string[]>> {
  return db.transaction(async (tx) => {
    const parts = await listPartitions(tx, table);
    if (!parts.ok) return parts;
    const list = parts.value;
    const drop = keep === undefined ? (list.length > 1 ? list.slice(0, 1) : []) : list.slice(0, Math.max(0, list.length - keep));
    if (drop.length === 0) return ok([]);
    const dv = await tx.exec(`DROP VIEW IF EXISTS ${quoteName(table)}`);
    if (!dv.ok) return dv;
    for (const p of drop) {
      const r = await tx.exec(`DROP TABLE ${quoteName(p)}`);
      if (!r.ok) return r;
    }
    const v = await rebuildView(tx, table);
    return v.ok ? ok(drop) : v;
  });
}
