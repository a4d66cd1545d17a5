/**
 * @module network/transport
 * The peer transport seen by the rest of the node: send a request to `host:port` and wait
 * for its reply; listen for requests and answer them. The framed TCP transport
 * (`network/tcp-transport.ts`) implements it; a second wire format plugs in beside it.
 */
import type { Reply } from "../commands/spec.ts";
import type { ErrorCode, Result } from "../util/result.ts";

/** A request from one node to another. */
export interface PeerRequest {
  /** The command text to run on the peer. */
  command: string;
  /** `node_name@ip:port` of the sender, for the peer's logs. */
  from?: string;
  body?: Uint8Array;
}

/** The peer's answer: its command's reply, or its error. */
export type PeerReply = { ok: true; reply: Reply; body?: Uint8Array } | { ok: false; code: ErrorCode; message: string };

export type RequestHandler = (request: PeerRequest, remote: string) => Promise<PeerReply>;

export interface PeerListener {
  /** The address actually bound (port 0 resolves to a real port). */
  readonly address: { host: string; port: number };
  /** Stops accepting, lets requests in flight finish (up to a grace period), closes connections. */
  close(): Promise<void>;
}

export interface PeerTransport {
  /** Sends `request` to `peer` ("host:port"); a dead or slow peer gives an error naming it. */
  request(peer: string, request: PeerRequest, timeoutMs: number): Promise<Result<PeerReply>>;
  listen(host: string, port: number, handler: RequestHandler): Promise<Result<PeerListener>>;
  /** Closes every outgoing connection. */
  close(): Promise<void>;
}
