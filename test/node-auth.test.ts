/**
 * Node authentication across real nodes (issue #13): a master M (the root), members A and B
 * admitted by it, and R, a node that is not a member. Policies signed by members are taken
 * and synced everywhere; unsigned ones, ones signed by a stranger and ones changed after
 * signing are refused by the master; a forged policy written into a member's
 * blockchain.json is dropped at load with a log line; messages from R, unsigned frames,
 * frames sent twice and stale frames are refused while the members keep serving each other.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FrameDecoder, encodeFrame, type Frame } from "../src/network/frames.ts";
import { createKeys, signData, unlock, type UnlockedKey } from "../src/security/keys.ts";
import { seal, sealedText } from "../src/security/peer-auth.ts";
import { preparePolicy } from "../src/metadata/policy.ts";
import { signPolicy } from "../src/metadata/signatures.ts";
import { freePorts } from "./support/node-process.ts";
import { waitFor } from "./support/operator.ts";
import { ScriptNode, stopScriptNodes } from "./support/script-node.ts";

setDefaultTimeout(60_000);

const work = mkdtempSync(join(tmpdir(), "anylog-nodeauth-"));
let masterAddress = "";
const nodes: Record<"m" | "a" | "b" | "r", ScriptNode> = {} as Record<"m" | "a" | "b" | "r", ScriptNode>;
const tcp: Record<string, number> = {};
const scripts: Record<string, string> = {};

function script(name: string, tcpPort: number, restPort: number, lines: string[]): string {
  const file = join(work, `${name}.al`);
  writeFileSync(
    file,
    [
      `run tcp server where external_ip = 127.0.0.1 and external_port = ${tcpPort} and bind = true`,
      `run rest server where external_ip = 127.0.0.1 and external_port = ${restPort} and bind = true`,
      ...lines,
      "",
    ].join("\n"),
  );
  return file;
}

const sync = () => `run blockchain sync where source = master and time = 1 seconds and dest = file and connection = ${masterAddress}`;
const member = (name: string) => [`id create keys for node where password = ${name}-secret and if_missing = true`, "set node authentication on", sync()];

async function start(name: "m" | "a" | "b" | "r", restPort: number): Promise<ScriptNode> {
  nodes[name] = await ScriptNode.start({ home: join(work, name), script: scripts[name]!, restPort, set: { node_name: `node-${name}` } });
  return nodes[name];
}

async function ok(node: ScriptNode, command: string, post = false): Promise<string> {
  const r = await node.rest(command, post);
  if (r.status !== 200) throw new Error(`'${command}' answered ${r.status}: ${r.text}`);
  return r.text.trim();
}

const count = async (node: ScriptNode, type: string, name: string) => Number(await ok(node, `blockchain get ${type} where name = ${name} bring.count`)) || 0;

/** A frame sent on a connection of its own, and the reply frame (or the connection's end). */
async function exchange(port: number, frame: Frame): Promise<Frame | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const decoder = new FrameDecoder();
    socket.on("data", (chunk: Buffer) => {
      const frames = decoder.push(chunk);
      if (frames.ok && frames.value.length > 0) {
        socket.destroy();
        resolve(frames.value[0]);
      }
    });
    socket.on("close", () => resolve(undefined));
    socket.on("error", () => resolve(undefined));
    socket.write(encodeFrame(frame));
  });
}

function testKey(): UnlockedKey {
  const made = createKeys("tester-secret");
  if (!made.ok) throw new Error(made.error.message);
  const opened = unlock(made.value.privatePem, "tester-secret");
  if (!opened.ok) throw new Error(opened.error.message);
  return opened.value;
}
const tester = testKey();

beforeAll(async () => {
  const ports = await freePorts(8);
  const [mT, mR, aT, aR, bT, bR, rT, rR] = ports as [number, number, number, number, number, number, number, number];
  Object.assign(tcp, { m: mT, a: aT, b: bT, r: rT });
  masterAddress = `127.0.0.1:${mT}`;
  scripts.m = script("m", mT, mR, ["connect dbms blockchain where type = sqlite", "create table ledger where dbms = blockchain", ...member("m")]);
  scripts.a = script("a", aT, aR, member("a"));
  scripts.b = script("b", bT, bR, member("b"));
  scripts.r = script("r", rT, rR, ["id create keys for node where password = r-secret"]);
  await Promise.all([start("m", mR), start("a", aR), start("b", bR), start("r", rR)]);

  // the root: M's own member policy, signed by M (the node signs what it declares)
  await ok(nodes.m, `blockchain insert where policy = {"member": {"type": "root", "name": "master"}} and local = true and master = ${masterAddress}`, true);
  // the root admits A, B and this test's key
  for (const [name, key] of [["a", await ok(nodes.a, "get node id")], ["b", await ok(nodes.b, "get node id")], ["tester", tester.publicKey]] as const) {
    const type = name === "tester" ? "user" : "node";
    await ok(nodes.m, `blockchain insert where policy = {"member": {"type": "${type}", "name": "${name}", "public_key": "${key}"}} and local = true and master = ${masterAddress}`, true);
  }
  for (const n of [nodes.a, nodes.b]) await waitFor("the members synced", async () => (await count(n, "member", "tester")) === 1, 20_000, 200);
});

afterAll(async () => {
  await stopScriptNodes();
  rmSync(work, { recursive: true, force: true });
});

describe("node authentication", () => {
  test("the node's keys: get node id is its public key, the private key file is encrypted and readable by the node's user only", async () => {
    const id = await ok(nodes.a, "get node id");
    expect(id).toMatch(/^MCowBQYDK2VwAyEA[A-Za-z0-9+/=]{44}$/);
    const file = readFileSync(join(work, "a", "keys", "node_id.pem"), "utf8");
    expect(file).toContain("ENCRYPTED PRIVATE KEY");
    expect(file).not.toContain("BEGIN PRIVATE KEY");
    expect(statSync(join(work, "a", "keys", "node_id.pem")).mode & 0o077).toBe(0);
    const auth = JSON.parse(await ok(nodes.a, "get authentication")) as Record<string, unknown>;
    expect(auth["node authentication"]).toBe("on");
    expect(auth["node key"]).toBe(id);
    expect(auth.members).toBe(4);
    // keys are made once
    const again = await nodes.a.rest("id create keys for node where password = other-secret", true);
    expect(again.status).toBe(409);
  });

  test("a policy signed by a member is taken by the master and synced to every member", async () => {
    await ok(nodes.a, `blockchain insert where policy = {"operator": {"name": "op-a", "ip": "127.0.0.1", "port": ${tcp.a}, "company": "acme"}} and local = true and master = ${masterAddress}`, true);
    for (const n of [nodes.m, nodes.b]) await waitFor("op-a everywhere", async () => (await count(n, "operator", "op-a")) === 1, 20_000, 200);
    const policy = JSON.parse(await ok(nodes.b, "blockchain get operator where name = op-a")) as Array<{ operator: Record<string, string> }>;
    expect(policy[0]!.operator.public_key).toBe(await ok(nodes.a, "get node id"));
    expect(await ok(nodes.b, `id authenticate ${JSON.stringify(policy[0])}`)).toContain("a member of the network");
  });

  test("the master refuses an unsigned policy, one signed by a stranger and one changed after signing, saying why", async () => {
    const push = (policy: string) => nodes.a.rest(`run client (${masterAddress}) blockchain push where policy = ${policy}`, true);
    const unsigned = await push('{"cluster": {"name": "unsigned"}}');
    expect(unsigned.status).toBe(403);
    expect(unsigned.text).toContain("not signed");

    const strangers = await ok(nodes.r, 'id sign {"cluster": {"name": "strangers"}} where password = r-secret');
    const stranger = await push(strangers);
    expect(stranger.status).toBe(403);
    expect(stranger.text).toContain("not a member");

    const honest = await ok(nodes.a, 'id sign {"cluster": {"name": "honest"}}');
    const altered = await push(honest.replace('"honest"', '"altered"'));
    expect(altered.status).toBe(403);
    expect(altered.text).toContain("changed after it was signed");
    // the honest one, as signed, is taken
    expect((await push(honest)).status).toBe(200);

    await waitFor("honest synced", async () => (await count(nodes.b, "cluster", "honest")) === 1, 20_000, 200);
    for (const name of ["unsigned", "strangers", "altered"]) expect(await count(nodes.b, "cluster", name)).toBe(0);
  });

  test("a node that is not a member is refused, with or without keys of its own; the members keep serving each other", async () => {
    const plain = await nodes.r.rest(`run client (127.0.0.1:${tcp.a}) get status`);
    expect(plain.status).toBe(403);
    expect(plain.text).toContain("members of the network only");
    expect(plain.text).toContain("not signed");
    const inserted = await nodes.r.rest(`blockchain insert where policy = {"cluster": {"name": "rogue"}} and master = ${masterAddress}`, true);
    expect(inserted.status).toBeGreaterThanOrEqual(400);

    await ok(nodes.r, "set node authentication on", true);
    const keyed = await nodes.r.rest(`run client (127.0.0.1:${tcp.a}) get status`);
    expect(keyed.status).toBe(403);
    expect(keyed.text).toContain("not a member");
    await ok(nodes.r, "set node authentication off", true);

    expect(await ok(nodes.b, `run client (127.0.0.1:${tcp.a}) get status`)).toContain("running");
    const auth = JSON.parse(await ok(nodes.a, "get authentication")) as { "refused peer messages": Record<string, number> };
    expect(auth["refused peer messages"]["127.0.0.1"]).toBeGreaterThanOrEqual(2);
    // logged once per address, not once per message
    expect(nodes.a.stderr.match(/refused a message from 127\.0\.0\.1/g)?.length).toBe(1);
  });

  test("a raw frame: unsigned 'exit node' is refused; a member's signed frame is taken once, not twice, and not when stale", async () => {
    const unsigned = await exchange(tcp.a!, { header: { id: 1, type: "request", command: "exit node" } });
    expect(unsigned?.header.ok).toBe(false);
    expect(JSON.stringify(unsigned?.header.error)).toContain("not signed");

    const request = { command: "get status", from: "tester" };
    const signed: Frame = { header: { id: 2, type: "request", ...request, auth: seal(tester, request) } };
    const first = await exchange(tcp.a!, signed);
    expect(first?.header.ok).toBe(true);
    const replayed = await exchange(tcp.a!, signed);
    expect(replayed?.header.ok).toBe(false);
    expect(JSON.stringify(replayed?.header.error)).toContain("received before");

    const ts = Date.now() - 10 * 60_000;
    const nonce = crypto.randomUUID();
    const stale = await exchange(tcp.a!, { header: { id: 3, type: "request", ...request, auth: { key: tester.publicKey, ts, nonce, sig: signData(tester, sealedText(request, ts, nonce)) } } });
    expect(JSON.stringify(stale?.header.error)).toContain("clocks must agree");

    const forged = seal(tester, request);
    const tampered = await exchange(tcp.a!, { header: { id: 4, type: "request", command: "exit node", from: "tester", auth: forged } });
    expect(JSON.stringify(tampered?.header.error)).toContain("does not match");
    expect(await ok(nodes.a, "get status")).toContain("running");
  });

  test("a forged policy written into a member's blockchain.json is dropped at load with a log line", async () => {
    await nodes.b.stop();
    const file = join(work, "b", "blockchain", "blockchain.json");
    const copy = JSON.parse(readFileSync(file, "utf8")) as { policies: unknown[] };
    const forged = JSON.parse(await ok(nodes.r, 'id sign {"operator": {"name": "forged", "ip": "10.6.6.6", "port": 32148}} where password = r-secret')) as Record<string, Record<string, unknown>>;
    forged.operator!.id = "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0";
    copy.policies.push(forged, { cluster: { name: "unsigned-in-file", id: "e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0" } });
    writeFileSync(file, JSON.stringify(copy));
    const b = await start("b", nodes.b.options.restPort!);
    await waitFor("B's copy loaded", async () => (await count(b, "operator", "op-a")) === 1, 20_000, 200);
    expect(await count(b, "operator", "forged")).toBe(0);
    expect(await count(b, "cluster", "unsigned-in-file")).toBe(0);
    expect(b.stderr).toMatch(/operator policy f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0 dropped from .*blockchain\.json: its author .* is not a member/);
    expect(b.stderr).toMatch(/cluster policy e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0 dropped from .*: .*not signed/);
    expect(readFileSync(file, "utf8")).not.toContain("f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0");
  });

  test("a member removed from the ledger is refused from then on: its policies by the master, its messages by the nodes", async () => {
    const request = { command: "get status", from: "tester" };
    const before = await exchange(tcp.a!, { header: { id: 5, type: "request", ...request, auth: seal(tester, request) } });
    expect(before?.header.ok).toBe(true);
    const policy = (name: string) => {
      const declared = preparePolicy({ cluster: { name } });
      if (!declared.ok) throw new Error(declared.error.message);
      return JSON.stringify(signPolicy(declared.value, tester));
    };
    const push = (p: string) => nodes.a.rest(`run client (${masterAddress}) blockchain push where policy = ${p}`, true);
    expect((await push(policy("by-tester"))).status).toBe(200);

    const id = await ok(nodes.m, "blockchain get member where name = tester bring.first [member][id]");
    await ok(nodes.m, `blockchain delete policy where id = ${id}`, true);
    const refused = await push(policy("by-tester-after"));
    expect(refused.status).toBe(403);
    expect(refused.text).toContain("not a member");
    await waitFor("A's copy without the tester", async () => (await count(nodes.a, "member", "tester")) === 0, 20_000, 200);
    const after = await exchange(tcp.a!, { header: { id: 6, type: "request", ...request, auth: seal(tester, request) } });
    expect(after?.header.ok).toBe(false);
    expect(JSON.stringify(after?.header.error)).toContain("not a member");
  });

  test("the private key's password: a wrong one is refused, and nothing is signed with a locked key", async () => {
    const wrong = await nodes.r.rest('id sign {"cluster": {"name": "x"}} where password = not-it');
    expect(wrong.status).toBe(403);
    expect(wrong.text).toContain("password is wrong");
    // R again, its keys left locked: nothing is signed until 'set private password' opens them
    await nodes.r.stop();
    scripts.r = script("r", tcp.r!, nodes.r.options.restPort!, []);
    const r = await start("r", nodes.r.options.restPort!);
    const locked = await r.rest('id sign {"cluster": {"name": "x"}}');
    expect(locked.status).toBe(403);
    expect(locked.text).toContain("locked");
    const on = await r.rest("set node authentication on", true);
    expect(on.status).toBe(409);
    // users and nodes together: refused while there is no admin, and then neither is on
    const both = await r.rest("set authentication on", true);
    expect(both.status).toBe(409);
    expect(both.text).toContain("no admin user");
    expect(JSON.parse(await ok(r, "get authentication"))).toMatchObject({ "user authentication": "off", "node authentication": "off", "node key state": "locked" });
    expect(await ok(r, "set private password = r-secret", true)).toContain("open");
    expect(await ok(r, 'id sign {"cluster": {"name": "x"}}')).toContain('"signature"');
    const logged = nodes.r.stderr + nodes.m.stderr + nodes.a.stderr;
    for (const secret of ["r-secret", "a-secret", "m-secret", "not-it"]) expect(logged).not.toContain(secret);
  });
});
