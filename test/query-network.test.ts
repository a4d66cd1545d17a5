/**
 * The query network: one SQL question answered by three operator processes (two on SQLite,
 * one on PostgreSQL) through a query node, merged as if it were one database.
 *  - A property test: seeded random rows spread over the operators (a column that is an
 *    integer on one operator and a float on another), seeded random queries from a grammar
 *    (aggregates with avg, count(distinct), range, expressions over aggregates, group by,
 *    having, order by, limit/offset, where, timezone, AnyLog's increments and period), each
 *    compared with the same query (time buckets and periods written out in SQLite) on
 *    one SQLite database holding all the rows. QUERY_SEED replays a run; the seed is printed
 *    with any failure.
 *  - The REST `destination: network` header and `run client ()` give the same answer; curl
 *    as the AnyLog documentation writes it.
 *  - A table that no one holds is an error naming it.
 *  - What query tools ask first (get tables / columns / data nodes, test network / node),
 *    `select *` in the table policy's column order, extend and include, Grafana's JSON data
 *    source (the plugin's request bodies), query status / explain / get queries time.
 *  - One operator stopped: without `subset` the query fails naming it; with `subset = true`
 *    the other two answer and Statistics names the missing one.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { showTime, zoneOf } from "../src/query/time.ts";
import { bucketSql, lastTimeQuery, periodOf, withPeriod } from "../src/query/time-functions.ts";
import { curl } from "./support/node-process.ts";
import { OperatorNode, command, put } from "./support/operator.ts";
import { PostgresServer } from "./support/postgres.ts";
import { prng } from "./support/prng.ts";
import { stopScriptNodes } from "./support/script-node.ts";

setDefaultTimeout(240_000);

const SEED = Number(process.env.QUERY_SEED ?? Date.now() % 1_000_000);
const QUERIES = Number(process.env.QUERY_COUNT ?? 500);
const work = mkdtempSync(join(tmpdir(), "anylog-qnet-"));
let pg: PostgresServer;
let ops: OperatorNode[] = [];
let query: OperatorNode;
const reference = new Database(":memory:");
/** The columns of the table policy op0 declared, in its order (it depends on the seed: a key
 * first seen null is added when a value shows its type). */
let policyColumns: string[] = [];

afterAll(async () => {
  await stopScriptNodes();
  await pg?.stop();
  reference.close();
  rmSync(work, { recursive: true, force: true });
});

interface Row {
  device: string;
  reading: number;
  amount: number;
  flag: string | null;
  ts: string;
}

/** POSTs a command to a node; throws with the reply when it fails. */
async function post(url: string, cmd: string): Promise<unknown> {
  const r = await command(url, cmd, true);
  if (r.status !== 200) throw new Error(`${cmd}: ${r.status} ${r.text}`);
  return r.json ?? r.text;
}

/** A command to the query node, by default with `destination: network`. */
const ask = (cmd: string, headers: Record<string, string> = { destination: "network" }) => command(query.url, cmd, false, 60_000, headers);

beforeAll(async () => {
  pg = await PostgresServer.start();
  const engines = ["sqlite", "sqlite", "psql"] as const;
  ops = await Promise.all(engines.map((engine, i) => OperatorNode.start({ engine, pg, dir: join(work, `op${i}`), dbms: "qn" })));
  query = await OperatorNode.start({ engine: "sqlite", dir: join(work, "query"), dbms: "unused" });

  // the rows: `reading` is an integer on the first operator and a float on the others
  const random = prng(SEED);
  const devices = ["d1", "d2", "d3", "d4", "d5"];
  const start = Date.UTC(2026, 10, 1);
  const perOp: Row[][] = [[], [], []];
  for (let i = 0; i < 900; i++) {
    const op = Math.floor(random() * 3);
    const whole = Math.floor(random() * 100);
    perOp[op]!.push({
      device: devices[Math.floor(random() * devices.length)]!,
      reading: op === 0 ? whole : whole + 0.375 + Math.floor(random() * 8) / 16,
      amount: Math.floor(random() * 50),
      flag: random() < 0.2 ? null : random() < 0.5 ? "on" : "off",
      ts: new Date(start + Math.floor(random() * 3 * 86_400_000)).toISOString(),
    });
  }
  reference.run("CREATE TABLE readings (device, reading, amount, flag, ts)");
  const insert = reference.prepare("INSERT INTO readings VALUES (?, ?, ?, ?, ?)");
  for (const [i, rows] of perOp.entries()) {
    for (let k = 0; k < rows.length; k += 100) {
      const r = await put(ops[i]!.url, "qn", "readings", rows.slice(k, k + 100).map((x) => JSON.stringify(x)).join("\n"));
      expect(r.status).toBe(200);
    }
    for (const x of rows) insert.run(x.device, x.reading, x.amount, x.flag, x.ts.replace("T", " ").replace("Z", "000"));
  }

  // the metadata the query node reads: two clusters (one by dbms, one holding anything), one
  // operator in each, one operator without a cluster, and the table's policy
  await post(query.url, 'blockchain insert where policy = {"cluster": {"name": "c1", "company": "Q", "dbms": "qn"}} and local = true');
  await post(query.url, 'blockchain insert where policy = {"cluster": {"name": "c2", "company": "Q"}} and local = true');
  await post(query.url, 'blockchain insert where policy = {"cluster": {"name": "other", "company": "Q", "dbms": "elsewhere"}} and local = true');
  const clusterId = async (name: string) => String(await post(query.url, `blockchain get cluster where name = ${name} bring.first [cluster][id]`)).trim();
  const clusters = [await clusterId("c1"), await clusterId("c2"), ""];
  for (const [i, op] of ops.entries()) {
    const cluster = clusters[i] ? `, "cluster": "${clusters[i]}"` : "";
    await post(query.url, `blockchain insert where policy = {"operator": {"name": "op${i}", "company": "Q", "ip": "127.0.0.1", "port": ${op.tcpPort}${cluster}}} and local = true`);
  }
  // an operator of a cluster that does not hold the table: never asked (it is not even running)
  await post(query.url, `blockchain insert where policy = {"operator": {"name": "op-other", "company": "Q", "ip": "127.0.0.1", "port": 9, "cluster": "${await clusterId("other")}"}} and local = true`);
  // the table policy the first operator declared when its first rows came
  const declared = await command(ops[0]!.url, "blockchain get table where name = readings and dbms = qn");
  const policy = (declared.json as Array<Record<string, unknown>>)[0]!;
  const create = String((policy.table as { create: string }).create);
  // each top-level definition of the CREATE TABLE (a DEFAULT (...) holds commas of its own)
  let depth = 0;
  let definition = "";
  for (const ch of create.slice(create.indexOf("(") + 1, create.lastIndexOf(")")) + ",") {
    if (ch === "," && depth === 0) {
      policyColumns.push(definition.trim().split(/\s+/)[0]!.replace(/"/g, ""));
      definition = "";
      continue;
    }
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    definition += ch;
  }
  await post(query.url, `blockchain insert where policy = ${JSON.stringify(policy)} and local = true`);
});

// --- the grammar ---

interface Generated {
  network: string;
  reference: string;
  timezone: string;
  /** The answer's order is part of the question (ORDER BY over every output column). */
  ordered: boolean;
}

function generate(random: () => number): Generated {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const wheres = [
    "",
    `reading > ${Math.floor(random() * 80)}`,
    `amount between ${Math.floor(random() * 20)} and ${20 + Math.floor(random() * 30)}`,
    "device in ('d1', 'd3', 'd5')",
    "flag is null",
    "flag = 'on' or amount < 10",
    `ts >= '2026-11-0${2 + Math.floor(random() * 2)} 00:00:00'`,
    "not (device = 'd2') and reading < 60.5",
  ];
  let where = pick(wheres);
  let referenceWhere = where;
  if (random() < 0.15) {
    // AnyLog's period: the n units that end at the last row at or before the date (with a filter for that row)
    const unit = pick(["hour", "minute", "day"] as const);
    const n = 1 + Math.floor(random() * 12);
    const date = pick(["now()", "'2026-11-02 12:00:00'", "'2026-11-03 06:30:00'"]);
    const filter = random() < 0.4 ? ", device = 'd2'" : "";
    where = `period(${unit}, ${n}, ${date}, ts${filter})`;
    const p = periodOf(`select 1 from readings where ${where}`);
    if (!p.ok || !p.value) throw new Error(`period in the grammar: ${where}`);
    const last = reference.query(lastTimeQuery(p.value, "readings")).get() as { last: string | null };
    referenceWhere = withPeriod(where, { ...p.value, start: 0, end: where.length }, last.last);
  }
  const timezone = pick(["utc", "utc", "America/New_York", "Europe/London"]);
  const whereText = where ? ` where ${where}` : "";
  const referenceWhereText = referenceWhere ? ` where ${referenceWhere}` : "";
  if (random() < 0.15) {
    // AnyLog's increments: time buckets, in time order, the bucket itself not shown
    const unit = pick(["hour", "minute", "day"] as const);
    const n = 1 + Math.floor(random() * 6);
    const aggs = pick([["count(*)", "max(ts)", "avg(reading)"], ["min(ts)", "sum(amount)"], ["max(reading) - min(reading) as diff", "count(reading)"]]);
    const bucket = bucketSql("sqlite", unit, n, "ts");
    return {
      network: `select increments(${unit}, ${n}, ts), ${aggs.join(", ")} from readings${whereText}`,
      reference: `select ${aggs.join(", ")} from readings${referenceWhereText} group by ${bucket} order by ${bucket}`,
      timezone,
      ordered: true,
    };
  }
  if (random() < 0.3) {
    // rows: every selected column in the order, so ties cannot reorder them (ordered by
    // numbers and times only, a limited query is limited on the operators too)
    const cols = pick([["device", "reading", "amount"], ["ts", "device"], ["flag", "amount", "ts"], ["reading"], ["amount", "reading"], ["ts", "amount"]]);
    const order = cols.map((c) => `${c}${random() < 0.5 ? " desc" : ""}`).join(", ");
    const limit = random() < 0.6 ? ` limit ${1 + Math.floor(random() * 40)}${random() < 0.4 ? ` offset ${Math.floor(random() * 20)}` : ""}` : "";
    const tail = ` order by ${order}${limit}`;
    return { network: `select ${cols.join(", ")} from readings${whereText}${tail}`, reference: `select ${cols.join(", ")} from readings${referenceWhereText}${tail}`, timezone, ordered: true };
  }
  const aggregates: Array<[string, string]> = [
    ["count(*)", "count(*)"],
    ["count(reading)", "count(reading)"],
    ["sum(amount)", "sum(amount)"],
    ["min(reading)", "min(reading)"],
    ["max(ts)", "max(ts)"],
    ["avg(reading)", "avg(reading)"],
    ["count(distinct device)", "count(distinct device)"],
    ["range(amount) as spread", "max(amount) - min(amount) as spread"],
    ["max(reading) - min(reading) as diff", "max(reading) - min(reading) as diff"],
    ["sum(amount) * 2 + count(*) as mix", "sum(amount) * 2 + count(*) as mix"],
    ["min(flag)", "min(flag)"],
  ];
  const chosen = aggregates.filter(() => random() < 0.35);
  if (chosen.length === 0) chosen.push(pick(aggregates));
  const groups = pick([[], ["device"], ["flag"], ["device", "flag"]]);
  const having = groups.length > 0 && random() < 0.3 ? ` having count(*) > ${Math.floor(random() * 30)}` : "";
  const select = (side: 0 | 1) => [...groups, ...chosen.map((a) => a[side])].join(", ");
  const groupBy = groups.length > 0 ? ` group by ${groups.join(", ")}` : "";
  // ordered by every output column (by position), so ties cannot reorder the rows
  const width = groups.length + chosen.length;
  const ordered = groups.length > 0 && random() < 0.6;
  const order = ordered ? ` order by ${Array.from({ length: width }, (_, i) => `${i + 1}${random() < 0.5 ? " desc" : ""}`).join(", ")}` : "";
  const limit = ordered && random() < 0.5 ? ` limit ${1 + Math.floor(random() * 6)}${random() < 0.4 ? ` offset ${Math.floor(random() * 3)}` : ""}` : "";
  const tail = `${groupBy}${having}${order}${limit}`;
  return { network: `select ${select(0)} from readings${whereText}${tail}`, reference: `select ${select(1)} from readings${referenceWhereText}${tail}`, timezone, ordered };
}

const close = (a: unknown, b: unknown): boolean => {
  if (typeof a === "number" && typeof b === "number") return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  return a === b;
};

function sameRows(got: unknown[][], want: unknown[][]): boolean {
  return got.length === want.length && got.every((r, i) => r.length === want[i]!.length && r.every((v, k) => close(v, want[i]![k])));
}

describe(`query network over 3 operators (QUERY_SEED=${SEED})`, () => {
  test(`${QUERIES} random queries through destination: network give the rows of one database holding all the data`, async () => {
    const random = prng(SEED + 1);
    const failures: string[] = [];
    for (let n = 0; n < QUERIES && failures.length < 5; n++) {
      const g = generate(random);
      const zone = zoneOf(g.timezone);
      if (!zone.ok) throw new Error(zone.error.message);
      const stmt = reference.query(g.reference);
      const wantRows = (stmt.values() as unknown[][]).map((r) => r.map((v) => (typeof v === "string" ? showTime(v, zone.value) : v)));
      const wantCols = stmt.columnNames;
      const r = await ask(`sql qn format = json and timezone = ${g.timezone} "${g.network}"`);
      const answer = r.json as { Query?: Array<Record<string, unknown>>; Statistics?: Array<{ Nodes: number }> } | undefined;
      if (r.status !== 200 || !answer?.Query) {
        failures.push(`#${n} ${g.network}: ${r.status} ${r.text.slice(0, 300)}`);
        continue;
      }
      const gotCols = answer.Query.length > 0 ? Object.keys(answer.Query[0]!) : wantCols;
      let gotRows = answer.Query.map((o) => gotCols.map((c) => o[c] ?? null));
      let want = wantRows;
      if (!g.ordered) {
        const key = (row: unknown[]) => JSON.stringify(row.map((v) => (typeof v === "number" ? Number(v.toPrecision(12)) : v)));
        gotRows = [...gotRows].sort((a, b) => key(a).localeCompare(key(b)));
        want = [...want].sort((a, b) => key(a).localeCompare(key(b)));
      }
      if (JSON.stringify(gotCols) !== JSON.stringify(wantCols) || !sameRows(gotRows, want)) {
        failures.push(`#${n} ${g.network} (timezone ${g.timezone})\n  columns ${JSON.stringify(gotCols)} want ${JSON.stringify(wantCols)}\n  got  ${JSON.stringify(gotRows).slice(0, 400)}\n  want ${JSON.stringify(want).slice(0, 400)}`);
      }
      if (answer.Statistics?.[0]?.Nodes !== 3) failures.push(`#${n} ${g.network}: Statistics ${JSON.stringify(answer.Statistics)} (3 nodes expected)`);
    }
    if (failures.length > 0) throw new Error(`QUERY_SEED=${SEED}: ${failures.length} queries differ from one database:\n${failures.join("\n")}`);
  });

  test("run client () in a command, the destination header and curl as the AnyLog documentation writes it give the same answer", async () => {
    const q = "select device, count(*) as rows, avg(reading) as mean from readings group by device order by device";
    const want = reference.query(q).all();
    const viaHeader = await ask(`sql qn format = json and stat = false "${q}"`);
    expect(viaHeader.status).toBe(200);
    const viaRunClient = await ask(`run client () sql qn format = json and stat = false "${q}"`, {});
    expect(viaRunClient.status).toBe(200);
    expect(viaRunClient.json).toEqual(viaHeader.json);
    const rows = (viaHeader.json as { Query: Array<Record<string, unknown>> }).Query;
    expect(rows.map((r) => r.device)).toEqual(want.map((r) => (r as { device: string }).device));
    rows.forEach((r, i) => expect(close(r.mean, (want[i] as { mean: number }).mean)).toBe(true));

    const c = await curl(["-X", "GET", query.url, "-H", `command: sql qn format = table "select count(*) from readings"`, "-H", "User-Agent: AnyLog/1.23", "-H", "destination: network"]);
    expect(c.status).toBe(200);
    expect(c.body).toContain("count(*)");
    expect(c.body).toContain("900");
    const listed = await ask('sql qn format = json:list "select count(*) as n, min(amount) as low from readings"');
    expect(listed.json).toEqual([{ n: 900, low: (reference.query("select min(amount) as low from readings").get() as { low: number }).low }]);
    // increments and period asked of one operator alone (no destination) answer as the network does with that operator named
    for (const [i, q2] of [
      [2, "select increments(hour, 3, ts), count(*), max(ts), avg(reading) from readings"],
      [0, "select count(*), min(ts) from readings where period(hour, 5, now(), ts)"],
      [2, "select device, sum(amount) from readings where period(day, 1, '2026-11-02 12:00:00', ts, flag = 'on') group by device order by device"],
    ] as const) {
      const cmd = `sql qn format = json and stat = false and timezone = utc "${q2}"`;
      const alone = await command(ops[i]!.url, cmd);
      expect(alone.status).toBe(200);
      const viaNetwork = await ask(cmd, { destination: `127.0.0.1:${ops[i]!.tcpPort}` });
      expect(alone.json).toEqual(viaNetwork.json);
      expect(((alone.json as { Query: unknown[] }).Query.length)).toBeGreaterThan(0);
    }
    const badIncrements = await command(ops[0]!.url, 'sql qn "select increments(fortnight, 1, ts), count(*) from readings"');
    expect(badIncrements.status).toBe(400);
    expect(badIncrements.text).toMatch(/increments\(fortnight, 1, ts\)/);
    // a named peer list instead of the network: the same merge
    const named = await ask('sql qn format = json and stat = false "select count(*) as n from readings"', { destination: ops.map((o) => `127.0.0.1:${o.tcpPort}`).join(",") });
    expect(named.json).toEqual({ Query: [{ n: 900 }] });
  });

  test("a table that no operator holds, and a query the network cannot run, are clear errors", async () => {
    const none = await ask('sql qn "select count(*) from nowhere"');
    expect(none.status).toBeGreaterThanOrEqual(400);
    expect(none.text).toContain("qn.nowhere");
    const join = await ask('sql qn "select count(*) from readings a join readings b on a.device = b.device"');
    expect(join.status).toBe(400);
    expect(join.text).toMatch(/one table/);
    const bad = await ask('run client (subset = maybe) sql qn "select 1 from readings"', {});
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/subset = maybe/);
  });

  test("what query tools ask first: get tables, get columns, get data nodes, test network, test node", async () => {
    const local = async (cmd: string) => {
      const r = await command(query.url, cmd);
      if (r.status !== 200) throw new Error(`${cmd}: ${r.status} ${r.text}`);
      return r;
    };
    expect((await local("get tables where dbms = qn and format = json")).json).toEqual([{ dbms: "qn", table: "readings", local: false, declared: true }]);
    expect((await local("get tables where dbms = *")).text).toContain("readings");
    const columns = (await local("get columns where dbms = qn and table = readings and format = json")).json as Record<string, string>;
    expect(Object.keys(columns)).toEqual(policyColumns);
    expect(Object.keys(columns)).toEqual(expect.arrayContaining(["row_id", "device", "reading", "amount", "ts"]));
    // select * answers with the policy's columns, in its order
    const star = await ask('sql qn format = json and stat = false "select * from readings where amount = 7 limit 3"');
    expect(Object.keys((star.json as { Query: Array<Record<string, unknown>> }).Query[0]!)).toEqual(Object.keys(columns));
    const missing = await command(query.url, "get columns where dbms = qn and table = nowhere");
    expect(missing.status).toBe(404);
    expect(missing.text).toContain("qn.nowhere");
    const held = (await local("get data nodes where dbms = qn and format = json")).json as Array<{ address: string; operator: string }>;
    expect(held.map((h) => h.address).sort()).toEqual(ops.map((o) => `127.0.0.1:${o.tcpPort}`).sort());
    expect(held.map((h) => h.operator).sort()).toEqual(["op0", "op1", "op2"]);
    const tested = (await local("test network where format = json and timeout = 3")).json as Array<{ name: string; reachable: boolean; error: string }>;
    expect(tested.filter((t) => t.reachable).map((t) => t.name).sort()).toEqual(["op0", "op1", "op2"]);
    expect(tested.find((t) => t.name === "op-other")).toMatchObject({ reachable: false });
    expect(tested.find((t) => t.name === "op-other")!.error).toContain("127.0.0.1:9");
    const self = (await local("test node where format = json")).json as Array<{ test: string; ok: boolean }>;
    expect(self.map((c) => [c.test, c.ok])).toEqual([
      ["TCP server", true],
      ["REST server", true],
      ["Metadata", true],
    ]);
  });

  test("extend adds each operator's own values (and an aggregate counts per operator); include reads another table as if it were the queried one", async () => {
    const perOperator = await ask('sql qn format = json and stat = false and extend = (@port, +node_name, @table_name as t) "select count(*) as n, max(amount) as top from readings"');
    expect(perOperator.status).toBe(200);
    const rows = (perOperator.json as { Query: Array<Record<string, unknown>> }).Query;
    expect(rows.map((r) => Object.keys(r))).toEqual([0, 1, 2].map(() => ["port", "node_name", "t", "n", "top"]));
    expect(rows.map((r) => r.port).sort()).toEqual(ops.map((o) => o.tcpPort).sort());
    expect(rows.map((r) => r.node_name).sort()).toEqual(["op0", "op1", "op2"]);
    expect(rows.every((r) => r.t === "readings")).toBe(true);
    expect(rows.reduce((a, r) => a + Number(r.n), 0)).toBe(900);
    const listed = await ask('sql qn format = json and stat = false and extend = (@port) "select device, amount from readings where amount = 7 order by device, amount"');
    const listedRows = (listed.json as { Query: Array<Record<string, unknown>> }).Query;
    expect(listedRows.length).toBe((reference.query("select count(*) as n from readings where amount = 7").get() as { n: number }).n);
    expect(Object.keys(listedRows[0]!)).toEqual(["port", "device", "amount"]);

    // a second table on one operator, declared to the query node: included, its rows count with the queried table's
    const extra = Array.from({ length: 25 }, (_, i) => JSON.stringify({ device: "d9", reading: i, amount: i, flag: "on", ts: "2026-11-05T00:00:00Z" })).join("\n");
    expect((await put(ops[0]!.url, "qn", "archive", extra)).status).toBe(200);
    await post(query.url, 'blockchain insert where policy = {"table": {"name": "archive", "dbms": "qn", "create": "CREATE TABLE archive (device TEXT)"}} and local = true');
    const both = await ask('sql qn format = json and stat = false and include = (qn.archive) "select count(*) as n, max(ts) as last from readings"');
    expect(both.json).toEqual({ Query: [{ n: 925, last: "2026-11-05 00:00:00.000000" }] });
    const rowsOfBoth = await ask('sql qn format = json and stat = false and include = (qn.archive) "select device from readings where device = \'d9\'"');
    expect((rowsOfBoth.json as { Query: unknown[] }).Query.length).toBe(25);
    const badInclude = await ask('sql qn include = (qn.nowhere) "select count(*) from readings"');
    expect(badInclude.text).toContain("qn.nowhere");
  });

  test("Grafana's JSON data source: connection test, metric list, a time-series panel, a table panel, a period gauge, errors", async () => {
    const grafana = (path: string, body: unknown, method = "POST") =>
      fetch(`${query.url}${path}`, { method, headers: { "content-type": "application/json", "User-Agent": "Grafana/11.2.0" }, body: method === "POST" ? JSON.stringify(body) : undefined });
    const hello = await grafana("/", undefined, "GET");
    expect(hello.status).toBe(200);
    expect(hello.headers.get("access-control-allow-origin")).toBeNull(); // (CORS is off unless run rest server names origins: Grafana's server-side access needs none)
    expect(await grafana("/search", { target: "" }).then((r) => r.json())).toEqual(["qn.archive", "qn.readings"]);
    expect(await grafana("/metrics", {}).then((r) => r.json())).toContainEqual({ label: "qn.readings", value: "qn.readings" });

    // a time-series panel over three days in at most 72 points: hour buckets, min/max/avg of reading
    const range = { from: "2026-11-01T00:00:00.000Z", to: "2026-11-04T00:00:00.000Z", raw: { from: "now-3d", to: "now" } };
    const panel = {
      app: "dashboard",
      requestId: "Q1",
      timezone: "browser",
      range,
      interval: "1h",
      intervalMs: 3_600_000,
      maxDataPoints: 72,
      targets: [{ target: "qn.readings", refId: "A", payload: { time_column: "ts", value_column: "reading", functions: ["min", "max", "avg"] } }],
    };
    const series = (await grafana("/query", panel).then((r) => r.json())) as Array<{ target: string; datapoints: Array<[number, number]> }>;
    expect(series.map((s) => s.target)).toEqual(["min(reading)", "max(reading)", "avg(reading)"]);
    const bucket = bucketSql("sqlite", "hour", 1, "ts");
    const want = reference.query(`select min(ts) as t, min(reading) as lo, max(reading) as hi, avg(reading) as mean from readings where ts >= '2026-11-01 00:00:00.000000' and ts <= '2026-11-04 00:00:00.000000' group by ${bucket} order by ${bucket}`).all() as Array<{ t: string; lo: number; hi: number; mean: number }>;
    expect(series[2]!.datapoints.length).toBe(want.length);
    series[2]!.datapoints.forEach(([v, at], i) => {
      expect(close(v, want[i]!.mean)).toBe(true);
      expect(at).toBe(Date.parse(`${want[i]!.t.replace(" ", "T")}Z`));
    });
    expect(series[0]!.datapoints.map(([v]) => v)).toEqual(want.map((w) => w.lo));

    // the same as a table panel
    const table = (await grafana("/query", { ...panel, targets: [{ target: "qn.readings", refId: "B", payload: JSON.stringify({ time_column: "ts", value_column: ["amount"], functions: ["sum", "count"], grafana: { format_as: "table" } }) }] }).then((r) => r.json())) as Array<{ type: string; columns: Array<{ text: string }>; rows: unknown[][] }>;
    expect(table[0]!.type).toBe("table");
    expect(table[0]!.columns.map((c) => c.text)).toEqual(["Time", "sum(amount)", "count(amount)"]);
    expect(table[0]!.rows.reduce((a, r) => a + Number(r[2]), 0)).toBe(900);

    // a gauge: the 2 hours that end at the last reading before the dashboard's end
    const gauge = (await grafana("/query", { range: { from: range.from, to: "2026-11-03T00:00:00.000Z" }, targets: [{ target: "qn.readings", payload: { type: "period", time_column: "ts", value_column: "amount", functions: ["count"], interval: "2 hours" } }] }).then((r) => r.json())) as Array<{ datapoints: Array<[number, number]> }>;
    const last = (reference.query("select max(ts) as t from readings where ts <= '2026-11-03 00:00:00.000000'").get() as { t: string }).t;
    const lo = new Date(Date.parse(`${last.replace(" ", "T").slice(0, 23)}Z`) - 7_200_000).toISOString().replace("T", " ").replace("Z", "000");
    const wantCount = (reference.query(`select count(amount) as n from readings where ts > '${lo}' and ts <= '${last}'`).get() as { n: number }).n;
    expect(gauge[0]!.datapoints).toEqual([[wantCount, Date.parse(`${last.replace(" ", "T").slice(0, 23)}Z`)]]);

    const wrong = await grafana("/query", { targets: [{ target: "nodots", payload: {} }] });
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({ status: 400, message: expect.stringContaining("dbms.table") });
    const notJson = await fetch(`${query.url}/query`, { method: "POST", body: "{", headers: { "User-Agent": "Grafana/11.2.0" } });
    expect(notJson.status).toBe(400);
  });

  test("query status, query explain, get queries time and reset query timer show the network queries", async () => {
    expect((await command(query.url, "reset query timer", true)).status).toBe(200);
    const q = "select device, avg(reading) from readings group by device";
    expect((await ask(`sql qn "${q}"`)).status).toBe(200);
    const status = (await command(query.url, "query status")).text;
    for (const o of ops) expect(status).toContain(`127.0.0.1:${o.tcpPort}`);
    expect(status).toContain("completed");
    expect(status).toContain(q);
    const explain = (await command(query.url, "query explain")).text;
    expect(explain).toContain('Remote query: SELECT "device" AS "__g0", SUM("reading")');
    expect(explain).toContain('Local create: CREATE TABLE "readings" ("__g0", "__p0s", "__p0c")');
    expect(explain).toContain("Local query:  SELECT");
    const times = (await command(query.url, "get queries time where format = json")).json as Record<string, number>;
    expect(times.total).toBe(1);
    expect((await command(query.url, "get queries time")).text).toMatch(/Up to  1 sec\.: 1\n[\s\S]*Total queries: 1/);
    expect((await command(query.url, "query status all")).text.split("completed").length).toBeGreaterThan(10);
    expect((await command(query.url, "query status 99999")).status).toBe(404);
    // rows ordered by a time and limited: each operator sends its first rows only
    expect((await ask('sql qn "select ts, amount from readings order by ts desc, amount limit 5"')).status).toBe(200);
    expect((await command(query.url, "query explain")).text).toContain('Remote query: SELECT * FROM "readings" ORDER BY "ts" DESC NULLS LAST, "amount" ASC NULLS FIRST LIMIT 5');
  });

  test("one operator stopped: without subset the query fails naming it; with subset = true the others answer and Statistics names it", async () => {
    const dead = ops[1]!;
    await dead.node.stop();
    const q = 'sql qn format = json "select count(*) as n from readings"';
    const failed = await ask(q, { destination: "network", timeout: "5" });
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect(failed.text).toContain(`127.0.0.1:${dead.tcpPort}`);
    const partial = await ask(q, { destination: "network", subset: "true", timeout: "5" });
    expect(partial.status).toBe(200);
    const body = partial.json as { Query: Array<{ n: number }>; Statistics: Array<Record<string, unknown>> };
    const alive = await Promise.all([ops[0]!, ops[2]!].map(async (o) => Number(((await command(o.url, 'sql qn format = json "select count(*) as n from readings"')).json as { Query: Array<{ n: number }> }).Query[0]!.n)));
    expect(body.Query).toEqual([{ n: alive[0]! + alive[1]! }]);
    expect(body.Statistics[0]).toMatchObject({ "Target Nodes": 3, "Participating Nodes": 2, "Not Participating": [`127.0.0.1:${dead.tcpPort}`] });
    const viaRunClient = await ask('run client (subset = true and timeout = 5) sql qn format = json and stat = false "select count(*) as n from readings"', {});
    expect(viaRunClient.json).toEqual({ Query: body.Query });
  });
});
