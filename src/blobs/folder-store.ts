/**
 * @module blobs/folder-store
 * Blobs as files: `<blobs_dir>/<dbms>/<table>/<YYMMDD>/<id>` (`<id>.gz` when compressed),
 * each with its metadata beside it in `.<id>.json`. The metadata file is renamed in last,
 * so a blob is there once its metadata is; a crash before leaves a file no one lists, which
 * the next put of that id writes over.
 */
import { createWriteStream, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { createReadStream } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { createGzip, createGunzip } from "node:zlib";
import { diskReason, syncDirectory } from "../util/disk.ts";
import { writeFileAtomic } from "../util/atomic-file.ts";
import { type Result, fail, ok } from "../util/result.ts";
import {
  type BlobCount,
  type BlobFilter,
  type BlobInfo,
  type BlobKey,
  type BlobReader,
  type BlobSource,
  type BlobStore,
  byDateThenId,
  idTaken,
  matches,
  fileChunks,
  sourceChunks,
  writeChunks,
} from "./store.ts";

interface Sidecar extends BlobInfo {
  compressed: boolean;
}

const subdirs = (dir: string): string[] => {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch {
    return [];
  }
};

export class FolderStore implements BlobStore {
  readonly kind = "folder";

  constructor(
    readonly root: string,
    /** New blobs are gzip-compressed (reading follows each blob's own metadata). */
    readonly compress: boolean,
  ) {}

  describe(): string {
    return `folder ${this.root}${this.compress ? " (gzip)" : ""}`;
  }

  private dataPath(s: { dbms: string; table: string; date: string; id: string }, compressed: boolean): string {
    return join(this.root, s.dbms, s.table, s.date, compressed ? `${s.id}.gz` : s.id);
  }

  private metaPath(s: { dbms: string; table: string; date: string; id: string }): string {
    return join(this.root, s.dbms, s.table, s.date, `.${s.id}.json`);
  }

  /** Every blob's metadata that passes the filter (the folders it cannot match are not read). */
  private scan(filter: BlobFilter): Sidecar[] {
    const found: Sidecar[] = [];
    const base = join(this.root, filter.dbms);
    const tables = filter.table !== undefined ? [filter.table] : subdirs(base);
    for (const table of tables) {
      for (const date of subdirs(join(base, table))) {
        if (filter.date !== undefined && date !== filter.date) continue;
        if ((filter.from !== undefined && date < filter.from) || (filter.to !== undefined && date > filter.to)) continue;
        const dir = join(base, table, date);
        let names: string[];
        if (filter.id !== undefined) names = [`.${filter.id}.json`];
        else {
          try {
            names = readdirSync(dir).filter((n) => n.startsWith(".") && n.endsWith(".json"));
          } catch {
            continue;
          }
        }
        for (const name of names) {
          let meta: Sidecar;
          try {
            meta = JSON.parse(readFileSync(join(dir, name), "utf8")) as Sidecar;
          } catch {
            continue; // not there (an id looked for), or not ours
          }
          if (matches(meta, filter)) found.push(meta);
        }
      }
    }
    return found.sort(byDateThenId);
  }

  private one(key: BlobKey): Sidecar | undefined {
    return this.scan({ dbms: key.dbms, table: key.table, id: key.id })[0];
  }

  async put(source: BlobSource, info: BlobInfo): Promise<Result<BlobInfo>> {
    const existing = this.one(info);
    if (existing) return existing.hash === info.hash ? ok(strip(existing)) : idTaken(info, "the blobs folder");
    const meta: Sidecar = { ...info, compressed: this.compress };
    const path = this.dataPath(info, this.compress);
    const dir = join(this.root, info.dbms, info.table, info.date);
    const tmp = join(dir, `.${info.id}.${process.pid}.${Date.now()}.tmp`);
    try {
      mkdirSync(dir, { recursive: true });
      if (this.compress) await pipeline(Readable.from(sourceChunks(source)), createGzip({ level: 6 }), createWriteStream(tmp, { mode: 0o640 }));
      else await writeChunks(tmp, sourceChunks(source));
      renameSync(tmp, path);
      syncDirectory(dir);
    } catch (e) {
      rmSync(tmp, { force: true });
      return fail("io", `cannot store blob ${info.id} in ${dir}: ${diskReason(e)}`);
    }
    const written = writeFileAtomic(this.metaPath(info), JSON.stringify(meta));
    if (!written.ok) {
      rmSync(path, { force: true });
      return written;
    }
    return ok(info);
  }

  async open(key: BlobKey): Promise<Result<BlobReader>> {
    const meta = this.one(key);
    if (!meta) return fail("not_found", `no blob '${key.id}' in ${key.dbms}.${key.table} (${this.describe()})`);
    const path = this.dataPath(meta, meta.compressed);
    try {
      statSync(path);
    } catch (e) {
      return fail("io", `blob ${key.id} is listed but its file cannot be read: ${diskReason(e)}`);
    }
    return ok({
      info: strip(meta),
      chunks: () => (meta.compressed ? createReadStream(path, { highWaterMark: 1024 * 1024 }).pipe(createGunzip()) : fileChunks(path)),
    });
  }

  async remove(filter: BlobFilter): Promise<Result<number>> {
    const found = this.scan(filter);
    let removed = 0;
    try {
      for (const meta of found.slice(0, filter.limit ?? found.length)) {
        rmSync(this.metaPath(meta), { force: true }); // first: a blob without its metadata is not listed
        rmSync(this.dataPath(meta, meta.compressed), { force: true });
        removed++;
      }
    } catch (e) {
      return fail("io", `removed ${removed} blobs, then: ${diskReason(e)}`);
    }
    return ok(removed);
  }

  async list(filter: BlobFilter): Promise<Result<BlobInfo[]>> {
    return ok(this.scan(filter).slice(0, filter.limit ?? Number.MAX_SAFE_INTEGER).map(strip));
  }

  async count(filter: BlobFilter): Promise<Result<BlobCount[]>> {
    const counts = new Map<string, BlobCount>();
    for (const m of this.scan(filter)) {
      const c = counts.get(m.table) ?? { dbms: m.dbms, table: m.table, files: 0 };
      c.files++;
      counts.set(m.table, c);
    }
    return ok([...counts.values()].sort((a, b) => a.table.localeCompare(b.table)));
  }

  async findHash(dbms: string, table: string, hash: string): Promise<Result<BlobInfo | undefined>> {
    const m = this.scan({ dbms, table, hash })[0];
    return ok(m ? strip(m) : undefined);
  }

  async close(): Promise<void> {}
}

function strip(m: Sidecar): BlobInfo {
  return { dbms: m.dbms, table: m.table, id: m.id, hash: m.hash, extension: m.extension, date: m.date, size: m.size };
}
