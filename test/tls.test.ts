/**
 * TLS with certificates the node makes itself (the compiled executable, real curl and
 * mosquitto_pub):
 *  - through REST on a plain node: `id generate certificate authority`, `id generate
 *    certificate request` and `id sign certificate request` write AnyLog's files under
 *    !pem_dir (private keys 0600); files already there, a missing CA or request, a pem_dir
 *    that cannot be written and options this build lacks are clear errors naming the file or
 *    option.
 *  - the node restarted with `run rest server ... ssl = true`: curl --cacert gets an answer
 *    over HTTPS, plain http fails; `get processes` shows https; with client_certificates =
 *    true curl without a certificate is refused, with one the CA signed it passes.
 *  - `run message broker ... enable_tls = true`: mosquitto_pub --cafile publishes, the broker
 *    counts it; with users_ca (or tls_ca) a client without a certificate is refused, and
 *    allowed_users refuses a certificate of the CA whose CN it does not list.
 *  - `run` errors: missing files name the option and the file; enable_tls on the TCP
 *    server's shared port is refused.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { anylogCommand, curl, freePorts } from "./support/node-process.ts";
import { waitFor } from "./support/operator.ts";
import { ScriptNode, stopScriptNodes } from "./support/script-node.ts";

setDefaultTimeout(120_000);

const work = mkdtempSync(join(tmpdir(), "anylog-tls-"));
const home = join(work, "home");
const pem = join(home, "pem");
let tcp: number;
let rest: number;
let mqtt: number;

const CA = () => join(pem, "ca-anylog-public-key.crt");
const SERVER = { cert: () => join(pem, "server-node-128-public-key.crt"), key: () => join(pem, "server-node-128-private-key.key") };
const CLIENT = { cert: () => join(pem, "server-acme-inc-public-key.crt"), key: () => join(pem, "server-acme-inc-private-key.key") };

/** Starts the node on `home` with the TCP server, a REST server (`restLine`'s options) and more lines. */
async function startNode(restOptions: string, more: string[] = []): Promise<ScriptNode> {
  const script = join(work, `node-${Date.now()}.al`);
  const lines = [
    "run tcp server where external_ip = 127.0.0.1 and external_port = !anylog_server_port and bind = true",
    `run rest server where external_ip = 127.0.0.1 and external_port = !anylog_rest_port and bind = true${restOptions}`,
    ...more,
  ];
  writeFileSync(script, `${lines.join("\n")}\n`);
  return ScriptNode.start({
    home,
    script,
    restPort: rest,
    set: { anylog_server_port: String(tcp), anylog_rest_port: String(rest), node_name: "tls-node", external_ip: "127.0.0.1", ip: "127.0.0.1" },
  });
}

/** `anylog script` on the same home: a throw-away node's output for one command (a `run` that must fail). */
async function scriptOutput(line: string): Promise<string> {
  const file = join(work, `one-${Date.now()}.al`);
  writeFileSync(file, `${line}\n`);
  const p = Bun.spawn([...anylogCommand(), "script", file], { env: { ...(process.env as Record<string, string>), ANYLOG_HOME: home }, stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return out + err;
}

/** mosquitto_pub of one message at QoS 1 to 127.0.0.1:mqtt with extra arguments; exit code and stderr. */
async function mosquittoPub(args: string[]): Promise<{ code: number; err: string }> {
  const p = Bun.spawn(["mosquitto_pub", "-h", "127.0.0.1", "-p", String(mqtt), "-t", "tls/test", "-m", '{"v": 1}', "-q", "1", ...args], { stdout: "ignore", stderr: "pipe" });
  const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  return { code, err };
}

const https = (args: string[]) => curl(["-H", "command: get status where format = json", "--cacert", CA(), ...args, `https://127.0.0.1:${rest}/`]);

beforeAll(async () => {
  [tcp, rest, mqtt] = (await freePorts(3)) as [number, number, number];
});

afterAll(async () => {
  await stopScriptNodes();
  rmSync(work, { recursive: true, force: true });
});

describe("certificates made by the node, TLS on REST and on the broker", () => {
  test("the id commands write the CA, requests and signed certificates under pem_dir; their errors name the file or option", async () => {
    const node = await startNode("");
    const post = async (cmd: string) => node.rest(cmd, true);
    const ok = async (cmd: string) => {
      const r = await post(cmd);
      expect(r.status, `${cmd}: ${r.text}`).toBe(200);
      return r.text;
    };
    expect(await ok('id generate certificate authority where country = US and state = CA and locality = "Redwood City" and org = AnyLog and hostname = anylog.co')).toContain(CA());
    expect(await ok('id generate certificate request where country = US and state = CA and locality = "Palo Alto" and org = "Node 128" and hostname = localhost and ip = 127.0.0.1')).toContain(
      join(pem, "server-node-128-csr.csr"),
    );
    expect(await ok('id sign certificate request where ca_org = AnyLog and server_org = "Node 128"')).toContain(SERVER.cert());
    await ok('id generate certificate request where country = US and org = "Acme Inc" and hostname = acme');
    await ok('id sign certificate request where ca_org = AnyLog and server_org = "Acme Inc" and expiration_days = 825');
    for (const key of [join(pem, "ca-anylog-private-key.key"), SERVER.key(), CLIENT.key()]) expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(pem, "server-node-128-public-key.pem"), "utf8")).toContain("BEGIN PUBLIC KEY");

    // files already there are kept unless overwrite = true
    const again = await post("id generate certificate authority where org = AnyLog");
    expect(again.status).toBe(409);
    expect(again.text).toContain("ca-anylog-public-key.crt");
    expect(again.text).toContain("overwrite = true");
    const sameCa = readFileSync(CA(), "utf8");
    await ok("id generate certificate authority where org = Other and output_name = otherca");
    await ok("id generate certificate authority where org = Other and output_name = otherca and overwrite = true");
    expect(readFileSync(CA(), "utf8")).toBe(sameCa);

    // a CA or a request that is not there, a wrong org
    const noCa = await post('id sign certificate request where ca_org = Nobody and server_org = "Node 128"');
    expect(noCa.status).toBe(404);
    expect(noCa.text).toContain("ca-nobody-public-key.crt");
    expect(noCa.text).toContain("id generate certificate authority");
    const noCsr = await post("id sign certificate request where ca_org = AnyLog and server_org = Nobody");
    expect(noCsr.status).toBe(404);
    expect(noCsr.text).toContain("server-nobody-csr.csr");

    // options: a missing org, a password (not in this build), a path as output_name, bad days
    expect((await post("id generate certificate authority where country = US")).text).toContain("org");
    expect((await post("id generate certificate authority where org = X and password = 123")).text).toMatch(/'password' is not supported/);
    expect((await post("id generate certificate request where org = X and output_name = ../x")).text).toMatch(/'output_name'.*not a path/);
    expect((await post("id generate certificate authority where org = X and expiration_days = 0")).text).toMatch(/'expiration_days' must be positive|'expiration_days' must be a positive/);
    expect((await post("id sign certificate request where ca_org = AnyLog and server_org = X and certificate_authority = 10.0.0.1:32048")).text).toMatch(
      /'certificate_authority'.*not supported/,
    );

    // a pem_dir that cannot be made (below a file)
    writeFileSync(join(work, "a-file"), "");
    await ok(`set pem_dir = ${join(work, "a-file", "pem")}`);
    const unwritable = await post("id generate certificate authority where org = Y");
    expect(unwritable.status).toBe(500);
    expect(unwritable.text).toContain("is not writable");
    expect(unwritable.text).toContain(join(work, "a-file", "pem"));
    await node.stop();
  });

  test("run rest server with ssl = true: curl --cacert gets an answer over HTTPS, plain http fails; the broker publishes over TLS", async () => {
    const node = await startNode(' and ssl = true and ca_org = AnyLog and server_org = "Node 128"', [
      `run message broker where external_ip = 127.0.0.1 and external_port = ${mqtt} and bind = true and enable_tls = true and tls_cert = !pem_dir/server-node-128-public-key.crt and tls_key = !pem_dir/server-node-128-private-key.key`,
    ]);
    const r = await https([]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).status).toBe("running");
    const plain = await curl(["-H", "command: get status", `http://127.0.0.1:${rest}/`]);
    expect(plain.status === 200).toBe(false);
    // a client that does not know the CA does not trust the node
    const unknown = await curl(["-H", "command: get status", `https://127.0.0.1:${rest}/`]);
    expect(unknown.exitCode).toBe(60);

    const processes = await curl(["-H", "command: get processes where format = json", "--cacert", CA(), `https://127.0.0.1:${rest}/`]);
    const rows = JSON.parse(processes.body) as Record<string, { Status: string; Details: string }>;
    expect(rows.REST?.Details).toContain("SSL: https");
    expect(rows["Message Broker"]?.Details).toContain("TLS: on");
    const info = await curl(["-H", "command: get rest server info", "--cacert", CA(), `https://127.0.0.1:${rest}/`]);
    expect(info.body).toContain("https");

    // MQTT over TLS: mosquitto_pub trusts the node through the CA; without TLS it cannot talk to the port
    const pub = await mosquittoPub(["--cafile", CA()]);
    expect(pub.code, pub.err).toBe(0);
    const counted = await waitFor("the broker to count the publish", async () => {
      const c = await curl(["-H", "command: get local broker where format = json", "--cacert", CA(), `https://127.0.0.1:${rest}/`]);
      const j = JSON.parse(c.body) as { publishes: { count: number } };
      return j.publishes.count >= 1 ? j : undefined;
    });
    expect(counted.publishes.count).toBe(1);
    expect((await mosquittoPub([])).code).not.toBe(0);
    await node.stop();
  });

  test("client_certificates = true: curl without a certificate is refused, with one the CA signed it passes; users_ca asks MQTT clients for one, allowed_users picks them by CN", async () => {
    const node = await startNode(' and ssl = true and ca_org = AnyLog and server_org = "Node 128" and client_certificates = true', [
      `run message broker where external_ip = 127.0.0.1 and external_port = ${mqtt} and bind = true and enable_tls = true and tls_cert = !pem_dir/server-node-128-public-key.crt and tls_key = !pem_dir/server-node-128-private-key.key and users_ca = !pem_dir/ca-anylog-public-key.crt and allowed_users = (acme, user2)`,
    ]);
    const refused = await https([]);
    expect(refused.status).toBe(0);
    expect(refused.exitCode).not.toBe(0);
    const passed = await https(["--cert", CLIENT.cert(), "--key", CLIENT.key()]);
    expect(passed.exitCode, passed.stderr).toBe(0);
    expect(passed.status).toBe(200);
    expect((await mosquittoPub(["--cafile", CA()])).code).not.toBe(0);
    const pub = await mosquittoPub(["--cafile", CA(), "--cert", CLIENT.cert(), "--key", CLIENT.key()]);
    expect(pub.code, pub.err).toBe(0);
    // signed by the CA but its CN (localhost) is not in allowed_users
    expect((await mosquittoPub(["--cafile", CA(), "--cert", SERVER.cert(), "--key", SERVER.key()])).code).not.toBe(0);
    const broker = await curl(["-H", "command: get local broker where format = json", "--cacert", CA(), "--cert", CLIENT.cert(), "--key", CLIENT.key(), `https://127.0.0.1:${rest}/`]);
    const j = JSON.parse(broker.body) as { publishes: { count: number }; errors: { last_error: string } };
    expect(j.publishes.count).toBe(1);
    expect(j.errors.last_error).toContain("'localhost' was refused: not in allowed_users");
    await node.stop();
  });

  test("run errors: missing files name the option and the file, ssl needs its orgs, enable_tls is refused on the TCP server's port", async () => {
    const noOrg = await scriptOutput(`run rest server where external_ip = 127.0.0.1 and external_port = ${rest} and ssl = true and ca_org = AnyLog and server_org = Nobody`);
    expect(noOrg).toContain("server-nobody-public-key.crt");
    expect(noOrg).toContain("server_org 'Nobody'");
    const noCa = await scriptOutput(`run rest server where external_ip = 127.0.0.1 and external_port = ${rest} and ssl = true and ca_org = Nobody and server_org = "Node 128"`);
    expect(noCa).toContain("ca-nobody-public-key.crt");
    expect(await scriptOutput(`run rest server where external_ip = 127.0.0.1 and external_port = ${rest} and ssl = true`)).toMatch(/'ssl = true' needs 'ca_org'/);
    expect(await scriptOutput(`run rest server where external_ip = 127.0.0.1 and external_port = ${rest} and client_certificates = true`)).toMatch(/need 'ssl = true'/);

    const missing = join(pem, "missing.crt");
    const noCert = await scriptOutput(`run message broker where external_ip = 127.0.0.1 and external_port = ${mqtt} and enable_tls = true and tls_cert = ${missing} and tls_key = ${SERVER.key()}`);
    expect(noCert).toContain(`tls_cert: '${missing}' does not exist`);
    const notPem = await scriptOutput(`run message broker where external_ip = 127.0.0.1 and external_port = ${mqtt} and enable_tls = true and tls_cert = ${join(pem, "..", "..", "a-file")} and tls_key = ${SERVER.key()}`);
    expect(notPem).toMatch(/tls_cert: .* is not a PEM file/);
    expect(await scriptOutput(`run message broker where external_ip = 127.0.0.1 and external_port = ${mqtt} and enable_tls = true`)).toMatch(/needs 'tls_cert'/);
    expect(
      await scriptOutput(`run message broker where external_ip = 127.0.0.1 and external_port = ${mqtt} and enable_tls = true and tls_cert = ${SERVER.cert()} and tls_key = ${SERVER.key()} and allowed_users = (a, b)`),
    ).toMatch(/'allowed_users' needs 'enable_tls = true' and 'users_ca'/);
    expect(await scriptOutput(`run message broker where external_ip = 127.0.0.1 and external_port = ${mqtt} and tls_cert = ${SERVER.cert()}`)).toMatch(/'tls_cert' needs 'enable_tls = true'/);
    const shared = await scriptOutput(
      `run tcp server where external_ip = 127.0.0.1 and external_port = ${tcp} and bind = true\nrun message broker where external_ip = 127.0.0.1 and external_port = ${tcp} and enable_tls = true and tls_cert = ${SERVER.cert()} and tls_key = ${SERVER.key()}`,
    );
    expect(shared).toMatch(/'enable_tls = true' cannot apply to port \d+: the broker shares it with the TCP server/);
  });
});
