/**
 * @module blobs/mongo-store
 * Blobs in MongoDB GridFS: `connect dbms <name> where type = mongo ...` keeps the blobs of
 * dbms `<name>` in the MongoDB database `<name>_blobs` (seed 003), one GridFS bucket per table,
 * the blob id as the GridFS file name and its hash, extension and date in the metadata. GridFS
 * writes the file document after the last chunk, so a blob is listed only once it is whole.
 * The `mongodb` driver loads on the first mongo `connect dbms`.
 */
import type { Db, GridFSBucket, MongoClient } from "mongodb";
import { type Result, errorText, fail, ok } from "../util/result.ts";
import {
  type BlobCount,
  type BlobFilter,
  type BlobInfo,
  type BlobKey,
  type BlobReader,
  type BlobSource,
  type BlobStore,
  CHUNK_BYTES,
  byDateThenId,
  idTaken,
  sourceChunks,
} from "./store.ts";

interface FileDoc {
  _id: unknown;
  filename: string;
  length: number;
  metadata?: { hash?: string; extension?: string; date?: string };
}

export interface MongoOptions {
  name: string;
  host: string;
  port: number;
  user?: string;
  password?: string;
}

/** MongoDB's answer to a failure, as a value (a server away is `unavailable`). */
function mongoError(what: string, e: unknown): Result<never> {
  const name = e instanceof Error ? e.name : "";
  const transient = /MongoServerSelection|MongoNetwork|MongoTopologyClosed|MongoNotConnected/.test(name);
  return fail(transient ? "unavailable" : "io", `${what}: ${errorText(e)}`);
}

export class MongoStore implements BlobStore {
  readonly kind = "mongo";

  private constructor(
    readonly name: string,
    private readonly client: MongoClient,
    private readonly db: Db,
    private readonly where: string,
    private readonly GridFS: typeof GridFSBucket,
  ) {}

  /** Connects (and checks the server answers within 5 s). */
  static async connect(options: MongoOptions): Promise<Result<MongoStore>> {
    const { MongoClient, GridFSBucket } = await import("mongodb");
    const auth = options.user ? `${encodeURIComponent(options.user)}:${encodeURIComponent(options.password ?? "")}@` : "";
    const host = options.host.includes(":") && !options.host.startsWith("[") ? `[${options.host}]` : options.host;
    const client = new MongoClient(`mongodb://${auth}${host}:${options.port}/`, { serverSelectionTimeoutMS: 5000, connectTimeoutMS: 5000 });
    const where = `mongodb://${host}:${options.port}/${options.name}_blobs`;
    try {
      await client.connect();
      const db = client.db(`${options.name}_blobs`);
      await db.command({ ping: 1 });
      return ok(new MongoStore(options.name, client, db, where, GridFSBucket));
    } catch (e) {
      await client.close().catch(() => {});
      return mongoError(`cannot connect dbms '${options.name}' to MongoDB at ${host}:${options.port}`, e);
    }
  }

  describe(): string {
    return `mongo ${this.where} (GridFS, a bucket per table)`;
  }

  private bucket(table: string): GridFSBucket {
    return new this.GridFS(this.db, { bucketName: table, chunkSizeBytes: CHUNK_BYTES });
  }

  /** The tables (buckets) a filter reads. */
  private async tables(filter: BlobFilter): Promise<string[]> {
    if (filter.table !== undefined) return [filter.table];
    const collections = await this.db.listCollections({}, { nameOnly: true }).toArray();
    return collections.map((c) => c.name).filter((n) => n.endsWith(".files")).map((n) => n.slice(0, -".files".length)).sort();
  }

  private query(filter: BlobFilter): Record<string, unknown> {
    const q: Record<string, unknown> = {};
    if (filter.id !== undefined) q.filename = filter.id;
    if (filter.hash !== undefined) q["metadata.hash"] = filter.hash;
    const date: Record<string, string> = {};
    if (filter.date !== undefined) q["metadata.date"] = filter.date;
    if (filter.from !== undefined) date.$gte = filter.from;
    if (filter.to !== undefined) date.$lte = filter.to;
    if (Object.keys(date).length > 0 && filter.date === undefined) q["metadata.date"] = date;
    return q;
  }

  private info(dbms: string, table: string, d: FileDoc): BlobInfo {
    return { dbms, table, id: d.filename, hash: d.metadata?.hash ?? "", extension: d.metadata?.extension ?? "", date: d.metadata?.date ?? "", size: d.length };
  }

  private async docs(table: string, filter: BlobFilter): Promise<FileDoc[]> {
    const cursor = this.bucket(table).find(this.query(filter), { sort: { "metadata.date": 1, filename: 1 } });
    if (filter.limit !== undefined) cursor.limit(filter.limit);
    return (await cursor.toArray()) as unknown as FileDoc[];
  }

  async put(source: BlobSource, info: BlobInfo): Promise<Result<BlobInfo>> {
    try {
      const [existing] = await this.docs(info.table, { dbms: info.dbms, id: info.id, limit: 1 });
      if (existing) return existing.metadata?.hash === info.hash ? ok(this.info(info.dbms, info.table, existing)) : idTaken(info, this.describe());
      const upload = this.bucket(info.table).openUploadStream(info.id, { metadata: { hash: info.hash, extension: info.extension, date: info.date }, chunkSizeBytes: CHUNK_BYTES });
      try {
        for await (const chunk of sourceChunks(source)) {
          if (!upload.write(chunk)) await new Promise<void>((resolve) => upload.once("drain", () => resolve()));
        }
        await new Promise<void>((resolve, reject) => {
          upload.once("error", reject);
          upload.end(() => resolve());
        });
      } catch (e) {
        await upload.abort().catch(() => {});
        throw e;
      }
      return ok(info);
    } catch (e) {
      return mongoError(`cannot store blob ${info.id} in ${this.where}`, e);
    }
  }

  async open(key: BlobKey): Promise<Result<BlobReader>> {
    try {
      const [doc] = await this.docs(key.table, { dbms: key.dbms, id: key.id, limit: 1 });
      if (!doc) return fail("not_found", `no blob '${key.id}' in ${key.dbms}.${key.table} (${this.describe()})`);
      const bucket = this.bucket(key.table);
      return ok({ info: this.info(key.dbms, key.table, doc), chunks: () => bucket.openDownloadStream(doc._id as never) });
    } catch (e) {
      return mongoError(`cannot read blob ${key.id} from ${this.where}`, e);
    }
  }

  async remove(filter: BlobFilter): Promise<Result<number>> {
    let removed = 0;
    try {
      for (const table of await this.tables(filter)) {
        const bucket = this.bucket(table);
        for (const d of await this.docs(table, filter)) {
          await bucket.delete(d._id as never);
          removed++;
        }
      }
      return ok(removed);
    } catch (e) {
      return mongoError(`removed ${removed} blobs from ${this.where}, then`, e);
    }
  }

  async list(filter: BlobFilter): Promise<Result<BlobInfo[]>> {
    try {
      const all: BlobInfo[] = [];
      for (const table of await this.tables(filter)) all.push(...(await this.docs(table, filter)).map((d) => this.info(filter.dbms, table, d)));
      return ok(all.sort(byDateThenId).slice(0, filter.limit ?? all.length));
    } catch (e) {
      return mongoError(`cannot list blobs in ${this.where}`, e);
    }
  }

  async count(filter: BlobFilter): Promise<Result<BlobCount[]>> {
    try {
      const counts: BlobCount[] = [];
      for (const table of await this.tables(filter)) {
        const files = await this.db.collection(`${table}.files`).countDocuments(this.query(filter));
        if (files > 0) counts.push({ dbms: filter.dbms, table, files });
      }
      return ok(counts);
    } catch (e) {
      return mongoError(`cannot count blobs in ${this.where}`, e);
    }
  }

  async findHash(dbms: string, table: string, hash: string): Promise<Result<BlobInfo | undefined>> {
    try {
      const [d] = await this.docs(table, { dbms, hash, limit: 1 });
      return ok(d ? this.info(dbms, table, d) : undefined);
    } catch (e) {
      return mongoError(`cannot look for a blob in ${this.where}`, e);
    }
  }

  /** Drops the whole blobs database (tests, `drop dbms`). */
  async dropAll(): Promise<void> {
    await this.db.dropDatabase();
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => {});
  }
}
