/**
 * The publisher (`run publisher`): a publisher node and two operators in two clusters, each
 * cluster holding other tables, all real processes. Files dropped in the publisher's watch
 * directory land on the operator of their table's cluster (rows counted with `sql`); an
 * operator stopped for a minute while its files arrive gets them once it is back, none lost,
 * none twice;
 * `set data distribution` sends a table where it says; a node that runs an operator is
 * refused as a publisher.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "./support/node-process.ts";
import { OperatorNode, command, dropFile, scalar, waitFor } from "./support/operator.ts";
import { ScriptNode, stopScriptNodes } from "./support/script-node.ts";

setDefaultTimeout(180_000);

const work = mkdtempSync(join(tmpdir(), "anylog-pub-"));
let opA: OperatorNode;
let opB: OperatorNode;
let pub: ScriptNode;
let pubUrl = "";
const pubWatch = join(work, "pub", "watch");
const pubBkup = join(work, "pub", "bkup");
const pubErr = join(work, "pub", "error");

afterAll(async () => {
  await stopScriptNodes();
  rmSync(work, { recursive: true, force: true });
});

async function post(url: string, cmd: string): Promise<unknown> {
  const r = await command(url, cmd, true);
  if (r.status !== 200) throw new Error(`${cmd}: ${r.status} ${r.text}`);
  return r.json ?? r.text;
}

let seq = 0;
/** A data file of `rows` rows for pub.<table> in the publisher's watch directory (content unique unless `text` is given). */
function drop(table: string, rows: number, text?: string): string {
  const n = ++seq;
  const body = text ?? Array.from({ length: rows }, (_, i) => JSON.stringify({ device: `d${n}`, value: i, ts: new Date(Date.UTC(2026, 0, 1) + n * 1000 + i).toISOString() })).join("\n");
  dropFile(pubWatch, `pub.${table}.test.${n}.json`, body);
  return body;
}

/** Rows of pub.<table> on an operator (0 while the table does not exist). */
async function count(op: OperatorNode, table: string): Promise<number> {
  try {
    return await scalar(op, "pub", `select count(*) from ${table}`);
  } catch {
    return 0;
  }
}

const dataFiles = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json") || f.endsWith(".json.gz")) : []);

beforeAll(async () => {
  // (A takes messages of 1 MB at most: a file over it is refused by the connection)
  const ops = await Promise.all(["a", "b"].map((n) => OperatorNode.start({ engine: "sqlite", dir: join(work, n), dbms: "pub", maxFrame: n === "a" ? "1MB" : undefined })));
  [opA, opB] = [ops[0]!, ops[1]!];
  const [tcp, rest] = (await freePorts(2)) as [number, number];
  mkdirSync(join(work, "pub"), { recursive: true });
  const script = join(work, "pub", "publisher.al");
  writeFileSync(
    script,
    [
      `run tcp server where external_ip = 127.0.0.1 and external_port = ${tcp} and bind = true`,
      `run rest server where external_ip = 127.0.0.1 and external_port = ${rest} and bind = true and timeout = 60`,
      `run publisher where watch_dir = ${pubWatch} and bkup_dir = ${pubBkup} and error_dir = ${pubErr} and compress_json = true and dbms_name = file_name[0] and table_name = file_name[1]`,
      "",
    ].join("\n"),
  );
  pub = await ScriptNode.start({ home: join(work, "pub", "home"), script, restPort: rest, set: { node_name: "publisher" } });
  pubUrl = `http://127.0.0.1:${rest}`;

  // the metadata the publisher routes by: cluster c1 holds ta and tc, c2 holds tb; one operator in each
  await post(pubUrl, 'blockchain insert where policy = {"cluster": {"name": "c1", "company": "P", "table": [{"dbms": "pub", "name": "ta"}]}} and local = true');
  await post(pubUrl, 'blockchain insert where policy = {"cluster": {"name": "c2", "company": "P", "table": [{"dbms": "pub", "name": "tb"}, {"dbms": "pub", "name": "tc"}]}} and local = true');
  const clusterId = async (name: string) => String(await post(pubUrl, `blockchain get cluster where name = ${name} bring.first [cluster][id]`)).trim();
  for (const [op, cluster] of [[opA, "c1"], [opB, "c2"]] as const) {
    await post(pubUrl, `blockchain insert where policy = {"operator": {"name": "op-${cluster}", "company": "P", "ip": "127.0.0.1", "port": ${op.tcpPort}, "cluster": "${await clusterId(cluster)}"}} and local = true`);
  }
  for (const t of ["ta", "tb", "tc"]) {
    await post(pubUrl, `blockchain insert where policy = {"table": {"name": "${t}", "dbms": "pub", "create": "CREATE TABLE IF NOT EXISTS ${t}(device varchar, value int, ts timestamp)"}} and local = true`);
  }
}, 120_000);

describe("publisher", () => {
  test("runs: get processes, get publisher config", async () => {
    const procs = await command(pubUrl, "get processes");
    expect(procs.text).toMatch(/Publisher\s*\|\s*Running/);
    const config = await command(pubUrl, "get publisher config where format = json");
    expect(config.status).toBe(200);
    expect(config.json).toMatchObject({ watch_dir: pubWatch, compress_json: true, dbms_name: "file_name[0]", table_name: "file_name[1]" });
  });

  test("every file lands on the operator of its table's cluster", async () => {
    for (let i = 0; i < 3; i++) {
      drop("ta", 5);
      drop("tb", 7);
    }
    await waitFor("ta on operator A, tb on operator B", async () => (await count(opA, "ta")) === 15 && (await count(opB, "tb")) === 21, 30_000, 250);
    expect(await count(opB, "ta")).toBe(0);
    expect(await count(opA, "tb")).toBe(0);
    await waitFor("the watch directory empties", () => dataFiles(pubWatch).length === 0, 10_000);
    expect(readdirSync(pubBkup).filter((f) => f.endsWith(".json.gz")).length).toBe(6);
    const stats = await command(pubUrl, "get publisher where format = json");
    const tables = (stats.json as { tables: Array<{ table: string; destination: string; files: number }> }).tables;
    expect(tables.find((t) => t.table === "ta" && t.destination === `127.0.0.1:${opA.tcpPort}`)?.files).toBe(3);
    expect(tables.find((t) => t.table === "tb" && t.destination === `127.0.0.1:${opB.tcpPort}`)?.files).toBe(3);
  });

  test("an operator stopped for a minute while files arrive gets them when it is back: none lost, none twice", async () => {
    const before = { ta: await count(opA, "ta"), tb: await count(opB, "tb") };
    expect(await opB.node.stop()).toBe(0);
    const stopped = Date.now();
    const again = drop("tb", 4);
    drop("tb", 4);
    drop("tb", 4);
    drop("ta", 2);
    await waitFor("ta goes on while B is away", async () => (await count(opA, "ta")) === before.ta + 2, 20_000, 250);
    await Bun.sleep(2000);
    expect(dataFiles(pubWatch).length).toBe(3); // B's files wait
    const waiting = await command(pubUrl, "get publisher files where format = json");
    expect((waiting.json as unknown[]).length).toBe(3);
    await Bun.sleep(Math.max(0, 60_000 - (Date.now() - stopped)));
    expect(dataFiles(pubWatch).length).toBe(3); // still there after a minute of tries
    await opB.restart();
    // (the table's wait between tries has doubled up to a minute by now)
    await waitFor("B's files arrive", async () => (await count(opB, "tb")) === before.tb + 12, 90_000, 250);
    await waitFor("the watch directory empties", () => dataFiles(pubWatch).length === 0, 10_000);
    // the same data again under another name is stored once (the operator's hash)
    drop("tb", 0, again);
    await waitFor("the resend is taken", () => dataFiles(pubWatch).length === 0, 20_000);
    await Bun.sleep(500);
    expect(await count(opB, "tb")).toBe(before.tb + 12);
    expect(await count(opA, "tb")).toBe(0);
  });

  test("set data distribution sends a table where it says", async () => {
    await post(pubUrl, `set data distribution where dbms = pub and table = tc and dest = 127.0.0.1:${opA.tcpPort}`);
    const listed = await command(pubUrl, "get publisher distribution where format = json");
    expect(listed.json).toEqual([{ dbms: "pub", table: "tc", destinations: [`127.0.0.1:${opA.tcpPort}`] }]);
    drop("tc", 3);
    drop("tc", 3);
    await waitFor("tc on operator A", async () => (await count(opA, "tc")) === 6, 20_000, 250);
    expect(await count(opB, "tc")).toBe(0); // the metadata's cluster for tc is B's
  });

  test("a table no operator hosts stays with its error; data the operator refuses goes to the error directory", async () => {
    drop("td", 2); // no table policy, no cluster for pub.td
    await waitFor("the error is counted", async () => {
      const r = await command(pubUrl, "get publisher where format = json");
      const t = (r.json as { tables: Array<{ table: string; errors: number; last_error: string | null }> }).tables.find((x) => x.table === "td");
      return t && t.errors > 0 && /no operator hosts pub\.td/.test(t.last_error ?? "");
    }, 10_000);
    expect(dataFiles(pubWatch).some((f) => f.startsWith("pub.td."))).toBe(true);
    drop("ta", 0, "{not json");
    await waitFor("the refused file is in the error directory with its reason", () => {
      const names = existsSync(pubErr) ? readdirSync(pubErr) : [];
      return names.some((f) => f.startsWith("pub.ta.") && f.endsWith(".json")) && names.some((f) => f.endsWith(".err.txt"));
    }, 10_000);
  });

  test("a file over the operator's message limit goes to the error directory, saying so, and the table's next files go through", async () => {
    const random = () => crypto.getRandomValues(new Uint8Array(48)).toBase64();
    const n = seq + 1;
    const rows = Array.from({ length: 40_000 }, (_, i) => JSON.stringify({ device: `big${n}`, value: i, ts: new Date(Date.UTC(2026, 1, 1) + i).toISOString(), note: random() }));
    drop("ta", 0, rows.join("\n"));
    await waitFor("the big file is in the error directory with its reason", () => {
      const names = existsSync(pubErr) ? readdirSync(pubErr) : [];
      const reason = names.find((f) => f.startsWith(`pub.ta.test.${n}.`) && f.endsWith(".err.txt"));
      return reason !== undefined && /over this node's limit of 1048576 bytes/.test(readFileSync(join(pubErr, reason), "utf8"));
    }, 20_000);
    const before = await count(opA, "ta");
    drop("ta", 3);
    await waitFor("the next file of the table is stored", async () => (await count(opA, "ta")) === before + 3, 20_000);
  });

  test("a node that runs an operator is refused as a publisher", async () => {
    const r = await command(opA.url, `run publisher where watch_dir = ${join(work, "a", "pubwatch")}`, true);
    expect(r.status).not.toBe(200);
    expect(r.text).toMatch(/runs an operator/);
    // and the other way round: a publisher node refuses an operator
    const o = await command(pubUrl, "run operator where create_table = true", true);
    expect(o.status).toBe(409);
    expect(o.text).toMatch(/runs the publisher/);
  });

  test("exit publisher stops it", async () => {
    expect((await command(pubUrl, "exit publisher", true)).status).toBe(200);
    expect((await command(pubUrl, "get processes")).text).not.toMatch(/Publisher\s*\|\s*Running/);
  });
});
