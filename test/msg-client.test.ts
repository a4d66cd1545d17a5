/**
 * Message clients on an operator (the compiled executable, real mosquitto and curl):
 *  - broker = rest: `POST` with `command: data` and a `topic` header, seed 000's mapping;
 *    EdgeX's event shape (a readings list, the table from sourceName, now, an optional
 *    column); a payload list; bad payloads each a clear, counted error.
 *  - an external mosquitto: QoS 1 messages from mosquitto_pub, every one stored once; the
 *    broker restarted midway (the persistent session brings what was published meanwhile);
 *    wrong credentials and an unreachable broker are counted errors while the node runs on.
 *  - broker = local with `mqtt publish where broker = local`.
 *  - topic blocks that cannot work are refused at `run` time; `exit msg client n`.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./support/node-process.ts";
import { Mosquitto, publishLines } from "./support/mosquitto.ts";
import { OperatorNode, command, select, waitFor } from "./support/operator.ts";
import { stopScriptNodes } from "./support/script-node.ts";

setDefaultTimeout(180_000);

const work = mkdtempSync(join(tmpdir(), "anylog-msg-"));
let op: OperatorNode;
let broker: Mosquitto;

afterAll(async () => {
  await stopScriptNodes();
  await broker?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function post(cmd: string): Promise<string> {
  const r = await command(op.url, cmd, true);
  if (r.status !== 200) throw new Error(`${cmd}: ${r.status} ${r.text}`);
  return r.text;
}

/** POST `command: data` with a topic and a body. */
async function data(topic: string, body: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`${op.url}/`, { method: "POST", headers: { command: "data", topic, "User-Agent": "AnyLog/1.23", "content-type": "application/json" }, body });
  return { status: r.status, text: await r.text() };
}

type ClientInfo = { id: number; broker: string; connection: string; messages: number; success: number; errors: number; last_error: string; topics: Array<{ name: string; messages: number; errors: number; last_error: string }> };
async function clients(): Promise<ClientInfo[]> {
  return (await command(op.url, "get msg clients where format = json")).json as ClientInfo[];
}

/** Messages through the node's own broker (the load: 50,000). */
const OWN_MESSAGES = 50_000;

const count = async (table: string) => Number((await select(op, "mq", `select count(*) as n from ${table}`))[0]?.n ?? 0);

beforeAll(async () => {
  broker = await Mosquitto.start();
  op = await OperatorNode.start({ engine: "sqlite", dir: join(work, "op"), dbms: "mq", before: ["set buffer threshold where write_immediate = true"] });
});

describe("message clients", () => {
  test("broker = rest: seed 000's mapping, EdgeX's event shape, a payload list; bad payloads are counted errors", async () => {
    await post('run msg client where broker = rest and log = false and topic = (name = demo and dbms = mq and table = rand_data and column.timestamp.timestamp = "bring [timestamp]" and column.value = (value = "bring [value]" and type = float))');
    await post('run msg client where broker = rest and topic = (name = edgex and dbms = mq and table = "bring [sourceName]" and column.timestamp.timestamp = now and column.device.str = "bring [deviceName]" and column.value = (value = "bring [readings][][value]" and type = float) and column.units = (value = "bring [readings][][units]" and type = str and optional = true))');
    expect((await data("demo", JSON.stringify({ timestamp: "2026-12-05 10:00:00", value: 1.5 }))).status).toBe(200);
    expect((await data("demo", JSON.stringify([{ timestamp: "2026-12-05 10:00:01", value: "2.5" }, { timestamp: "2026-12-05 10:00:02", value: 3 }]))).status).toBe(200);
    expect(await select(op, "mq", "select timestamp, value from rand_data order by timestamp")).toEqual([
      { timestamp: expect.stringMatching(/^2026-12-05 10:00:00/), value: 1.5 },
      { timestamp: expect.stringMatching(/^2026-12-05 10:00:01/), value: 2.5 },
      { timestamp: expect.stringMatching(/^2026-12-05 10:00:02/), value: 3 },
    ]);
    const event = { deviceName: "Random-Float-Device", sourceName: "Float 64", readings: [{ value: "10.5", units: "C" }, { value: 11 }] };
    expect((await data("edgex", JSON.stringify(event))).status).toBe(200);
    expect(await select(op, "mq", "select device, value, units from float_64 order by value")).toEqual([
      { device: "Random-Float-Device", value: 10.5, units: "C" },
      { device: "Random-Float-Device", value: 11, units: null },
    ]);
    // what does not fit: each answered with the reason and counted
    const bad = await data("demo", "not json");
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/not JSON/);
    const missing = await data("demo", JSON.stringify({ value: 1 }));
    expect(missing.text).toMatch(/no value for column 'timestamp'/);
    const wrongType = await data("demo", JSON.stringify({ timestamp: "2026-12-05 10:00:03", value: "lots" }));
    expect(wrongType.text).toMatch(/'lots' is not a float/);
    const noTopic = await data("nobody", "{}");
    expect(noTopic.status).toBe(503);
    expect(noTopic.text).toMatch(/run msg client/);
    const demo = (await clients()).find((c) => c.topics.some((t) => t.name === "demo"))!;
    expect(demo).toMatchObject({ broker: "rest", messages: 5, success: 2, errors: 3 });
    expect(demo.last_error).toMatch(/not a float/);
    expect(await count("rand_data")).toBe(3);
  });

  test("a float column keeps its type when its first value is whole, stored at once and through the journal", async () => {
    await post("run streamer");
    await post("set buffer threshold where dbms = mq and table = fj and time = 1 second and write_immediate = false");
    await post('run msg client where broker = rest and topic = (name = floats and dbms = mq and table = "bring [t]" and column.v.float = "bring [v]")');
    for (const table of ["fi", "fj"]) {
      for (const v of [20, 20.5, 0, 7]) expect((await data("floats", JSON.stringify({ t: table, v }))).status).toBe(200);
      await post("flush buffers");
      expect(await select(op, "mq", `select v from ${table} order by v`)).toEqual([{ v: 0 }, { v: 7 }, { v: 20 }, { v: 20.5 }]);
      // a float column: 7 / 2 is 3.5
      expect(await select(op, "mq", `select v / 2 as h from ${table} where v = 7`)).toEqual([{ h: 3.5 }]);
    }
  });

  test("an external mosquitto at QoS 1: 50,000 messages, every one stored once, the broker restarted midway", async () => {
    const HALF = 25_000;
    await post(`run msg client where broker = 127.0.0.1 and port = ${broker.port} and client_id = anylog-test-ext and topic = (name = plant/+/readings and qos = 1 and dbms = mq and table = plant and column.line.str = "bring [line]" and column.n.int = "bring [n]")`);
    await waitFor("the client connects", async () => (await clients()).find((c) => c.broker === `127.0.0.1:${broker.port}`)?.connection === "connected", 20_000);
    const batch = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => JSON.stringify({ line: `l${(from + i) % 3}`, n: from + i }));
    await broker.publish("plant/a/readings", batch(0, HALF), 1);
    await waitFor(`the first ${HALF} stored`, async () => (await count("plant")) === HALF, 120_000);
    // the broker goes away; what is published after it returns, while the client reconnects, arrives too
    await broker.pause();
    await waitFor("the client sees the broker gone", async () => (await clients()).find((c) => c.broker === `127.0.0.1:${broker.port}`)?.connection.startsWith("not connected"), 20_000);
    await broker.resume();
    await broker.publish("plant/b/readings", batch(HALF, 2 * HALF), 1);
    await waitFor(`all ${2 * HALF} stored`, async () => (await count("plant")) === 2 * HALF, 120_000);
    const rows = await select(op, "mq", "select count(distinct n) as d, min(n) as lo, max(n) as hi from plant");
    expect(rows).toEqual([{ d: 2 * HALF, lo: 0, hi: 2 * HALF - 1 }]);
    // a topic that matches no filter of the client is never delivered; one that does not fit is counted
    await broker.publish("plant/c/readings", ['{"line": "x"}'], 1);
    await waitFor("the bad message counted", async () => (await clients()).find((c) => c.broker === `127.0.0.1:${broker.port}`)!.errors === 1, 20_000);
    expect(await count("plant")).toBe(2 * HALF);
  });

  test("wrong credentials and an unreachable broker are counted errors; the node runs on", async () => {
    const secured = await Mosquitto.start({ user: "u", password: "right" });
    try {
      await post(`run msg client where broker = 127.0.0.1 and port = ${secured.port} and user = u and password = wrong and topic = (name = s and dbms = mq and table = s and column.v.int = "bring [v]")`);
      const dead = await freePort();
      await post(`run msg client where broker = 127.0.0.1 and port = ${dead} and topic = (name = d and dbms = mq and table = d and column.v.int = "bring [v]")`);
      await waitFor("both clients say why they are not connected", async () => {
        const all = await clients();
        const s = all.find((c) => c.broker === `127.0.0.1:${secured.port}`);
        const d = all.find((c) => c.broker === `127.0.0.1:${dead}`);
        return s?.connection.match(/not connected: .*(refused|authoriz|password)/i) && d?.connection.match(/not connected: .*(ECONNREFUSED|refused)/i);
      }, 20_000);
      expect((await command(op.url, "get status")).status).toBe(200);
      const ids = (await clients()).filter((c) => c.broker === `127.0.0.1:${secured.port}` || c.broker === `127.0.0.1:${dead}`).map((c) => c.id);
      for (const id of ids) expect(await post(`exit msg client ${id}`)).toMatch(/stopped/);
    } finally {
      await secured.stop();
    }
  });

  test("broker = local takes what mqtt publish where broker = local sends; blocks that cannot work are refused", async () => {
    await post('run msg client where broker = local and topic = (name = local/# and dbms = mq and table = loc and column.v.int = "bring [v]")');
    for (let i = 0; i < 5; i++) await post(`mqtt publish where broker = local and topic = local/x and message = {"v": ${i}}`);
    // (QoS 0: published once the client has it, stored a moment later)
    await waitFor("5 rows", async () => (await count("loc")) === 5, 10_000, 50);
    // two equal readings are two readings
    for (let i = 0; i < 2; i++) await post('mqtt publish where broker = local and topic = local/x and qos = 1 and message = {"v": 7}');
    expect(await count("loc")).toBe(7); // (QoS 1: published once stored)
    expect(await select(op, "mq", "select count(*) as n from loc where v = 7")).toEqual([{ n: 2 }]);
    const refused = async (cmd: string) => {
      const r = await command(op.url, cmd, true);
      expect(r.status).toBeGreaterThanOrEqual(400);
      return r.text;
    };
    expect(await refused('run msg client where broker = local and topic = (name = local/# and dbms = mq and table = again and column.v.int = "bring [v]")')).toMatch(/already taken/);
    expect(await refused('run msg client where broker = local and topic = (name = z and dbms = mq and table = z and colum.v = "bring [v]")')).toMatch(/no option 'colum.v'/);
    expect(await refused('run msg client where broker = local and topic = (name = z and dbms = mq and table = z and column.v.number = "bring [v]")')).toMatch(/type 'number'/);
    expect(await refused("run msg client where broker = local")).toMatch(/at least one topic/);
    // log_error: a message that does not fit is written with its reason
    await post('run msg client where broker = local and log_error = true and topic = (name = logged and dbms = mq and table = logged and column.v.int = "bring [v]")');
    // published (a broker takes it), counted as an error, and written with its reason
    const r = await command(op.url, 'mqtt publish where broker = local and topic = logged and message = {"w": 1}', true);
    expect(r.status).toBe(200);
    const errFiles = join(op.home, "data", "error");
    const written = (await clients()).find((c) => c.topics.some((t) => t.name === "logged"))!;
    const file = join(errFiles, `msg_client_${written.id}.err`);
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file, "utf8")).toMatch(/"error":"topic 'logged': the message has no value for column 'v'/);
  });

  test("the node's own broker: 50,000 messages from mosquitto_pub at QoS 1, a broker = local client stores every one", async () => {
    const port = await freePort();
    await post(`run message broker where external_ip = 127.0.0.1 and external_port = ${port} and bind = true`);
    await post('run msg client where broker = local and topic = (name = own/+ and dbms = mq and table = own and column.n.int = "bring [n]" and column.at.timestamp = now)');
    await publishLines(port, "own/a", Array.from({ length: OWN_MESSAGES }, (_, n) => JSON.stringify({ n })), 1);
    // each QoS 1 message was acknowledged once stored: all are there when mosquitto_pub returns
    expect(await select(op, "mq", "select count(*) as c, count(distinct n) as d from own")).toEqual([{ c: OWN_MESSAGES, d: OWN_MESSAGES }]);
    expect(await post("exit broker")).toMatch(/stopped/);
  });

  // the load, killed while messages flow: the broker sends again (DUP) what it was not
  // acknowledged; the node recognises what it holds (by the ids kept in its journal)
  for (const mode of [
    { label: "stored before the PUBACK (write_immediate)", name: "killed-immediate", before: ["set buffer threshold where write_immediate = true"], streamer: false },
    { label: "acknowledged once journaled (a streamer)", name: "killed-journal", before: ["set buffer threshold where time = 1 seconds and volume = 64KB"], streamer: true },
  ]) {
    test(`killed with -9 while 50,000 QoS 1 messages flow, ${mode.label}: the persistent session brings the rest; none lost, none stored twice`, async () => {
      const total = 50_000;
      const mapping = `run msg client where broker = 127.0.0.1 and port = ${broker.port} and client_id = anylog-${mode.name} and topic = (name = ${mode.name}/# and qos = 1 and dbms = mq and table = k and column.n.int = "bring [n]")`;
      const node = await OperatorNode.start({ engine: "sqlite", dir: join(work, mode.name), dbms: "mq", streamer: mode.streamer, before: [...mode.before, mapping] });
      const rows = async () => Number((await select(node, "mq", "select count(*) as n from k").catch(() => [{ n: 0 }]))[0]?.n ?? 0);
      const lines = Array.from({ length: total }, (_, i) => JSON.stringify({ n: i }));
      const publishing = broker.publish(`${mode.name}/1`, lines, 1);
      await waitFor("some rows stored", async () => (await rows()) > 5_000, 60_000);
      await node.node.kill();
      const atKill = await rows();
      await publishing;
      await node.restart();
      await waitFor(`all ${total} stored after the restart`, async () => (await rows()) >= total, 120_000);
      await Bun.sleep(500); // (anything stored twice would show now)
      expect(await select(node, "mq", "select count(*) as n, count(distinct n) as d, min(n) as lo, max(n) as hi from k")).toEqual([{ n: total, d: total, lo: 0, hi: total - 1 }]);
      expect(atKill).toBeLessThan(total); // killed while they flowed
      const info = (await command(node.url, "get msg clients where format = json")).json as Array<{ messages: number; success: number; errors: number; sent_again: number }>;
      expect(info[0]!.errors).toBe(0);
      await node.node.stop();
    });
  }
});
