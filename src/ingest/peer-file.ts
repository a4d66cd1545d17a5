/**
 * @module ingest/peer-file
 * A data file sent by a peer (a publisher) as the payload of its message:
 * `file store where name = <file name> [and dbms = ... and table = ...]`. The operator
 * stores it through its intake as its watch directory would (the same hash of the content,
 * so a file sent again is stored once) and answers only once the rows are stored (or were
 * stored before). Files of one table are stored one at a time. The same `file store` with
 * `file = <path>` (or a REST upload) stores a blob instead (blobs/commands).
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
import { storeBlobCommand } from "../blobs/commands.ts";

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
    paths: ["file", "source"],
    summary: "Stores a file: a blob (file = <path>, or a REST upload) in the blobs database / folder, or a publisher's data file (name = ..., the payload of a peer message) through the operator's intake",
    method: "POST",
    options: {
      name: { type: "str", help: "a publisher's data file: its name (dbms.table.<...>.json[.gz])" },
      dbms: { type: "str", help: "the dbms (of the blob, or of a data file whose name does not follow the convention)" },
      table: { type: "str", help: "the table (as dbms)" },
      file: { type: "str", help: "a blob: the path of the file to store" },
      source: { type: "str", help: "same as file" },
      hash: { type: "str", help: "a blob: its md5 (computed when left out), or a unique value of your own" },
      id: { type: "str", help: "a blob: its id (file name) in the store; default <md5>.<extension>" },
      dest: { type: "str", help: "same as id" },
      extension: { type: "str", help: "a blob: its file extension (default: the file's)" },
      date: { type: "str", help: "a blob: its date key, YYMMDD (default: today, UTC)" },
      reuse_blobs: { type: "bool", help: "a blob: reference a stored blob with the same md5 instead of storing it again" },
    },
    examples: [
      "file store where dbms = edgex and table = image and file = !prep_dir/camera1.png",
      "curl -X POST -H 'command: file store where dbms = edgex and table = image and dest = cam1.png' -F file=@cam1.png <node>",
      "file store where name = litsanleandro.ping_sensor.0.abc.json (a publisher's payload)",
    ],
    async handler(ctx, args) {
      // a blob: a file path, or bytes without a data file's name (a REST upload)
      if (args.has("file") || args.has("source") || !args.has("name")) return storeBlobCommand(ctx, args);
      const payload = ctx.payload;
      if (!payload) return fail("bad_option", "'file store where name = ...' takes the data file as the payload of a peer message: a publisher sends it ('run publisher'); to store a blob, give 'file = <path>'");
      return storePeerFile(ctx.node, args.str("name", ""), payload, args.str("dbms"), args.str("table"));
    },
  }),
);
