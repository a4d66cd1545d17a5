/**
 * @module network/transport
 * The peer transport seen by the rest of the node: send a request to `host:port` and wait
 * for its reply; listen for requests and answer them. The framed TCP transport
 * (`network/tcp-transport.ts`) implements it; a second wire format plugs in beside it.
 */
import type { Duplex } from "node:stream";
import type { Reply } from "../commands/spec.ts";
import type { ErrorCode, Result } from "../util/result.ts";

/** A request from one node to another. */
export interface PeerRequest {
  /** The command text to run on the peer. */
  command: string;
  /** `node_name@ip:port` of the sender, for the peer's logs. */
  from?: string;
  body?: Uint8Array;
  /** The sender's signature of the request (node authentication, security/peer-auth), carried as it is. */
  auth?: Record<string, unknown>;
}

/** Rows a peer sends a page at a time (a large query answer): the columns, then pages until done or an error. */
export interface PagedRows {
  columns: string[];
  /** Ended early (`return()`) when the asker cancels or goes away. */
  pages: AsyncGenerator<Result<unknown[][]>, void, void>;
}

/** A page of rows as it arrives from a peer. */
export interface PeerPage {
  columns: string[];
  rows: unknown[][];
}

/**
 * The peer's answer: its command's reply, or its error. A reply with `paged` rows (only to a
 * request that takes pages) sends them before it; the asker's reply then is `{rows: count}`.
 */
export type PeerReply = { ok: true; reply: Reply; body?: Uint8Array; paged?: PagedRows } | { ok: false; code: ErrorCode; message: string };

/** Answers a request; `takesPages`: the asker takes rows in pages; `signal` aborts when it cancels or goes away. */
export type RequestHandler = (request: PeerRequest, remote: string, asked: { takesPages: boolean; signal: AbortSignal }) => Promise<PeerReply>;

/** How a request is sent: `onPage` takes a reply's rows a page at a time as they come; `signal` cancels it on the peer too. */
export interface RequestOptions {
  onPage?: (page: PeerPage) => void;
  signal?: AbortSignal;
}

/** What one listener takes from the connections it accepts (the TCP server's, `run tcp server`). */
export interface PeerLimits {
  /** The largest message (header and body) in bytes. */
  maxFrame: number;
  /** Bytes of messages not yet whole, over all connections; past it the connection that brings more is closed. */
  maxPending: number;
  /** Open connections in all, and from one address. */
  maxConnections: number;
  maxPerAddress: number;
  /** Seconds a new connection has to send its first whole message. */
  firstMessageSeconds: number;
}

export const DEFAULT_PEER_LIMITS: PeerLimits = {
  maxFrame: 32 * 1024 * 1024,
  maxPending: 32 * 1024 * 1024,
  maxConnections: 1024,
  maxPerAddress: 128,
  firstMessageSeconds: 15,
};

export interface PeerListener {
  /** The address actually bound (port 0 resolves to a real port). */
  readonly address: { host: string; port: number };
  /** Stops accepting, lets requests in flight finish (up to a grace period), closes connections. */
  close(): Promise<void>;
  /**
   * Serves another protocol on this port: a connection whose first bytes are not a peer
   * frame goes to `take` as a byte stream (the message broker's MQTT clients). Returns the
   * function that stops it; one taker at a time.
   */
  share(take: (connection: Duplex) => void): Result<() => void>;
}

export interface PeerTransport {
  /**
   * Sends `request` to `peer` ("host:port"); a dead or slow peer gives an error naming it.
   * Past `timeoutMs` (or on `options.signal`) the peer is told to stop the request.
   */
  request(peer: string, request: PeerRequest, timeoutMs: number, options?: RequestOptions): Promise<Result<PeerReply>>;
  listen(host: string, port: number, handler: RequestHandler, limits?: Partial<PeerLimits>): Promise<Result<PeerListener>>;
  /** Closes every outgoing connection. */
  close(): Promise<void>;
}
