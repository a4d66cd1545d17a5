/**
 * Blobs end to end with real processes: a 10 MB image stored with `file store` on one node
 * (SQLite, then PostgreSQL blobs tables, then the blobs folder) and copied to another node
 * with `run client (ip:port) file get ...`, byte for byte; `reuse_blobs` keeps one copy; a
 * REST multipart upload; `file retrieve`, `file remove`, `get files [count]`; every error
 * path answers clearly and leaves nothing half-written.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OperatorNode, command, select, waitFor } from "./support/operator.ts";
import { PostgresServer } from "./support/postgres.ts";
import { stopScriptNodes } from "./support/script-node.ts";

setDefaultTimeout(120_000);

const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("hex");
const root = mkdtempSync(join(tmpdir(), "anylog-blobs-e2e-"));
let pg: PostgresServer | undefined;

afterAll(async () => {
  await stopScriptNodes();
  await pg?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** A 10 MB "image": random bytes behind a PNG signature. */
function image(path: string): Buffer {
  const bytes = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(10 * 1024 * 1024)]);
  writeFileSync(path, bytes);
  return bytes;
}

const json = <T>(text: string): T => JSON.parse(text) as T;

for (const kind of ["sqlite", "psql", "folder"] as const) {
  describe(`blobs on two nodes (${kind} store)`, () => {
    let a: OperatorNode;
    let b: OperatorNode;
    const dir = join(root, kind);
    let img: Buffer;
    let imgPath: string;
    // the folder store: the dbms has no blobs database connected
    const dbms = kind === "folder" ? "cams" : "edgex";

    beforeAll(async () => {
      mkdirSync(dir, { recursive: true });
      if (kind === "psql") pg ??= await PostgresServer.start();
      const engine = kind === "psql" ? "psql" : "sqlite";
      [a, b] = await Promise.all([
        OperatorNode.start({ engine, pg, dir: join(dir, "a"), dbms: "edgex" }),
        OperatorNode.start({ engine: "sqlite", dir: join(dir, "b"), dbms: "other" }),
      ]);
      imgPath = join(dir, "camera1.png");
      img = image(imgPath);
    });

    test("a 10 MB image stored, then copied to another node with run client file get, byte for byte", async () => {
      const stored = await command(a.url, `file store where dbms = ${dbms} and table = image and file = ${imgPath}`, true);
      expect(stored.status).toBe(200);
      const s = json<{ id: string; hash: string; size: number; store: string }>(stored.text);
      expect(s.hash).toBe(md5(img));
      expect(s.id).toBe(`${md5(img)}.png`);
      expect(s.size).toBe(img.length);
      expect(s.store).toStartWith(kind);

      const into = join(dir, "b-got");
      mkdirSync(into, { recursive: true });
      const got = await command(b.url, `run client (127.0.0.1:${a.tcpPort}) file get (dbms = ${dbms} and table = image and id = ${s.id}) ${into}`, true);
      expect(got.status).toBe(200);
      const copied = readFileSync(join(into, s.id));
      expect(copied.length).toBe(img.length);
      expect(copied.equals(img)).toBe(true);
      // by hash, to a file name of its own
      const byHash = await command(b.url, `run client (127.0.0.1:${a.tcpPort}) file get (dbms = ${dbms} and table = image and hash = ${s.hash}) ${join(into, "renamed.png")}`, true);
      expect(byHash.status).toBe(200);
      expect(md5(readFileSync(join(into, "renamed.png")))).toBe(md5(img));
    });

    test("stored twice with reuse_blobs: one copy, the second store says reused", async () => {
      const again = await command(a.url, `file store where dbms = ${dbms} and table = image and file = ${imgPath} and id = second.png and reuse_blobs = true`, true);
      expect(again.status).toBe(200);
      const r = json<{ id: string; reused: boolean }>(again.text);
      expect(r.reused).toBe(true);
      expect(r.id).toBe(`${md5(img)}.png`);
      const count = await command(a.url, `get files count where dbms = ${dbms} and format = json`);
      expect(json(count.text)).toEqual([{ dbms, table: "image", files: 1 }]);
    });

    test("file retrieve writes the original bytes; get files lists it", async () => {
      const out = join(dir, "retrieved");
      mkdirSync(out, { recursive: true });
      const r = await command(a.url, `file retrieve where dbms = ${dbms} and table = image and id = ${md5(img)}.png and dest = ${out}`, true);
      expect(r.status).toBe(200);
      expect(readFileSync(join(out, `${md5(img)}.png`)).equals(img)).toBe(true);
      const listed = await command(a.url, `get files where dbms = ${dbms} and table = image and format = json`);
      const files = json<Array<{ id: string; size: number; hash: string }>>(listed.text);
      expect(files.map((f) => [f.id, f.size, f.hash])).toEqual([[`${md5(img)}.png`, img.length, md5(img)]]);
      const text = await command(a.url, `get files where dbms = ${dbms}`);
      expect(text.text).toContain(`${md5(img)}.png`);
    });

    test("a REST multipart upload (curl -F) is stored under its dest", async () => {
      const small = randomBytes(4096);
      const form = new FormData();
      form.append("file", new Blob([small]), "upload.bin");
      const r = await fetch(`${a.url}/`, { method: "POST", headers: { command: `file store where dbms = ${dbms} and table = uploads and dest = upload.bin`, "User-Agent": "AnyLog/1.23" }, body: form });
      expect(r.status).toBe(200);
      const s = json<{ id: string; hash: string }>(await r.text());
      expect(s).toMatchObject({ id: "upload.bin", hash: md5(small) });
      const out = join(dir, "upload-copy.bin");
      const back = await command(a.url, `file retrieve where dbms = ${dbms} and table = uploads and id = upload.bin and dest = ${out}`, true);
      expect(back.status).toBe(200);
      expect(readFileSync(out).equals(small)).toBe(true);
    });

    test("errors: missing file, unknown id, bad options, other bytes under a taken id, unreachable peer", async () => {
      const missing = await command(a.url, `file store where dbms = ${dbms} and table = image and file = ${join(dir, "nope.png")}`, true);
      expect(missing.status).toBe(404);
      expect(missing.text).toContain("nope.png");
      const noTable = await command(a.url, `file store where dbms = ${dbms} and file = ${imgPath}`, true);
      expect(noTable.status).toBe(400);
      expect(noTable.text).toContain("table");
      const badHash = await command(a.url, `file store where dbms = ${dbms} and table = image and file = ${imgPath} and hash = ${"0".repeat(32)}`, true);
      expect(badHash.status).toBe(400);
      const taken = await command(a.url, `file store where dbms = ${dbms} and table = image and file = ${join(dir, "b-got", "renamed.png")} and id = ${md5(img)}.png`, true);
      expect(taken.status).toBe(200); // the same bytes under the same id: already stored
      writeFileSync(join(dir, "other.png"), "other bytes");
      const conflict = await command(a.url, `file store where dbms = ${dbms} and table = image and file = ${join(dir, "other.png")} and id = ${md5(img)}.png`, true);
      expect(conflict.status).toBe(409);
      const unknown = await command(a.url, `file retrieve where dbms = ${dbms} and table = image and id = unknown.png and dest = ${join(dir, "x.png")}`, true);
      expect(unknown.status).toBe(404);
      expect(existsSync(join(dir, "x.png"))).toBe(false);
      const badDate = await command(a.url, `get files where dbms = ${dbms} and date = yesterday`);
      expect(badDate.status).toBe(400);
      const remoteUnknown = await command(b.url, `run client (127.0.0.1:${a.tcpPort}) file get (dbms = ${dbms} and table = image and id = unknown.png) ${join(dir, "y.png")}`, true);
      expect(remoteUnknown.status).toBe(404);
      expect(existsSync(join(dir, "y.png"))).toBe(false);
      const noPeer = await command(b.url, `run client (127.0.0.1:1) file get (dbms = ${dbms} and table = image and id = x.png) ${join(dir, "z.png")}`, true);
      expect(noPeer.status).toBe(502);
      expect(existsSync(join(dir, "z.png"))).toBe(false);
      const count = await command(a.url, `get files count where dbms = ${dbms} and format = json`);
      expect(json(count.text)).toEqual([{ dbms, table: "image", files: 1 }, { dbms, table: "uploads", files: 1 }]);
    });

    test("file remove takes the blob away; a publisher's file store still needs its payload", async () => {
      const r = await command(a.url, `file remove where dbms = ${dbms} and table = image and id = ${md5(img)}.png`, true);
      expect(json(r.text)).toMatchObject({ removed: 1 });
      const count = await command(a.url, `get files count where dbms = ${dbms} and table = image and format = json`);
      expect(json(count.text)).toEqual([]);
      const peerFile = await command(a.url, "file store where name = edgex.t.0.abc.json", true);
      expect(peerFile.status).toBe(400);
      expect(peerFile.text).toContain("payload");
      if (kind === "folder") expect(readdirSync(join(a.home, "data", "blobs", dbms))).toContain("uploads");
    });

    afterAll(async () => {
      await Promise.all([a?.node.stop(), b?.node.stop()]);
    });
  });
}

describe("the Blobs Archiver with an operator", () => {
  let op: OperatorNode;
  const dir = join(root, "archiver");
  const bwatch = () => join(op.home, "data", "bwatch");

  beforeAll(async () => {
    op = await OperatorNode.start({
      engine: "sqlite",
      dir,
      dbms: "edgex",
      before: ["run blobs archiver where dbms = true and folder = true and compress = true and reuse_blobs = true"],
    });
  });
  afterAll(async () => op?.node.stop());

  test("a JSON file that references a blob file and the same bytes in base64: two rows, one blob (in the database and the folder)", async () => {
    const bytes = randomBytes(200_000);
    writeFileSync(join(bwatch(), "cam1.png"), bytes);
    const rows = [
      { ts: "2026-12-05 10:00:00", camera: "c1", file: { blob: "cam1.png" } },
      { ts: "2026-12-05 10:00:01", camera: "c2", file: { base64: bytes.toString("base64"), extension: "png" } },
    ];
    writeFileSync(join(bwatch(), "edgex.image.0.json"), rows.map((r) => JSON.stringify(r)).join("\n"));
    const id = `${md5(bytes)}.png`;
    const found = await waitFor("the archived rows", async () => {
      const r = await select(op, "edgex", "select camera, file from image order by camera");
      return r.length === 2 ? r : undefined;
    });
    expect(found).toEqual([{ camera: "c1", file: id }, { camera: "c2", file: id }]);
    const info = json<Record<string, unknown>>((await command(op.url, "get blobs archiver")).text);
    expect(info).toMatchObject({ status: "Running", files_processed: 1, rows: 2, blobs_stored: 1, blobs_reused: 1, errors: 0 });
    // the JSON file and the blob file beside it are gone; the blob is in the sqlite blobs tables and, gzip'd, in the folder
    expect(readdirSync(bwatch())).toEqual([]);
    const count = await command(op.url, "get files count where dbms = edgex and format = json");
    expect(json(count.text)).toEqual([{ dbms: "edgex", table: "image", files: 1 }]);
    const dateDirs = readdirSync(join(op.home, "data", "blobs", "edgex", "image"));
    expect(readdirSync(join(op.home, "data", "blobs", "edgex", "image", dateDirs[0]!))).toContain(`${id}.gz`);
    const out = join(dir, "out.png");
    await command(op.url, `file retrieve where dbms = edgex and table = image and id = ${id} and dest = ${out}`, true);
    expect(readFileSync(out).equals(bytes)).toBe(true);
  });

  test("a file naming a blob that is not there goes to the error directory with its reason; no row is stored", async () => {
    writeFileSync(join(bwatch(), "edgex.image.1.json"), JSON.stringify({ ts: "2026-12-05 11:00:00", camera: "c3", file: { blob: "missing.png" } }));
    const reason = await waitFor("the error file", () => {
      const p = join(op.errorDir, "edgex.image.1.json.err.txt");
      return existsSync(p) ? readFileSync(p, "utf8") : undefined;
    });
    expect(reason).toContain("missing.png");
    const rows = await select(op, "edgex", "select count(*) as n from image where camera = 'c3'");
    expect(rows).toEqual([{ n: 0 }]);
    const info = json<{ last_error: string; errors: number }>((await command(op.url, "get blobs archiver")).text);
    expect(info.errors).toBe(1);
    expect(info.last_error).toContain("missing.png");
  });

  test("a dbms without a blobs database waits (the file stays) and is taken once one is connected", async () => {
    writeFileSync(join(bwatch(), "later.image.0.json"), JSON.stringify({ ts: "2026-12-05 12:00:00", camera: "c4", file: { base64: Buffer.from("later").toString("base64"), extension: "txt" } }));
    const waiting = await waitFor("the archiver's error", async () => {
      const info = json<{ last_error: string | null }>((await command(op.url, "get blobs archiver")).text);
      return info.last_error?.includes("later") ? info.last_error : undefined;
    });
    expect(waiting).toContain("connect dbms later");
    expect(readdirSync(bwatch())).toContain("later.image.0.json");
    expect((await command(op.url, "connect dbms later where type = sqlite", true)).status).toBe(200);
    const rows = await waitFor("the waiting file's row", async () => {
      const r = await select(op, "later", "select camera, file from image");
      return r.length === 1 ? r : undefined;
    });
    expect(rows).toEqual([{ camera: "c4", file: `${md5(Buffer.from("later"))}.txt` }]);
  });

  test("run blobs archiver with nowhere to keep blobs is refused", async () => {
    expect((await command(op.url, "exit blobs archiver", true)).status).toBe(200);
    const r = await command(op.url, "run blobs archiver where dbms = false and folder = false", true);
    expect(r.status).toBe(400);
    expect(r.text).toContain("dbms = false and folder = false");
  });
});

describe("blobs from a message client (a camera's base64 image)", () => {
  let op: OperatorNode;
  const dir = join(root, "mqtt");

  beforeAll(async () => {
    op = await OperatorNode.start({ engine: "sqlite", dir, dbms: "edgex" });
    const run = await command(
      op.url,
      'run msg client where broker = rest and log = false and topic = (name = images and dbms = edgex and table = image and column.ts.timestamp = now and column.device.str = "bring [deviceName]" and column.file = (value = "bring [readings][][binaryValue]" and blob = true and apply = base64decoding and extension = png and hash = md5) and column.profile = (value = "bring [readings][][profileName]" and type = str))',
      true,
    );
    if (run.status !== 200) throw new Error(`run msg client: ${run.status} ${run.text}`);
  });
  afterAll(async () => op?.node.stop());

  const postData = (body: unknown) =>
    fetch(`${op.url}/`, { method: "POST", headers: { command: "data", topic: "images", "User-Agent": "AnyLog/1.23" }, body: JSON.stringify(body) });

  test("the payload lands as a row plus a blob, and file retrieve gives back the original bytes", async () => {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(300_000)]);
    const r = await postData({ deviceName: "Camera001", readings: [{ binaryValue: png.toString("base64"), profileName: "camera", mediaType: "image/png" }] });
    expect(r.status).toBe(200);
    const id = `${md5(png)}.png`;
    const rows = await waitFor("the camera row", async () => {
      const x = await select(op, "edgex", "select device, file, profile from image");
      return x.length === 1 ? x : undefined;
    });
    expect(rows).toEqual([{ device: "Camera001", file: id, profile: "camera" }]);
    const out = join(dir, "back.png");
    const back = await command(op.url, `file retrieve where dbms = edgex and table = image and id = ${id} and dest = ${out}`, true);
    expect(back.status).toBe(200);
    expect(readFileSync(out).equals(png)).toBe(true);
    // edgex is connected (sqlite): the blob is in its blobs tables
    const files = json<Array<{ id: string; store: string }>>((await command(op.url, "get files where dbms = edgex and format = json")).text);
    expect(files).toEqual([expect.objectContaining({ id, store: "sqlite" })]);
  });

  test("text that is not base64 is refused with the reason, and neither a row nor a blob is stored", async () => {
    const r = await postData({ deviceName: "Camera002", readings: [{ binaryValue: "*** not base64 ***", profileName: "camera" }] });
    expect(r.status).toBe(400);
    expect(await r.text()).toContain("not base64");
    const rows = await select(op, "edgex", "select count(*) as n from image where device = 'Camera002'");
    expect(rows).toEqual([{ n: 0 }]);
    const count = json((await command(op.url, "get files count where dbms = edgex and format = json")).text);
    expect(count).toEqual([{ dbms: "edgex", table: "image", files: 1 }]);
  });
});
