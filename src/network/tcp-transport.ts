/**
 * @module network/tcp-transport
 * The framed TCP transport: one reused connection per peer, many requests in flight on it
 * (correlated by id), a timeout per request, and a server that runs requests concurrently
 * and answers each on the connection it came from. Built on Bun's own sockets
 * (`Bun.listen`, `Bun.connect`): node:net and its streams cost the node ~5 MiB of RSS.
 */
import type { Socket, TCPSocketListener } from "bun";
import { Duplex } from "node:stream";
import type { Reply } from "../commands/spec.ts";
import { logger } from "../util/log.ts";
import { movedBytes } from "../util/garbage.ts";
import { type ErrorCode, type Result, fail, ok } from "../util/result.ts";
import { FRAME_PREFIX, type Frame, FrameDecoder, PEER_MAGIC, encodeFrame } from "./frames.ts";
import { DEFAULT_PEER_LIMITS, type PagedRows, type PeerLimits, type PeerListener, type PeerPage, type PeerReply, type PeerRequest, type PeerTransport, type RequestHandler, type RequestOptions } from "./transport.ts";

const log = logger("TCP");

interface Pending {
  resolve(r: Result<PeerReply>): void;
  timer: ReturnType<typeof setTimeout>;
  onPage?: (page: PeerPage) => void;
  /** The columns of a paged reply (its first page names them). */
  columns?: string[];
  /** The size of the request's message (header and body): a peer that refuses it as too large names that size. */
  size: number;
  command: string;
}

/** A paged reply waits while more than this is queued for the peer. */
const HIGH_WATER = 1024 * 1024;

/** Splits "host:port" (IPv6 in brackets). */
export function splitAddress(address: string): { host: string; port: number } | undefined {
  const m = /^\s*\[?([^\]\s]+?)\]?:(\d{1,5})\s*$/.exec(address);
  if (!m) return undefined;
  const port = Number(m[2]);
  return port > 0 && port < 65536 ? { host: m[1]!, port } : undefined;
}

/**
 * What a socket has not taken yet: Bun's `write` takes what the kernel buffer holds and
 * says how much; the rest is written when the socket drains. `end` sends FIN after it.
 */
class Outbox {
  private queue: Uint8Array[] = [];
  private ending = false;
  private _closed = false;
  /** Bytes waiting for the socket. */
  queued = 0;
  private drained: Array<() => void> = [];

  constructor(private readonly socket: Socket<unknown>) {}

  get closed(): boolean {
    return this._closed;
  }

  set closed(v: boolean) {
    this._closed = v;
    if (v) this.wake();
  }

  write(bytes: Uint8Array): void {
    if (this.closed || this.ending) return;
    if (this.queue.length > 0) {
      this.queue.push(bytes);
      this.queued += bytes.length;
      return;
    }
    const n = Math.max(0, this.socket.write(bytes));
    if (n < bytes.length) {
      this.queue.push(bytes.subarray(n));
      this.queued += bytes.length - n;
    }
  }

  /** Resolves once no more than `bytes` wait for the socket (or it closed): a sender of many frames keeps pace with the peer. */
  below(bytes: number): Promise<void> {
    if (this.queued <= bytes || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  private wake(): void {
    const waiting = this.drained;
    this.drained = [];
    for (const w of waiting) w();
  }

  /** The socket can take more: what waits goes now. */
  drain(): void {
    while (this.queue.length > 0 && !this.closed) {
      const head = this.queue[0]!;
      const n = Math.max(0, this.socket.write(head));
      this.queued -= n;
      if (n < head.length) {
        this.queue[0] = head.subarray(n);
        break;
      }
      this.queue.shift();
    }
    if (this.queued <= HIGH_WATER) this.wake();
    if (this.ending && this.queue.length === 0 && !this.closed) this.socket.end();
  }

  /** Sends what waits, then FIN. */
  end(): void {
    if (this.ending) return;
    this.ending = true;
    this.drain();
  }

  get ended(): boolean {
    return this.closed || this.ending;
  }
}

interface ClientSide {
  decoder: FrameDecoder;
  out?: Outbox;
  conn?: PeerConnection;
}

/** One outgoing connection to a peer, shared by all requests to it. */
class PeerConnection {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private readonly out: Outbox;

  private constructor(
    readonly peer: string,
    private readonly socket: Socket<ClientSide>,
  ) {
    this.out = new Outbox(socket as Socket<unknown>);
    socket.data.out = this.out;
    socket.data.conn = this;
  }

  static open(peer: string, timeoutMs: number): Promise<Result<PeerConnection>> {
    const addr = splitAddress(peer);
    if (!addr) return Promise.resolve(fail("bad_value", `'${peer}' is not a peer address (expected ip:port)`));
    return new Promise((resolve) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        resolve(fail("timeout", `${peer} did not accept a connection within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      Bun.connect<ClientSide>({
        hostname: addr.host,
        port: addr.port,
        data: { decoder: new FrameDecoder() },
        socket: {
          data(socket, chunk) {
            const c = socket.data.conn;
            if (!c) return;
            const frames = socket.data.decoder.push(chunk);
            if (!frames.ok) {
              c.failAll("peer_failed", `${peer} sent a bad message: ${frames.error.message}`);
              socket.terminate();
              return;
            }
            for (const f of frames.value) c.settle(f);
          },
          drain: (socket) => socket.data.out?.drain(),
          error: (socket, e) => socket.data.conn?.failAll("peer_failed", `connection to ${peer} failed: ${e.message}`),
          close(socket) {
            if (socket.data.out) socket.data.out.closed = true;
            socket.data.conn?.failAll("peer_failed", `${peer} closed the connection before answering`);
          },
          connectError() {}, // answered by the rejected promise below
        },
      }).then(
        (socket) => {
          clearTimeout(timer);
          if (settled) return socket.end(); // too late: the caller was told it timed out
          socket.setNoDelay(true);
          resolve(ok(new PeerConnection(peer, socket)));
        },
        (e: NodeJS.ErrnoException) => {
          clearTimeout(timer);
          if (settled) return;
          const why = e.code === "ECONNREFUSED" ? "connection refused (is its TCP server running?)" : e.message;
          resolve(fail("peer_failed", `cannot reach ${peer}: ${why}`));
        },
      );
    });
  }

  get usable(): boolean {
    return !this.closed && !this.out.ended;
  }

  /** Sends a request; it gives up after `timeoutMs` (what is left of the asker's `statedMs`, which its error names). */
  send(request: PeerRequest, timeoutMs: number, options: RequestOptions = {}, statedMs = timeoutMs): Promise<Result<PeerReply>> {
    const id = this.nextId++;
    const { signal, onPage } = options;
    if (signal?.aborted) return Promise.resolve(fail("timeout", `'${request.command}' was cancelled before it was sent to ${this.peer}`));
    return new Promise((resolve) => {
      // given up on (past its time, or cancelled): the peer is told to stop it
      const giveUp = (message: string) => {
        if (!this.pending.delete(id)) return;
        clearTimeout(timer);
        signal?.removeEventListener("abort", cancelled);
        this.out.write(encodeFrame({ header: { id, type: "cancel" } }));
        resolve(fail("timeout", message));
      };
      const cancelled = () => giveUp(`'${request.command}' on ${this.peer} was cancelled`);
      const timer = setTimeout(() => giveUp(`${this.peer} did not answer '${request.command}' within ${statedMs / 1000} s`), timeoutMs);
      signal?.addEventListener("abort", cancelled, { once: true });
      const header = { id, type: "request", command: request.command, from: request.from, ...(request.auth ? { auth: request.auth } : {}), ...(onPage ? { pages: true } : {}) };
      const frame = encodeFrame({ header, body: request.body });
      this.pending.set(id, {
        resolve: (r) => {
          signal?.removeEventListener("abort", cancelled);
          resolve(r);
        },
        timer,
        onPage,
        size: frame.length - FRAME_PREFIX,
        command: request.command,
      });
      this.out.write(frame);
    });
  }

  settle(frame: Frame): void {
    if (frame.header.type === "too_large") return this.refusedAsTooLarge(frame);
    const id = frame.header.id;
    const p = typeof id === "number" ? this.pending.get(id) : undefined;
    if (!p) return; // a reply after its timeout
    if (frame.header.type === "page") {
      const { columns, rows } = frame.header;
      if (Array.isArray(columns)) p.columns = columns as string[];
      if (Array.isArray(rows)) p.onPage?.({ columns: p.columns ?? [], rows: rows as unknown[][] });
      return;
    }
    this.pending.delete(id as number);
    clearTimeout(p.timer);
    p.resolve(ok(toReply(frame)));
  }

  /** The peer refused a message by its size before closing: that request fails for good, the others as the connection closes. */
  private refusedAsTooLarge(frame: Frame): void {
    this.closed = true; // the peer closes it: the next request opens another
    for (const [id, p] of this.pending) {
      if (p.size !== frame.header.size) continue;
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.resolve(fail("too_large", `${this.peer} refused '${p.command}': ${String(frame.header.message ?? "the message is too large")}`));
      return;
    }
  }

  failAll(code: ErrorCode, message: string): void {
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.resolve(fail(code, message));
      this.pending.delete(id);
    }
  }

  close(): void {
    this.closed = true;
    this.out.end();
    setTimeout(() => this.socket.terminate(), GRACE_MS).unref();
  }
}

function toReply(frame: Frame): PeerReply {
  const h = frame.header;
  if (h.ok === true) return { ok: true, reply: h.reply as Reply, body: frame.body };
  const e = (h.error ?? {}) as { code?: ErrorCode; message?: string };
  return { ok: false, code: e.code ?? "peer_failed", message: e.message ?? "the peer answered with an unnamed error" };
}

/**
 * Sends paged rows as `page` frames, at the pace the asker reads them; the reply that follows
 * counts them, or is the error that ended them. Stops when the asker cancels or goes away.
 */
async function sendPages(id: unknown, paged: PagedRows, out: Outbox, signal: AbortSignal): Promise<PeerReply> {
  let count = 0;
  let first = true;
  try {
    for await (const page of paged.pages) {
      if (!page.ok) return { ok: false, code: page.error.code, message: page.error.message };
      if (signal.aborted || out.ended) break;
      const frame = encodeFrame({ header: { id, type: "page", ...(first ? { columns: paged.columns } : {}), rows: page.value } });
      out.write(frame);
      movedBytes(frame.length);
      first = false;
      count += page.value.length;
      await out.below(HIGH_WATER);
    }
  } finally {
    await paged.pages.return();
  }
  return { ok: true, reply: { rows: count } };
}

/** How long `close` waits for requests in flight before closing their connections. */
const GRACE_MS = 3000;

export class TcpTransport implements PeerTransport {
  private readonly connections = new Map<string, Promise<Result<PeerConnection>>>();

  async request(peer: string, request: PeerRequest, timeoutMs: number, options?: RequestOptions): Promise<Result<PeerReply>> {
    const started = Date.now();
    let conn = await this.connection(peer, timeoutMs);
    if (!conn.ok) return conn;
    if (!conn.value.usable) {
      this.connections.delete(peer);
      conn = await this.connection(peer, timeoutMs);
      if (!conn.ok) return conn;
    }
    return conn.value.send(request, Math.max(1, timeoutMs - (Date.now() - started)), options, timeoutMs);
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

  /**
   * Serves peers on host:port within `limits` (DEFAULT_PEER_LIMITS for what is not given): a
   * message over maxFrame is refused by its prefix; past maxPending bytes of unfinished
   * messages in all, the connection that brings more is closed; connections past the caps
   * are closed at once; one that sends no whole message within firstMessageSeconds is closed.
   * A refusal is logged once a minute per address, not once per connection.
   */
  listen(host: string, port: number, handler: RequestHandler, limitsGiven: Partial<PeerLimits> = {}): Promise<Result<PeerListener>> {
    const limits: PeerLimits = { ...DEFAULT_PEER_LIMITS, ...limitsGiven };
    interface ServerSide {
      decoder: FrameDecoder;
      out: Outbox;
      remote: string;
      /** Requests being answered, by id: aborted when the asker cancels one or goes away. */
      running: Map<unknown, AbortController>;
      /** Whether its first bytes were seen (a peer frame, or another protocol). */
      sniffed: boolean;
      /** Another protocol's connection (listener.share): its bytes go to this stream. */
      bridge?: Duplex;
      /** It sent a whole message (the first-message timer is off). */
      spoke: boolean;
      /** Counted in its address's connections. */
      counted: boolean;
      /** A message was refused as too large: what else comes is not read. */
      refused?: boolean;
    }
    const sockets = new Set<Socket<ServerSide>>();
    const perAddress = new Map<string, number>();
    /** Bytes of unfinished messages over all connections. */
    let pending = 0;
    const lastLogged = new Map<string, number>();
    const refuse = (socket: Socket<ServerSide>, why: string) => {
      const address = socket.remoteAddress;
      if (Date.now() - (lastLogged.get(address) ?? 0) > 60_000) {
        lastLogged.set(address, Date.now());
        if (lastLogged.size > 10_000) lastLogged.delete(lastLogged.keys().next().value!);
        log.warn(`closing connections from ${address}: ${why} (logged once a minute per address)`);
      }
      socket.terminate();
    };
    let taker: ((connection: Duplex) => void) | undefined;
    let inFlight = 0;
    let idle: (() => void) | undefined;

    async function answer(frame: Frame, socket: Socket<ServerSide>): Promise<void> {
      const { id, command, from, pages, auth } = frame.header;
      const remote = socket.data.remote;
      const asked = new AbortController();
      socket.data.running.set(id, asked);
      let reply: PeerReply;
      try {
        if (typeof command !== "string") reply = { ok: false, code: "syntax", message: "peer request without a command" };
        else {
          try {
            const signed = typeof auth === "object" && auth !== null && !Array.isArray(auth) ? (auth as Record<string, unknown>) : undefined;
            reply = await handler({ command, from: typeof from === "string" ? from : undefined, body: frame.body, auth: signed }, remote, { takesPages: pages === true, signal: asked.signal });
          } catch (e) {
            log.error(`request from ${remote} failed unexpectedly: ${e instanceof Error ? e.stack : String(e)}`);
            reply = { ok: false, code: "internal", message: "the node failed to run the request" };
          }
        }
        if (reply.ok && reply.paged) reply = await sendPages(id, reply.paged, socket.data.out, asked.signal);
      } finally {
        socket.data.running.delete(id);
      }
      if (socket.data.out.ended || asked.signal.aborted) return;
      const header = reply.ok
        ? { id, type: "reply", ok: true, reply: reply.reply ?? null }
        : { id, type: "reply", ok: false, error: { code: reply.code, message: reply.message } };
      socket.data.out.write(encodeFrame({ header, body: reply.ok ? reply.body : undefined }));
    }

    let server: TCPSocketListener<ServerSide>;
    try {
      server = Bun.listen<ServerSide>({
        hostname: host,
        port,
        socket: {
          open(socket) {
            socket.setNoDelay(true);
            const address = socket.remoteAddress;
            socket.data = { decoder: new FrameDecoder(limits.maxFrame), out: new Outbox(socket as Socket<unknown>), remote: `${address}:${socket.remotePort}`, running: new Map(), sniffed: false, spoke: false, counted: false };
            const fromAddress = perAddress.get(address) ?? 0;
            if (sockets.size >= limits.maxConnections) return refuse(socket, `${sockets.size} connections are open, the most this node takes`);
            if (fromAddress >= limits.maxPerAddress) return refuse(socket, `${fromAddress} connections are open from this address, the most it may have`);
            perAddress.set(address, fromAddress + 1);
            socket.data.counted = true;
            sockets.add(socket);
            socket.timeout(limits.firstMessageSeconds);
          },
          timeout(socket) {
            if (!socket.data.spoke) refuse(socket, `a connection sent no whole message within ${limits.firstMessageSeconds} s`);
          },
          data(socket, chunk) {
            if (socket.data.refused) return;
            if (socket.data.bridge) {
              socket.data.bridge.push(Buffer.from(chunk));
              return;
            }
            if (!socket.data.sniffed) {
              socket.data.sniffed = true;
              if (taker && chunk[0] !== PEER_MAGIC[0]) {
                const bridge = bridgeOf(socket as Socket<unknown>, socket.data.out);
                socket.data.bridge = bridge;
                socket.data.spoke = true;
                socket.timeout(0);
                taker(bridge);
                bridge.push(Buffer.from(chunk));
                return;
              }
            }
            const before = socket.data.decoder.pending;
            movedBytes(chunk.length); // (big messages arriving leave garbage the collector is slow to take)
            const frames = socket.data.decoder.push(chunk);
            pending += socket.data.decoder.pending - before;
            if (!frames.ok) {
              const size = socket.data.decoder.oversize;
              if (size === undefined) return refuse(socket, frames.error.message);
              // the sender is told which of its messages was too large (by its size), so it does not send it
              // again; the rest of it is not read
              log.warn(`refused a message from ${socket.data.remote}: ${frames.error.message}`);
              socket.data.refused = true;
              socket.data.out.write(encodeFrame({ header: { type: "too_large", size, message: frames.error.message } }));
              socket.data.out.end();
              setTimeout(() => socket.terminate(), 1000).unref();
              return;
            }
            if (pending > limits.maxPending) {
              refuse(socket, `over ${limits.maxPending} bytes of messages are arriving at once`);
              return;
            }
            if (frames.value.length > 0 && !socket.data.spoke) {
              socket.data.spoke = true;
              socket.timeout(0);
            }
            for (const f of frames.value) {
              if (f.header.type === "cancel") {
                socket.data.running.get(f.header.id)?.abort();
                continue;
              }
              inFlight++;
              void answer(f, socket).finally(() => {
                if (--inFlight === 0) idle?.();
              });
            }
          },
          drain: (socket) => socket.data.out.drain(),
          error: (socket) => socket.terminate(),
          close(socket) {
            pending -= socket.data.decoder.pending;
            if (socket.data.counted) {
              const n = (perAddress.get(socket.remoteAddress) ?? 1) - 1;
              if (n <= 0) perAddress.delete(socket.remoteAddress);
              else perAddress.set(socket.remoteAddress, n);
            }
            socket.data.out.closed = true;
            socket.data.bridge?.push(null);
            socket.data.bridge?.destroy();
            for (const asked of socket.data.running.values()) asked.abort(); // nobody is waiting for them now
            sockets.delete(socket);
          },
        },
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === "EADDRINUSE" ? "the port is already in use" : code === "EADDRNOTAVAIL" ? "this machine has no such address" : e instanceof Error ? e.message : String(e);
      return Promise.resolve(fail("io", `cannot listen on ${host}:${port}: ${why}`));
    }
    return Promise.resolve(
      ok({
        address: { host: server.hostname, port: server.port },
        share(take) {
          if (taker) return fail("conflict", `port ${server.port} already serves another protocol beside peer messages`);
          taker = take;
          return ok(() => {
            if (taker === take) taker = undefined;
            for (const s of sockets) if (s.data.bridge) s.terminate();
          });
        },
        close: () =>
          new Promise<void>((done) => {
            server.stop(false); // no new connections; the open ones are ended below
            // end() sends what is still buffered (a large reply may be), then FIN; a peer
            // that does not close its side in time is cut off
            const cutOff = () => {
              for (const s of sockets) s.terminate();
              done();
            };
            const finish = () => {
              for (const s of sockets) s.data.out.end();
              if (sockets.size === 0) return done();
              const wait = setInterval(() => {
                if (sockets.size === 0) {
                  clearInterval(wait);
                  clearTimeout(limit);
                  done();
                }
              }, 20);
              const limit = setTimeout(() => {
                clearInterval(wait);
                cutOff();
              }, GRACE_MS);
              limit.unref();
            };
            if (inFlight === 0) finish();
            else {
              idle = finish;
              setTimeout(cutOff, GRACE_MS).unref();
            }
          }),
      }),
    );
  }
}

/** A connection of another protocol on the peer port as a stream (what it writes goes out through the socket's outbox). */
function bridgeOf(socket: Socket<unknown>, out: Outbox): Duplex {
  return new Duplex({
    read() {}, // (bytes are pushed as they arrive)
    write(chunk: Buffer, _encoding, done) {
      out.write(chunk);
      done();
    },
    final(done) {
      out.end();
      done();
    },
    destroy(error, done) {
      if (!out.closed) socket.terminate();
      done(error);
    },
  });
}
