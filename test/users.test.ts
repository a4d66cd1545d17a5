/**
 * REST users on a real node process, with real curl: authentication off by default; users
 * added (an admin, a reader, one that expires); with `set user authentication on` a request
 * without credentials, with a wrong password or from an expired user gets 401 (with
 * WWW-Authenticate), a `user` gets 403 on POST, PUT and `command: data`, an admin gets
 * through; passwords appear nowhere (get users, the log with trace level 2, the users file's
 * mode); 1,000 wrong passwords from one address take at least 30 s while a client on another
 * address is answered at once.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "./support/node-process.ts";
import { ScriptNode, stopScriptNodes } from "./support/script-node.ts";

setDefaultTimeout(120_000);

const work = mkdtempSync(join(tmpdir(), "anylog-users-"));
let node: ScriptNode;
let url = "";
let restPort = 0;

afterAll(async () => {
  await stopScriptNodes();
  rmSync(work, { recursive: true, force: true });
});

interface Curl {
  status: number;
  body: string;
  headers: string;
}

/** curl against the node's REST server (`-u` credentials, `--interface` a source address). */
async function curl(args: string[], options: { command?: string; method?: string; user?: string; from?: string; body?: string; headers?: string[] } = {}): Promise<Curl> {
  const argv = ["curl", "-s", "-i", "--max-time", "60", ...(options.from ? ["--interface", options.from] : []), "-X", options.method ?? "GET"];
  if (options.command) argv.push("-H", `command: ${options.command}`);
  if (options.user) argv.push("-u", options.user);
  for (const h of options.headers ?? []) argv.push("-H", h);
  if (options.body !== undefined) argv.push("--data-binary", options.body);
  argv.push(...args, url);
  const p = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  await p.exited;
  const split = out.indexOf("\r\n\r\n");
  const head = out.slice(0, split);
  return { status: Number(/^HTTP\/[\d.]+ (\d+)/.exec(head)?.[1] ?? 0), headers: head, body: out.slice(split + 4) };
}

const ADMIN = "admin:admin-pass-1";
const READER = "reader:reader-pass-1";

beforeAll(async () => {
  const [tcp, rest] = (await freePorts(2)) as [number, number];
  restPort = rest;
  mkdirSync(join(work, "n"), { recursive: true });
  const script = join(work, "n", "node.al");
  writeFileSync(
    script,
    [
      `run tcp server where external_ip = 127.0.0.1 and external_port = ${tcp} and bind = true`,
      `run rest server where external_ip = 0.0.0.0 and external_port = ${rest} and bind = false`,
      "connect dbms almgm where type = sqlite",
      "create table tsd_info where dbms = almgm",
      "connect dbms users where type = sqlite",
      "run operator where create_table = true and update_tsd_info = true",
      'run msg client where broker = rest and topic = (name = t and dbms = users and table = m and column.v.int = "bring [v]")',
      "",
    ].join("\n"),
  );
  node = await ScriptNode.start({ home: join(work, "n", "home"), script, restPort: rest, set: { node_name: "users" } });
  url = `http://127.0.0.1:${restPort}/`;
});

describe("REST users", () => {
  test("off by default; turning it on needs an admin; users are added, listed without passwords, kept in a private file", async () => {
    expect((await curl([], { command: "get status" })).status).toBe(200);
    const early = await curl([], { method: "POST", command: "set user authentication on" });
    expect(early.status).toBe(409);
    expect(early.body).toContain("no admin user yet");
    for (const add of [
      "id add user where name = admin and password = admin-pass-1 and type = admin",
      "id add user where name = reader and password = reader-pass-1",
      'id add user where name = temp and password = temp-pass-1 and type = admin and expiration = "2 seconds"',
    ]) {
      const r = await curl([], { method: "POST", command: add });
      expect(r.status).toBe(200);
    }
    expect((await curl([], { method: "POST", command: "id add user where name = short and password = abc" })).body).toContain("at least 8");
    expect((await curl([], { method: "POST", command: "id add user where name = reader and password = reader-pass-2" })).status).toBe(409);
    const listed = await curl([], { command: "get users where format = json" });
    expect(JSON.parse(listed.body).users.map((u: { name: string; type: string }) => `${u.name}:${u.type}`)).toEqual(["admin:admin", "reader:user", "temp:admin"]);
    expect(listed.body).not.toContain("pass-1");
    expect(listed.body).not.toContain("argon2");
    const file = join(work, "n", "home", "data", "users.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8")).not.toContain("pass-1");
    expect((await curl([], { method: "POST", command: "set user authentication on" })).status).toBe(200);
  });

  test("401 without credentials, with a wrong password, for an expired user; 403 for a user's POST, PUT and data; an admin gets through", async () => {
    const none = await curl([], { command: "get status" });
    expect(none.status).toBe(401);
    expect(none.headers).toMatch(/WWW-Authenticate: Basic realm="anylog"/i);
    expect((await curl([], { command: "get status", user: "admin:wrong-password" })).status).toBe(401);
    expect((await curl([], { command: "get status", user: "nobody:whatever-1" })).status).toBe(401);
    await Bun.sleep(2100);
    const expired = await curl([], { command: "get status", user: "temp:temp-pass-1" });
    expect(expired.status).toBe(401);
    expect(expired.body).toContain("expired");
    // /health stays open for monitors
    const health = Bun.spawnSync(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${restPort}/health`]);
    expect(health.stdout.toString()).toBe("200");

    expect((await curl([], { command: "get status", user: READER })).status).toBe(200);
    const post = await curl([], { method: "POST", command: "set x = 1", user: READER });
    expect(post.status).toBe(403);
    expect(post.body).toContain("may only read");
    const putHeaders = ["type: json", "dbms: users", "table: r", "mode: streaming", "Content-Type: text/plain"];
    expect((await curl([], { method: "PUT", user: READER, headers: putHeaders, body: '{"v": 1}' })).status).toBe(403);
    expect((await curl([], { method: "POST", user: READER, headers: ["command: data", "topic: t", "User-Agent: anylog"], body: '{"v": 1}' })).status).toBe(403);
    expect((await curl([], { method: "POST", command: "set x = 1", user: ADMIN })).status).toBe(200);
    expect((await curl([], { method: "PUT", user: ADMIN, headers: putHeaders, body: '{"v": 1}' })).status).toBe(200);
    expect((await curl([], { method: "POST", user: ADMIN, headers: ["command: data", "topic: t", "User-Agent: anylog"], body: '{"v": 2}' })).status).toBe(200);
  });

  test("passwords appear in no log line, even with trace level 2, and in no echo", async () => {
    expect((await curl([], { method: "POST", command: "trace level = 2 run rest server", user: ADMIN })).status).toBe(200);
    expect((await curl([], { command: "get status", user: ADMIN })).status).toBe(200);
    expect((await curl([], { method: "POST", command: "id update user password where name = reader and old = reader-pass-1 and new = reader-pass-2", user: ADMIN })).status).toBe(200);
    expect((await curl([], { command: "get status", user: READER })).status).toBe(401);
    expect((await curl([], { command: "get status", user: "reader:reader-pass-2" })).status).toBe(200);
    expect((await curl([], { method: "POST", command: "trace level = 0 run rest server", user: ADMIN })).status).toBe(200);
    const log = node.stderr;
    expect(log).toContain("headers:");
    for (const secret of ["admin-pass-1", "reader-pass-1", "reader-pass-2", Buffer.from(ADMIN).toString("base64")]) expect(log).not.toContain(secret);
  });

  test("1,000 wrong passwords from one address take 30 s or more; a client on another address is answered at once meanwhile", async () => {
    const started = performance.now();
    let done = 0;
    const attacker = async () => {
      while (done < 1000) {
        done++;
        const r = await fetch(url, { headers: { command: "get status", Authorization: `Basic ${Buffer.from(`admin:guess-${done}`).toString("base64")}` } });
        await r.text();
        if (r.status !== 401) throw new Error(`a wrong password got ${r.status}`);
      }
    };
    const attack = Promise.all(Array.from({ length: 20 }, attacker));
    // another address (127.0.0.2 is loopback too) keeps being answered quickly
    const slowest: number[] = [];
    await Bun.sleep(1000);
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      const r = await curl([], { command: "get status", user: ADMIN, from: "127.0.0.2" });
      expect(r.status).toBe(200);
      slowest.push(performance.now() - t0);
      await Bun.sleep(300);
    }
    await attack;
    const seconds = (performance.now() - started) / 1000;
    expect(seconds).toBeGreaterThanOrEqual(30);
    expect(Math.max(...slowest)).toBeLessThan(2000);
  });

  test("the last admin is not removed while authentication is on; off again, requests need nothing", async () => {
    const last = await curl([], { method: "POST", command: "id remove user where name = admin", user: ADMIN });
    expect(last.status).toBe(409);
    expect((await curl([], { method: "POST", command: "set user authentication off", user: ADMIN })).status).toBe(200);
    expect((await curl([], { command: "get status" })).status).toBe(200);
    expect((await curl([], { method: "POST", command: "id remove user where name = nobody" })).status).toBe(404);
  });
});
