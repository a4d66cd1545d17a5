/**
 * @module ingest/peer-file
 * A data file sent by a peer (a publisher) as the payload of its message:
 * `file store where name = <file name> [and dbms = ... and table = ...]`. The operator
 * stores it through its intake as its watch directory would (the same hash of the content,
 * so a file sent again is stored once) and answers only once the rows are stored (or were
 * stored before). Files of one table are stored one at a time.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { command } from "../commands/spec.ts";
import { addCommands } from "../commands/table.ts";
import type { Node } from "../node/node.ts";
import { nodeSlot } from "../node/slot.ts";
import { diskReason } from "../util/disk.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { type DataFileName, dataName, parseDataFileName } from "./file-name.ts";
import { NO_OPERATOR, intakeOf } from "./intake.ts";

/** What the operator answers for a stored file. */
export interface PeerFileStored {
  file: string;
  dbms: string;
  table: string;
  /** Rows stored now (0 when the data was stored before). */
  rows: number;
  status: "stored" | "duplicate";
  /** The file id (tsd_info) a duplicate was stored under. */
  stored_as?: number | string;
}

/** Per node and dbms.table: the store in progress (files of one table are stored one after the other). */
const chainsOf = nodeSlot(() => new Map<string, Promise<unknown>>());
let sequence = 0;

/** Runs `work` after the stores of `key` already under way. */
function serialized<T>(node: Node, key: string, work: () => Promise<T>): Promise<T> {
  const m = chainsOf(node);
  const before = m.get(key) ?? Promise.resolve();
  const mine = before.then(work, work);
  const tail = mine.catch(() => undefined);
  m.set(key, tail);
  void tail.then(() => {
    if (m.get(key) === tail) m.delete(key);
  });
  return mine;
}

/** The file's dbms and table: from the name, or as the sender says (its `dbms_name` / `table_name` segments). */
function nameOf(file: string, dbms: string | undefined, table: string | undefined): Result<DataFileName> {
  const parsed = parseDataFileName(file);
  if (parsed.ok && !dbms && !table) return parsed;
  if (!dbms || !table) return parsed.ok ? parsed : fail("bad_value", `${parsed.error.message} (or name its dbms and table: 'and dbms = ... and table = ...')`);
  const d = dataName("database", dbms);
  if (!d.ok) return d;
  const t = dataName("table", table);
  if (!t.ok) return t;
  return ok({ dbms: d.value, table: t.value, source: "", hash: "", instructions: "", compressed: /\.gz$/i.test(file) });
}

/** Stores the payload as file `file` of dbms.table; answers once it is stored. */
export async function storePeerFile(node: Node, file: string, payload: Uint8Array, dbms?: string, table?: string): Promise<Result<PeerFileStored>> {
  const intake = intakeOf(node);
  if (!intake) return fail("unavailable", NO_OPERATOR);
  if (file.includes("/") || file.includes("\\") || file.startsWith(".")) return fail("bad_value", `'${file}' is not a file name`);
  const name = nameOf(file, dbms, table);
  if (!name.ok) return name;
  const { dbms: d, table: t } = name.value;
  const refused = intake.refusal(t);
  if (refused) return fail("bad_value", refused);
  if (!node.databases.get(d)) return fail("unavailable", `dbms '${d}' is not connected on this operator: the file waits on the publisher for 'connect dbms ${d} ...'`);
  return serialized(node, `${d}.${t}`, async () => {
    const dir = join(intake.settings.journalDir, "peer-files");
    const path = join(dir, `${process.pid}-${++sequence}-${file}`);
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path, payload);
    } catch (e) {
      rmSync(path, { force: true });
      return fail<PeerFileStored>("io", `cannot hold ${file} on this operator: ${diskReason(e)}`);
    }
    try {
      const unit = await intake.readFile(path, name.value);
      if (!unit.ok) return fail<PeerFileStored>(unit.error.code, unit.error.message);
      const [outcome] = await intake.store(d, t, [unit.value]);
      if (!outcome) return fail<PeerFileStored>("internal", `no outcome for ${file}`);
      if (outcome.status === "failed") return fail<PeerFileStored>(outcome.error.code, `${file}: ${outcome.error.message}`);
      if (outcome.status === "duplicate") return ok<PeerFileStored>({ file, dbms: d, table: t, rows: 0, status: "duplicate", stored_as: outcome.fileId });
      return ok<PeerFileStored>({ file, dbms: d, table: t, rows: outcome.rows, status: "stored" });
    } finally {
      rmSync(path, { force: true });
    }
  });
}

addCommands(
  command({
    words: ["file", "store"],
    summary: "Stores a data file sent as the payload of a peer message (a publisher's) through the operator's intake",
    method: "POST",
    options: {
      name: { type: "str", help: "the file's name (dbms.table.<...>.json[.gz])", required: true },
      dbms: { type: "str", help: "the file's dbms, when its name does not follow the convention" },
      table: { type: "str", help: "the file's table, when its name does not follow the convention" },
    },
    examples: ["file store where name = litsanleandro.ping_sensor.0.abc.json"],
    async handler(ctx, args) {
      const payload = ctx.payload;
      if (!payload) return fail("bad_option", "'file store' takes the file as the payload of a peer message: a publisher sends it ('run publisher')");
      return storePeerFile(ctx.node, args.str("name", ""), payload, args.str("dbms"), args.str("table"));
    },
  }),
);
