/**
 * Large network answers and stopped queries:
 *  - 2,000,000 rows over three operators (two on SQLite, one on PostgreSQL) stream to a
 *    curl client: operators send them in pages, the query node merges them in a file and
 *    streams the answer as the client reads it; the query node's peak RSS stays under
 *    150 MiB, and every row arrives once.
 *  - A query that runs past its timeout (the `timeout` header's, or the REST server's) is
 *    stopped on every operator: the SQLite operators' query workers are killed, the
 *    PostgreSQL operator's statement is cancelled, and the asker gets a timeout error.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OperatorNode, command, put } from "./support/operator.ts";
import { workersOf } from "./support/node-process.ts";
import { PostgresServer } from "./support/postgres.ts";
import { stopScriptNodes } from "./support/script-node.ts";

setDefaultTimeout(300_000);

const work = mkdtempSync(join(tmpdir(), "anylog-qstream-"));
let pg: PostgresServer;
let ops: OperatorNode[] = [];
let query: OperatorNode;

afterAll(async () => {
  await stopScriptNodes();
  await pg?.stop();
  rmSync(work, { recursive: true, force: true });
});

const ROWS = 2_000_000;
const SHARE = [700_000, 700_000, 600_000];

async function post(url: string, cmd: string): Promise<unknown> {
  const r = await command(url, cmd, true);
  if (r.status !== 200) throw new Error(`${cmd}: ${r.status} ${r.text}`);
  return r.json ?? r.text;
}

const status = (pid: number, field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;


/** Whether a process is running on a CPU now (state R). */
const running = (pid: number) => {
  try {
    return /^State:\s+R/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
};

/** Declares on a query node the table policy of `table` as operator `from` declared it. */
async function declareTable(from: OperatorNode, dbms: string, table: string, on = query): Promise<void> {
  const declared = await command(from.url, `blockchain get table where name = ${table} and dbms = ${dbms}`);
  const policy = (declared.json as Array<Record<string, unknown>>)[0]!;
  await post(on.url, `blockchain insert where policy = ${JSON.stringify(policy)} and local = true`);
}

/** Declares the operators on a query node. */
async function declareOperators(on: OperatorNode): Promise<void> {
  for (const [i, op] of ops.entries()) {
    await post(on.url, `blockchain insert where policy = {"operator": {"name": "op${i}", "company": "S", "ip": "127.0.0.1", "port": ${op.tcpPort}}} and local = true`);
  }
}

beforeAll(async () => {
  pg = await PostgresServer.start();
  const engines = ["sqlite", "sqlite", "psql"] as const;
  ops = await Promise.all(engines.map((engine, i) => OperatorNode.start({ engine, pg, dir: join(work, `op${i}`), dbms: "big" })));
  query = await OperatorNode.start({ engine: "sqlite", dir: join(work, "query"), dbms: "unused" });
  let first = 0;
  await Promise.all(
    ops.map(async (op, n) => {
      const start = SHARE.slice(0, n).reduce((a, b) => a + b, 0);
      for (let k = 0; k < SHARE[n]!; k += 100_000) {
        const lines = Array.from({ length: Math.min(100_000, SHARE[n]! - k) }, (_, j) => {
          const i = start + k + j;
          return `{"i":${i},"device":"d${i % 7}","v":${(i % 1000) / 8}}`;
        });
        const r = await put(op.url, "big", "rows", lines.join("\n"));
        expect(r.status).toBe(200);
      }
      await post(op.url, "flush buffers");
      first++;
    }),
  );
  expect(first).toBe(3);
  await declareOperators(query);
  await declareTable(ops[0]!, "big", "rows");
});

describe("large answers stream; stopped queries stop everywhere", () => {
  test("2,000,000 rows stream to curl with the query node under 150 MiB", async () => {
    const pid = query.node.pid;
    const before = status(pid, "VmRSS");
    const curl = Bun.spawn(
      ["curl", "-sS", "--fail-with-body", "-H", `command: sql big format = json:output "select i, device, v from rows"`, "-H", "destination: network", "-H", "User-Agent: AnyLog/1.3", query.url],
      { stdout: "pipe", stderr: "pipe" },
    );
    let peak = 0;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, status(pid, "VmRSS"));
      } catch {
        // the node is gone: the test fails below
      }
    }, 50);
    // the answer, read as it comes: every row once
    const seen = new Uint8Array(ROWS);
    let count = 0;
    let sum = 0;
    let pending = "";
    const take = (line: string) => {
      const row = JSON.parse(line) as { i: number; device: string; v: number };
      if (seen[row.i] !== 0 || row.device !== `d${row.i % 7}` || row.v !== (row.i % 1000) / 8) throw new Error(`row ${line} is not what was stored, or came twice`);
      seen[row.i] = 1;
      sum += row.i;
      count++;
    };
    const decoder = new TextDecoder();
    for await (const chunk of curl.stdout) {
      pending += decoder.decode(chunk, { stream: true });
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) take(line);
    }
    if (pending.trim() !== "") take(pending);
    clearInterval(sampler);
    expect(await curl.exited).toBe(0);
    expect(await new Response(curl.stderr).text()).toBe("");
    expect(count).toBe(ROWS);
    expect(sum).toBe((ROWS * (ROWS - 1)) / 2);
    const hwm = status(pid, "VmHWM");
    console.log(`2,000,000 rows streamed: query node RSS ${before.toFixed(0)} MiB before, ${peak.toFixed(0)} MiB at most while sampled, ${hwm.toFixed(0)} MiB peak (VmHWM)`);
    expect(hwm).toBeLessThan(150);
    // the merge's file went with the query
    expect(readdirSync(join(query.home, "tmp", "merge"))).toEqual([]);
    // the table format and an ordered answer stream too (first and last lines checked)
    const ordered = await command(query.url, 'sql big format = table and stat = true "select i from rows where i >= 1999990 or i < 3 order by i desc"', false, 60_000, { destination: "network" });
    expect(ordered.text.split("\n").slice(2, 4).map((l) => l.trim())).toEqual(["1999999|", "1999998|"]);
    expect(ordered.text).toMatch(/"Count":13/);
  });

  test("a large answer of one node streams in each format, as its whole text would read", async () => {
    const op = ops[0]!;
    const json = await command(op.url, 'sql big "select i, v from rows where i < 300000 order by i"', false, 60_000);
    const parsed = json.json as { Query: Array<{ i: number; v: number }>; Statistics: Array<{ Count: number; Nodes: number }> };
    expect(parsed.Query.length).toBe(300_000);
    expect(parsed.Query[299_999]).toEqual({ i: 299_999, v: (299_999 % 1000) / 8 });
    expect(parsed.Statistics[0]).toMatchObject({ Count: 300_000, Nodes: 1 });
    const list = await command(op.url, 'sql big format = json:list "select i from rows where i < 300000"', false, 60_000);
    expect((list.json as unknown[]).length).toBe(300_000);
    const table = await command(op.url, 'sql big format = table "select i, device from rows where i < 300000 order by i"', false, 60_000);
    const lines = table.text.split("\n");
    expect(lines[0]!.trim().split(/\s+/)).toEqual(["i", "device"]);
    expect(lines[2]!.trim()).toMatch(/^0 *\|d0 *\|$/);
    expect(lines.filter((l) => l.endsWith("|")).length).toBe(300_001);
    expect(table.text).toMatch(/"Count":300000/);
    // a max_volume the user sets still bounds it
    const bounded = await command(op.url, 'sql big max_volume = 1MB "select i from rows"', false, 60_000);
    expect(bounded.status).toBe(400);
    expect(bounded.text).toMatch(/max_volume/);
  });

  test("a float column's whole values stay floats through the merge (3.0 / 2 is 1.5, as on each operator)", async () => {
    // the first row declares v FLOAT; JSON carries the later 3.0 and 4.0 as 3 and 4
    for (const [n, op] of ops.entries()) {
      expect((await put(op.url, "big", "fl", [`{"k":${n},"v":2.5}`, `{"k":${n},"v":3.0}`, `{"k":${n},"v":4.0}`].join("\n"))).status).toBe(200);
      await post(op.url, "flush buffers");
    }
    await declareTable(ops[0]!, "big", "fl");
    const local = await command(ops[2]!.url, 'sql big format = json and stat = false "select v / 2 as h from fl order by v"');
    expect(local.json).toEqual({ Query: [{ h: 1.25 }, { h: 1.5 }, { h: 2 }] });
    const merged = await command(query.url, 'sql big format = json and stat = false "select k, v / 2 as h from fl order by k, v"', false, 60_000, { destination: "network" });
    expect((merged.json as { Query: Array<{ h: number }> }).Query.map((r) => r.h)).toEqual([1.25, 1.5, 2, 1.25, 1.5, 2, 1.25, 1.5, 2]);
  });

  test("a query past its timeout is stopped on every operator", async () => {
    // a table on the SQLite operators only, and one on the PostgreSQL operator only
    for (const op of ops.slice(0, 2)) {
      expect((await put(op.url, "big", "slow", Array.from({ length: 2000 }, (_, i) => JSON.stringify({ i, device: `d${i}` })).join("\n"))).status).toBe(200);
      await post(op.url, "flush buffers");
    }
    expect((await put(ops[2]!.url, "big", "pgslow", Array.from({ length: 2000 }, (_, i) => JSON.stringify({ i, device: `d${i}` })).join("\n"))).status).toBe(200);
    await post(ops[2]!.url, "flush buffers");
    await declareTable(ops[0]!, "big", "slow");
    await declareTable(ops[2]!, "big", "pgslow");
    const sqlitePids = ops.slice(0, 2).map((op) => op.node.pid);

    // SQLite: each row builds 2 MB of random bytes, for many seconds
    const started = Date.now();
    const asked = command(query.url, `sql big "select count(*) from slow where length(hex(randomblob(2000000))) > 0"`, false, 60_000, { destination: "network", timeout: "3" });
    await Bun.sleep(1_500);
    const busy = sqlitePids.map((pid) => workersOf(pid).filter(running));
    if (busy.some((w) => w.length !== 1)) throw new Error(`no worker of each SQLite operator runs the query: ${JSON.stringify(busy)}; reply: ${JSON.stringify(await asked)}`);
    const reply = await asked;
    if (reply.status !== 504) throw new Error(reply.text);
    expect(reply.text).toMatch(/did not answer.*within 3 s/);
    expect(Date.now() - started).toBeLessThan(10_000);
    // the operators' workers that ran it are gone within a second or two
    const deadline = Date.now() + 5_000;
    while (busy.flat().some((w) => workersOf(sqlitePids[0]!).concat(workersOf(sqlitePids[1]!)).includes(w)) && Date.now() < deadline) await Bun.sleep(100);
    for (const [n, pid] of sqlitePids.entries()) for (const w of busy[n]!) expect(workersOf(pid)).not.toContain(w);

    // PostgreSQL, past the REST server's own timeout (3 s on this query node): the statement is cancelled on the server
    const query3 = await OperatorNode.start({ engine: "sqlite", dir: join(work, "query3"), dbms: "unused", restTimeout: 3 });
    await declareOperators(query3);
    await declareTable(ops[2]!, "big", "pgslow", query3);
    const pgAsked = command(query3.url, `sql big "select count(*) from pgslow where length(repeat(device, 20000000)) > 0"`, false, 60_000, { destination: "network" });
    await Bun.sleep(1_500);
    const activeSql = `select count(*) from pg_stat_activity where state = 'active' and query like '%FROM "pgslow"%' and query not like '%pg_stat_activity%'`;
    const activeNow = await pg.psql("postgres", activeSql);
    if (activeNow[0] !== "1") throw new Error(`the query is not running on PostgreSQL (${activeNow}): ${JSON.stringify(await pgAsked)}`);
    const pgReply = await pgAsked;
    expect(pgReply.status).toBe(504);
    expect(pgReply.text).toMatch(/did not finish within 3 s/);
    const pgDeadline = Date.now() + 5_000;
    while ((await pg.psql("postgres", activeSql))[0] !== "0" && Date.now() < pgDeadline) await Bun.sleep(100);
    expect(await pg.psql("postgres", activeSql)).toEqual(["0"]);

    // and the operators answer the next query at once
    const after = await command(query.url, 'sql big format = json and stat = false "select count(*) as n from slow"', false, 60_000, { destination: "network" });
    expect(after.json).toEqual({ Query: [{ n: 4000 }] });
  });
});
