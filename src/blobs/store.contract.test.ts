/**
 * @module blobs/store.contract.test
 * One suite, every blob store: the folder (plain and gzip), SQLite, PostgreSQL (a throw-away
 * server) and MongoDB GridFS (only with ANYLOG_TEST_MONGO_URL=mongodb://host:port: Debian
 * has no MongoDB server to start here).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PostgresServer } from "../../test/support/postgres.ts";
import { PostgresDatabase } from "../storage/postgres.ts";
import { SqliteDatabase } from "../storage/sqlite.ts";
import { FolderStore } from "./folder-store.ts";
import { MongoStore } from "./mongo-store.ts";
import { SqlStore, abandoned } from "./sql-store.ts";
import { type BlobReader, type BlobStore, dateKey, putBlob } from "./store.ts";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "anylog-blobs-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function bytesOf(reader: BlobReader): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of reader.chunks()) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("hex");

function blobStoreContract(name: string, make: () => Promise<BlobStore>, skip = false): void {
  describe.skipIf(skip)(`blob store contract: ${name}`, () => {
    let store: BlobStore;
    const dbms = "blobs_test";
    test("put then open gives the same bytes, id is <md5>.<extension>", async () => {
      store = await make();
      const bytes = randomBytes(3000);
      const put = await putBlob(store, { bytes }, { dbms, table: "image", extension: "png" });
      expect(put.ok).toBe(true);
      if (!put.ok) return;
      expect(put.value.info).toEqual({ dbms, table: "image", id: `${md5(bytes)}.png`, hash: md5(bytes), extension: "png", date: dateKey(), size: 3000 });
      const opened = await store.open({ dbms, table: "image", id: put.value.info.id });
      expect(opened.ok && (await bytesOf(opened.value)).equals(bytes)).toBe(true);
    });

    test("a 12 MB file goes in and out in chunks, byte for byte", async () => {
      const big = randomBytes(12 * 1024 * 1024 + 17);
      const path = join(tempDir(), "big.bin");
      writeFileSync(path, big);
      const put = await putBlob(store, { path }, { dbms, table: "video", id: "big.bin", date: "260101" });
      expect(put.ok && put.value.info.size).toBe(big.length);
      const opened = await store.open({ dbms, table: "video", id: "big.bin" });
      if (!opened.ok) throw new Error(opened.error.message);
      let chunks = 0;
      const parts: Buffer[] = [];
      for await (const c of opened.value.chunks()) {
        chunks++;
        parts.push(Buffer.from(c));
      }
      expect(chunks).toBeGreaterThan(1);
      expect(md5(Buffer.concat(parts))).toBe(md5(big));
    });

    test("reuse: the same bytes stored twice under reuse are one blob", async () => {
      const bytes = randomBytes(500);
      const a = await putBlob(store, { bytes }, { dbms, table: "reuse", id: "first.jpg" }, { reuse: true });
      const b = await putBlob(store, { bytes }, { dbms, table: "reuse", id: "second.jpg" }, { reuse: true });
      expect(a.ok && !a.value.reused).toBe(true);
      expect(b.ok && b.value.reused && b.value.info.id).toBe("first.jpg");
      const count = await store.count({ dbms, table: "reuse" });
      expect(count.ok && count.value).toEqual([{ dbms, table: "reuse", files: 1 }]);
      // without reuse, a second id is a second copy; the same id with the same bytes is the same blob
      const c = await putBlob(store, { bytes }, { dbms, table: "reuse", id: "second.jpg" });
      const again = await putBlob(store, { bytes }, { dbms, table: "reuse", id: "second.jpg" });
      expect(c.ok && again.ok).toBe(true);
      const count2 = await store.count({ dbms, table: "reuse" });
      expect(count2.ok && count2.value[0]!.files).toBe(2);
    });

    test("an id that holds other bytes is a conflict, and nothing changes", async () => {
      const r = await putBlob(store, { bytes: randomBytes(10) }, { dbms, table: "reuse", id: "first.jpg" });
      expect(!r.ok && r.error.code).toBe("conflict");
      const count = await store.count({ dbms, table: "reuse" });
      expect(count.ok && count.value[0]!.files).toBe(2);
    });

    test("list and count filter by table, date range, hash and limit", async () => {
      for (const [i, date] of ["260301", "260302", "260303"].entries()) {
        const r = await putBlob(store, { bytes: Buffer.from(`frame ${i}`) }, { dbms, table: "frames", extension: "txt", date });
        expect(r.ok).toBe(true);
      }
      const all = await store.list({ dbms, table: "frames" });
      expect(all.ok && all.value.map((b) => b.date)).toEqual(["260301", "260302", "260303"]);
      const range = await store.list({ dbms, table: "frames", from: "260302", to: "260303" });
      expect(range.ok && range.value.length).toBe(2);
      const day = await store.list({ dbms, table: "frames", date: "260301" });
      expect(day.ok && day.value.length).toBe(1);
      const limited = await store.list({ dbms, table: "frames", limit: 2 });
      expect(limited.ok && limited.value.length).toBe(2);
      const byHash = await store.list({ dbms, hash: md5(Buffer.from("frame 1")) });
      expect(byHash.ok && byHash.value.map((b) => b.table + "/" + b.date)).toEqual(["frames/260302"]);
      const counts = await store.count({ dbms });
      expect(counts.ok && Object.fromEntries(counts.value.map((c) => [c.table, c.files]))).toEqual({ frames: 3, image: 1, reuse: 2, video: 1 });
      const found = await store.findHash(dbms, "frames", md5(Buffer.from("frame 2")));
      expect(found.ok && found.value?.date).toBe("260303");
      const none = await store.findHash(dbms, "frames", md5(Buffer.from("no such")));
      expect(none.ok && none.value).toBeUndefined();
    });

    test("remove by id, by date, by table; an unknown id is not_found", async () => {
      const byId = await store.remove({ dbms, table: "reuse", id: "second.jpg" });
      expect(byId.ok && byId.value).toBe(1);
      const gone = await store.open({ dbms, table: "reuse", id: "second.jpg" });
      expect(!gone.ok && gone.error.code).toBe("not_found");
      const byDate = await store.remove({ dbms, table: "frames", date: "260301" });
      expect(byDate.ok && byDate.value).toBe(1);
      const byTable = await store.remove({ dbms, table: "frames" });
      expect(byTable.ok && byTable.value).toBe(2);
      const left = await store.count({ dbms, table: "frames" });
      expect(left.ok && left.value).toEqual([]);
      const nothing = await store.remove({ dbms, table: "frames", id: "nope" });
      expect(nothing.ok && nothing.value).toBe(0);
    });

    test("a missing source file and a wrong md5 are errors that store nothing", async () => {
      const missing = await putBlob(store, { path: join(tempDir(), "absent.png") }, { dbms, table: "errs" });
      expect(!missing.ok && missing.error.code).toBe("not_found");
      const wrong = await putBlob(store, { bytes: Buffer.from("x") }, { dbms, table: "errs", hash: "0".repeat(32) });
      expect(!wrong.ok && wrong.error.code).toBe("bad_value");
      const badTable = await putBlob(store, { bytes: Buffer.from("x") }, { dbms, table: "a/b" });
      expect(!badTable.ok && badTable.error.code).toBe("bad_value");
      const count = await store.count({ dbms, table: "errs" });
      expect(count.ok && count.value).toEqual([]);
      await store.close();
    });
  });
}

blobStoreContract("folder", async () => new FolderStore(tempDir(), false));
blobStoreContract("folder, gzip", async () => new FolderStore(tempDir(), true));
blobStoreContract("sqlite", async () => {
  const db = SqliteDatabase.open({ name: "blobs_test", engine: "sqlite", directory: tempDir() });
  if (!db.ok) throw new Error(db.error.message);
  return new SqlStore(db.value);
});

let pg: PostgresServer | undefined;
afterAll(async () => pg?.stop());
blobStoreContract("psql", async () => {
  pg = await PostgresServer.start();
  const db = await PostgresDatabase.open({ name: "blobs_test", engine: "psql", directory: "", host: "127.0.0.1", port: pg.port, user: "postgres" });
  if (!db.ok) throw new Error(db.error.message);
  return new SqlStore(db.value);
});

// MongoDB: no Debian server to start; run with ANYLOG_TEST_MONGO_URL=mongodb://127.0.0.1:27017
const mongoUrl = process.env.ANYLOG_TEST_MONGO_URL;
blobStoreContract(
  "mongo (GridFS)",
  async () => {
    const u = new URL(mongoUrl!);
    const name = `contract_${process.pid}`;
    const s = await MongoStore.connect({ name, host: u.hostname, port: Number(u.port || 27017), user: u.username || undefined, password: u.password || undefined });
    if (!s.ok) throw new Error(s.error.message);
    await s.value.dropAll();
    return s.value;
  },
  !mongoUrl,
);

describe("sql store after a crash", () => {
  test("chunks a put left pending over an hour ago (or from a build whose ids carry no time) are removed when a store opens; a recent put's are kept", async () => {
    const dir = tempDir();
    const db = SqliteDatabase.open({ name: "blobs_crash", engine: "sqlite", directory: dir });
    if (!db.ok) throw new Error(db.error.message);
    const first = new SqlStore(db.value);
    expect((await first.list({ dbms: "d" })).ok).toBe(true); // the tables exist
    const now = Date.now();
    const ids = { old: `.pending.${now - 2 * 3600_000}.a`, untimed: ".pending.0b7c-uuid-of-an-older-build", recent: `.pending.${now - 60_000}.c` };
    for (const id of Object.values(ids)) for (const seq of [0, 1]) expect((await db.value.exec("INSERT INTO blobs_chunks (tbl, id, seq, data) VALUES (?, ?, ?, ?)", ["t", id, seq, Buffer.alloc(10)])).ok).toBe(true);
    expect(abandoned(ids.untimed, now)).toBe(true);
    // the node starts again: a new store on the same database
    const again = new SqlStore(db.value);
    expect((await again.list({ dbms: "d" })).ok).toBe(true);
    const left = await db.value.query("SELECT DISTINCT id FROM blobs_chunks ORDER BY id");
    expect(left.ok && left.value.map((r) => r.id)).toEqual([ids.recent]);
    const put = await putBlob(again, { bytes: Buffer.alloc(3 * 1024 * 1024, 1) }, { dbms: "d", table: "t", id: "x.bin", date: "261205" });
    expect(put.ok).toBe(true);
  });
});

describe("folder store layout", () => {
  test("blobs sit under <dbms>/<table>/<YYMMDD>/, gzip ones as .gz", async () => {
    const root = tempDir();
    const store = new FolderStore(root, true);
    const r = await putBlob(store, { bytes: Buffer.alloc(100_000, 7) }, { dbms: "d", table: "t", id: "pic.png", date: "261205" });
    expect(r.ok).toBe(true);
    const names = readdirSync(join(root, "d", "t", "261205")).sort();
    expect(names).toEqual([".pic.png.json", "pic.png.gz"]);
  });
});

describe("mongo connection errors", () => {
  test("an unreachable server is 'unavailable', named", async () => {
    const r = await MongoStore.connect({ name: "x", host: "127.0.0.1", port: 1 });
    expect(!r.ok && r.error.code).toBe("unavailable");
    expect(!r.ok && r.error.message).toContain("127.0.0.1:1");
  }, 15000);
});
