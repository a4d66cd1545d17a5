/**
 * @module blobs/commands
 * Blobs from the command line: `file store` of a file (the blob branch of the one `file
 * store` entry, see ingest/peer-file), `file retrieve`, `file remove`, `get files`,
 * `get files count`, and `file get` (`run client (ip:port) file get (dbms = ... and table = ...
 * and id = ...) <local path>`: the peer answers with the blob as the frame's body). Reads
 * look in the dbms's blobs database and in the blobs folder (stores.ts).
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { Readable } from "node:stream";
import type { CommandContext } from "../commands/context.ts";
import { Args, type NetworkTarget, type Reply, command } from "../commands/spec.ts";
import { addCommands } from "../commands/table.ts";
import { BodyReply } from "../network/body-reply.ts";
import { MAX_BODY } from "../network/frames.ts";
import type { Node } from "../node/node.ts";
import { diskReason } from "../util/disk.ts";
import { type Result, errorText, fail, ok } from "../util/result.ts";
import { textTable } from "../util/text-table.ts";
import { type BlobFilter, type BlobInfo, type BlobReader, type BlobSource, type BlobStore, blobId, blobName, byDateThenId, dateOption, fileChunks, putBlob, writeChunks } from "./store.ts";
import { folderStore, mongoConnections, readStores, storeFor } from "./stores.ts";

/** The filter a command's options name (dbms required). */
function filterOf(args: Args, needTable: boolean): Result<BlobFilter> {
  const dbms = blobName("dbms", args.str("dbms", ""));
  if (!dbms.ok) return fail("bad_option", `${args.has("dbms") ? dbms.error.message : "name the dbms: 'where dbms = <name>'"}`);
  const filter: BlobFilter = { dbms: dbms.value };
  if (args.has("table")) {
    const t = blobName("table", args.str("table", ""));
    if (!t.ok) return t;
    filter.table = t.value;
  } else if (needTable) return fail("bad_option", "name the table: 'and table = <name>'");
  if (args.has("id")) {
    const id = blobId(args.str("id", ""));
    if (!id.ok) return id;
    filter.id = id.value;
  }
  if (args.has("hash")) filter.hash = args.str("hash", "").trim().toLowerCase();
  for (const k of ["date", "from", "to"] as const) {
    if (!args.has(k)) continue;
    const d = dateOption(args.str(k, ""), k);
    if (!d.ok) return d;
    filter[k] = d.value;
  }
  if (args.has("limit")) {
    const n = args.int("limit");
    if (n === undefined || n < 1) return fail("bad_option", `limit = ${args.str("limit")} is not a number of files (1 or more)`);
    filter.limit = n;
  }
  return ok(filter);
}

/** The blobs that pass `filter` in every store that holds blobs of its dbms (first store wins an id). */
async function listAll(node: Node, filter: BlobFilter): Promise<Result<Array<BlobInfo & { store: string }>>> {
  const seen = new Map<string, BlobInfo & { store: string }>();
  for (const store of readStores(node, filter.dbms)) {
    const r = await store.list(filter);
    if (!r.ok) return r;
    for (const b of r.value) if (!seen.has(`${b.table}/${b.id}`)) seen.set(`${b.table}/${b.id}`, { ...b, store: store.kind });
  }
  return ok([...seen.values()].sort(byDateThenId).slice(0, filter.limit));
}

/** Opens one blob (by id, else the first with the hash) from the stores of its dbms. */
async function openOne(node: Node, filter: BlobFilter): Promise<Result<BlobReader>> {
  const where = `${filter.dbms}.${filter.table ?? "*"}`;
  if (filter.id === undefined) {
    const found = await listAll(node, { ...filter, limit: 1 });
    if (!found.ok) return found;
    const first = found.value[0];
    if (!first) return fail("not_found", `no blob in ${where} with ${filter.hash ? `hash ${filter.hash}` : "these options"}`);
    filter = { ...filter, table: first.table, id: first.id };
  }
  let last: Result<BlobReader> = fail("not_found", `no blob '${filter.id}' in ${where}`);
  for (const store of readStores(node, filter.dbms)) {
    const r = await store.open({ dbms: filter.dbms, table: filter.table ?? "", id: filter.id! });
    if (r.ok || r.error.code !== "not_found") return r;
    last = r;
  }
  return fail("not_found", `${last.ok ? "" : last.error.message}; 'get files where dbms = ${filter.dbms}' lists what is there`);
}

/** Writes a blob's bytes to `path` (a temporary file renamed in: never half a file); its md5. */
async function writeBlob(reader: BlobReader, path: string): Promise<Result<string>> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    mkdirSync(dirname(path), { recursive: true });
    const md5 = await writeChunks(tmp, reader.chunks());
    renameSync(tmp, path);
    return ok(md5);
  } catch (e) {
    rmSync(tmp, { force: true });
    return fail("io", `cannot write ${path}: ${diskReason(e)}`);
  }
}

const isDirectory = (path: string): boolean => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

/** Where a retrieved blob goes: into `dest` when it is a folder (or ends in '/'), else `dest` itself. */
const destinationOf = (dest: string, id: string): string => (dest.endsWith("/") || isDirectory(dest) ? join(dest, id) : dest);

/**
 * `file store` of a blob: the file at `file` (or `source`), or the bytes the request carried
 * (a REST multipart upload), into the dbms's blobs database, else the blobs folder.
 */
export async function storeBlobCommand(ctx: CommandContext, args: Args): Promise<Result<Reply>> {
  const path = args.str("file") ?? args.str("source");
  let source: BlobSource;
  if (path !== undefined) source = { path };
  else if (ctx.payload) source = { bytes: ctx.payload };
  else return fail("bad_option", "'file store' needs the file: 'where dbms = ... and table = ... and file = <path>' (or a REST multipart upload: curl -F file=@<path>)");
  let dbms = args.str("dbms");
  let table = args.str("table");
  if ((dbms === undefined || table === undefined) && path !== undefined) {
    // AnyLog's convention: <dbms>.<table>.<name> when the command does not say
    const parts = basename(path).split(".");
    if (parts.length >= 3) [dbms, table] = [dbms ?? parts[0], table ?? parts[1]];
  }
  if (!dbms || !table) return fail("bad_option", "'file store' needs 'dbms = ...' and 'table = ...' (or a file named <dbms>.<table>.<name>)");
  const d = blobName("dbms", dbms);
  if (!d.ok) return d;
  const store = storeFor(ctx.node, d.value);
  const id = args.str("id") ?? args.str("dest");
  const put = await putBlob(store, source, { dbms: d.value, table, id, hash: args.str("hash"), extension: args.str("extension") ?? (path && !id ? extOfPath(path) : undefined), date: args.str("date") }, { reuse: args.bool("reuse_blobs", false) });
  if (!put.ok) return put;
  const b = put.value.info;
  return ok({ "AnyLog.status": "Success", dbms: b.dbms, table: b.table, id: b.id, hash: b.hash, size: b.size, date: b.date, store: store.describe(), reused: put.value.reused });
}

function extOfPath(path: string): string | undefined {
  const m = /\.([A-Za-z0-9]{1,10})$/.exec(basename(path));
  return m ? m[1]!.toLowerCase() : undefined;
}

/** `(dbms = a and table = b and id = c)` as key/values, or undefined when the text is a path. */
function blobSpec(items: string[]): Record<string, string> | undefined {
  const text = items.join(", ").trim();
  if (!/^\w+\s*=/.test(text)) return undefined;
  const spec: Record<string, string> = {};
  for (const part of text.split(/\s+and\s+/i)) {
    const m = /^\s*(\w+)\s*=\s*(.*?)\s*$/.exec(part);
    if (m) spec[m[1]!.toLowerCase()] = m[2]!;
  }
  return spec;
}

/** Options of `file get`'s blob spec as the filter commands take. */
function specArgs(spec: Record<string, string>): Args {
  const options: Record<string, unknown> = { ...spec };
  if (spec.limit !== undefined) options.limit = Number(spec.limit);
  return new Args({}, options);
}

/** What `file get` reads: a blob named by its spec, or a file of this node. */
async function readSource(node: Node, items: string[]): Promise<Result<{ name: string; reader?: BlobReader; path?: string; hash?: string }>> {
  const spec = blobSpec(items);
  if (spec) {
    const filter = filterOf(specArgs(spec), false);
    if (!filter.ok) return filter;
    if (filter.value.id === undefined && filter.value.hash === undefined) return fail("bad_option", "'file get (dbms = ... and table = ... and id = ...)': name the blob by id or hash");
    const reader = await openOne(node, filter.value);
    if (!reader.ok) return reader;
    return ok({ name: reader.value.info.id, reader: reader.value, hash: reader.value.info.hash });
  }
  const path = items.join(",").trim();
  if (!path) return fail("bad_option", "'file get' needs what to copy: a path, or (dbms = ... and table = ... and id = ...)");
  if (!isDirectory(path)) {
    try {
      statSync(path);
    } catch {
      return fail("not_found", `no file '${path}' on this node`);
    }
    return ok({ name: basename(path), path });
  }
  return fail("bad_value", `'${path}' is a directory: name one file`);
}

async function bytesOf(reader: BlobReader, limit: number): Promise<Result<Uint8Array>> {
  const parts: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of reader.chunks()) {
      n += c.length;
      if (n > limit) return fail("bad_value", `blob ${reader.info.id} is over ${limit} bytes, more than a peer message carries`);
      parts.push(Buffer.from(c));
    }
  } catch (e) {
    return fail("io", `cannot read blob ${reader.info.id}: ${errorText(e)}`);
  }
  return ok(Buffer.concat(parts, n));
}

/** `file get` on a peer (its bytes go back as the frame body), or on this node (a local copy). */
async function fileGet(ctx: CommandContext, args: Args): Promise<Result<Reply>> {
  const src = await readSource(ctx.node, args.list("source"));
  if (!src.ok) return src;
  const { name, reader, path } = src.value;
  if (ctx.source === "peer") {
    let body: Result<Uint8Array>;
    if (reader) body = await bytesOf(reader, MAX_BODY);
    else {
      try {
        const size = statSync(path!).size;
        body = size > MAX_BODY ? fail("bad_value", `${path} is over ${MAX_BODY} bytes, more than a peer message carries`) : ok(readFileSync(path!));
      } catch (e) {
        body = fail("io", `cannot read ${path}: ${diskReason(e)}`);
      }
    }
    if (!body.ok) return body;
    return ok(new BodyReply({ name, size: body.value.length, hash: src.value.hash ?? null }, body.value));
  }
  const dest = args.str("dest");
  if (!dest) return fail("bad_option", "'file get <what> <dest>': name where to write it");
  const target = destinationOf(dest, name);
  const from: BlobReader = reader ?? { info: { dbms: "", table: "", id: name, hash: "", extension: "", date: "", size: 0 }, chunks: () => fileChunks(path!) };
  const written = await writeBlob(from, target);
  if (!written.ok) return written;
  return ok({ file: target, md5: written.value });
}


/** `run client (ip:port) file get <what> <dest>`: asks the one peer, writes its body here. */
async function fileGetAcross(ctx: CommandContext, args: Args, target: NetworkTarget): Promise<Result<Reply>> {
  const peers = target.peers ?? [];
  if (peers.length !== 1) return fail("bad_option", "'run client (ip:port) file get ...' copies from one node: name exactly one peer");
  const dest = args.str("dest");
  if (!dest) return fail("bad_option", "'file get <what> <dest>': name where to write it on this node");
  const items = args.list("source");
  const what = blobSpec(items) ? `(${items.join(", ")})` : items.join(",");
  const from = `${ctx.node.name}@${ctx.node.dictionary.lookup("ip") ?? ""}`;
  const answer = await ctx.node.peers.request(peers[0]!, { command: `file get ${what} -`, from }, target.timeoutMs, { signal: ctx.signal });
  if (!answer.ok) return answer;
  const reply = answer.value;
  if (!reply.ok) return fail(reply.code === "not_found" || reply.code === "bad_option" || reply.code === "bad_value" ? reply.code : "peer_failed", `${peers[0]} answered: ${reply.message}`);
  const meta = (reply.reply ?? {}) as { name?: unknown; hash?: unknown; size?: unknown };
  const name = typeof meta.name === "string" ? meta.name : "file";
  const body = reply.body ?? new Uint8Array(0);
  if (typeof meta.size === "number" && meta.size !== body.length) return fail("peer_failed", `${peers[0]} sent ${body.length} of ${meta.size} bytes of ${name}`);
  const check = blobId(name);
  if (!check.ok) return fail("peer_failed", `${peers[0]} named the file '${name}', not a file name`);
  const path = destinationOf(dest, name);
  const written = await writeBlob({ info: { dbms: "", table: "", id: name, hash: "", extension: "", date: "", size: body.length }, chunks: () => Readable.from([body]) }, path);
  if (!written.ok) return written;
  if (typeof meta.hash === "string" && /^[0-9a-f]{32}$/.test(meta.hash) && meta.hash !== written.value) {
    rmSync(path, { force: true });
    return fail("peer_failed", `${name} from ${peers[0]} does not match its md5 (${meta.hash}): not kept`);
  }
  return ok({ file: path, size: body.length, md5: written.value, from: peers[0] });
}

/** The dbms names that hold blobs here (for `get files count` without a dbms). */
async function blobDbmsNames(node: Node): Promise<string[]> {
  const names = new Set<string>();
  for (const m of mongoConnections(node)) names.add(m.name);
  for (const db of node.databases.list()) {
    const t = await db.tableExists("blobs_files");
    if (t.ok && t.value) names.add(db.name);
  }
  const root = folderStore(node).root;
  try {
    for (const e of readdirSync(root, { withFileTypes: true })) if (e.isDirectory()) names.add(e.name);
  } catch {
    // no blobs folder yet
  }
  return [...names].sort();
}

const filterOptions = {
  dbms: { type: "str", help: "the dbms the blobs belong to" },
  table: { type: "str", help: "the table" },
  id: { type: "str", help: "the blob's id (its file name)" },
  hash: { type: "str", help: "the blob's md5 (or the unique value given when stored)" },
  date: { type: "str", help: "YYMMDD (UTC): the day stored" },
  from: { type: "str", help: "first day, YYMMDD" },
  to: { type: "str", help: "last day, YYMMDD" },
  limit: { type: "int", help: "at most this many files" },
} as const;

addCommands(
  command({
    words: ["file", "retrieve"],
    paths: ["dest"],
    peer: false,
    summary: "Copies blobs out of the blobs database / folder to a file or folder",
    method: "POST",
    options: { ...filterOptions, dest: { type: "str", help: "a folder, or a file name for one blob", required: true } },
    examples: ["file retrieve where dbms = edgex and table = image and id = 9439d99e6b0157b11bc6775f8b0e2490.png and dest = !tmp_dir", "file retrieve where dbms = edgex and table = image and date = 261205 and dest = !tmp_dir/"],
    async handler(ctx, args) {
      const filter = filterOf(args, true);
      if (!filter.ok) return filter;
      const dest = args.str("dest", "");
      const one = filter.value.id !== undefined || (filter.value.hash !== undefined && filter.value.date === undefined);
      if (one) {
        const reader = await openOne(ctx.node, filter.value);
        if (!reader.ok) return reader;
        const path = destinationOf(dest, reader.value.info.id);
        const written = await writeBlob(reader.value, path);
        if (!written.ok) return written;
        return ok({ "AnyLog.status": "Success", files: [{ id: reader.value.info.id, file: path, size: reader.value.info.size }] });
      }
      if (!isDirectory(dest)) return fail("bad_option", `dest '${dest}' is not a folder: several blobs go into a folder (or name one by id)`);
      const listed = await listAll(ctx.node, filter.value);
      if (!listed.ok) return listed;
      const files: Array<{ id: string; file: string; size: number }> = [];
      for (const b of listed.value) {
        const reader = await openOne(ctx.node, { dbms: b.dbms, table: b.table, id: b.id });
        if (!reader.ok) return fail(reader.error.code, `retrieved ${files.length} files, then: ${reader.error.message}`);
        const written = await writeBlob(reader.value, join(dest, b.id));
        if (!written.ok) return fail(written.error.code, `retrieved ${files.length} files, then: ${written.error.message}`);
        files.push({ id: b.id, file: join(dest, b.id), size: b.size });
      }
      return ok({ "AnyLog.status": "Success", files });
    },
  }),
  command({
    words: ["file", "remove"],
    peer: false,
    summary: "Removes blobs (by id, hash or date, or a whole table) from the blobs database and folder",
    method: "POST",
    options: filterOptions,
    examples: ["file remove where dbms = edgex and table = image and id = 9439d99e6b0157b11bc6775f8b0e2490.png", "file remove where dbms = edgex and table = image and date = 261205"],
    async handler(ctx, args) {
      const filter = filterOf(args, true);
      if (!filter.ok) return filter;
      let removed = 0;
      for (const store of readStores(ctx.node, filter.value.dbms)) {
        const r = await store.remove(filter.value);
        if (!r.ok) return fail(r.error.code, `removed ${removed} blobs, then: ${r.error.message}`);
        removed += r.value;
      }
      return ok({ "AnyLog.status": "Success", removed });
    },
  }),
  command({
    words: ["get", "files"],
    summary: "Lists the blobs of a dbms (and table, id, hash, date, limit)",
    method: "GET",
    options: { ...filterOptions, format: { type: "str", help: "json for a list of objects" } },
    examples: ["get files where dbms = edgex and table = image and limit = 100", "get files where dbms = edgex and date = 261205 and format = json"],
    async handler(ctx, args) {
      const filter = filterOf(args, false);
      if (!filter.ok) return filter;
      const listed = await listAll(ctx.node, filter.value);
      if (!listed.ok) return listed;
      if (args.str("format") === "json") return ok(listed.value);
      return ok(textTable(["DBMS", "Table", "Id", "Hash", "Date", "Size", "Store"], listed.value.map((b) => [b.dbms, b.table, b.id, b.hash, b.date, b.size, b.store])));
    },
  }),
  command({
    words: ["get", "files", "count"],
    summary: "Blobs per dbms and table (all dbms when none is named)",
    method: "GET",
    options: { dbms: filterOptions.dbms, table: filterOptions.table, format: { type: "str", help: "json for a list of objects" } },
    async handler(ctx, args) {
      const names = args.has("dbms") ? [args.str("dbms", "")] : await blobDbmsNames(ctx.node);
      const rows: Array<{ dbms: string; table: string; files: number }> = [];
      for (const dbms of names) {
        const filter = filterOf(new Args({}, { dbms, ...(args.has("table") ? { table: args.str("table") } : {}) }), false);
        if (!filter.ok) return filter;
        const byTable = new Map<string, number>();
        const stores: BlobStore[] = readStores(ctx.node, filter.value.dbms);
        for (const store of stores) {
          const c = await store.count(filter.value);
          if (!c.ok) return c;
          for (const x of c.value) byTable.set(x.table, (byTable.get(x.table) ?? 0) + x.files);
        }
        if (stores.length > 1 && [...byTable.values()].some((n) => n > 0)) {
          // a blob kept in the database and in the folder is one file
          const listed = await listAll(ctx.node, filter.value);
          if (!listed.ok) return listed;
          byTable.clear();
          for (const b of listed.value) byTable.set(b.table, (byTable.get(b.table) ?? 0) + 1);
        }
        for (const [table, files] of [...byTable].sort()) rows.push({ dbms: filter.value.dbms, table, files });
      }
      if (args.str("format") === "json") return ok(rows);
      return ok(textTable(["DBMS", "Table", "Files"], rows.map((r) => [r.dbms, r.table, r.files])));
    },
  }),
  command({
    words: ["file", "get"],
    paths: ["source", "dest"],
    summary: "Copies a blob or a file of another node here: run client (ip:port) file get (dbms = ... and table = ... and id = ...) <dest>",
    method: "POST",
    waitsOnNetwork: true,
    positional: [
      { name: "source", type: "any", help: "(dbms = ... and table = ... and id = ... | hash = ...), or a path on the node asked" },
      { name: "dest", type: "str", help: "a folder or file name on this node" },
    ],
    examples: ["run client (10.0.0.78:32148) file get (dbms = edgex and table = image and id = 9439d99e6b0157b11bc6775f8b0e2490.png) !tmp_dir/"],
    handler: fileGet,
    network: fileGetAcross,
  }),
);
