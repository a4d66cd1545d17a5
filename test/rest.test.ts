/**
 * The REST contract (INTERFACE §3) against a real `anylog start` process, with the real curl
 * binary and the AnyLog headers: read commands by GET, state changes by POST (header or JSON
 * body), PUT ingest checks, `/health`, `/metrics`, CORS, errors as `{error, command}` JSON
 * without stack traces, and a clean exit (code 0) on `exit node` and on SIGTERM.
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { type AnylogNode, type CurlReply, MINIMAL_SCRIPT, hasStackTrace, killAll, startNode } from "./support/node-process.ts";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

// bun's default is 5 s per test and hook (bunfig.toml's [test] timeout is not read by bun 1.3):
// these bound waits for real processes and sockets; none of them measures speed
setDefaultTimeout(60_000);

const AGENTS: Array<[string, string[]]> = [
  ["User-Agent", ["-H", "User-Agent: AnyLog/1.23"]],
  ["AnyLog-Agent", ["-H", "AnyLog-Agent: AnyLog/1.23"]],
];
const UA = AGENTS[0]![1];

let node: AnylogNode;

/** curl against the shared node; every reply body is checked for stack traces. */
async function call(args: string[], path = "/"): Promise<CurlReply> {
  const r = await node.curl(args, path);
  expect(r.exitCode).toBe(0);
  expect(hasStackTrace(r.body)).toBe(false);
  return r;
}

const get = (command: string, extra: string[] = UA) => call([...extra, "-H", `command: ${command}`]);
const post = (command: string, extra: string[] = UA) => call([...extra, "-X", "POST", "-H", `command: ${command}`]);

/** The reply is a 4xx JSON error `{error, command}`; returns it. */
function expectError(r: CurlReply, status: number): { error: string; command: string } {
  expect(r.status).toBe(status);
  expect(r.headers["content-type"]).toContain("application/json");
  const body = JSON.parse(r.body) as { error: string; command: string };
  expect(typeof body.error).toBe("string");
  expect(body.error.length).toBeGreaterThan(0);
  expect(typeof body.command).toBe("string");
  return body;
}

describe("REST on a running node", () => {
  beforeAll(async () => {
    node = await startNode();
  });
  afterAll(killAll);

  for (const [name, agent] of AGENTS) {
    describe(`with ${name}: AnyLog/1.23`, () => {
      test("get status is text saying running", async () => {
        const r = await get("get status", agent);
        expect(r.status).toBe(200);
        expect(r.body).toContain("running");
        expect(r.body).toContain(`127.0.0.1:${node.tcpPort}`);
      });

      test("get status where format=json is {status: running, ...}", async () => {
        const r = await get("get status where format=json", agent);
        expect(r.status).toBe(200);
        expect(r.headers["content-type"]).toContain("application/json");
        const s = JSON.parse(r.body) as Record<string, unknown>;
        expect(s.status).toBe("running");
        expect(r.body.startsWith('{"status":"running"')).toBe(true);
      });

      test("get processes is a text table with TCP Running", async () => {
        const r = await get("get processes", agent);
        expect(r.status).toBe(200);
        expect(r.body).toContain("TCP");
        expect(r.body).toContain("Running");
        expect(r.body).toContain("REST");
        expect(() => JSON.parse(r.body)).toThrow();
      });

      test("get processes where format=json is {TCP: {Status: Running, ...}, ...}", async () => {
        const r = await get("get processes where format=json", agent);
        expect(r.status).toBe(200);
        const p = JSON.parse(r.body) as Record<string, { Status: string; Details: string }>;
        expect(p.TCP?.Status).toBe("Running");
        expect(p.TCP?.Details).toContain(String(node.tcpPort));
        expect(p.REST?.Status).toBe("Running");
        expect(p.REST?.Details).toContain(String(node.restPort));
      });
    });
  }

  test("curl without any AnyLog agent header is accepted too", async () => {
    const r = await call(["-H", "command: get status"]);
    expect(r.status).toBe(200);
    expect(r.body).toContain("running");
  });

  test("fetch through the helper agrees with curl", async () => {
    const r = await node.rest("get status where format=json");
    expect(r.status).toBe(200);
    expect((r.json as { status: string }).status).toBe("running");
  });

  test("GET /health is JSON for probes, without a command header", async () => {
    const r = await call([], "/health");
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toContain("application/json");
    expect((JSON.parse(r.body) as { status: string }).status).toBe("healthy");
  });

  test("GET /metrics is Prometheus text with the TCP process up", async () => {
    const r = await call([], "/metrics");
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toContain("text/plain");
    expect(r.body).toContain('anylog_process_up{process="TCP"} 1');
    expect(r.body).toContain('anylog_process_up{process="REST"} 1');
    expect(r.body).toMatch(/^anylog_rest_requests_total \d+$/m);
  });

  test("CORS is off by default: no CORS header, and a web page's POST (text/plain, no preflight) is refused and runs nothing", async () => {
    const r = await call([...UA, "-H", "Origin: http://dashboard.example", "-H", "command: get status"]);
    expect(r.status).toBe(200);
    expect(r.headers["access-control-allow-origin"]).toBeUndefined();
    const page = await call(["-X", "POST", "-H", "Origin: http://evil.example", "-H", "Content-Type: text/plain", "--data", '{"command": "set pwn = 1"}']);
    expect(page.status).toBe(403);
    expect(page.body).toContain("http://evil.example");
    expect((await get("get dictionary where format = json")).body).not.toContain("pwn");
  });

  test("a Host that is not one of the node's names or addresses is refused (DNS rebinding); its own are answered", async () => {
    const rebound = await call([...UA, "-H", "Host: attacker.example", "-H", "command: get status"]);
    expect(rebound.status).toBe(403);
    expect(rebound.body).toContain("attacker.example");
    for (const host of [`localhost:${node.restPort}`, `127.0.0.1:${node.restPort}`]) expect((await call([...UA, "-H", `Host: ${host}`, "-H", "command: get status"])).status).toBe(200);
  });

  describe("bad commands are 400 {error, command} naming the fault", () => {
    test("an unknown command, with a suggestion", async () => {
      const e = expectError(await get("gte status"), 400);
      expect(e.command).toBe("gte status");
      expect(e.error).toContain("gte status");
      expect(e.error).toContain("get status");
    });

    test("an unknown process word after get, with a suggestion", async () => {
      const e = expectError(await get("get statu"), 400);
      expect(e.error).toContain("get status");
    });

    test("a bad option name, with the option it probably meant", async () => {
      const e = expectError(await get("get processes where formt=json"), 400);
      expect(e.error).toContain("formt");
      expect(e.error).toContain("format");
      expect(e.command).toBe("get processes where formt=json");
    });

    test("an option without its value", async () => {
      const e = expectError(await get("get processes where format"), 400);
      expect(e.error).toContain("format");
      expect(e.error).toContain("=");
    });

    test("an option value of the wrong type", async () => {
      const e = expectError(await post("set query pool many"), 400);
      expect(e.error).toContain("many");
    });

    test("a where-clause ending in 'and'", async () => {
      const e = expectError(await get("get status where format=json and"), 400);
      expect(e.error).toContain("'and'");
    });

    test("an unclosed parenthesis names its column", async () => {
      const e = expectError(await get("get status where format = (json"), 400);
      expect(e.error).toMatch(/column \d+/);
    });

    test("no command at all", async () => {
      expectError(await call([...UA]), 400);
      expectError(await call([...UA, "-X", "POST"]), 400);
    });

    test("an unknown path is 404 JSON", async () => {
      const r = await call([...UA, "-H", "command: get status"], "/no/such/path");
      expectError(r, 404);
    });
  });

  describe("GET reads, POST changes", () => {
    test("set x = 1 by GET is 405; by POST it works and the dictionary shows x", async () => {
      const e = expectError(await get("set x = 1"), 405);
      expect(e.error).toContain("POST");
      let dict = JSON.parse((await get("get dictionary where format=json")).body) as Record<string, string>;
      expect(dict.x).toBeUndefined(); // nothing half-applied by the refused GET

      const r = await post("set x = 1");
      expect(r.status).toBe(200);
      const d = await get("get dictionary where format=json");
      expect(d.status).toBe(200);
      dict = JSON.parse(d.body) as Record<string, string>;
      expect(dict.x).toBe("1");
    });

    test("an assignment statement by GET is 405 as well", async () => {
      expectError(await get("z_by_get = 5"), 405);
    });

    test("a read command by POST works", async () => {
      const r = await post("get status where format=json");
      expect(r.status).toBe(200);
      expect((JSON.parse(r.body) as { status: string }).status).toBe("running");
    });

    test('POST with a JSON body {"command": ...} works', async () => {
      const r = await call([...UA, "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", '{"command": "set from_body = yes"}']);
      expect(r.status).toBe(200);
      const dict = JSON.parse((await get("get dictionary where format=json")).body) as Record<string, string>;
      expect(dict.from_body).toBe("yes");
    });

    test("POST with a JSON body that reads works and answers JSON", async () => {
      const r = await call([...UA, "-X", "POST", "--data-binary", '{"command": "get processes where format=json"}']);
      expect(r.status).toBe(200);
      expect((JSON.parse(r.body) as { TCP: { Status: string } }).TCP.Status).toBe("Running");
    });

    test("POST with a body that is not JSON is 400", async () => {
      const e = expectError(await call([...UA, "-X", "POST", "--data-binary", '{"command": "get sta']), 400);
      expect(e.error).toContain("JSON");
    });

    test("POST with JSON but no command text is 400", async () => {
      expectError(await call([...UA, "-X", "POST", "--data-binary", '{"cmd": "get status"}']), 400);
      expectError(await call([...UA, "-X", "POST", "--data-binary", '["get status"]']), 400);
    });
  });

  describe("PUT and data posts", () => {
    const putHeaders = ["-X", "PUT", "-H", "type: json", "-H", "dbms: test", "-H", "table: readings", "-H", "mode: streaming"];

    test("PUT of a row into the embedded default's dbms 'test' succeeds with a hash", async () => {
      const r = await call([...UA, ...putHeaders, "--data-binary", '{"value": 1, "timestamp": "2026-01-01 00:00:00"}']);
      expect(r.status).toBe(200);
      const reply = JSON.parse(r.body) as Record<string, string>;
      expect(reply["AnyLog.status"]).toBe("Success");
      expect(reply["AnyLog.hash"]).toMatch(/^[0-9a-f]{32}$/);
    });

    test("PUT into a dbms that is not connected is an error naming it", async () => {
      const r = await call([...UA, "-X", "PUT", "-H", "type: json", "-H", "dbms: no_such_dbms", "-H", "table: t", "--data-binary", '{"value": 1}']);
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect((JSON.parse(r.body) as { error: string }).error).toContain("no_such_dbms");
    });

    test("PUT without a dbms header is 400", async () => {
      const r = await call([...UA, "-X", "PUT", "-H", "type: json", "-H", "table: readings", "--data-binary", '{"value": 1}']);
      expect(expectError(r, 400).error).toContain("dbms");
    });

    test("PUT without a table header is 400", async () => {
      const r = await call([...UA, "-X", "PUT", "-H", "type: json", "-H", "dbms: test", "--data-binary", '{"value": 1}']);
      expect(expectError(r, 400).error).toContain("table");
    });

    test("PUT with an empty body is 400", async () => {
      const r = await call([...UA, ...putHeaders, "--data-binary", ""]);
      expect(expectError(r, 400).error).toContain("empty");
    });

    test("PUT with a bad mode is 400", async () => {
      const r = await call([...UA, "-X", "PUT", "-H", "dbms: test", "-H", "table: t", "-H", "mode: sometimes", "--data-binary", "{}"]);
      expect(expectError(r, 400).error).toContain("sometimes");
    });

    test("command: data without a topic is 400", async () => {
      const r = await call([...UA, "-X", "POST", "-H", "command: data", "--data-binary", '{"value": 1}']);
      expect(expectError(r, 400).error).toContain("topic");
    });

    test("command: data for a topic nobody takes is 503 naming the topic", async () => {
      const r = await call([...UA, "-X", "POST", "-H", "command: data", "-H", "topic: nobody", "--data-binary", '{"value": 1}']);
      expect(expectError(r, 503).error).toContain("nobody");
    });
  });

  test("UTF-8 in the command header arrives as written (not read as Latin-1)", async () => {
    const r = await get("echo Zürich ünï 日本 🚀");
    expect(r.status).toBe(200);
    expect(r.body).toBe("Zürich ünï 日本 🚀");
    const set = await post("set city = Zürich");
    expect(set.status).toBe(200);
    const dict = JSON.parse((await get("get dictionary where format=json")).body) as Record<string, string>;
    expect(dict.city).toBe("Zürich");
  });

  test("UTF-8 in a JSON body command arrives as written", async () => {
    const r = await call([...UA, "-X", "POST", "--data-binary", '{"command": "echo Zürich 日本"}']);
    expect(r.body).toBe("Zürich 日本");
  });

  test("a destination header that is not ip:port is 400 naming it", async () => {
    const e = expectError(await call([...UA, "-H", "destination: nonsense", "-H", "command: get status"]), 400);
    expect(e.error).toContain("nonsense");
  });

  test("the node still answers after all the errors above", async () => {
    const r = await get("get status");
    expect(r.status).toBe(200);
    const m = await call([], "/metrics");
    expect(m.body).toMatch(/^anylog_errors_total [1-9]\d*$/m);
  });
});

describe("stopping a node", () => {
  afterEach(killAll);

  test("POST exit node answers, then the process exits with code 0", async () => {
    node = await startNode();
    const r = await post("exit node");
    expect(r.status).toBe(200);
    expect(await node.waitExit()).toBe(0);
    expect(node.stderr).not.toMatch(/^\s+at\s/m);
  });

  test("exit node by GET is 405 and the node keeps running", async () => {
    node = await startNode();
    expectError(await get("exit node"), 405);
    expect((await get("get status")).status).toBe(200);
    expect(await node.stop()).toBe(0);
  });

  test("SIGTERM: the process exits with code 0", async () => {
    node = await startNode();
    expect((await get("get status")).status).toBe(200);
    expect(await node.stop()).toBe(0);
  });

  test("SIGTERM as soon as /health answers (start-up commands may still run) exits 0, every time", async () => {
    for (let i = 0; i < 10; i++) {
      node = await startNode();
      expect(await node.stop()).toBe(0);
    }
  });

  test("exit node as soon as /health answers exits 0 as well", async () => {
    for (let i = 0; i < 5; i++) {
      node = await startNode();
      await post("exit node");
      expect(await node.waitExit()).toBe(0);
    }
  });

  test("SIGINT (Ctrl-C in a foreground run): the process exits with code 0", async () => {
    node = await startNode();
    expect((await get("get status")).status).toBe(200);
    node.proc.kill("SIGINT");
    expect(await node.waitExit()).toBe(0);
  });
});

describe("a node without an operator", () => {
  beforeAll(async () => {
    node = await startNode({ script: MINIMAL_SCRIPT });
  });
  afterAll(killAll);

  test("PUT with valid headers and rows is 503 'no operator running'", async () => {
    const r = await call([...UA, "-X", "PUT", "-H", "type: json", "-H", "dbms: test", "-H", "table: readings", "-H", "mode: streaming", "--data-binary", '{"value": 1}']);
    const e = expectError(r, 503);
    expect(e.error).toContain("no operator running");
  });

  test("get processes shows TCP and REST running and the operator not", async () => {
    const p = JSON.parse((await get("get processes where format=json")).body) as Record<string, { Status: string }>;
    expect(p.TCP?.Status).toBe("Running");
    expect(p.REST?.Status).toBe("Running");
    expect(p.Operator?.Status).not.toBe("Running");
  });
});

describe("a node whose REST server names CORS origins and a host name", () => {
  beforeAll(async () => {
    node = await startNode({
      script: `run tcp server where external_ip = 127.0.0.1 and external_port = !anylog_server_port and bind = true
run rest server where external_ip = 127.0.0.1 and external_port = !anylog_rest_port and bind = true and cors = "http://dashboard.example" and hosts = "edge-7.plant.example"
`,
    });
  });
  afterAll(killAll);

  test("the named origin gets CORS headers, a preflight and its POSTs; another origin's POST is refused; the named host is answered", async () => {
    const r = await call([...UA, "-H", "Origin: http://dashboard.example", "-H", "command: get status"]);
    expect(r.headers["access-control-allow-origin"]).toBe("http://dashboard.example");
    const pre = await call(["-X", "OPTIONS", "-H", "Origin: http://dashboard.example", "-H", "Access-Control-Request-Method: POST"]);
    expect(pre.status).toBeLessThan(300);
    expect(pre.headers["access-control-allow-methods"]).toContain("POST");
    expect((await call([...UA, "-X", "POST", "-H", "Origin: http://dashboard.example", "-H", "command: set from_dashboard = 1"])).status).toBe(200);
    expect((await call([...UA, "-X", "POST", "-H", "Origin: http://other.example", "-H", "command: set from_other = 1"])).status).toBe(403);
    expect((await call([...UA, "-H", "Host: edge-7.plant.example", "-H", "command: get status"])).status).toBe(200);
  });
});

describe("what a request may read of the node's secrets and environment", () => {
  beforeAll(async () => {
    node = await startNode({ script: MINIMAL_SCRIPT, env: { SECRET_TOKEN: "tok-123456", ANYLOG_SITE: "plant-7", DB_PASSWD: "db-secret-9" } });
  });
  afterAll(killAll);

  test("echo shows a dictionary secret as ***; $NAME reads only the node's own deployment variables, never a secret", async () => {
    expect((await post("set db_passwd = hunter2-x")).status).toBe(200);
    const echoed = await get("echo user !node_name with !db_passwd");
    expect(echoed.status).toBe(200);
    expect(echoed.body).toContain("with ***");
    expect(echoed.body).not.toContain("hunter2");
    expect((await get("get dictionary")).body).not.toContain("hunter2");
    expect((await get("echo $ANYLOG_SITE")).body).toBe("plant-7");
    for (const secret of ["$SECRET_TOKEN", "$DB_PASSWD", "$HOME"]) {
      const r = await get(`echo ${secret}`);
      expect(r.body).not.toContain("tok-123456");
      expect(r.body).not.toContain("db-secret-9");
      expect(r.status).toBe(400);
      expect(r.body).toContain("is not set");
    }
  });

  test("paths a request names stay under the node's home (or the temporary directory): /etc, and a link out of the home, are refused naming the path", async () => {
    for (const cmd of ["process /etc/passwd", "run operator where watch_dir = /etc and error_dir = /tmp/x and create_table = true", "file retrieve where dbms = d and table = t and id = x and dest = /etc/cron.d/x"]) {
      const r = await post(cmd);
      expect(r.status).toBe(403);
      expect(r.body).toContain("is outside this node's directories");
    }
    mkdirSync(join(node.home, "data"), { recursive: true });
    symlinkSync("/etc", join(node.home, "data", "etc-link"));
    const linked = await post(`process ${join(node.home, "data", "etc-link", "passwd")}`);
    expect(linked.status).toBe(403);
    writeFileSync(join(node.home, "data", "ok.al"), "set from_script = yes\n");
    expect((await post(`process ${join(node.home, "data", "ok.al")}`)).status).toBe(200);
    expect((await get("get dictionary where format = json")).body).toContain("from_script");
    // a task scheduled over REST runs with REST's limits, not a script's
    expect((await post("run scheduler 1")).status).toBe(200);
    expect((await post("schedule time = 1 second and name = sneaky task process /etc/passwd")).status).toBe(200);
    await Bun.sleep(1500);
    const scheduled = await get("get scheduler 1");
    expect(scheduled.body).toContain("sneaky");
    expect(scheduled.body).toContain("is outside this node's directories");
  });
});
