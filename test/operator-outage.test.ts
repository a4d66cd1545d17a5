/**
 * Causes outside the data, on a real operator: the data is never refused as bad nor lost.
 *  - PostgreSQL stops: a streaming PUT answers 503 naming the database (the client keeps its
 *    data and sends again); a file-mode PUT is safe on disk (200); files stay in the watch
 *    directory, not the error directory, and are stored once the server is back.
 *  - The disk is full (the node's home on a small tmpfs): a PUT answers 500 saying the disk
 *    is full, a file stays in the watch directory; once there is room again it is stored,
 *    and the table holds exactly the acknowledged rows.
 * The same in journal mode (a streamer, `time = 60 seconds and volume = 10KB`: a PUT is
 * answered once its row is in the journal), under one-row PUTs:
 *  - PostgreSQL stopped for JOURNAL_OUTAGE_SECONDS (default 120, as the issue says) with a
 *    2MB journal: PUTs are acknowledged (200) until the journal's bound, then answer 503 with
 *    Retry-After saying the journal is full; once the server is back the buffers store it all
 *    by themselves: every acknowledged row once, nothing answered 503 stored.
 *  - The disk fills while acknowledged rows wait in the buffer: a PUT the journal cannot
 *    take answers 500 saying the disk is full, the buffer's write fails and keeps its rows;
 *    once there is room every acknowledged row is stored once, none in the error directory.
 * Mounting the tmpfs needs root, as `make test` runs.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { OperatorNode, command, dropFile, operatorInfo, put, scalar, select, streamingInfo, waitFor } from "./support/operator.ts";
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

/** A 24 MiB tmpfs at `<work>/<name>` for a node's home (the test mounts it: root only), and its unmount. */
function smallDisk(name: string): { disk: string; mount(): void; unmount(): void } {
  const disk = join(work, name);
  let mounted = false;
  return {
    disk,
    mount() {
      if (userInfo().uid !== 0) throw new Error("this test mounts a small tmpfs for the node's home: run it as root (make test does)");
      mkdirSync(disk, { recursive: true });
      const m = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", disk]);
      if (m.exitCode !== 0) throw new Error(`mount -t tmpfs failed: ${m.stderr.toString()}`);
      mounted = true;
    },
    unmount() {
      if (mounted) Bun.spawnSync(["umount", disk]);
    },
  };
}

describe("the disk is full", () => {
  const { disk, mount, unmount } = smallDisk("small-disk");
  let op: OperatorNode;
  afterAll(async () => {
    await op?.node.stop();
    unmount();
  });

  test("PUTs answer 500 saying so, a file waits in the watch directory, nothing is half-written; all lands once there is room", async () => {
    mount();
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

// --- journal mode: a streamer runs, and a streaming PUT is answered once its rows are in the journal ---

/** Seconds PostgreSQL is stopped in the journal-mode outage (the issue says 2 minutes). */
const OUTAGE_SECONDS = Number(process.env.JOURNAL_OUTAGE_SECONDS ?? 120);

type Phase = "before" | "outage" | "after";

/**
 * Senders of one-row PUTs, each row a fresh id. A PUT answered 503 is sent again after its
 * Retry-After (as a client that keeps its data does); one that got no answer is sent again at
 * once. Every reply is kept with the phase it came in.
 */
class OneRowLoad {
  phase: Phase = "before";
  readonly acked = new Set<number>();
  readonly ackedIn: Record<Phase, number> = { before: 0, outage: 0, after: 0 };
  /** 503s saying the journal is full, with their Retry-After. */
  readonly full: Array<{ phase: Phase; retryAfter: string | null; error: string }> = [];
  /** Every other answer but 200, with its phase. */
  readonly other: string[] = [];
  /** Ids sent whose last send got no answer (may or may not be stored). */
  readonly unknown = new Set<number>();
  private finishing = false;
  private readonly done: Promise<unknown>;

  constructor(
    private readonly url: string,
    private readonly dbms: string,
    private readonly table: string,
    senders: number,
    private readonly maxRetryWaitMs = 5_000,
  ) {
    this.done = Promise.all(Array.from({ length: senders }, () => this.sender()));
  }

  private async sender(): Promise<void> {
    while (!this.finishing) {
      const { text, ids } = body(1);
      const id = ids[0]!;
      for (;;) {
        const phase = this.phase;
        let r: Awaited<ReturnType<typeof put>> | undefined;
        try {
          r = await put(this.url, this.dbms, this.table, text, { timeoutMs: 30_000 });
        } catch (e) {
          this.unknown.add(id);
          this.other.push(`${phase}: no answer: ${String(e).slice(0, 120)}`);
        }
        if (r?.status === 200 && r.text.includes('"Success"')) {
          this.unknown.delete(id);
          this.acked.add(id);
          this.ackedIn[phase]++;
          break;
        }
        let waitMs = 100;
        if (r) {
          const error = String((r.json as { error?: unknown } | undefined)?.error ?? r.text).slice(0, 200);
          if (r.status === 503 && /journal is full/.test(error)) this.full.push({ phase, retryAfter: r.headers?.get("retry-after") ?? null, error });
          else this.other.push(`${phase}: ${r.status} ${error}`);
          const after = Number(r.headers?.get("retry-after"));
          if (r.status === 503 && after > 0) waitMs = Math.min(this.maxRetryWaitMs, after * 1000);
        }
        if (this.finishing) break; // not stored (503) or unknown: left out of `acked`
        await Bun.sleep(waitMs);
      }
    }
  }

  /** Stops sending; resolves once every sender is done. */
  async stop(): Promise<void> {
    this.finishing = true;
    await this.done;
  }

  summary(): string {
    return `acknowledged ${this.acked.size} (before ${this.ackedIn.before}, during the outage ${this.ackedIn.outage}, after ${this.ackedIn.after}); ${this.full.length} 503 journal full; ${this.other.length} other: ${this.other.slice(0, 5).join(" | ")}`;
  }
}

/** Ids stored more than once, and the stored ids, sorted. */
async function storedIds(op: OperatorNode, dbms: string, table: string): Promise<{ twice: number[]; ids: number[] }> {
  const rows = await select(op, dbms, `select id, count(*) as n from ${table} group by id`);
  return {
    twice: rows.filter((r) => Number(r.n) > 1).map((r) => Number(r.id)),
    ids: rows.map((r) => Number(r.id)).sort((a, b) => a - b),
  };
}

const sorted = (s: Iterable<number>) => [...s].sort((a, b) => a - b);
const tail = (op: OperatorNode) => op.node.stderr.slice(-3000);

describe(`journal mode: PostgreSQL stopped for ${OUTAGE_SECONDS} s under one-row PUT load (JOURNAL_OUTAGE_SECONDS)`, () => {
  let pg: PostgresServer;
  let op: OperatorNode;
  let load: OneRowLoad | undefined;
  afterAll(async () => {
    await load?.stop();
    await op?.node.stop();
    await pg?.stop();
  });

  test("PUTs answer 200 until the journal is full, then 503 with Retry-After; once the server is back every acknowledged row is stored, none twice", async () => {
    pg = await PostgresServer.start();
    op = await OperatorNode.start({
      engine: "psql",
      pg,
      dir: join(work, "pg-journal"),
      dbms: "jout",
      streamer: true,
      before: ["set buffer threshold where time = 60 seconds and volume = 10KB", "set buffer threshold where journal_size = 2MB"],
    });
    expect(op.scriptErrors()).toEqual([]);
    const l = (load = new OneRowLoad(op.url, "jout", "readings", 4));
    await waitFor("200 one-row PUTs acknowledged with the server up", () => l.acked.size >= 200, 60_000).catch((e) => {
      throw new Error(`${e}: ${l.summary()}\n${tail(op)}`);
    });

    await pg.pause();
    l.phase = "outage";
    const back = Date.now() + OUTAGE_SECONDS * 1000;
    const refusedOtherwise = () => l.other.filter((o) => o.startsWith("outage:"));
    await waitFor("a PUT refused because the journal is full (or for any other reason)", () => l.full.length > 0 || refusedOtherwise().length > 0, OUTAGE_SECONDS * 1000, 250).catch((e) => {
      throw new Error(`${e}: ${l.summary()}\n${tail(op)}`);
    });
    // until the journal's bound every PUT is acknowledged: the database being away is no reason to refuse
    expect(refusedOtherwise()).toEqual([]);
    const atFull = (await streamingInfo(op.url)).journal;
    await Bun.sleep(Math.max(0, back - Date.now()));
    const duringOutage = { acked: l.ackedIn.outage, full: l.full.length, other: [...l.other] };

    await pg.resume();
    l.phase = "after";
    // the buffers try again by themselves (at most 5 s apart): the journal drains and PUTs are
    // taken again (the wait is wide: a loaded machine stores the outage's rows slower)
    await waitFor("a PUT acknowledged after the server is back", () => l.ackedIn.after >= 50, 300_000, 250).catch((e) => {
      throw new Error(`${e}: ${l.summary()}\n${tail(op)}`);
    });
    await l.stop();

    // until the bound the PUTs were acknowledged; past it, 503 with Retry-After saying why
    expect(duringOutage.acked).toBeGreaterThan(0);
    expect(duringOutage.other).toEqual([]);
    expect(atFull["journal limit"]).toBe(2 * 1024 * 1024);
    expect(atFull["journal bytes"]).toBeGreaterThan(0.9 * atFull["journal limit"]);
    const first = l.full[0]!;
    expect(first.phase).toBe("outage");
    expect(Number(first.retryAfter)).toBeGreaterThan(0);
    expect(first.error).toMatch(/the journal is full/);
    expect(l.full.filter((f) => !(Number(f.retryAfter) > 0))).toEqual([]);

    // every acknowledged row stored, none twice, nothing answered 503 stored
    await waitFor(
      "the journal drained (every acknowledged row stored)",
      async () => (await scalar(op, "jout", "select count(*) from readings")) >= l.acked.size && (await streamingInfo(op.url)).journal["journal pending"] === 0,
      120_000,
      1000,
    ).catch(async (e) => {
      throw new Error(`${e}: ${l.summary()}\n${JSON.stringify((await streamingInfo(op.url)).journal)}\n${tail(op)}`);
    });
    const { twice, ids } = await storedIds(op, "jout", "readings");
    expect(twice).toEqual([]);
    expect(ids.filter((id) => !l.acked.has(id) && !l.unknown.has(id))).toEqual([]);
    expect(ids.filter((id) => l.acked.has(id)).length).toBe(l.acked.size);
    expect(readdirSync(op.errorDir)).toEqual([]);
    expect(l.other).toEqual([]);
    console.log(`journal outage (${OUTAGE_SECONDS} s): ${l.summary()}; journal at the first 503: ${atFull["journal bytes"]} of ${atFull["journal limit"]} bytes`);
  }, OUTAGE_SECONDS * 1000 + 600_000);
});

describe("the disk is full, in journal mode", () => {
  const { disk, mount, unmount } = smallDisk("small-disk-journal");
  let op: OperatorNode;
  afterAll(async () => {
    await op?.node.stop();
    unmount();
  });

  test("a PUT the journal cannot take answers 500/503 saying the disk is full; every acknowledged row lands once there is room", async () => {
    mount();
    op = await OperatorNode.start({ engine: "sqlite", dir: join(disk, "op"), dbms: "jfull", streamer: true, before: ["set buffer threshold where time = 60 seconds and volume = 10KB"] });
    expect(op.scriptErrors()).toEqual([]);
    const acknowledged: number[] = [];
    const putOne = async () => {
      const b = body(1);
      const r = await put(op.url, "jfull", "readings", b.text);
      if (r.status === 200) acknowledged.push(...b.ids);
      return r;
    };
    for (let i = 0; i < 300; i++) expect((await putOne()).status).toBe(200);
    // some of them wait in the buffer (10KB is about 240 of these rows), acknowledged and only in the journal
    const cached = async () => Number((await streamingInfo(op.url)).tables.find((t) => t["dbms-table"] === "jfull.readings")?.["cached rows"] ?? 0);
    // (a write under way takes what arrives meanwhile, so under load a row is left waiting only once
    // the buffer's writes have ended: the PUTs are spaced for that)
    for (let i = 0; i < 50 && (await cached()) === 0; i++) {
      await Bun.sleep(100);
      expect((await putOne()).status).toBe(200);
    }
    const waitingRows = await cached();
    expect(waitingRows).toBeGreaterThan(0);
    const onRoom = acknowledged.length;

    const filler = join(disk, "filler");
    try {
      for (;;) appendFileSync(filler, Buffer.alloc(64 * 1024, 1));
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

    // what still fits in the journal's last page is acknowledged; then a clear refusal
    let refused: Awaited<ReturnType<typeof put>> | undefined;
    for (let i = 0; i < 2000 && !refused; i++) {
      const r = await putOne();
      if (r.status !== 200) refused = r;
    }
    if (!refused) throw new Error(`2000 PUTs acknowledged on a full disk:\n${tail(op)}`);
    expect([500, 503]).toContain(refused.status);
    expect((refused.json as { error: string }).error).toMatch(/full/i);
    // a buffer written now meets the full disk too: its rows stay acknowledged, none set aside
    await command(op.url, "flush buffers", true);
    const lastError = String((await streamingInfo(op.url)).tables.find((t) => t["dbms-table"] === "jfull.readings")?.["last error"] ?? "");
    expect(readdirSync(op.errorDir)).toEqual([]);

    rmSync(filler);
    await waitFor(
      "every acknowledged row stored once there is room",
      async () => (await scalar(op, "jfull", "select count(*) from readings")) >= acknowledged.length,
      90_000,
      1000,
    ).catch(async (e) => {
      throw new Error(`${e}: ${acknowledged.length} acknowledged\n${JSON.stringify(await streamingInfo(op.url))}\n${tail(op)}`);
    });
    expect(readdirSync(op.errorDir)).toEqual([]);
    const after = await putOne();
    expect(after.status).toBe(200);
    const { twice, ids } = await storedIds(op, "jfull", "readings");
    expect(twice).toEqual([]);
    expect(ids).toEqual(sorted(acknowledged));
    expect((await streamingInfo(op.url)).journal["journal pending"]).toBe(0);
    console.log(
      `journal disk full: ${acknowledged.length} rows acknowledged (${waitingRows} waiting in the buffer when the disk filled, ${acknowledged.length - onRoom - 1} taken on the full disk); ` +
        `refused with ${refused.status}: ${(refused.json as { error: string }).error}; the buffer's write on the full disk: ${lastError || "no error"}`,
    );
  }, 240_000);
});
