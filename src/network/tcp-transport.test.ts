/**
 * Unit tests of the framed TCP peer transport, in-process over loopback: round trips, many
 * requests in flight on one reused connection with out-of-order replies, dead and silent
 * peers, per-request timeouts, a graceful server close, and the frame decoder's handling of
 * split and malformed input.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { type Server, type Socket, createServer } from "node:net";
import { FrameDecoder, type Frame, encodeFrame, MAX_HEADER } from "./frames.ts";
import { TcpTransport, splitAddress } from "./tcp-transport.ts";
import type { PeerLimits, PeerListener, PeerReply, RequestHandler } from "./transport.ts";

// bun's default is 5 s per test and hook (bunfig.toml's [test] timeout is not read by bun 1.3):
// these bound waits for real processes and sockets; none of them measures speed
setDefaultTimeout(30_000);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A transport listening on 127.0.0.1:0 with `handler`; closed after the test. */
async function serve(handler: RequestHandler, limits?: Partial<PeerLimits>): Promise<{ server: TcpTransport; listener: PeerListener; address: string }> {
  const server = new TcpTransport();
  const listening = await server.listen("127.0.0.1", 0, handler, limits);
  if (!listening.ok) throw new Error(listening.error.message);
  cleanups.push(() => listening.value.close());
  return { server, listener: listening.value, address: `127.0.0.1:${listening.value.address.port}` };
}

function client(): TcpTransport {
  const t = new TcpTransport();
  cleanups.push(() => t.close());
  return t;
}

/** A plain TCP server that accepts, reads, and never answers. */
async function silentServer(): Promise<{ port: number; bytes: () => number; connections: () => number }> {
  let bytes = 0;
  let connections = 0;
  const sockets = new Set<Socket>();
  const s: Server = createServer((sock) => {
    connections++;
    sockets.add(sock);
    sock.on("data", (c) => {
      bytes += c.length;
    });
    sock.on("error", () => {});
  });
  await new Promise<void>((ok) => s.listen({ host: "127.0.0.1", port: 0 }, () => ok()));
  cleanups.push(
    () =>
      new Promise<void>((ok) => {
        for (const sock of sockets) sock.destroy();
        s.close(() => ok());
      }),
  );
  return { port: (s.address() as { port: number }).port, bytes: () => bytes, connections: () => connections };
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen({ host: "127.0.0.1", port: 0 }, () => ok()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

const echo: RequestHandler = async (req) => ({ ok: true, reply: { echo: req.command, from: req.from ?? null } });

describe("TcpTransport", () => {
  test("request and reply round trip, with the sender and a body", async () => {
    const { address } = await serve(async (req, remote) => ({
      ok: true,
      reply: { command: req.command, from: req.from, remote, size: req.body?.length ?? 0 },
      body: req.body ? new Uint8Array([...req.body].reverse()) : undefined,
    }));
    const r = await client().request(address, { command: "get status", from: "n1@127.0.0.1", body: new Uint8Array([1, 2, 3]) }, 5000);
    expect(r.ok).toBe(true);
    if (!r.ok || !r.value.ok) throw new Error("no reply");
    const reply = r.value.reply as Record<string, unknown>;
    expect(reply.command).toBe("get status");
    expect(reply.from).toBe("n1@127.0.0.1");
    expect(reply.size).toBe(3);
    expect(String(reply.remote)).toContain("127.0.0.1:");
    expect([...(r.value.body ?? [])]).toEqual([3, 2, 1]);
  });

  test("an error answered by the peer arrives as an error reply with its code", async () => {
    const { address } = await serve(async () => ({ ok: false, code: "bad_option", message: "no option 'formt'" }));
    const r = await client().request(address, { command: "get processes where formt=json" }, 5000);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toEqual({ ok: false, code: "bad_option", message: "no option 'formt'" });
  });

  test("a handler that throws gives an 'internal' error reply, and the server keeps serving", async () => {
    const { address } = await serve(async (req) => {
      if (req.command === "boom") throw new Error("handler exploded");
      return { ok: true, reply: "fine" };
    });
    const c = client();
    const r = await c.request(address, { command: "boom" }, 5000);
    expect(r.ok && !r.value.ok && r.value.code).toBe("internal");
    if (r.ok && !r.value.ok) expect(r.value.message).not.toContain("exploded"); // no internals leak to peers
    const again = await c.request(address, { command: "ok" }, 5000);
    expect(again.ok && again.value.ok && again.value.reply).toBe("fine");
  });

  test("200 requests in flight at once over one reused connection, replies matched to requests", async () => {
    const remotes = new Set<string>();
    let concurrent = 0;
    let peak = 0;
    const { address } = await serve(async (req, remote) => {
      remotes.add(remote);
      concurrent++;
      peak = Math.max(peak, concurrent);
      await Bun.sleep(Math.floor(Math.random() * 25)); // replies come back out of order
      concurrent--;
      return { ok: true, reply: { echo: req.command } };
    });
    const c = client();
    const commands = Array.from({ length: 200 }, (_, i) => `echo request ${i} ${"x".repeat(i % 17)}`);
    const replies = await Promise.all(commands.map((command) => c.request(address, { command }, 10_000)));
    replies.forEach((r, i) => {
      expect(r.ok).toBe(true);
      if (r.ok && r.value.ok) expect((r.value.reply as { echo: string }).echo).toBe(commands[i]!);
      else throw new Error(`request ${i} failed: ${JSON.stringify(r)}`);
    });
    expect(remotes.size).toBe(1); // one connection carried them all
    expect(peak).toBeGreaterThan(1); // and they really were in flight together
    // the connection is reused by a later request too
    const later = await c.request(address, { command: "later" }, 5000);
    expect(later.ok && later.value.ok).toBe(true);
    expect(remotes.size).toBe(1);
  });

  test("requests to two peers at once each reach their own peer", async () => {
    const p1 = await serve(async () => ({ ok: true, reply: "one" }));
    const p2 = await serve(async () => ({ ok: true, reply: "two" }));
    const c = client();
    const [a, b] = await Promise.all([c.request(p1.address, { command: "x" }, 5000), c.request(p2.address, { command: "x" }, 5000)]);
    expect(a.ok && a.value.ok && a.value.reply).toBe("one");
    expect(b.ok && b.value.ok && b.value.reply).toBe("two");
  });

  test("a closed port gives peer_failed naming the address", async () => {
    const port = await closedPort();
    const r = await client().request(`127.0.0.1:${port}`, { command: "get status" }, 5000);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe("peer_failed");
    expect(r.error.message).toContain(`127.0.0.1:${port}`);
  });

  test("a malformed address is bad_value naming it", async () => {
    const r = await client().request("not-an-address", { command: "get status" }, 1000);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe("bad_value");
      expect(r.error.message).toContain("not-an-address");
    }
  });

  test("a per-request timeout names the peer and the command; the connection stays usable", async () => {
    const { address } = await serve(async (req) => {
      if (req.command === "slow") await Bun.sleep(1500);
      return { ok: true, reply: req.command };
    });
    const c = client();
    const started = Date.now();
    const r = await c.request(address, { command: "slow" }, 200);
    expect(Date.now() - started).toBeLessThan(1400); // bounded by the timeout, not the handler
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe("timeout");
      expect(r.error.message).toContain(address);
      expect(r.error.message).toContain("slow");
    }
    const fast = await c.request(address, { command: "fast" }, 5000);
    expect(fast.ok && fast.value.ok && fast.value.reply).toBe("fast");
    await Bun.sleep(1500); // the late reply to 'slow' arrives and is dropped quietly
    const after = await c.request(address, { command: "after" }, 5000);
    expect(after.ok && after.value.ok && after.value.reply).toBe("after");
  });

  test("a peer that accepts and never answers gives a timeout naming it", async () => {
    const silent = await silentServer();
    const address = `127.0.0.1:${silent.port}`;
    const r = await client().request(address, { command: "get status" }, 300);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe("timeout");
      expect(r.error.message).toContain(address);
    }
    expect(silent.bytes()).toBeGreaterThan(0);
  });

  test("a peer that answers garbage fails the requests on that connection, naming it", async () => {
    const s = createServer((sock) => {
      sock.on("data", () => sock.write("HTTP/1.1 400 Bad Request\r\n\r\n"));
      sock.on("error", () => {});
    });
    await new Promise<void>((ok) => s.listen({ host: "127.0.0.1", port: 0 }, () => ok()));
    cleanups.push(() => new Promise<void>((ok) => s.close(() => ok())));
    const address = `127.0.0.1:${(s.address() as { port: number }).port}`;
    const r = await client().request(address, { command: "get status" }, 3000);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe("peer_failed");
      expect(r.error.message).toContain(address);
    }
  });

  test("a peer that restarts is reconnected to", async () => {
    const first = await serve(echo);
    const port = first.listener.address.port;
    const c = client();
    expect((await c.request(first.address, { command: "one" }, 5000)).ok).toBe(true);
    await first.listener.close();
    await Bun.sleep(50);
    const down = await c.request(first.address, { command: "two" }, 2000);
    expect(down.ok).toBe(false);
    const again = new TcpTransport();
    const l = await again.listen("127.0.0.1", port, echo);
    if (!l.ok) throw new Error(l.error.message);
    cleanups.push(() => l.value.close());
    const back = await c.request(first.address, { command: "three" }, 5000);
    expect(back.ok && back.value.ok && (back.value.reply as { echo: string }).echo).toBe("three");
  });

  test("closing the server while requests are in flight lets them finish", async () => {
    let started = 0;
    const { listener, address } = await serve(async (req) => {
      started++;
      await Bun.sleep(300);
      return { ok: true, reply: `done ${req.command}` };
    });
    const c = client();
    const inFlight = Array.from({ length: 20 }, (_, i) => c.request(address, { command: String(i) }, 10_000));
    while (started < 20) await Bun.sleep(5);
    const closed = listener.close();
    const replies = await Promise.all(inFlight);
    replies.forEach((r, i) => {
      if (!r.ok || !r.value.ok) throw new Error(`request ${i} did not finish: ${JSON.stringify(r)}`);
      expect(r.value.reply).toBe(`done ${i}`);
    });
    await closed;
    // and nothing new is accepted
    const late = await new TcpTransport().request(address, { command: "late" }, 1000);
    expect(late.ok).toBe(false);
  });

  test("closing the server with large replies in flight still delivers them whole", async () => {
    const big = "y".repeat(2 * 1024 * 1024);
    let started = 0;
    const { listener, address } = await serve(async () => {
      started++;
      await Bun.sleep(100);
      return { ok: true, reply: big };
    });
    const c = client();
    const inFlight = Array.from({ length: 4 }, () => c.request(address, { command: "big" }, 10_000));
    while (started < 4) await Bun.sleep(5);
    const closed = listener.close();
    for (const r of await Promise.all(inFlight)) {
      if (!r.ok || !r.value.ok) throw new Error(`a large reply was lost: ${JSON.stringify(r).slice(0, 200)}`);
      expect((r.value.reply as string).length).toBe(big.length);
    }
    await closed;
  });

  test("listening on a port in use is an io error naming it", async () => {
    const { listener } = await serve(echo);
    const port = listener.address.port;
    const r = await new TcpTransport().listen("127.0.0.1", port, echo);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe("io");
      expect(r.error.message).toContain(String(port));
    }
  });

  test("closing the client transport fails nothing that already finished and can be called twice", async () => {
    const { address } = await serve(echo);
    const c = new TcpTransport();
    expect((await c.request(address, { command: "x" }, 5000)).ok).toBe(true);
    await c.close();
    await c.close();
  });
});

describe("splitAddress", () => {
  test("host:port, bracketed IPv6, and what is not an address", () => {
    expect(splitAddress("127.0.0.1:32048")).toEqual({ host: "127.0.0.1", port: 32048 });
    expect(splitAddress(" 10.0.0.7:1 ")).toEqual({ host: "10.0.0.7", port: 1 });
    expect(splitAddress("[::1]:32048")).toEqual({ host: "::1", port: 32048 });
    expect(splitAddress("127.0.0.1")).toBeUndefined();
    expect(splitAddress("127.0.0.1:0")).toBeUndefined();
    expect(splitAddress("127.0.0.1:65536")).toBeUndefined();
    expect(splitAddress("")).toBeUndefined();
  });
});

describe("FrameDecoder", () => {
  const frames: Frame[] = [
    { header: { id: 1, type: "request", command: "get status" } },
    { header: { id: 2, type: "reply", ok: true, reply: { TCP: { Status: "Running" } } }, body: new Uint8Array([0, 1, 2, 255]) },
    { header: { id: 3, type: "request", command: "echo ünïcödé ✓ 𝄞" }, body: new Uint8Array(0) },
    { header: { id: 4, text: "x".repeat(300) }, body: new Uint8Array(70).fill(7) },
  ];
  const wire = Buffer.concat(frames.map(encodeFrame));

  /** What the decoder should give back for `frames` (an empty body comes back absent). */
  const expected = frames.map((f) => ({ header: f.header, body: f.body && f.body.length > 0 ? [...f.body] : undefined }));
  const plain = (fs: Frame[]) => fs.map((f) => ({ header: f.header, body: f.body ? [...f.body] : undefined }));

  test("whole frames in one chunk", () => {
    const r = new FrameDecoder().push(wire);
    expect(r.ok).toBe(true);
    if (r.ok) expect(plain(r.value)).toEqual(expected);
  });

  test("one byte at a time", () => {
    const d = new FrameDecoder();
    const got: Frame[] = [];
    for (let i = 0; i < wire.length; i++) {
      const r = d.push(wire.subarray(i, i + 1));
      if (!r.ok) throw new Error(`byte ${i}: ${r.error.message}`);
      got.push(...r.value);
    }
    expect(plain(got)).toEqual(expected);
  });

  test("split in two at every byte boundary", () => {
    for (let k = 0; k <= wire.length; k++) {
      const d = new FrameDecoder();
      const a = d.push(wire.subarray(0, k));
      const b = d.push(wire.subarray(k));
      if (!a.ok || !b.ok) throw new Error(`split at ${k} failed`);
      expect(plain([...a.value, ...b.value])).toEqual(expected);
    }
  });

  test("split in three at many boundary pairs", () => {
    for (let i = 0; i <= wire.length; i += 7) {
      for (let j = i; j <= wire.length; j += 13) {
        const d = new FrameDecoder();
        const got: Frame[] = [];
        for (const part of [wire.subarray(0, i), wire.subarray(i, j), wire.subarray(j)]) {
          const r = d.push(part);
          if (!r.ok) throw new Error(`split at ${i}/${j}: ${r.error.message}`);
          got.push(...r.value);
        }
        expect(got.length).toBe(frames.length);
      }
    }
  });

  test("many frames of random sizes in random chunk sizes come out whole and in order", () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const many: Frame[] = Array.from({ length: 60 }, (_, i) => ({
      header: { id: i, text: "h".repeat(rand(3000)) },
      body: new Uint8Array(rand(4) === 0 ? 0 : rand(200_000)).map((_, j) => (i + j) & 0xff),
    }));
    const bytes = Buffer.concat(many.map(encodeFrame));
    for (let round = 0; round < 5; round++) {
      const d = new FrameDecoder();
      const got: Frame[] = [];
      for (let i = 0; i < bytes.length; ) {
        const n = 1 + rand(round % 2 === 0 ? 70_000 : 300);
        const r = d.push(bytes.subarray(i, i + n));
        if (!r.ok) throw new Error(r.error.message);
        got.push(...r.value);
        i += n;
      }
      expect(got.map((f) => f.header.id)).toEqual(many.map((f) => f.header.id));
      got.forEach((f, i) => {
        expect(f.header.text).toBe(many[i]!.header.text);
        expect(f.body?.length ?? 0).toBe(many[i]!.body!.length);
        if (f.body && f.body.length > 0) expect(f.body[f.body.length - 1]).toBe(many[i]!.body![f.body.length - 1]!);
      });
    }
  });

  test("a large frame in many small chunks is joined once: bytes copied stay linear in its size", () => {
    const size = 8 * 1024 * 1024;
    const wireBytes = encodeFrame({ header: { id: 1 }, body: new Uint8Array(size) });
    const concat = Buffer.concat;
    let copied = 0;
    Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
      const out = concat(list, total);
      copied += out.length;
      return out;
    }) as typeof Buffer.concat;
    try {
      const d = new FrameDecoder();
      let frames = 0;
      for (let i = 0; i < wireBytes.length; i += 16 * 1024) {
        const r = d.push(wireBytes.subarray(i, i + 16 * 1024));
        if (!r.ok) throw new Error(r.error.message);
        frames += r.value.length;
      }
      expect(frames).toBe(1);
    } finally {
      Buffer.concat = concat;
    }
    // a decoder that re-joins everything on every chunk copies ~256 times the frame here
    expect(copied).toBeLessThanOrEqual(2 * wireBytes.length);
  });

  /** Frame prefix with chosen fields. */
  function prefix(opts: { magic?: [number, number]; version?: number; headerLength: number; bodyLength: number }): Buffer {
    const p = Buffer.alloc(12);
    p[0] = opts.magic?.[0] ?? 0x41;
    p[1] = opts.magic?.[1] ?? 0x4c;
    p[2] = opts.version ?? 1;
    p.writeUInt32BE(opts.headerLength, 4);
    p.writeUInt32BE(opts.bodyLength, 8);
    return p;
  }

  const malformed: Array<[string, Buffer]> = [
    ["bad magic bytes", Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")],
    ["wrong wire version", Buffer.concat([prefix({ version: 9, headerLength: 2, bodyLength: 0 }), Buffer.from("{}")])],
    ["header that is not JSON", Buffer.concat([prefix({ headerLength: 5, bodyLength: 0 }), Buffer.from("{nope")])],
    ["header that is a JSON array", Buffer.concat([prefix({ headerLength: 2, bodyLength: 0 }), Buffer.from("[]")])],
    ["header that is JSON null", Buffer.concat([prefix({ headerLength: 4, bodyLength: 0 }), Buffer.from("null")])],
    ["header that is invalid UTF-8", Buffer.concat([prefix({ headerLength: 3, bodyLength: 0 }), Buffer.from([0xff, 0xfe, 0xfd])])],
    ["header over the limit", prefix({ headerLength: MAX_HEADER + 1, bodyLength: 0 })],
    ["body over the limit", prefix({ headerLength: 2, bodyLength: 0xffffffff })],
    ["garbage after a good frame", Buffer.concat([encodeFrame({ header: { id: 1 } }), Buffer.from("garbage-garbage")])],
  ];

  for (const [name, bytes] of malformed) {
    test(`${name}: an error value, not a throw`, () => {
      const d = new FrameDecoder();
      let r: ReturnType<FrameDecoder["push"]> | undefined;
      expect(() => {
        r = d.push(bytes);
      }).not.toThrow();
      expect(r?.ok).toBe(false);
      if (r && !r.ok) {
        expect(r.error.code).toBe(name.includes("over the limit") ? "too_large" : "syntax");
        expect(r.error.message.length).toBeGreaterThan(0);
      }
    });
  }

  test("random garbage never throws, byte by byte or in chunks", () => {
    let seed = 0x5eed;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 16;
    };
    for (let round = 0; round < 300; round++) {
      const len = 1 + (rand() % 200);
      const bytes = Buffer.alloc(len);
      for (let i = 0; i < len; i++) bytes[i] = rand() & 0xff;
      if (round % 3 === 0) {
        bytes[0] = 0x41; // a plausible prefix, then nonsense
        bytes[1] = 0x4c;
        if (len > 2) bytes[2] = 1;
      }
      const d = new FrameDecoder();
      const chunk = 1 + (rand() % 16);
      for (let i = 0; i < len; i += chunk) {
        let r: ReturnType<FrameDecoder["push"]> | undefined;
        expect(() => {
          r = d.push(bytes.subarray(i, i + chunk));
        }).not.toThrow();
        expect(typeof r?.ok).toBe("boolean");
        if (r && !r.ok) break; // the stream is unusable after an error
      }
    }
  });
});

// keep the reply type in use for the type checker (handlers above return it)
export type { PeerReply };

describe("a message over the receiver's limit", () => {
  test("is refused as too_large naming its size, so the sender does not send it again; the next request is served", async () => {
    const { address } = await serve(async (req) => ({ ok: true, reply: { got: req.body?.length ?? 0 } }), { maxFrame: 1024 * 1024 });
    const t = client();
    const big = await t.request(address, { command: "file store where name = big.json", body: new Uint8Array(2 * 1024 * 1024) }, 10_000);
    expect(big.ok).toBe(false);
    if (!big.ok) {
      expect(big.error.code).toBe("too_large");
      expect(big.error.message).toContain("file store where name = big.json");
      expect(big.error.message).toContain("limit of 1048576 bytes");
    }
    const small = await t.request(address, { command: "small", body: new Uint8Array(10) }, 10_000);
    expect(small.ok && small.value.ok && small.value.reply).toEqual({ got: 10 });
  });
});
