/**
 * @module network/tcp-transport
 * The framed TCP transport: one reused connection per peer, many requests in flight on it
 * (correlated by id), a timeout per request, and a server that runs requests concurrently
 * and answers each on the connection it came from.
 */
import { type Server, type Socket, createConnection, createServer } from "node:net";
import type { Reply } from "../commands/spec.ts";
import { logger } from "../util/log.ts";
import { type ErrorCode, type Result, fail, ok } from "../util/result.ts";
import { type Frame, FrameDecoder, encodeFrame } from "./frames.ts";
import type { PeerListener, PeerReply, PeerRequest, PeerTransport, RequestHandler } from "./transport.ts";

const log = logger("TCP");

interface Pending {
  resolve(r: Result<PeerReply>): void;
  timer: ReturnType<typeof setTimeout>;
}

/** Splits "host:port" (IPv6 in brackets). */
export function splitAddress(address: string): { host: string; port: number } | undefined {
  const m = /^\s*\[?([^\]\s]+?)\]?:(\d{1,5})\s*$/.exec(address);
  if (!m) return undefined;
  const port = Number(m[2]);
  return port > 0 && port < 65536 ? { host: m[1]!, port } : undefined;
}

/** One outgoing connection to a peer, shared by all requests to it. */
class PeerConnection {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  private constructor(
    readonly peer: string,
    private readonly socket: Socket,
  ) {
    const decoder = new FrameDecoder();
    socket.on("data", (chunk: Buffer) => {
      const frames = decoder.push(chunk);
      if (!frames.ok) {
        this.failAll("peer_failed", `${peer} sent a bad message: ${frames.error.message}`);
        socket.destroy();
        return;
      }
      for (const f of frames.value) this.settle(f);
    });
    socket.on("error", (e) => this.failAll("peer_failed", `connection to ${peer} failed: ${e.message}`));
    socket.on("close", () => this.failAll("peer_failed", `${peer} closed the connection before answering`));
  }

  static open(peer: string, timeoutMs: number): Promise<Result<PeerConnection>> {
    const addr = splitAddress(peer);
    if (!addr) return Promise.resolve(fail("bad_value", `'${peer}' is not a peer address (expected ip:port)`));
    return new Promise((resolve) => {
      const socket = createConnection({ host: addr.host, port: addr.port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        resolve(fail("timeout", `${peer} did not accept a connection within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        resolve(ok(new PeerConnection(peer, socket)));
      });
      socket.once("error", (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const why = e.code === "ECONNREFUSED" ? "connection refused (is its TCP server running?)" : e.message;
        resolve(fail("peer_failed", `cannot reach ${peer}: ${why}`));
      });
    });
  }

  get usable(): boolean {
    return !this.closed && !this.socket.destroyed;
  }

  send(request: PeerRequest, timeoutMs: number): Promise<Result<PeerReply>> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(fail("timeout", `${this.peer} did not answer '${request.command}' within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(id, { resolve, timer });
      const header = { id, type: "request", command: request.command, from: request.from };
      this.socket.write(encodeFrame({ header, body: request.body }));
    });
  }

  private settle(frame: Frame): void {
    const id = frame.header.id;
    const p = typeof id === "number" ? this.pending.get(id) : undefined;
    if (!p) return; // a reply after its timeout
    this.pending.delete(id as number);
    clearTimeout(p.timer);
    p.resolve(ok(toReply(frame)));
  }

  private failAll(code: ErrorCode, message: string): void {
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.resolve(fail(code, message));
      this.pending.delete(id);
    }
  }

  close(): void {
    this.closed = true;
    this.socket.end();
    this.socket.destroy();
  }
}

function toReply(frame: Frame): PeerReply {
  const h = frame.header;
  if (h.ok === true) return { ok: true, reply: h.reply as Reply, body: frame.body };
  const e = (h.error ?? {}) as { code?: ErrorCode; message?: string };
  return { ok: false, code: e.code ?? "peer_failed", message: e.message ?? "the peer answered with an unnamed error" };
}

/** How long `close` waits for requests in flight before closing their connections. */
const GRACE_MS = 3000;

export class TcpTransport implements PeerTransport {
  private readonly connections = new Map<string, Promise<Result<PeerConnection>>>();

  async request(peer: string, request: PeerRequest, timeoutMs: number): Promise<Result<PeerReply>> {
    const started = Date.now();
    let conn = await this.connection(peer, timeoutMs);
    if (!conn.ok) return conn;
    if (!conn.value.usable) {
      this.connections.delete(peer);
      conn = await this.connection(peer, timeoutMs);
      if (!conn.ok) return conn;
    }
    return conn.value.send(request, Math.max(1, timeoutMs - (Date.now() - started)));
  }

  private connection(peer: string, timeoutMs: number): Promise<Result<PeerConnection>> {
    let c = this.connections.get(peer);
    if (!c) {
      c = PeerConnection.open(peer, Math.min(timeoutMs, 5000)).then((r) => {
        if (!r.ok) this.connections.delete(peer);
        return r;
      });
      this.connections.set(peer, c);
    }
    return c;
  }

  async close(): Promise<void> {
    const all = [...this.connections.values()];
    this.connections.clear();
    for (const c of await Promise.all(all)) if (c.ok) c.value.close();
  }

  listen(host: string, port: number, handler: RequestHandler): Promise<Result<PeerListener>> {
    const sockets = new Set<Socket>();
    let inFlight = 0;
    let idle: (() => void) | undefined;
    const server: Server = createServer((socket) => {
      sockets.add(socket);
      socket.setNoDelay(true);
      const remote = `${socket.remoteAddress}:${socket.remotePort}`;
      const decoder = new FrameDecoder();
      socket.on("data", (chunk: Buffer) => {
        const frames = decoder.push(chunk);
        if (!frames.ok) {
          log.warn(`dropping connection from ${remote}: ${frames.error.message}`);
          socket.destroy();
          return;
        }
        for (const f of frames.value) {
          inFlight++;
          void answer(f, socket, remote).finally(() => {
            if (--inFlight === 0) idle?.();
          });
        }
      });
      socket.on("error", () => socket.destroy());
      socket.on("close", () => sockets.delete(socket));
    });

    async function answer(frame: Frame, socket: Socket, remote: string): Promise<void> {
      const { id, command, from } = frame.header;
      let reply: PeerReply;
      if (typeof command !== "string") reply = { ok: false, code: "syntax", message: "peer request without a command" };
      else {
        try {
          reply = await handler({ command, from: typeof from === "string" ? from : undefined, body: frame.body }, remote);
        } catch (e) {
          log.error(`request from ${remote} failed unexpectedly: ${e instanceof Error ? e.stack : String(e)}`);
          reply = { ok: false, code: "internal", message: "the node failed to run the request" };
        }
      }
      if (socket.destroyed || socket.writableEnded) return;
      const header = reply.ok
        ? { id, type: "reply", ok: true, reply: reply.reply ?? null }
        : { id, type: "reply", ok: false, error: { code: reply.code, message: reply.message } };
      socket.write(encodeFrame({ header, body: reply.ok ? reply.body : undefined }));
    }

    return new Promise((resolve) => {
      server.once("error", (e: NodeJS.ErrnoException) => {
        const why = e.code === "EADDRINUSE" ? "the port is already in use" : e.code === "EADDRNOTAVAIL" ? "this machine has no such address" : e.message;
        resolve(fail("io", `cannot listen on ${host}:${port}: ${why}`));
      });
      server.listen({ host, port }, () => {
        const a = server.address();
        const bound = typeof a === "object" && a ? { host: a.address, port: a.port } : { host, port };
        resolve(
          ok({
            address: bound,
            close: () =>
              new Promise<void>((done) => {
                server.close(() => done());
                // end() sends what is still buffered (a large reply may be), then FIN; a
                // peer that does not close its side in time is cut off
                const finish = () => {
                  for (const s of sockets) s.end();
                  setTimeout(() => {
                    for (const s of sockets) s.destroy();
                  }, GRACE_MS).unref();
                };
                if (inFlight === 0) finish();
                else {
                  idle = finish;
                  setTimeout(() => {
                    for (const s of sockets) s.destroy();
                  }, GRACE_MS).unref();
                }
              }),
          }),
        );
      });
    });
  }
}
