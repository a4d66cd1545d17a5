/**
 * Queries never hold the node: a user's query on SQLite runs in a query worker process, so
 * one that never ends (a recursive query), one that builds a gigabyte (randomblob) or one
 * whose result is too big ends with a clear error within its max_time / max_volume, while
 * /health, PUTs and other queries go on being answered; a node killed with -9 leaves no
 * worker behind, and SIGTERM stops a node whose worker is busy.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OperatorNode, command, put } from "./support/operator.ts";
import { workersOf } from "./support/node-process.ts";
import { stopScriptNodes } from "./support/script-node.ts";

setDefaultTimeout(120_000);

const work = mkdtempSync(join(tmpdir(), "anylog-qlimits-"));
afterAll(async () => {
  await stopScriptNodes();
  rmSync(work, { recursive: true, force: true });
});

const RUNAWAY = 'with recursive r(x) as (select 1 union all select x+1 from r) select count(*) from r';


const rssMiB = (pid: number) => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;

describe("queries never freeze the node", () => {
  let op: OperatorNode;

  test("a recursive query without end is stopped at its max_time while /health, PUTs and other queries are answered", async () => {
    op = await OperatorNode.start({ engine: "sqlite", dir: join(work, "a"), dbms: "lim" });
    expect((await put(op.url, "lim", "t", Array.from({ length: 2000 }, (_, i) => JSON.stringify({ i, v: `value ${i}` })).join("\n"))).status).toBe(200);

    const started = Date.now();
    // three at once: more than the workers (2), so one waits for a worker the others free
    const runaways = [1, 2, 3].map(() => command(op.url, `sql lim max_time = 2 "${RUNAWAY}"`));
    const health: number[] = [];
    let others = 0;
    while (Date.now() - started < 2_500) {
      const t0 = performance.now();
      expect((await fetch(`${op.url}/health`)).status).toBe(200);
      health.push(performance.now() - t0);
      if (health.length % 10 === 0) {
        expect((await put(op.url, "lim", "t", JSON.stringify({ i: 10_000 + health.length, v: "during" }))).status).toBe(200);
        others++;
      }
      await Bun.sleep(20);
    }
    const replies = await Promise.all(runaways);
    for (const r of replies) {
      expect(r.status).toBe(504);
      expect(r.text).toMatch(/ran past 2 s and was stopped \(max_time\)/);
    }
    expect(Date.now() - started).toBeLessThan(15_000);
    health.sort((a, b) => a - b);
    // a frozen node would not answer at all until the query ended: each /health came back in well under the query's time
    expect(health[health.length - 1]!).toBeLessThan(1_000);
    console.log(`/health during 3 runaway queries: ${health.length} answers, p50 ${health[Math.floor(health.length / 2)]!.toFixed(1)} ms, max ${health[health.length - 1]!.toFixed(1)} ms; ${others} PUTs stored meanwhile`);
    const count = await command(op.url, 'sql lim format = json and stat = false "select count(*) as n from t"');
    expect(count.json).toEqual({ Query: [{ n: 2000 + others }] });
  });

  test("a query that builds a gigabyte, and a result past max_volume, are clear errors; the node stays small", async () => {
    const blob = await command(op.url, 'sql lim "select length(randomblob(1000000000)) as n"');
    expect(blob.status).toBe(400);
    expect(blob.text).toMatch(/more memory than a query may use/);
    const big = await command(op.url, 'sql lim max_volume = 1KB "select * from t"');
    expect(big.status).toBe(400);
    expect(big.text).toMatch(/larger than 1024 bytes \(max_volume\)/);
    expect(rssMiB(op.node.pid)).toBeLessThan(300);
    // the same query within its volume
    const fits = await command(op.url, 'sql lim format = json and stat = false and max_volume = 10MB "select count(*) as n from t where i < 10"');
    expect(fits.json).toEqual({ Query: [{ n: 10 }] });
    // a bad max_volume is named
    const wrong = await command(op.url, 'sql lim max_volume = lots "select 1"');
    expect(wrong.status).toBe(400);
    expect(wrong.text).toMatch(/lots/);
  });

  test("connect dbms to a server that never completes the handshake, or is not PostgreSQL, ends with an error naming it; the node's other commands answer meanwhile", async () => {
    // one server accepts and says nothing; the other answers like a web server
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const web = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data(s) { s.write("HTTP/1.1 400 Bad Request\r\n\r\n"); } } });
    try {
      const started = Date.now();
      const connects = [silent.port, web.port, silent.port].map((port, i) => command(op.url, `connect dbms stuck${i} where type = psql and ip = 127.0.0.1 and port = ${port} and user = x`, true, 60_000));
      // every other command answers while the three wait (a connect holds no Query Pool worker)
      for (let i = 0; i < 5; i++) {
        const t0 = Date.now();
        const s = await command(op.url, "get status where format = json");
        expect(s.status).toBe(200);
        expect(Date.now() - t0).toBeLessThan(5_000);
        await Bun.sleep(300);
      }
      const replies = await Promise.all(connects);
      for (const [i, r] of replies.entries()) {
        expect(r.status).toBeGreaterThanOrEqual(400);
        expect(r.text).toContain(`stuck${i}`);
      }
      expect(replies[0]!.text).toMatch(new RegExp(`127\\.0\\.0\\.1:${silent.port}|timeout|CONNECT_TIMEOUT`, "i"));
      expect(Date.now() - started).toBeLessThan(30_000);
      expect((await command(op.url, "get databases")).text).not.toContain("stuck");
    } finally {
      silent.stop(true);
      web.stop(true);
    }
  });

  test("SIGTERM stops a node whose worker runs a query without end; kill -9 of a node leaves no worker behind", async () => {
    const pending = command(op.url, `sql lim max_time = 60 "${RUNAWAY}"`).catch(() => undefined);
    await Bun.sleep(500);
    expect(workersOf(op.node.pid).length).toBeGreaterThan(0);
    const t0 = Date.now();
    expect(await op.node.stop()).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    await pending;

    const b = await OperatorNode.start({ engine: "sqlite", dir: join(work, "b"), dbms: "lim" });
    expect((await put(b.url, "lim", "t", JSON.stringify({ i: 1 }))).status).toBe(200);
    void command(b.url, `sql lim max_time = 60 "${RUNAWAY}"`).catch(() => undefined);
    await Bun.sleep(500);
    const workers = workersOf(b.node.pid);
    expect(workers.length).toBeGreaterThan(0);
    await b.node.kill();
    for (let i = 0; i < 50 && workers.some((w) => existsSync(`/proc/${w}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${w}/status`, "utf8"))); i++) await Bun.sleep(100);
    expect(workers.filter((w) => existsSync(`/proc/${w}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${w}/status`, "utf8")))).toEqual([]);
  });
});
