/**
 * The TCP server against what anyone who reaches its port can send (issue #13's probes), on
 * a real node process: idle connections past the per-address cap are closed at once, and
 * the rest once they send no message in time; a message declaring 250 MB is refused by its
 * prefix; eight connections sending large messages at once cannot take the node past its
 * bound for unfinished messages (RSS stays under 200 MiB); through all of it REST answers
 * and a peer's request is served.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Socket } from "bun";
import { readFileSync } from "node:fs";
import { type AnylogNode, killAll, startNode } from "./support/node-process.ts";
import { command } from "./support/operator.ts";

setDefaultTimeout(120_000);

let node: AnylogNode;
let url = "";

beforeAll(async () => {
  node = await startNode({
    script: `run tcp server where external_ip = 127.0.0.1 and external_port = !anylog_server_port and bind = true and max_connections_per_ip = 20
run rest server where external_ip = 127.0.0.1 and external_port = !anylog_rest_port and bind = true
`,
  });
  url = `http://127.0.0.1:${node.restPort}`;
});
afterAll(killAll);

const rssMiB = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${node.proc.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;

/** Raw connections to the TCP port; `open` tells which are still open. */
async function connect(n: number): Promise<{ sockets: Array<Socket<undefined>>; open: () => number; closeAll: () => void }> {
  const closed = new Set<Socket<undefined>>();
  const tries = await Promise.allSettled(
    Array.from({ length: n }, () =>
      Bun.connect<undefined>({ hostname: "127.0.0.1", port: node.tcpPort, socket: { data() {}, close: (s) => void closed.add(s), error: (s) => void closed.add(s) } }),
    ),
  );
  // (a connection the node closes at once may fail to connect at all)
  const sockets = tries.flatMap((t) => (t.status === "fulfilled" ? [t.value] : []));
  return { sockets, open: () => sockets.filter((s) => !closed.has(s)).length, closeAll: () => sockets.forEach((s) => s.end()) };
}

/** A peer message's prefix declaring `body` bytes (and a 2-byte header). */
function prefix(body: number): Buffer {
  const b = Buffer.alloc(12);
  b.write("AL", 0, "latin1");
  b[2] = 1;
  b.writeUInt32BE(2, 4);
  b.writeUInt32BE(body, 8);
  return Buffer.concat([b, Buffer.from("{}")]);
}

/** Writes all of `bytes` (waiting while the socket is full); false once the socket is closed. */
async function sendAll(s: Socket<undefined>, bytes: Uint8Array): Promise<boolean> {
  let off = 0;
  for (let idle = 0; off < bytes.length; ) {
    const n = s.write(bytes.subarray(off));
    if (n < 0) return false;
    off += n;
    if (n === 0) {
      if (++idle > 2000) return false;
      await Bun.sleep(2);
    } else idle = 0;
  }
  return true;
}

const restAnswers = async () => (await command(url, "get status")).status === 200;
const peerServed = async () => (await command(url, `run client (127.0.0.1:${node.tcpPort}) get status`)).status === 200;

describe("the TCP server's limits", () => {
  test("idle connections: past 20 from one address they are closed at once; the rest when they send nothing within 15 s", async () => {
    const c = await connect(50);
    await Bun.sleep(500);
    expect(c.open()).toBeLessThanOrEqual(20);
    expect(c.open()).toBeGreaterThanOrEqual(15);
    expect(await restAnswers()).toBe(true);
    await Bun.sleep(16_000);
    expect(c.open()).toBe(0);
    expect(node.stderr).toContain("logged once a minute per address");
    expect(await peerServed()).toBe(true);
  });

  test("20,000 connections opened and left idle (in batches of 1,000) leave REST answering and the RSS under 200 MiB", async () => {
    let peak = 0;
    let attempted = 0;
    for (let batch = 0; batch < 20; batch++) {
      const c = await connect(1000);
      attempted += 1000;
      await Bun.sleep(100);
      expect(c.open()).toBeLessThanOrEqual(20);
      peak = Math.max(peak, rssMiB());
      if (batch % 5 === 4) expect(await restAnswers()).toBe(true);
      c.closeAll();
    }
    expect(attempted).toBe(20_000);
    expect(peak).toBeLessThan(200);
    expect(await peerServed()).toBe(true);
  });

  test("a message declaring 250 MB is refused by its prefix; eight connections sending big messages at once stay within the bound", async () => {
    const huge = await connect(1);
    expect(huge.sockets).toHaveLength(1);
    huge.sockets[0]!.write(prefix(250 * 1024 * 1024));
    await Bun.sleep(300);
    expect(huge.open()).toBe(0);

    // eight senders, each a 30 MB message (under max_frame) sent in 1 MB pieces
    const c = await connect(8);
    expect(c.sockets).toHaveLength(8);
    const piece = Buffer.alloc(1024 * 1024, 0x61);
    let peak = 0;
    await Promise.all(
      c.sockets.map(async (s) => {
        await sendAll(s, prefix(30 * 1024 * 1024));
        for (let i = 0; i < 30; i++) {
          if (!(await sendAll(s, piece))) return; // (cut off by the node)
          if (i % 10 === 0) peak = Math.max(peak, rssMiB());
        }
      }),
    );
    await Bun.sleep(500);
    peak = Math.max(peak, rssMiB());
    expect(c.open()).toBeLessThan(8); // (past 32 MB of unfinished messages the senders are cut off)
    expect(peak).toBeLessThan(200);
    c.closeAll();
    expect(await restAnswers()).toBe(true);
    expect(await peerServed()).toBe(true);
  });
});
