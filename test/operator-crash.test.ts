/**
 * Exactly once through crashes. A real operator node (SQLite, timed streaming buffers) takes
 * streaming PUTs from 4 senders (each body unique, remembered as acknowledged only on HTTP
 * 200 + Success) and files dropped into its watch directory, while the test SIGKILLs it at
 * moments drawn from a seeded PRNG and restarts it with the same home, 20 times. A PUT that
 * got no answer is sent again until it is acknowledged (the node answers Success for a body
 * it stored before: PUTs are idempotent by their hash). At the end the table holds exactly
 * the acknowledged rows, none twice (by the unique id in every row), every dropped file is
 * stored (all its rows, once) or in the error directory with its reason, the watch
 * directory is empty, and tsd_info has no claim left half-done.
 *
 * The same in journal mode (`time = 60 seconds and volume = 10KB` and a streamer: a PUT is
 * answered once its row is fsynced in the journal, stored later): 16 senders of one-row PUTs
 * and the file dropper, 20 SIGKILLs on a schedule of its own from the same seed. After each
 * restart (and `flush buffers`) every row acknowledged by the killed process is stored and
 * none twice; at the end the table holds exactly the acknowledged rows and the journal holds
 * nothing pending. CRASH_SEED=<n> replays a schedule.
 *
 * First, the idempotence the crash test leans on: the same body PUT several times at once
 * is stored once.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OperatorNode, dropFile, put, select, streamingInfo, waitFor } from "./support/operator.ts";
import { stopScriptNodes } from "./support/script-node.ts";
import { prng } from "./support/prng.ts";

setDefaultTimeout(180_000);

const work = mkdtempSync(join(tmpdir(), "anylog-crash-"));
afterAll(async () => {
  await stopScriptNodes();
  rmSync(work, { recursive: true, force: true });
});


describe("the same body sent several times at once", () => {
  test("5 identical streaming PUTs at once, and a file-mode PUT of the same body beside them: stored once", async () => {
    const op = await OperatorNode.start({ engine: "sqlite", dir: join(work, "same"), dbms: "crash", streamer: true });
    const body = JSON.stringify([
      { id: 1, v: 10 },
      { id: 2, v: 20 },
    ]);
    const replies = await Promise.all(Array.from({ length: 5 }, () => put(op.url, "crash", "same", body)));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(new Set(replies.map((r) => (r.json as Record<string, string>)["AnyLog.hash"])).size).toBe(1);
    expect(await select(op, "crash", "select id, count(*) as n from same group by id order by id")).toEqual([
      { id: 1, n: 1 },
      { id: 2, n: 1 },
    ]);

    const other = JSON.stringify([{ id: 3, v: 30 }]);
    const mixed = await Promise.all([put(op.url, "crash", "same", other, { mode: "file" }), put(op.url, "crash", "same", other), put(op.url, "crash", "same", other)]);
    expect(mixed.map((r) => r.status)).toEqual([200, 200, 200]);
    await waitFor("the file-mode copy handled", () => readdirSync(op.watchDir).length === 0, 20_000);
    expect(await select(op, "crash", "select id, count(*) as n from same group by id order by id")).toEqual([
      { id: 1, n: 1 },
      { id: 2, n: 1 },
      { id: 3, n: 1 },
    ]);
    await op.node.stop();
  });
});

const SEED = Number(process.env.CRASH_SEED ?? 20_251_122);
const KILLS = 20;
const SENDERS = 4;
const PUT_ROWS = 20;
const FILE_ROWS = 30;
const FILE_BASE = 10_000_000;

/**
 * Drops files of FILE_ROWS rows for `crash.<table>` into the watch directory until `done()`,
 * pausing `pause()` ms between; `files` gets each one's name and first id. The watch
 * directory is just a directory: files arrive while the node is down too.
 */
async function dropFiles(watchDir: string, table: string, files: Array<{ name: string; first: number }>, done: () => boolean, pause: () => number): Promise<void> {
  while (!done()) {
    const f = files.length;
    const first = FILE_BASE + f * FILE_ROWS;
    const name = `crash.${table}.test.f${f}.0.json`;
    const text = Array.from({ length: FILE_ROWS }, (_, i) => JSON.stringify({ id: first + i, k: f, src: "file", v: i })).join("\n");
    files.push({ name, first });
    dropFile(watchDir, name, text);
    await Bun.sleep(pause());
  }
}

/** Each dropped file: all its rows stored once, or none and it in the error directory with its reason; anything else is a problem naming it. */
function checkFiles(files: Array<{ name: string; first: number }>, count: Map<number, number>, errorDir: string[]): { stored: number; refused: number; problems: string[] } {
  const out = { stored: 0, refused: 0, problems: [] as string[] };
  for (const f of files) {
    const present = Array.from({ length: FILE_ROWS }, (_, i) => count.has(f.first + i)).filter(Boolean).length;
    const inError = errorDir.includes(f.name) && errorDir.includes(`${f.name}.err.txt`);
    if (present === FILE_ROWS) out.stored++;
    else if (present === 0 && inError) out.refused++;
    else out.problems.push(`${f.name}: ${present} of ${FILE_ROWS} rows, ${inError ? "in" : "not in"} the error directory`);
  }
  return out;
}

describe(`killed with SIGKILL ${KILLS} times while PUTs and files flow (seed ${SEED})`, () => {
  test("exactly the acknowledged rows, none twice; every file stored or in the error directory", async () => {
    const rand = prng(SEED); // the kill schedule: the same for a seed, whatever the timing
    const dropRand = prng(SEED ^ 0x5eed); // the dropper's pauses
    // buffers written at once (seed 001's 'write_immediate'), so most PUTs finish between kills;
    // PUTs arriving while one is written still go in together in the next transaction
    const op = await OperatorNode.start({ engine: "sqlite", dir: join(work, "crash"), dbms: "crash", streamer: true, before: ["set buffer threshold where write_immediate = true"] });
    expect(op.scriptErrors()).toEqual([]);

    // --- the client: PUT senders and a file dropper, running until told to finish ---
    const acked = new Set<number>(); // PUT numbers answered 200 + Success
    const refusals: string[] = []; // 4xx answers: never expected for these bodies
    let cut = 0; // PUTs whose connection was cut (the node killed while they were under way), sent again
    let retries = 0; // sends refused while the node was down or starting
    let nextPut = 0;
    let finishing = false;
    const putBody = (k: number) => Array.from({ length: PUT_ROWS }, (_, i) => JSON.stringify({ id: k * PUT_ROWS + i, k, src: "put", v: (k * 7 + i) % 100 })).join("\n");

    const sender = async () => {
      while (!finishing) {
        const k = nextPut++;
        // this PUT is sent until it is acknowledged (or refused)
        for (;;) {
          let status = 0;
          let text = "";
          try {
            const r = await put(op.url, "crash", "events", putBody(k), { timeoutMs: 30_000 });
            status = r.status;
            text = r.text;
          } catch (e) {
            if (!/Unable to connect|ECONNREFUSED/i.test(String(e))) cut++; // else: refused, the node is down
          }
          if (status === 200 && text.includes('"Success"')) {
            acked.add(k);
            break;
          }
          if (status >= 400 && status < 500) {
            refusals.push(`PUT ${k}: ${status} ${text.slice(0, 200)}`);
            break;
          }
          retries++; // no answer, or 503 while the operator starts: again
          await Bun.sleep(30);
        }
      }
    };

    const files: Array<{ name: string; first: number }> = [];
    const dropper = () => dropFiles(op.watchDir, "events", files, () => finishing, () => 20 + dropRand() * 60);

    const client = Promise.all([...Array.from({ length: SENDERS }, sender), dropper()]);

    // --- the crashes ---
    const kills: number[] = [];
    for (let i = 0; i < KILLS; i++) {
      const after = Math.round(150 + rand() * 1200);
      kills.push(after);
      await Bun.sleep(after);
      await op.node.kill();
      if (rand() < 0.3) await Bun.sleep(Math.round(rand() * 400)); // sometimes down for a while
      await op.restart();
    }
    await Bun.sleep(500);
    finishing = true;
    await client;
    expect(refusals).toEqual([]);

    // every file is taken from the watch directory, stored or refused
    const list = (d: string) => (existsSync(d) ? readdirSync(d, { recursive: true }).map(String) : []);
    await waitFor("the watch directory empty", () => list(op.watchDir).filter((f) => !f.startsWith(".")).length === 0, 60_000, 200).catch((e) => {
      throw new Error(`${e instanceof Error ? e.message : e}: ${list(op.watchDir).join(", ")}\n${op.node.stderr}`);
    });

    // --- the checks ---
    const rows = await select(op, "crash", "select id, count(*) as n from events group by id");
    const count = new Map(rows.map((r) => [Number(r.id), Number(r.n)]));
    const twice = [...count].filter(([, n]) => n > 1).map(([id]) => id);
    expect(twice).toEqual([]);

    // PUTs: exactly the acknowledged ones (every one sent was sent until acknowledged)
    expect(acked.size).toBe(nextPut);
    const putIds = [...count.keys()].filter((id) => id < FILE_BASE);
    const ackedIds = [...acked].flatMap((k) => Array.from({ length: PUT_ROWS }, (_, i) => k * PUT_ROWS + i));
    expect(putIds.sort((a, b) => a - b)).toEqual(ackedIds.sort((a, b) => a - b));

    // files: all rows once (stored) or none and in the error directory with a reason
    const errorDir = list(op.errorDir);
    const stored = list(op.bkupDir).map((p) => p.split("/").pop()!);
    const { stored: storedFiles, refused: refusedFiles, problems } = checkFiles(files, count, errorDir);
    for (const f of files) {
      const whole = Array.from({ length: FILE_ROWS }, (_, i) => count.has(f.first + i)).every(Boolean);
      const inError = errorDir.includes(f.name) && errorDir.includes(`${f.name}.err.txt`);
      if (whole && !stored.includes(f.name) && !inError) problems.push(`${f.name}: stored but neither backed up nor in the error directory`);
    }
    expect(problems).toEqual([]);
    const fileIds = [...count.keys()].filter((id) => id >= FILE_BASE);
    expect(fileIds.length).toBe(storedFiles * FILE_ROWS);

    // the bookkeeping: no claim left half-done
    const claims = await select(op, "almgm", "select status, count(*) as n from tsd_info group by status");
    expect(claims.filter((c) => c.status !== "stored")).toEqual([]);

    console.log(
      `crash test (seed ${SEED}): ${KILLS} kills after ${kills.join(", ")} ms; ${acked.size} PUTs acknowledged (${cut} cut by a kill and sent again; ${retries} sends in all while down or starting), ` +
        `${files.length} files (${storedFiles} stored, ${refusedFiles} in the error directory), ${count.size} rows`,
    );
  });
});

const J_SEED = SEED ^ 0x6a726e; // "jrn": the journal mode's schedule, from the same CRASH_SEED
const J_SENDERS = 16;

describe(`journal mode (time = 60 seconds, volume = 10KB, a streamer): killed with SIGKILL ${KILLS} times while one-row PUTs and files flow (seed ${SEED})`, () => {
  test("after every restart each row acknowledged before the kill is stored, none twice; at the end exactly the acknowledged rows", async () => {
    const rand = prng(J_SEED); // the kill schedule: the same for a seed, whatever the timing
    const dropRand = prng(J_SEED ^ 0x5eed);
    // a PUT is answered once its row is in the journal (fsynced); the buffer stores it at 10KB
    // (about 200 of these rows) or after 60 s, so every kill cuts rows that are only in the journal
    const op = await OperatorNode.start({
      engine: "sqlite",
      dir: join(work, "journal"),
      dbms: "crash",
      streamer: true,
      before: ["set buffer threshold where time = 60 seconds and volume = 10KB"],
    });
    expect(op.scriptErrors()).toEqual([]);
    const table = "jevents";

    // --- the client: 16 senders of one-row PUTs, and a file dropper ---
    const acked = new Set<number>(); // PUT numbers (= row ids) answered 200 + Success
    const refusals: string[] = [];
    const unexpected: string[] = []; // 5xx other than the 503 of a node starting (no operator yet)
    let cut = 0;
    let retries = 0;
    let nextPut = 0;
    let finishing = false;
    const putBody = (k: number) => JSON.stringify({ id: k, k, src: "put", v: (k * 7) % 100 });

    const sender = async () => {
      while (!finishing) {
        const k = nextPut++;
        for (;;) {
          let status = 0;
          let text = "";
          try {
            const r = await put(op.url, "crash", table, putBody(k), { timeoutMs: 30_000 });
            status = r.status;
            text = r.text;
          } catch (e) {
            if (!/Unable to connect|ECONNREFUSED/i.test(String(e))) cut++;
          }
          if (status === 200 && text.includes('"Success"')) {
            acked.add(k);
            break;
          }
          if (status >= 400 && status < 500) {
            refusals.push(`PUT ${k}: ${status} ${text.slice(0, 200)}`);
            break;
          }
          if (status >= 500 && !(status === 503 && /no operator running/.test(text))) unexpected.push(`PUT ${k}: ${status} ${text.slice(0, 200)}`);
          retries++;
          await Bun.sleep(30);
        }
      }
    };

    const files: Array<{ name: string; first: number }> = [];
    const dropper = () => dropFiles(op.watchDir, table, files, () => finishing, () => 50 + dropRand() * 150);

    const client = Promise.all([...Array.from({ length: J_SENDERS }, sender), dropper()]);

    /** id -> times stored, read through the node (after `flush buffers`). */
    const stored = async (): Promise<Map<number, number>> => {
      const rows = await select(op, "crash", `select id, count(*) as n from ${table} group by id`).catch((e) => {
        if (/no such table|does not exist|not found/i.test(String(e))) return [];
        throw e;
      });
      return new Map(rows.map((r) => [Number(r.id), Number(r.n)]));
    };

    // --- the crashes, and after each restart the check ---
    const kills: number[] = [];
    const problems: string[] = [];
    for (let i = 0; i < KILLS; i++) {
      const after = Math.round(150 + rand() * 1200);
      kills.push(after);
      await Bun.sleep(after);
      await op.node.kill();
      const before = [...acked]; // answered by the process now dead: each must survive it
      if (rand() < 0.3) await Bun.sleep(Math.round(rand() * 400));
      await op.restart();
      const count = await stored();
      const missing = before.filter((k) => !count.has(k));
      const twice = [...count].filter(([, n]) => n > 1).map(([id]) => id);
      if (missing.length > 0) problems.push(`after kill ${i + 1}: ${missing.length} of ${before.length} acknowledged rows not stored, e.g. ${missing.slice(0, 10).join(", ")}`);
      if (twice.length > 0) problems.push(`after kill ${i + 1}: ${twice.length} rows stored twice, e.g. ${twice.slice(0, 10).join(", ")}`);
    }
    await Bun.sleep(500);
    finishing = true;
    await client;
    if (problems.length > 0) console.error(`the node's log since the last restart:\n${op.node.stderr.slice(-4000)}`);
    expect(problems).toEqual([]);
    expect(refusals).toEqual([]);
    expect(unexpected).toEqual([]);

    const list = (d: string) => (existsSync(d) ? readdirSync(d, { recursive: true }).map(String) : []);
    await waitFor("the watch directory empty", () => list(op.watchDir).filter((f) => !f.startsWith(".")).length === 0, 60_000, 200).catch((e) => {
      throw new Error(`${e instanceof Error ? e.message : e}: ${list(op.watchDir).join(", ")}\n${op.node.stderr}`);
    });

    // --- the final checks, after a last `flush buffers` (select sends it) ---
    const count = await stored();
    expect([...count].filter(([, n]) => n > 1).map(([id]) => id)).toEqual([]);
    expect(acked.size).toBe(nextPut); // every PUT was sent until acknowledged
    const putIds = [...count.keys()].filter((id) => id < FILE_BASE).sort((a, b) => a - b);
    expect(putIds).toEqual([...acked].sort((a, b) => a - b));

    const errorDir = list(op.errorDir);
    const { stored: storedFiles, refused: refusedFiles, problems: fileProblems } = checkFiles(files, count, errorDir);
    expect(fileProblems).toEqual([]);
    // no acknowledged PUT was set aside as refused
    expect(errorDir.filter((f) => !files.some((x) => f.startsWith(x.name)))).toEqual([]);

    const claims = await select(op, "almgm", "select status, count(*) as n from tsd_info group by status");
    expect(claims.filter((c) => c.status !== "stored")).toEqual([]);
    const journal = (await streamingInfo(op.url)).journal;
    expect(journal["journal pending"]).toBe(0);

    console.log(
      `journal crash test (seed ${SEED}): ${KILLS} kills after ${kills.join(", ")} ms; ${acked.size} one-row PUTs acknowledged (${cut} cut by a kill and sent again; ${retries} sends in all while down or starting), ` +
        `${files.length} files (${storedFiles} stored, ${refusedFiles} in the error directory), ${count.size} rows`,
    );
    await op.node.stop();
  });
});
