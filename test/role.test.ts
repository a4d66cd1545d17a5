/**
 * Role files: each sample under appliance/ checks clean and expands to its golden script;
 * ten kinds of broken files give ten precise FILE:LINE:COL messages; and `anylog start
 * --config appliance/<role>.yaml` on loopback runs the same processes as the seed's own
 * sequence for that role (get processes where format=json, compared).
 */
import { afterAll, afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { REPO_ROOT, anylogCommand, freePorts } from "./support/node-process.ts";
import { seedBlocks, seedsPresent, uncut } from "./support/seeds.ts";

setDefaultTimeout(60_000);
const ROLES = ["master", "operator", "publisher", "query"] as const;
const work = mkdtempSync(join(tmpdir(), "anylog-role-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** An environment without the role-file overrides of the developer's shell. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ["PATH", "HOME", "LANG", "TZ"]) if (process.env[k]) env[k] = process.env[k]!;
  return { ...env, ...extra };
}

async function run(args: string[], env: Record<string, string> = cleanEnv()): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([...anylogCommand(), ...args], { cwd: REPO_ROOT, env, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

describe("samples and golden scripts", () => {
  for (const role of ROLES) {
    test(`appliance/${role}.yaml checks clean and plans its golden script`, async () => {
      const check = await run(["check", "--config", `appliance/${role}.yaml`]);
      expect(check.err).toBe("");
      expect(check.code).toBe(0);
      const plan = await run(["plan", "--config", `appliance/${role}.yaml`]);
      expect(plan.code).toBe(0);
      const golden = join(import.meta.dir, "golden", `${role}.al`);
      if (process.env.UPDATE_GOLDEN || !existsSync(golden)) writeFileSync(golden, plan.out);
      expect(plan.out).toBe(readFileSync(golden, "utf8"));
    });

    test(`appliance/${role}.yaml has a comment on every field`, () => {
      const lines = readFileSync(join(REPO_ROOT, "appliance", `${role}.yaml`), "utf8").split("\n");
      lines.forEach((line, i) => {
        if (!/^\s*[a-z_]+:\s*\S/.test(line)) return; // a field with a value
        expect(lines[i - 1]?.trim().startsWith("#"), `line ${i + 1}: ${line}`).toBe(true);
      });
    });
  }
});

describe("broken role files give precise messages", () => {
  const cases: Array<[string, string, string]> = [
    ["unknown key", "role: operator\nnode:\n  nmae: x\nledger:\n  master: 1.2.3.4:32048\n", "F:3:3 node.nmae: unknown key; did you mean 'name'?"],
    ["unknown section", "role: master\nnetwrk:\n  tcp_port: 1\n", "F:2:1 netwrk: unknown key; did you mean 'network'?"],
    ["unknown role", "role: opertor\n", "F:1:7 role: unknown role 'opertor' (did you mean 'operator'?); roles: master, operator, publisher, query, generic"],
    ["port not a number", "role: master\nnetwork:\n  tcp_port: abc\n", "F:3:13 network.tcp_port: expected a whole number, got 'abc'"],
    ["bool not a bool", "role: master\nnetwork:\n  bind: maybe\n", "F:3:9 network.bind: expected true or false, got 'maybe'"],
    ["enum value", "role: master\ndatabase:\n  type: mysql\n", "F:3:9 database.type: 'mysql' is not one of sqlite, psql"],
    ["section given a value", "role: master\nnode: edge-1\n", "F:2:7 node: expected a section of keys, got 'edge-1'"],
    ["operator without a master", "role: operator\n", "F:1:1 ledger.master: missing: a operator node needs it (ip:port of the master node (a master defaults to itself))"],
    ["psql without a user", "role: master\ndatabase:\n  type: psql\n", "F:1:1 database.user: missing: a psql database needs a user"],
    ["bad YAML", "role: master\nnode:\n  name: [a\n", "F:4:1 yaml: Flow sequence in block collection must be sufficiently indented and end with a ]"],
  ];
  for (const [what, text, message] of cases) {
    test(what, async () => {
      const file = join(work, `${what.replace(/\W+/g, "-")}.yaml`);
      writeFileSync(file, text);
      const r = await run(["check", "--config", file]);
      expect(r.code).toBe(2);
      expect(r.err.split("\n")[0]).toStartWith(message.replace(/^F/, file));
    });
  }
  test("a role file that fails stops start-up with one line, exit 2", async () => {
    const file = join(work, "bad-start.yaml");
    writeFileSync(file, "role: opertor\n");
    const r = await run(["start", "--config", file]);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toContain(`${file}:1:7 role:`);
  });
  test("the environment overrides the file", async () => {
    const plan = await run(["plan", "--config", "appliance/operator.yaml"], cleanEnv({ ANYLOG_SERVER_PORT: "40001", CLUSTER_NAME: "from-env" }));
    expect(plan.out).toContain("anylog_server_port = 40001");
    expect(plan.out).toContain("cluster_name = from-env");
  });
  test("network.max_frame ($MAX_FRAME) and network.cors_origins reach the TCP and REST servers; left out at their defaults", async () => {
    const file = join(work, "limits.yaml");
    writeFileSync(file, 'role: query\nledger:\n  master: 127.0.0.1:32048\nnetwork:\n  max_frame: 8MB\n  cors_origins: ["https://grafana.plant.example", "https://ops.plant.example"]\n');
    const plan = await run(["plan", "--config", file]);
    expect(plan.err).toBe("");
    expect(plan.out).toMatch(/run tcp server where .* and max_frame = 8MB\n/);
    expect(plan.out).toContain('and cors = "https://grafana.plant.example, https://ops.plant.example"');
    const plain = await run(["plan", "--config", "appliance/query.yaml"]);
    expect(plain.out).not.toContain("max_frame");
    expect(plain.out).not.toContain("cors =");
  });
  test("operator.ha.enabled ($ENABLE_HA) runs the distributor and the consumer, and the operator hands them what it stores", async () => {
    const off = await run(["plan", "--config", "appliance/operator.yaml"]);
    expect(off.out).not.toContain("run data distributor");
    const plan = await run(["plan", "--config", "appliance/operator.yaml"], cleanEnv({ ENABLE_HA: "true", START_DATE: "-7d" }));
    expect(plan.out).toContain("run data distributor\n");
    expect(plan.out).toContain("run data consumer where start_date = -7d");
    expect(plan.out).toMatch(/run operator where .*and distributor = true/);
  });
});

// ---------------------------------------------------------------- role processes against the seeds

const running: Subprocess[] = [];
afterEach(async () => {
  for (const p of running.splice(0)) {
    p.kill("SIGKILL");
    await p.exited;
  }
});

/** Starts a node and returns its processes once it logs that it is up. */
async function processesOf(args: string[], env: Record<string, string>, restPort: number): Promise<Record<string, string>> {
  const home = mkdtempSync(join(work, "home-"));
  const p = Bun.spawn([...anylogCommand(), "start", ...args], { cwd: REPO_ROOT, env: { ...env, ANYLOG_HOME: home }, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  running.push(p);
  let err = "";
  const reader = (async () => {
    const d = new TextDecoder();
    for await (const c of p.stderr) err += d.decode(c, { stream: true });
  })();
  const deadline = Date.now() + 30_000;
  while (!/\[start\] node '.*' is up/.test(err)) {
    if (Date.now() > deadline || p.exitCode !== null) throw new Error(`node did not come up:\n${err}`);
    await Bun.sleep(50);
  }
  const r = await fetch(`http://127.0.0.1:${restPort}/`, { headers: { command: "get processes where format=json" } });
  const json = (await r.json()) as Record<string, { Status: string }>;
  p.kill("SIGTERM");
  await p.exited;
  void reader;
  return Object.fromEntries(Object.entries(json).map(([k, v]) => [k, v.Status]));
}

function seedScript(prefix: string, fix: (text: string) => string = (t) => t): string {
  const path = join(work, `${prefix}.al`);
  writeFileSync(path, uncut(fix(seedBlocks(prefix).join("\n"))));
  return path;
}

// (and HA's distributor: a role runs it with operator.ha.enabled)
const withoutBroker = (text: string) => text.replace(/^\s*run (message broker|data distributor)\b.*$/gm, "");

describe.skipIf(!seedsPresent)("a role runs the processes its seed runs", () => {
  const seedOf: Record<string, () => string> = {
    // seed 002's REST line reuses the TCP port; its own step-6 output shows REST running on its own port
    master: () => seedScript("002", (t) => t.replace(/run rest server where ([\s\S]*?)external_port = !anylog_server_port([\s\S]*?)internal_port = !anylog_server_port/g, "run rest server where $1external_port = !anylog_rest_port$2internal_port = !anylog_rest_port")),
    // step 2's message broker is there "if configured": a role runs one only with network.broker_port
    operator: () => seedScript("001", withoutBroker),
    publisher: () => seedScript("000", withoutBroker),
  };
  for (const role of ["master", "operator", "publisher", "query"] as const) {
    test(role, async () => {
      const [tcp, rest, masterTcp] = (await freePorts(3)) as [number, number, number];
      const env = cleanEnv({ ANYLOG_SERVER_PORT: String(tcp), ANYLOG_REST_PORT: String(rest), LEDGER_CONN: `127.0.0.1:${role === "master" ? tcp : masterTcp}`, INTERNAL_IP: "127.0.0.1", EXTERNAL_IP: "127.0.0.1" });
      const fromRole = await processesOf(["--config", `appliance/${role}.yaml`], env, rest);
      if (role === "query") {
        // no seed deploys a query node: servers, scheduler, sync and the query pool
        expect(Object.entries(fromRole).filter(([, s]) => s === "Running").map(([n]) => n).sort()).toEqual(["Blockchain Sync", "Query Pool", "REST", "Scheduler", "TCP"]);
        return;
      }
      const set = {
        anylog_server_port: String(tcp), anylog_rest_port: String(rest), ledger_conn: `127.0.0.1:${role === "master" ? tcp : masterTcp}`,
        ip: "127.0.0.1", external_ip: "127.0.0.1", internal_ip: "127.0.0.1", sync_time: "30 seconds", company_name: "My Company",
        node_name: `${role}-1`, cluster_name: "cluster-1", default_dbms: "test", db_type: "sqlite", db_conn: "a@127.0.0.1:b", db_port: "5432",
        db_ip: "127.0.0.1", db_user: "u", db_password: "p", db_passwd: "p", memory: "true", blockchain_source: "master", blockchain_destination: "file",
        loc: "0,0", country: "CA", state: "ON", city: "Toronto", table_name: "*", partition_column: "insert_timestamp", partition_interval: "1 day",
        partition_sync: "1 day", partition_keep: "3", compress_file: "true", dbms_file_location: "file_name[0]", table_file_location: "file_name[1]",
        mqtt_log: "false", port: "1883",
      };
      const seedEnv = cleanEnv({ NODE_NAME: `${role}-1`, COMPANY_NAME: "My Company", ANYLOG_SERVER_PORT: String(tcp) });
      const fromSeed = await processesOf(["--script", seedOf[role]!(), ...Object.entries(set).flatMap(([k, v]) => ["--set", `${k}=${v}`])], seedEnv, rest);
      expect(fromRole).toEqual(fromSeed);
    });
  }
});

describe("a role file with authentication", () => {
  test("the first admin and the node's keys are made from the password files at first boot, REST asks for the admin from the start, and a restart keeps both", async () => {
    const [tcp, rest] = (await freePorts(2)) as [number, number];
    const secret = join(work, "admin.pass");
    writeFileSync(secret, "first-boot-pass-1\n", { mode: 0o600 });
    const file = join(work, "secure.yaml");
    const keySecret = join(work, "node-key.pass");
    writeFileSync(keySecret, "node-key-pass-1\n", { mode: 0o600 });
    writeFileSync(
      file,
      `role: generic\nnetwork:\n  tcp_port: ${tcp}\n  rest_port: ${rest}\n  external_ip: 127.0.0.1\n  internal_ip: 127.0.0.1\nsecurity:\n  authentication: true\n  admin_password_file: ${secret}\n  node_authentication: true\n  node_key_password_file: ${keySecret}\n`,
    );
    const missing = join(work, "insecure.yaml");
    writeFileSync(missing, "role: generic\nsecurity:\n  authentication: true\n");
    const check = await run(["check", "--config", missing]);
    expect(check.code).toBe(2);
    expect(check.err).toContain("security.admin_password_file: missing");
    writeFileSync(missing, "role: generic\nsecurity:\n  node_authentication: true\n");
    expect((await run(["check", "--config", missing])).err).toContain("security.node_key_password_file: missing");
    const nodeIds: string[] = [];

    const home = mkdtempSync(join(work, "secure-home-"));
    const url = `http://127.0.0.1:${rest}/`;
    const admin = `Basic ${Buffer.from("admin:first-boot-pass-1").toString("base64")}`;
    for (const boot of [1, 2]) {
      const p = Bun.spawn([...anylogCommand(), "start", "--config", file], { cwd: REPO_ROOT, env: cleanEnv({ ANYLOG_HOME: home }), stdin: "ignore", stdout: "ignore", stderr: "pipe" });
      running.push(p);
      let err = "";
      void (async () => {
        const d = new TextDecoder();
        for await (const c of p.stderr) err += d.decode(c, { stream: true });
      })();
      const deadline = Date.now() + 30_000;
      while (!/\[start\] node '.*' is up/.test(err)) {
        if (Date.now() > deadline || p.exitCode !== null) throw new Error(`boot ${boot}: node did not come up:\n${err}`);
        await Bun.sleep(50);
      }
      expect((await fetch(url, { headers: { command: "get status" } })).status).toBe(401);
      const r = await fetch(url, { headers: { command: "get users where format = json", Authorization: admin } });
      expect(r.status).toBe(200);
      expect(((await r.json()) as { users: Array<{ name: string }> }).users.map((u) => u.name)).toEqual(["admin"]);
      const auth = (await (await fetch(url, { headers: { command: "get authentication", Authorization: admin } })).json()) as Record<string, string>;
      expect(auth["node authentication"]).toBe("on");
      expect(auth["node key state"]).toBe("open");
      nodeIds.push(auth["node key"]!);
      expect(err).not.toContain("first-boot-pass-1");
      expect(err).not.toContain("node-key-pass-1");
      expect(err).not.toMatch(/ERROR/);
      p.kill("SIGTERM");
      await p.exited;
    }
    expect(nodeIds[1]).toBe(nodeIds[0]);
  });
});
