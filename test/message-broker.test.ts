/**
 * The node's MQTT broker (`run message broker`) with real MQTT clients (Debian's
 * mosquitto_pub / mosquitto_sub): the executable under test (`$ANYLOG_BIN`, else
 * `bun src/main.ts`) started from a script, clients publishing at QoS 0/1/2 and subscribing,
 * retained messages, `get local broker`, `get processes`, a port in use, `exit broker`,
 * user/password and MQTT 5 refused. The node's local bus is not observable from outside the
 * executable until a `broker = local` message client exists, so the bus hand-over (a QoS 1
 * ack only after the bus took the message; a refusal not acknowledged) is tested on an
 * in-process node, with the same real broker and clients.
 */
import "../src/features.ts";
import { afterAll, afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LocalMessage, localBus } from "../src/messaging/local-bus.ts";
import { Node } from "../src/node/node.ts";
import { fail, ok } from "../src/util/result.ts";
import { freePorts } from "./support/node-process.ts";
import { waitFor } from "./support/operator.ts";
import { ScriptNode, stopScriptNodes } from "./support/script-node.ts";

setDefaultTimeout(60_000);

const root = mkdtempSync(join(tmpdir(), "anylog-broker-"));
afterEach(stopScriptNodes);
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Run {
  code: number;
  out: string;
  err: string;
}

/** Runs a mosquitto client to its end (bounded by `timeout`). */
async function mosquitto(args: string[], boundSeconds = 15): Promise<Run> {
  const p = Bun.spawn(["timeout", String(boundSeconds), ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

const pub = (port: number, topic: string, message: string, extra: string[] = []) =>
  mosquitto(["mosquitto_pub", "-h", "127.0.0.1", "-p", String(port), "-t", topic, "-m", message, ...extra]);

/**
 * A mosquitto_sub that has its SUBACK (so what is published after `ready` reaches it), until
 * `count` messages arrived; `messages` gives the "topic payload" lines.
 */
async function subscribe(port: number, filter: string, count: number, extra: string[] = []) {
  // stdbuf: mosquitto_sub's debug lines (the SUBACK) reach the pipe as they are printed
  const p = Bun.spawn(["stdbuf", "-oL", "mosquitto_sub", "-d", "-v", "-h", "127.0.0.1", "-p", String(port), "-t", filter, "-C", String(count), "-W", "20", ...extra], {
    stdout: "pipe",
    stderr: "pipe",
  });
  let out = "";
  const drained = (async () => {
    const d = new TextDecoder();
    for await (const c of p.stdout) out += d.decode(c, { stream: true });
  })();
  await waitFor("mosquitto_sub's SUBACK", () => /received SUBACK/.test(out), 10_000, 20);
  return {
    messages: async (): Promise<string[]> => {
      await p.exited;
      await drained;
      return out.split("\n").filter((l) => l !== "" && !l.startsWith("Client ") && !l.startsWith("Subscribed"));
    },
  };
}

/** A script node with TCP, REST and, when `broker` is given, that `run message broker` line. */
async function startNode(name: string, broker?: (port: number) => string) {
  const [tcp, rest, mqtt] = (await freePorts(3)) as [number, number, number];
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const script = join(dir, "node.al");
  const lines = [
    "run tcp server where external_ip = 127.0.0.1 and external_port = !anylog_server_port and bind = true",
    "run rest server where external_ip = 127.0.0.1 and external_port = !anylog_rest_port and bind = true",
    ...(broker ? [broker(mqtt)] : []),
  ];
  writeFileSync(script, `${lines.join("\n")}\n`);
  const node = await ScriptNode.start({
    home: join(dir, "home"),
    script,
    restPort: rest,
    set: { anylog_server_port: String(tcp), anylog_rest_port: String(rest), node_name: name, external_ip: "127.0.0.1", ip: "127.0.0.1" },
  });
  return { node, mqtt, tcp };
}

type Counts = Record<"connections" | "publishes" | "delivered" | "local", { count: number; last: string | null }> & {
  errors: { count: number; last: string | null; last_error: string | null };
  listening: string;
  clients_connected: number;
};

async function counts(node: ScriptNode): Promise<Counts> {
  const r = await node.rest("get local broker where format = json");
  expect(r.status).toBe(200);
  return JSON.parse(r.text) as Counts;
}

describe("the executable's broker", () => {
  test("subscribers receive what publishers send at QoS 0, 1 and 2; get local broker counts them", async () => {
    const { node, mqtt } = await startNode("pubsub", (port) => `run message broker 127.0.0.1 ${port} 127.0.0.1 ${port} 4`);
    const sub = await subscribe(mqtt, "sensors/#", 4);
    const q1 = await pub(mqtt, "sensors/a", '{"v":1}', ["-q", "1"]);
    expect(q1).toMatchObject({ code: 0 });
    for (const q of [0, 2]) expect((await pub(mqtt, "sensors/b", `{"v":${q}}`, ["-q", String(q)])).code).toBe(0);
    expect((await pub(mqtt, "other/c", "not for sensors/#", ["-q", "1"])).code).toBe(0);
    expect((await pub(mqtt, "sensors/a/deep", "x", ["-q", "1"])).code).toBe(0);
    expect(await sub.messages()).toEqual(['sensors/a {"v":1}', 'sensors/b {"v":0}', 'sensors/b {"v":2}', "sensors/a/deep x"]);

    const c = await counts(node);
    expect(c.listening).toBe(`127.0.0.1:${mqtt}`);
    expect(c.publishes.count).toBe(5);
    expect(c.connections.count).toBe(6); // the subscriber and five publishers
    expect(c.delivered.count).toBe(4);
    expect(c.errors).toEqual({ count: 0, last: null, last_error: null });
    expect(Date.parse(c.publishes.last!)).toBeGreaterThan(Date.now() - 60_000);

    const text = await node.rest("get local broker");
    expect(text.status).toBe(200);
    expect(text.text).toMatch(new RegExp(`listening on 127\\.0\\.0\\.1:${mqtt}`));
    expect(text.text).toMatch(/Publishes received\s*\|5\s*\|\d{4}-/);
    expect(text.text).toMatch(/Last error: none/);

    const processes = JSON.parse((await node.rest("get processes where format = json")).text) as Record<string, { Status: string; Details: string }>;
    expect(processes["Message Broker"]).toEqual({ Status: "Running", Details: `Listening on: 127.0.0.1:${mqtt}, Threads Pool: 4` });
  });

  test("on the TCP server's port, as seeds 000 and 001 start it: MQTT clients and peers share the port", async () => {
    const { node, tcp } = await startNode("shared", () => "run message broker !external_ip !anylog_server_port !ip !anylog_server_port");
    const sub = await subscribe(tcp, "plant/#", 2);
    expect((await pub(tcp, "plant/a", "one", ["-q", "1"])).code).toBe(0);
    // a peer request on the same port between two MQTT messages
    const peer = await node.rest(`run client (127.0.0.1:${tcp}) get status`);
    expect(peer.status).toBe(200);
    expect(peer.text).toContain("running");
    expect((await pub(tcp, "plant/b", "two", ["-q", "2"])).code).toBe(0);
    expect(await sub.messages()).toEqual(["plant/a one", "plant/b two"]);
    expect((await counts(node)).listening).toBe(`127.0.0.1:${tcp}`);

    // stopped: MQTT on the port is refused, peers are still served
    expect((await node.rest("exit broker", true)).status).toBe(200);
    const refused = await pub(tcp, "plant/c", "three", ["-q", "1"]);
    expect(refused.code).not.toBe(0);
    expect((await node.rest(`run client (127.0.0.1:${tcp}) get status`)).status).toBe(200);
    // and it shares the port again
    expect((await node.rest(`run message broker 127.0.0.1 ${tcp}`, true)).status).toBe(200);
    expect((await pub(tcp, "plant/d", "four", ["-q", "1"])).code).toBe(0);
  });

  test("a retained message reaches a later subscriber; MQTT 3.1 is served and MQTT 5 refused", async () => {
    const { node, mqtt } = await startNode(
      "retained",
      (port) => `run message broker where external_ip = 127.0.0.1 and external_port = ${port} and internal_ip = 127.0.0.1 and internal_port = ${port} and bind = true and threads = 2`,
    );
    expect((await pub(mqtt, "sensors/last", "kept", ["-q", "1", "-r"])).code).toBe(0);
    const late = await mosquitto(["mosquitto_sub", "-h", "127.0.0.1", "-p", String(mqtt), "-t", "sensors/#", "-v", "-C", "1", "-W", "10"]);
    expect(late).toMatchObject({ code: 0, out: "sensors/last kept\n" });
    expect((await pub(mqtt, "sensors/v31", "x", ["-q", "1", "-V", "mqttv31"])).code).toBe(0);
    const v5 = await pub(mqtt, "sensors/v5", "x", ["-q", "1", "-V", "mqttv5"]);
    expect(v5.code).not.toBe(0);
    expect(v5.err).toMatch(/Unsupported Protocol Version/i);
    expect((await counts(node)).publishes.count).toBe(2);
  });

  test("a port in use is a clear error; exit broker stops it and get local broker says it does not run", async () => {
    const { node } = await startNode("exit");
    const [port] = (await freePorts(1)) as [number];
    const holder = createServer();
    await new Promise<void>((r) => holder.listen({ host: "127.0.0.1", port }, r));
    try {
      const busy = await node.rest(`run message broker where external_ip = 127.0.0.1 and external_port = ${port} and bind = true`, true);
      expect(busy.status).not.toBe(200);
      expect(busy.text).toContain(`cannot listen on 127.0.0.1:${port}: the port is already in use`);
    } finally {
      await new Promise<void>((r) => holder.close(() => r()));
    }
    const none = await node.rest("get local broker");
    expect(none.status).not.toBe(200);
    expect(none.text).toContain("the message broker is not running");

    expect((await node.rest(`run message broker 127.0.0.1 ${port}`, true)).status).toBe(200);
    expect((await pub(port, "sensors/a", "1", ["-q", "1"])).code).toBe(0);
    const stopped = await node.rest("exit broker", true);
    expect(stopped).toEqual({ status: 200, text: expect.stringContaining("Message Broker stopped") });
    const after = await pub(port, "sensors/a", "2", ["-q", "1"]);
    expect(after.code).not.toBe(0);
    expect(after.err).toMatch(/refused|lost/i);
    const processes = JSON.parse((await node.rest("get processes where format = json")).text) as Record<string, { Status: string }>;
    expect(processes["Message Broker"]!.Status).toBe("Not declared");
    expect((await node.rest("get local broker")).text).toContain("the message broker is not running");

    // the other aliases name it too, and it starts again on the same port
    expect((await node.rest(`run message broker 127.0.0.1 ${port}`, true)).status).toBe(200);
    expect((await node.rest("exit message broker", true)).status).toBe(200);
    expect((await node.rest(`run message broker 127.0.0.1 ${port}`, true)).status).toBe(200);
    expect((await node.rest("exit local broker", true)).status).toBe(200);
  });

  test("with user and password, a wrong password is refused and counted; the right one publishes", async () => {
    const { node, mqtt } = await startNode("auth", (port) => `run message broker where external_ip = 127.0.0.1 and external_port = ${port} and user = sensors and password = s3cret`);
    const wrong = await pub(mqtt, "sensors/a", "x", ["-q", "1", "-u", "sensors", "-P", "guess"]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.err).toMatch(/bad user name or password/i);
    const anonymous = await pub(mqtt, "sensors/a", "x", ["-q", "1"]);
    expect(anonymous.code).not.toBe(0);
    expect((await pub(mqtt, "sensors/a", "x", ["-q", "2", "-u", "sensors", "-P", "s3cret"])).code).toBe(0);
    const c = await counts(node);
    expect(c.publishes.count).toBe(1);
    expect(c.connections.count).toBe(1);
    expect(c.errors.count).toBe(2);
    expect(c.errors.last_error).toContain("no user name given");
    expect(node.stderr).toContain("user 'sensors': bad user name or password");
    expect(node.stderr).not.toContain("guess");

    const half = await node.rest("exit broker", true).then(() => node.rest(`run message broker where external_ip = 127.0.0.1 and external_port = ${mqtt} and user = sensors`, true));
    expect(half.status).not.toBe(200);
    expect(half.text).toContain("give 'user' and 'password' together");
  });
});

describe("the broker hands messages to the node's local bus (in-process node)", () => {
  const nodes: Node[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.shutdown("test done");
  });

  async function brokerNode(): Promise<{ node: Node; port: number }> {
    const [port] = (await freePorts(1)) as [number];
    const node = new Node({ env: { ANYLOG_HOME: join(root, `inproc-${nodes.length}-${Date.now()}`) }, set: { node_name: "bus" } });
    nodes.push(node);
    const r = await node.execute(`run message broker 127.0.0.1 ${port}`);
    if (!r.ok) throw new Error(r.error.message);
    return { node, port };
  }

  test("every published message reaches the bus; a QoS 1 publisher is acknowledged only after the bus took it", async () => {
    const { node, port } = await brokerNode();
    const seen: Array<{ topic: string; text: string; qos: number }> = [];
    localBus(node).subscribe("sensors/#", async (m: LocalMessage) => {
      await Bun.sleep(1_000); // a slow subscriber: the PUBACK waits for it
      seen.push({ topic: m.topic, text: new TextDecoder().decode(m.payload), qos: m.qos });
      return ok(undefined);
    });
    const started = Date.now();
    expect((await pub(port, "sensors/a", '{"v":1}', ["-q", "1"])).code).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(seen).toEqual([{ topic: "sensors/a", text: '{"v":1}', qos: 1 }]);
    expect((await pub(port, "sensors/b", "two", ["-q", "2"])).code).toBe(0);
    expect((await pub(port, "sensors/c", "zero", ["-q", "0"])).code).toBe(0);
    await waitFor("the QoS 0 message on the bus", () => seen.length === 3, 10_000);
    expect(seen.map((m) => `${m.topic} ${m.text} ${m.qos}`)).toEqual(["sensors/a {\"v\":1} 1", "sensors/b two 2", "sensors/c zero 0"]);
    // a topic no local subscriber takes is still accepted (and routed to MQTT subscribers)
    expect((await pub(port, "elsewhere/x", "y", ["-q", "1"])).code).toBe(0);
    const r = await node.execute("get local broker where format = json");
    expect(r.ok && r.value).toMatchObject({ publishes: { count: 4 }, local: { count: 3 }, errors: { count: 0 } });
  });

  test("a message the bus refuses is not acknowledged, is counted as an error, and the broker goes on", async () => {
    const { node, port } = await brokerNode();
    localBus(node).subscribe("sensors/#", async () => fail("io", "the intake's disk is full"));
    for (const q of ["1", "2"]) {
      const refused = await pub(port, "sensors/a", "x", ["-q", q]);
      expect(refused.code).not.toBe(0);
      expect(refused.err).toMatch(/connection was lost/i);
    }
    expect((await pub(port, "other/a", "x", ["-q", "1"])).code).toBe(0);
    const r = await node.execute("get local broker where format = json");
    if (!r.ok) throw new Error(r.error.message);
    const c = r.value as Counts;
    expect(c.errors.count).toBe(2);
    expect(c.errors.last_error).toContain("published to 'sensors/a': the node refused the message, not acknowledged: the intake's disk is full");
    expect(c.publishes.count).toBe(3);
  });
});
