/**
 * @module blobs/stores
 * Which store holds the blobs of a dbms on this node. A blobs database is, in this order: a
 * MongoDB connection (`connect dbms <name> where type = mongo`, kept here, apart from the SQL
 * databases, so `mydb` can be PostgreSQL for rows and MongoDB for blobs as seed 003 has it),
 * then a connected SQL database of that name (SQLite or PostgreSQL: its `blobs_files` and
 * `blobs_chunks` tables); either found as `<name>` or as `blobs_<name>` (AnyLog's naming of a
 * blobs dbms). The blobs folder (`!blobs_dir`) is the other place; reads look in both.
 */
import type { Node } from "../node/node.ts";
import { nodeSlot } from "../node/slot.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { FolderStore } from "./folder-store.ts";
import { MongoStore, type MongoOptions } from "./mongo-store.ts";
import { SqlStore } from "./sql-store.ts";
import type { BlobStore } from "./store.ts";
import { join } from "node:path";

interface NodeBlobs {
  mongo: Map<string, MongoStore>;
  /** SQL stores by database object (a reconnected database gets a new store). */
  sql: WeakMap<object, SqlStore>;
}

const blobsOf = nodeSlot((node: Node): NodeBlobs => {
  const state: NodeBlobs = { mongo: new Map(), sql: new WeakMap() };
  node.onStopping(() => {
    const all = [...state.mongo.values()];
    state.mongo.clear();
    // closed once the processes that write blobs have stopped (they stop right after this)
    setTimeout(() => void Promise.all(all.map((s) => s.close())), 3000).unref();
  });
  return state;
});

/** `connect dbms <name> where type = mongo`: connecting one already connected changes nothing. */
export async function connectMongo(node: Node, options: MongoOptions): Promise<Result<MongoStore>> {
  const state = blobsOf(node);
  const key = options.name.toLowerCase();
  const existing = state.mongo.get(key);
  if (existing) return ok(existing);
  const connected = await MongoStore.connect({ ...options, name: key });
  if (connected.ok) state.mongo.set(key, connected.value);
  return connected;
}

export async function disconnectMongo(node: Node, name: string): Promise<boolean> {
  const state = blobsOf(node);
  const store = state.mongo.get(name.toLowerCase());
  if (!store) return false;
  state.mongo.delete(name.toLowerCase());
  await store.close();
  return true;
}

export function mongoConnections(node: Node): MongoStore[] {
  return [...blobsOf(node).mongo.values()];
}

/** The blobs database of `dbms` on this node, or undefined when none is connected. */
export function databaseStore(node: Node, dbms: string): BlobStore | undefined {
  const state = blobsOf(node);
  const names = [dbms.toLowerCase(), `blobs_${dbms.toLowerCase()}`];
  for (const n of names) {
    const m = state.mongo.get(n);
    if (m) return m;
  }
  for (const n of names) {
    const db = node.databases.get(n);
    if (!db) continue;
    let s = state.sql.get(db.cacheKey);
    if (!s) {
      s = new SqlStore(db);
      state.sql.set(db.cacheKey, s);
    }
    return s;
  }
  return undefined;
}

/** The blobs folder a running archiver was given (`blobs_dir = ...`), which reads then look in. */
export const blobsFolder = nodeSlot((): { dir?: string } => ({}));

/** The blobs folder: the archiver's, else `!blobs_dir`. */
export function folderStore(node: Node, compress = false): FolderStore {
  const dir = blobsFolder(node).dir ?? node.dictionary.lookup("blobs_dir") ?? join(node.dictionary.lookup("anylog_path") ?? ".", "data", "blobs");
  return new FolderStore(dir, compress);
}

/** Where `file store` puts a blob of `dbms`: its blobs database if one is connected, else the folder. */
export function storeFor(node: Node, dbms: string): BlobStore {
  return databaseStore(node, dbms) ?? folderStore(node);
}

/** Where reads look for blobs of `dbms`: its blobs database (if any), then the folder. */
export function readStores(node: Node, dbms: string): BlobStore[] {
  const db = databaseStore(node, dbms);
  return db ? [db, folderStore(node)] : [folderStore(node)];
}

/** The blobs database of `dbms`, or an error that says how to connect one. */
export function requireDatabaseStore(node: Node, dbms: string): Result<BlobStore> {
  const s = databaseStore(node, dbms);
  return s
    ? ok(s)
    : fail("unavailable", `no blobs database for dbms '${dbms}': 'connect dbms ${dbms} where type = mongo and ip = ... and port = 27017' (or sqlite / psql), or keep blobs in folders (folder = true and dbms = false)`);
}
