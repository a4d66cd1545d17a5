/**
 * Two real `anylog start` processes on loopback: commands from A's REST server run on B over
 * the peer protocol (`run client (...)` and the `destination` header); a killed peer and a
 * peer that never answers give errors naming them, within the peer timeout.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { FrameDecoder, encodeFrame } from "../src/network/frames.ts";
import { type Server, type Socket, createServer } from "node:net";
import { type AnylogNode, curl, freePort, hasStackTrace, killAll, startNode } from "./support/node-process.ts";

// bun's default is 5 s per test and hook (bunfig.toml's [test] timeout is not read by bun 1.3):
// these bound waits for real processes and sockets; none of them measures speed
setDefaultTimeout(60_000);

const UA = ["-H", "User-Agent: AnyLog/1.23"];
const PEER_TIMEOUT_S = 3;

/** A bound for a reply that must come within the peer timeout (generous: start-up, CI load). */
const WITHIN_PEER_TIMEOUT_MS = (PEER_TIMEOUT_S + 5) * 1000;

describe("two nodes on loopback", () => {
  let a: AnylogNode;
  let b: AnylogNode;

  beforeAll(async () => {
    [a, b] = await Promise.all([startNode({ set: { peer_timeout: String(PEER_TIMEOUT_S) } }), startNode()]);
  });
  afterAll(killAll);

  test("run client (B) get status, through curl on A, answers with B's status", async () => {
    const r = await a.curl([...UA, "-H", `command: run client (${b.tcpAddress}) get status`]);
    expect(r.exitCode).toBe(0);
    expect(r.status).toBe(200);
    expect(r.body).toContain("running");
    expect(r.body).toContain(String(b.tcpPort));
    expect(r.body).not.toContain(String(a.tcpPort));
  });

  test("run client (B) get processes where format=json gives B's processes object", async () => {
    const r = await a.curl([...UA, "-H", `command: run client (${b.tcpAddress}) get processes where format=json`]);
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toContain("application/json");
    const processes = JSON.parse(r.body) as Record<string, { Status: string; Details: string }>;
    expect(processes.TCP?.Status).toBe("Running");
    expect(processes.TCP?.Details).toContain(`:${b.tcpPort}`);
    expect(processes.REST?.Status).toBe("Running");
    expect(processes.REST?.Details).toContain(`:${b.restPort}`);
  });

  test("the 'destination: ip:port' header runs the command on B", async () => {
    const r = await a.curl([...UA, "-H", `destination: ${b.tcpAddress}`, "-H", "command: get status where format=json"]);
    expect(r.status).toBe(200);
    const status = JSON.parse(r.body) as { status: string; address: string };
    expect(status.status).toBe("running");
    expect(status.address).toBe(`127.0.0.1:${b.tcpPort}`);
  });

  test("two destinations give one reply per peer", async () => {
    const r = await a.curl([...UA, "-H", `command: run client (${b.tcpAddress}, ${a.tcpAddress}) get status where format=json`]);
    expect(r.status).toBe(200);
    const both = JSON.parse(r.body) as Record<string, { address: string }>;
    expect(both[b.tcpAddress]?.address).toBe(b.tcpAddress);
    expect(both[a.tcpAddress]?.address).toBe(a.tcpAddress);
  });

  test("a state-changing command carried by run client needs POST", async () => {
    const viaGet = await a.curl([...UA, "-H", `command: run client (${b.tcpAddress}) set peer_test = 7`]);
    expect(viaGet.status).toBe(405);
    const viaPost = await a.curl([...UA, "-X", "POST", "-H", `command: run client (${b.tcpAddress}) set peer_test = 7`]);
    expect(viaPost.status).toBe(200);
    const dict = await b.rest("get dictionary where format=json");
    expect((dict.json as Record<string, string>).peer_test).toBe("7");
  });

  test("an error on B comes back as an error naming B", async () => {
    const r = await a.curl([...UA, "-H", `command: run client (${b.tcpAddress}) get no_such_process`]);
    expect(r.status).toBeGreaterThanOrEqual(400);
    const body = JSON.parse(r.body) as { error: string };
    expect(body.error).toContain(b.tcpAddress);
    expect(body.error).toContain("no_such_process");
    expect(hasStackTrace(r.body)).toBe(false);
  });

  test("many concurrent run client requests to the node itself all succeed (no Query Pool starvation)", async () => {
    // fetch from this process puts them all in flight at once (curl processes start one by one)
    const replies = await Promise.all(Array.from({ length: 30 }, () => a.rest(`run client (${a.tcpAddress}) get status`)));
    for (const r of replies) {
      expect(r.text).toContain(String(a.tcpPort));
      expect(r.status).toBe(200);
    }
  });

  test("A and B querying each other at the same time all succeed", async () => {
    const ab = Array.from({ length: 30 }, () => a.rest(`run client (${b.tcpAddress}) get status`));
    const ba = Array.from({ length: 30 }, () => b.rest(`run client (${a.tcpAddress}) get status`));
    const replies = await Promise.all([...ab, ...ba]);
    for (const r of replies) expect(r.status).toBe(200);
  });

  test("bytes that are not the peer protocol on B's TCP port drop that connection only", async () => {
    const http = await curl([`http://${b.tcpAddress}/`], 5);
    expect(http.status).toBe(0); // no HTTP reply: the connection was closed
    const r = await a.curl([...UA, "-H", `command: run client (${b.tcpAddress}) get status`]);
    expect(r.status).toBe(200);
    expect(b.stderr).toContain("closing connections from 127.0.0.1: not an AnyLog peer message");
  });

  test("what could take a node over is not run when a peer sends it: stopping it, running a file, users, connections, schedules", async () => {
    for (const cmd of ["exit node", "exit tcp", "process /etc/passwd", "id add user where name = x and password = xxxxxxxx", "connect dbms x where type = psql and ip = 10.9.9.9", "schedule time = 1 second task exit node", 'run operator where watch_dir = /etc and error_dir = /tmp', "set node authentication off", "id create keys for node where password = xxxxxxxx", "email to x@example.com", "reset monitored operators"]) {
      const r = await a.curl([...UA, "-X", "POST", "-H", `command: run client (${b.tcpAddress}) ${cmd}`]);
      expect(r.status).toBe(403);
      expect(r.body).toContain("is not run when a peer sends it");
    }
    // a raw peer message carrying exit node (no node in between) is refused the same way
    const reply = await new Promise<string>((resolve, reject) => {
      let got = Buffer.alloc(0);
      void Bun.connect({
        hostname: "127.0.0.1",
        port: Number(b.tcpAddress.split(":")[1]),
        socket: {
          open: (s) => void s.write(encodeFrame({ header: { id: 1, type: "request", command: "exit node" } })),
          data: (s, d) => {
            got = Buffer.concat([got, d]);
            const frames = new FrameDecoder().push(got);
            if (frames.ok && frames.value.length > 0) {
              s.end();
              resolve(JSON.stringify(frames.value[0]!.header));
            }
          },
          error: (_s, e) => reject(e),
        },
      });
    });
    expect(reply).toContain("forbidden");
    expect((await a.curl([...UA, "-H", `command: run client (${b.tcpAddress}) get status`])).status).toBe(200);
    // what peers do send still runs: a query, a setting
    expect((await a.curl([...UA, "-X", "POST", "-H", `command: run client (${b.tcpAddress}) set from_a = yes`])).status).toBe(200);
  });

  test("UTF-8 travels to B and back intact", async () => {
    const r = await a.curl([...UA, "-H", `command: run client (${b.tcpAddress}) echo Zürich 日本 🚀`]);
    expect(r.status).toBe(200);
    expect(r.body).toBe("Zürich 日本 🚀");
  });

  // runs last in this group: B dies here
  test("B killed: the same command on A is an HTTP error naming B, within the peer timeout", async () => {
    const warm = await a.curl([...UA, "-H", `command: run client (${b.tcpAddress}) get status`]);
    expect(warm.status).toBe(200); // A now holds a connection to B
    b.kill();
    await b.proc.exited;
    const started = Date.now();
    const r = await a.curl([...UA, "-H", `command: run client (${b.tcpAddress}) get status`]);
    expect(Date.now() - started).toBeLessThan(WITHIN_PEER_TIMEOUT_MS);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(600);
    const body = JSON.parse(r.body) as { error: string; command: string };
    expect(body.error).toContain(b.tcpAddress);
    expect(body.command).toContain("run client");
    expect(hasStackTrace(r.body)).toBe(false);

    const viaHeader = await a.curl([...UA, "-H", `destination: ${b.tcpAddress}`, "-H", "command: get status"]);
    expect(viaHeader.status).toBeGreaterThanOrEqual(400);
    expect((JSON.parse(viaHeader.body) as { error: string }).error).toContain(b.tcpAddress);

    // with a live peer beside it, the reply holds the live one's answer and the dead one's error
    const mixed = await a.curl([...UA, "-H", `command: run client (${b.tcpAddress}, ${a.tcpAddress}) get status where format=json`]);
    expect(mixed.status).toBe(200);
    const both = JSON.parse(mixed.body) as Record<string, { status?: string; error?: string }>;
    expect(both[a.tcpAddress]?.status).toBe("running");
    expect(both[b.tcpAddress]?.error).toContain(b.tcpAddress);

    // A itself is unharmed
    const own = await a.curl([...UA, "-H", "command: get status"]);
    expect(own.status).toBe(200);
    expect(await a.stop()).toBe(0);
  });
});

describe("a peer that accepts and never answers", () => {
  let a: AnylogNode;
  let silent: Server;
  let silentPort: number;
  const sockets = new Set<Socket>();
  let bytesSeen = 0;

  beforeAll(async () => {
    a = await startNode({ set: { peer_timeout: String(PEER_TIMEOUT_S) } });
    silentPort = await freePort();
    silent = createServer((s) => {
      sockets.add(s);
      s.on("data", (chunk) => {
        bytesSeen += chunk.length; // read, and stay silent
      });
      s.on("error", () => {});
    });
    await new Promise<void>((ok) => silent.listen({ host: "127.0.0.1", port: silentPort }, () => ok()));
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((ok) => silent.close(() => ok()));
    await killAll();
  });

  test("run client gives a timeout error naming the peer, within the peer timeout", async () => {
    const started = Date.now();
    const r = await a.curl([...UA, "-H", `command: run client (127.0.0.1:${silentPort}) get status`]);
    const took = Date.now() - started;
    expect(took).toBeLessThan(WITHIN_PEER_TIMEOUT_MS);
    expect(r.status).toBe(504);
    const body = JSON.parse(r.body) as { error: string };
    expect(body.error).toContain(`127.0.0.1:${silentPort}`);
    expect(body.error).toMatch(/did not answer|timed? ?out|within/i);
    expect(bytesSeen).toBeGreaterThan(0); // the request did reach it
  });

  test("the destination header gives the same timeout error", async () => {
    const r = await a.curl([...UA, "-H", `destination: 127.0.0.1:${silentPort}`, "-H", "command: get status"]);
    expect(r.status).toBe(504);
    expect((JSON.parse(r.body) as { error: string }).error).toContain(`127.0.0.1:${silentPort}`);
  });

  test("a closed port gives an error naming it", async () => {
    const closed = await freePort();
    const r = await a.curl([...UA, "-H", `command: run client (127.0.0.1:${closed}) get status`]);
    expect(r.status).toBe(502);
    expect((JSON.parse(r.body) as { error: string }).error).toContain(`127.0.0.1:${closed}`);
  });

  test("the node still stops cleanly with a silent peer connection open", async () => {
    expect(await a.stop()).toBe(0);
  });
});
