/**
 * Causes outside the data, on a real operator: the data is never refused as bad nor lost.
 *  - PostgreSQL stops: a streaming PUT answers 503 naming the database (the client keeps its
 *    data and sends again); a file-mode PUT is safe on disk (200); files stay in the watch
 *    directory, not the error directory, and are stored once the server is back.
 *  - The disk is full (the node's home on a small tmpfs): a PUT answers 500 saying the disk
 *    is full, a file stays in the watch directory; once there is room again it is stored,
 *    and the table holds exactly the acknowledged rows.
 * Mounting the tmpfs needs root, as `make test` runs.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { OperatorNode, dropFile, operatorInfo, put, scalar, waitFor } from "./support/operator.ts";
import { PostgresServer } from "./support/postgres.ts";
import { stopScriptNodes } from "./support/script-node.ts";

setDefaultTimeout(180_000);

const work = mkdtempSync(join(tmpdir(), "anylog-outage-"));
afterAll(async () => {
  await stopScriptNodes();
  rmSync(work, { recursive: true, force: true });
});

let nextId = 1;
/** `n` rows with fresh ids, as one object per line. */
function body(n: number): { text: string; ids: number[] } {
  const ids = Array.from({ length: n }, () => nextId++);
  return { text: ids.map((id) => JSON.stringify({ id, v: id * 2, note: `row ${id}` })).join("\n"), ids };
}

describe("PostgreSQL stops while data arrives", () => {
  let pg: PostgresServer;
  let op: OperatorNode;
  afterAll(async () => {
    await op?.node.stop();
    await pg?.stop();
  });

  test("PUTs answer 503 and files wait in the watch directory; all of it is stored once the server is back", async () => {
    pg = await PostgresServer.start();
    op = await OperatorNode.start({ engine: "psql", pg, dir: join(work, "pg"), dbms: "out" });
    expect(op.scriptErrors()).toEqual([]);
    const acknowledged: number[] = [];
    const first = body(50);
    expect((await put(op.url, "out", "readings", first.text)).status).toBe(200);
    acknowledged.push(...first.ids);

    await pg.pause();
    const refused = await put(op.url, "out", "readings", body(20).text);
    expect(refused.status).toBe(503);
    // (tsd_info, in almgm on the same server, is the first to find it gone)
    expect((refused.json as { error: string }).error).toMatch(/dbms '(out|almgm)' \(psql\)/);
    const inFile = body(30);
    expect((await put(op.url, "out", "readings", inFile.text, { mode: "file" })).status).toBe(200);
    acknowledged.push(...inFile.ids);
    const dropped = body(40);
    dropFile(op.watchDir, "out.readings.test.outage.0.json", dropped.text);
    acknowledged.push(...dropped.ids);
    // the operator has tried them, and keeps them
    await waitFor("the operator to meet the outage", async () => /psql/.test((await operatorInfo(op.url)).tables["out.readings"]?.last_error ?? ""));
    await Bun.sleep(1500);
    expect(readdirSync(op.watchDir).filter((f) => f.endsWith(".json"))).toHaveLength(2);
    expect(readdirSync(op.errorDir)).toEqual([]);

    await pg.resume();
    await waitFor("the waiting files stored", () => readdirSync(op.watchDir).filter((f) => f.endsWith(".json")).length === 0, 90_000, 250);
    expect(readdirSync(op.errorDir)).toEqual([]);
    const after = body(10);
    expect((await put(op.url, "out", "readings", after.text)).status).toBe(200);
    acknowledged.push(...after.ids);
    expect(await scalar(op, "out", "select count(*) from readings")).toBe(acknowledged.length);
    expect(await scalar(op, "out", "select sum(id) from readings")).toBe(acknowledged.reduce((a, b) => a + b, 0));
    expect((await operatorInfo(op.url)).tables["out.readings"]?.errors).toBe(0);
  });
});

describe("the disk is full", () => {
  const disk = join(work, "small-disk");
  let mounted = false;
  let op: OperatorNode;
  afterAll(async () => {
    await op?.node.stop();
    if (mounted) Bun.spawnSync(["umount", disk]);
  });

  test("PUTs answer 500 saying so, a file waits in the watch directory, nothing is half-written; all lands once there is room", async () => {
    if (userInfo().uid !== 0) throw new Error("this test mounts a small tmpfs for the node's home: run it as root (make test does)");
    mkdirSync(disk, { recursive: true });
    const m = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", disk]);
    if (m.exitCode !== 0) throw new Error(`mount -t tmpfs failed: ${m.stderr.toString()}`);
    mounted = true;
    op = await OperatorNode.start({ engine: "sqlite", dir: join(disk, "op"), dbms: "full" });
    expect(op.scriptErrors()).toEqual([]);
    const acknowledged: number[] = [];
    const first = body(100);
    expect((await put(op.url, "full", "readings", first.text)).status).toBe(200);
    acknowledged.push(...first.ids);

    // a data file made while there is room, moved into the watch directory once the disk is full
    const waiting = body(500);
    const staged = join(disk, "staged.json");
    writeFileSync(staged, waiting.text);
    const filler = join(disk, "filler");
    const chunk = Buffer.alloc(64 * 1024, 1);
    try {
      for (;;) appendFileSync(filler, chunk);
    } catch (e) {
      expect((e as { code?: string }).code).toBe("ENOSPC");
    }
    for (const small of [4096, 512, 16]) {
      try {
        for (;;) appendFileSync(filler, Buffer.alloc(small, 1));
      } catch {
        // full to the byte
      }
    }

    const refused = await put(op.url, "full", "readings", body(2000).text);
    expect(refused.status).toBe(500);
    expect((refused.json as { error: string }).error).toMatch(/full/i);
    const asFile = await put(op.url, "full", "readings", body(2000).text, { mode: "file" });
    expect(asFile.status).toBe(500);
    expect((asFile.json as { error: string }).error).toMatch(/full/i);
    renameSync(staged, join(op.watchDir, "full.readings.test.waiting.0.json"));
    acknowledged.push(...waiting.ids);
    await waitFor("the operator to meet the full disk", async () => /full/i.test((await operatorInfo(op.url)).tables["full.readings"]?.last_error ?? ""));
    expect(existsSync(join(op.watchDir, "full.readings.test.waiting.0.json"))).toBe(true);
    expect(readdirSync(op.errorDir)).toEqual([]);
    // nothing of the refused data is in the table
    expect(await scalar(op, "full", "select count(*) from readings")).toBe(100);

    rmSync(filler);
    await waitFor("the waiting file stored", () => !existsSync(join(op.watchDir, "full.readings.test.waiting.0.json")), 90_000, 250);
    expect(readdirSync(op.errorDir)).toEqual([]);
    const after = body(100);
    expect((await put(op.url, "full", "readings", after.text)).status).toBe(200);
    acknowledged.push(...after.ids);
    expect(await scalar(op, "full", "select count(*) from readings")).toBe(acknowledged.length);
    expect(await scalar(op, "full", "select sum(id) from readings")).toBe(acknowledged.reduce((a, b) => a + b, 0));
  });
});
