/**
 * High availability, all real processes (the compiled executable over loopback TCP):
 * operators A1 (PostgreSQL) and A2 (SQLite) in cluster c1, B in cluster c2, a query node Q;
 * every node holds the same policies. Each operator runs `run data distributor` and
 * `run data consumer`.
 *  - rows PUT to either member of c1 are on both, once (counts and distinct ids equal);
 *  - A2 stopped while rows arrive at A1, restarted: it becomes complete;
 *  - a query on Q counts each row once, and answers from A2 while A1 is down (fail-over);
 *  - A2's home deleted and the node started empty: it pulls everything back;
 *  - A2 killed -9 ten times while units are distributed: nothing lost, nothing twice;
 *  - `test cluster data`, `get cluster info`, `get distributor`, `get consumer`, `get tsd ...`.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "./support/node-process.ts";
import { OperatorNode, command, put, select, waitFor } from "./support/operator.ts";
import { PostgresServer } from "./support/postgres.ts";
import { ScriptNode, stopScriptNodes } from "./support/script-node.ts";

setDefaultTimeout(180_000);

const work = mkdtempSync(join(tmpdir(), "anylog-ha-"));
let a1: OperatorNode;
let a2: OperatorNode;
let b: OperatorNode;
let q: ScriptNode;
let qUrl = "";
let pg: PostgresServer | undefined;
/** The policies every node holds (what a master's sync would give them). */
let policies: string[] = [];

afterAll(async () => {
  await stopScriptNodes();
  await pg?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function post(url: string, cmd: string): Promise<string> {
  const r = await command(url, cmd, true);
  if (r.status !== 200) throw new Error(`${cmd}: ${r.status} ${r.text}`);
  return r.text;
}

const declare = async (url: string) => {
  for (const p of policies) await post(url, `blockchain insert where policy = ${p} and local = true`);
};

let nextId = 0;
/** `n` rows with ids never used before. */
function rows(n: number): { body: string; ids: number[] } {
  const ids = Array.from({ length: n }, () => ++nextId);
  return { body: ids.map((id) => JSON.stringify({ id, device: `d${id % 4}`, value: id / 2, ts: new Date(Date.UTC(2026, 11, 1) + id * 1000).toISOString() })).join("\n"), ids };
}

async function count(op: OperatorNode): Promise<{ n: number; d: number }> {
  const r = await select(op, "ha", "select count(*) as n, count(distinct id) as d from readings").catch(() => [{ n: 0, d: 0 }]);
  return { n: Number(r[0]?.n ?? 0), d: Number(r[0]?.d ?? 0) };
}

/** The network's answer on Q: each row once. */
async function networkCount(): Promise<number> {
  const r = await fetch(qUrl, { headers: { command: 'sql ha format = json and stat = false "select count(*) as n from readings"', destination: "network" } });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`network count: ${r.status} ${text}`);
  return Number((JSON.parse(text) as { Query: Array<{ n: number }> }).Query[0]!.n);
}

const ha = ["run data distributor", "run data consumer where start_date = -30d"];

beforeAll(async () => {
  pg = await PostgresServer.start();
  const started = await Promise.all(["a1", "a2", "b"].map((n) => OperatorNode.start({ engine: n === "a1" ? "psql" : "sqlite", pg, dir: join(work, n), dbms: "ha", before: ha })));
  [a1, a2, b] = [started[0]!, started[1]!, started[2]!];
  const [tcp, rest] = (await freePorts(2)) as [number, number];
  mkdirSync(join(work, "q"), { recursive: true });
  const script = join(work, "q", "query.al");
  writeFileSync(script, [`run tcp server where external_ip = 127.0.0.1 and external_port = ${tcp} and bind = true`, `run rest server where external_ip = 127.0.0.1 and external_port = ${rest} and bind = true and timeout = 60`, ""].join("\n"));
  q = await ScriptNode.start({ home: join(work, "q", "home"), script, restPort: rest, set: { node_name: "query" } });
  qUrl = `http://127.0.0.1:${rest}`;

  // the policies: c1 and c2 hold ha.readings; A1 and A2 are c1's members, B is c2's
  const cluster = (name: string) => `{"cluster": {"name": "${name}", "company": "HA", "table": [{"dbms": "ha", "name": "readings"}]}}`;
  await post(qUrl, `blockchain insert where policy = ${cluster("c1")} and local = true`);
  await post(qUrl, `blockchain insert where policy = ${cluster("c2")} and local = true`);
  const id = async (name: string) => (await post(qUrl, `blockchain get cluster where name = ${name} bring.first [cluster][id]`)).trim();
  const [c1, c2] = [await id("c1"), await id("c2")];
  policies = [
    cluster("c1"),
    cluster("c2"),
    ...[
      [a1, "a1", c1],
      [a2, "a2", c1],
      [b, "b", c2],
    ].map(([op, name, c]) => `{"operator": {"name": "${name as string}", "company": "HA", "ip": "127.0.0.1", "port": ${(op as OperatorNode).tcpPort}, "cluster": "${c as string}"}}`),
    '{"table": {"name": "readings", "dbms": "ha", "create": "CREATE TABLE IF NOT EXISTS readings(id int, device varchar, value float, ts timestamp)"}}',
  ];
  for (const url of [a1.url, a2.url, b.url]) await declare(url);
  for (const p of policies.slice(2)) await post(qUrl, `blockchain insert where policy = ${p} and local = true`);
}, 120_000);

describe("high availability", () => {
  test("rows PUT to either member of a cluster are on both, once; the other cluster keeps its own; a network query counts each row once", async () => {
    expect((await put(a1.url, "ha", "readings", rows(100).body)).status).toBe(200);
    expect((await put(a2.url, "ha", "readings", rows(50).body)).status).toBe(200);
    expect((await put(b.url, "ha", "readings", rows(70).body)).status).toBe(200);
    await waitFor("A1 and A2 hold 150 rows each", async () => (await count(a1)).n === 150 && (await count(a2)).n === 150, 30_000, 200);
    expect(await count(a1)).toEqual({ n: 150, d: 150 });
    expect(await count(a2)).toEqual({ n: 150, d: 150 });
    expect(await count(b)).toEqual({ n: 70, d: 70 });
    // the values travel whole between the engines (A1 PostgreSQL, A2 SQLite)
    const values = async (op: OperatorNode) => (await select(op, "ha", "select sum(value) as v, count(distinct device) as devices from readings"))[0];
    expect(await values(a2)).toEqual(await values(a1));
    const when = async (op: OperatorNode, id: number) => String((await select(op, "ha", `select ts from readings where id = ${id}`))[0]?.ts).slice(0, 19);
    for (const id of [1, 120]) expect(await when(a2, id)).toBe(await when(a1, id));
    expect(await when(a1, 120)).toBe("2026-12-01 00:02:00");
    expect(await networkCount()).toBe(220);

    const info = (await command(a1.url, "get cluster info where format = json")).json as { cluster: string; member: number; members: Array<{ address: string; self: boolean }> };
    expect(info.members.map((m) => m.address).sort()).toEqual([`127.0.0.1:${a1.tcpPort}`, `127.0.0.1:${a2.tcpPort}`].sort());
    const distributor = (await command(a1.url, "get distributor")).json as { members: Array<{ address: string; sent: number; pending: number }> };
    expect(distributor.members).toEqual([expect.objectContaining({ address: `127.0.0.1:${a2.tcpPort}`, sent: 1, pending: 0 })]);
    // what came from A2 is recorded as A2's (tsd_<member>), and not sent back
    const list = (await command(a1.url, "get tsd list where format = json")).json as Array<{ table: string; units: number }>;
    expect(list.find((t) => t.table === "tsd_info")?.units).toBe(1);
    expect(list.filter((t) => t.table.startsWith("tsd_") && t.table !== "tsd_info").map((t) => t.units)).toEqual([1]);
    const same = (await command(a1.url, "test cluster data where format = json")).json as { tables: Array<{ table: string; same: boolean }> };
    expect(same.tables).toEqual([expect.objectContaining({ table: "ha.readings", same: true })]);
    // what the consumers compare first: one digest per day, equal on both members
    const digest = async (op: OperatorNode) => (await command(op.url, "get tsd digest where start_date = -1d")).json as Record<string, { units: number; hash: string }>;
    expect(Object.values(await digest(a1)).reduce((n, d) => n + d.units, 0)).toBe(2);
    expect(await digest(a2)).toEqual(await digest(a1));
  });

  test("a member stopped while rows arrive is complete once it is back; a query answers from the other member while one is down", async () => {
    expect(await a2.node.stop()).toBe(0);
    for (let i = 0; i < 4; i++) expect((await put(a1.url, "ha", "readings", rows(10).body)).status).toBe(200);
    expect(await networkCount()).toBe(260); // A2 down: A1 answers for c1
    await a2.restart();
    await waitFor("A2 complete", async () => (await count(a2)).n === 190, 60_000, 250);
    expect(await count(a2)).toEqual({ n: 190, d: 190 });

    // A1 down: A2 answers for its cluster
    expect(await a1.node.stop()).toBe(0);
    expect(await networkCount()).toBe(260);
    const status = await command(qUrl, "query status");
    expect(status.text).toContain(`127.0.0.1:${a2.tcpPort}`);
    await a1.restart();
    expect(await networkCount()).toBe(260);
  });

  test("a member whose home was deleted starts empty and pulls everything back", async () => {
    expect(await a2.node.stop()).toBe(0);
    rmSync(a2.home, { recursive: true, force: true });
    await a2.restart();
    await declare(a2.url); // (a master's sync would bring the policies back)
    await waitFor("A2 has every row again", async () => (await count(a2)).n === 190, 60_000, 250);
    expect(await count(a2)).toEqual({ n: 190, d: 190 });
    const consumer = (await command(a2.url, "get consumer")).json as { peers: Array<{ address: string; pulled: number; missing: number }> };
    expect(consumer.peers[0]).toMatchObject({ address: `127.0.0.1:${a1.tcpPort}`, missing: 0 });
    // (A1's distributor may push some of its own units again; A2's own unit comes back only by pulling)
    expect(consumer.peers[0]!.pulled).toBeGreaterThanOrEqual(1);
    expect(await networkCount()).toBe(260);
  });

  test("a member killed -9 ten times while units are distributed: nothing lost, nothing stored twice", async () => {
    let expected = (await count(a1)).n;
    for (let round = 0; round < 10; round++) {
      const sends = [0, 1, 2].map(async () => {
        const r = await put(a1.url, "ha", "readings", rows(15).body);
        expect(r.status).toBe(200);
      });
      await Bun.sleep(Math.floor(Math.random() * 120));
      await a2.node.kill();
      await Promise.all(sends);
      expected += 45;
      await a2.restart();
    }
    await waitFor("A2 caught up after ten kills", async () => (await count(a2)).n === expected, 90_000, 250);
    await Bun.sleep(1500); // (a unit stored twice would show now)
    expect(await count(a2)).toEqual({ n: expected, d: expected });
    expect(await count(a1)).toEqual({ n: expected, d: expected });
    const same = (await command(a1.url, "test cluster data where format = json")).json as { tables: Array<{ same: boolean }> };
    expect(same.tables.every((t) => t.same)).toBe(true);
  });

  test("bad use: a consumer mode that is not one, a date that is not one, an unknown unit", async () => {
    expect((await command(a1.url, "set consumer mode = sleepy", true)).text).toContain("not active or suspend");
    expect((await command(a1.url, "set consumer mode = suspend", true)).status).toBe(200);
    expect(((await command(a1.url, "get consumer")).json as { mode: string }).mode).toBe("suspend");
    expect((await command(a1.url, "set consumer mode = active", true)).status).toBe(200);
    expect((await command(a1.url, "get tsd details where start_date = yesterdayish")).text).toContain("is not a date");
    const unknown = await command(a1.url, "ha unit where hash = 0123456789abcdef0123456789abcdef");
    expect(unknown.status).toBe(404);
    expect((await command(b.url, "ha store where origin = 5", true)).text).toContain("payload");
  });
});
