/**
 * @module processes/tcp-server
 * The TCP peer server (`run tcp server`): makes the node a member of the network. Peers
 * send commands over the peer transport; each runs through the Query Pool and its reply
 * (or error) goes back on the same connection. Essential: a port that cannot be listened on
 * ends `anylog start` with exit 1 unless the script's `on error` covers it (cli/start.ts).
 */
import type { Args } from "../../commands/spec.ts";
import { addressInfo, listenAddress, listenOptions, listenPositional, type ListenAddress } from "../../network/listen-address.ts";
import type { PeerLimits, PeerListener, PeerReply, PeerRequest } from "../../network/transport.ts";
import { parseVolume } from "../../util/volume.ts";
import type { Node } from "../../node/node.ts";
import { type Result, fail, ok } from "../../util/result.ts";
import type { Duplex } from "node:stream";
import { queryPool } from "../query-pool/index.ts";
import { type NodeProcess, type ProcessStatus, registerProcess } from "../registry.ts";
import { traceLevel } from "../../node/trace.ts";
import { BodyReply } from "../../network/body-reply.ts";
import { StreamedReply } from "../../query/reply.ts";
import { DEFAULT_MAX_VOLUME } from "../../query/run.ts";

export class TcpServer implements NodeProcess {
  private listener?: PeerListener;
  private address?: ListenAddress;
  private served = 0;

  constructor(private readonly node: Node) {}

  async start(args: Args): Promise<Result<string>> {
    const address = listenAddress(args, 6);
    if (!address.ok) return address;
    const a = address.value;
    const limits: Partial<PeerLimits> = {};
    const frame = args.str("max_frame");
    if (frame !== undefined) {
      const bytes = parseVolume(frame);
      if (!bytes.ok) return bytes;
      if (bytes.value < 1024 * 1024) return fail("bad_option", "'max_frame' below 1MB would refuse ordinary peer messages");
      limits.maxFrame = bytes.value;
    }
    for (const [option, key] of [["max_connections", "maxConnections"], ["max_connections_per_ip", "maxPerAddress"]] as const) {
      const n = args.int(option);
      if (n === undefined) continue;
      if (n < 1) return fail("bad_option", `'${option}' must be 1 or more`);
      limits[key] = n;
    }
    const listening = await this.node.peers.listen(a.host, a.port, (request, remote, asked) => this.answer(request, remote, asked), limits);
    if (!listening.ok) return listening;
    this.listener = listening.value;
    this.address = { ...a, port: listening.value.address.port, externalPort: a.port === 0 ? listening.value.address.port : a.externalPort };
    return ok(this.details());
  }

  /**
   * Runs a peer's command (with the request's body as its `payload`: a publisher's file); a
   * large query answer goes back in pages when the peer takes them (a network query's operator part).
   */
  private async answer(request: PeerRequest, remote: string, asked: { takesPages: boolean; signal: AbortSignal }): Promise<PeerReply> {
    this.served++;
    this.node.metrics.peerRequests++;
    if (traceLevel(this.node, "TCP") >= 1) this.node.log.info(`peer ${remote}: ${request.command}`);
    const ctx = { ...this.node.context("peer"), peer: remote, from: request.from, stream: asked.takesPages, signal: asked.signal, payload: request.body };
    const result = await queryPool(this.node).run(() => this.node.execute(request.command, ctx));
    if (!result.ok) return { ok: false, code: result.error.code, message: result.error.message };
    const reply = result.value;
    if (reply instanceof BodyReply) return { ok: true, reply: reply.reply, body: reply.body };
    if (!(reply instanceof StreamedReply)) return { ok: true, reply };
    if (asked.takesPages) return { ok: true, reply: null, paged: { columns: reply.columns, pages: reply.pages() } };
    const whole = await reply.whole(DEFAULT_MAX_VOLUME);
    return whole.ok ? { ok: true, reply: whole.value } : { ok: false, code: whole.error.code, message: whole.error.message };
  }

  /** The port it listens on (undefined when it does not run). */
  get port(): number | undefined {
    return this.listener?.address.port;
  }

  /** Serves another protocol on its port (the message broker on seed 000's TCP port): see PeerListener.share. */
  share(take: (connection: Duplex) => void): Result<() => void> {
    if (!this.listener) return fail("unavailable", "the TCP server is not running");
    return this.listener.share(take);
  }

  async stop(): Promise<void> {
    const l = this.listener;
    this.listener = undefined;
    await l?.close();
  }

  status(): ProcessStatus {
    return this.listener ? "Running" : "Not declared";
  }

  details(): string {
    const a = this.address;
    if (!this.listener || !a) return "";
    return `Listening on: ${a.externalIp}:${a.externalPort}, Threads Pool: ${a.threads}`;
  }

  info(): Record<string, unknown> {
    const a = this.address;
    if (!this.listener || !a) return {};
    return {
      ...addressInfo(a),
      requests: this.served,
    };
  }
}

registerProcess({
  name: "TCP",
  order: 10,
  aliases: ["tcp", "tcp server"],
  run: {
    words: ["run", "tcp", "server"],
    peer: false,
    summary: "Listens for messages from peer nodes (makes the node a network member)",
    positional: listenPositional,
    options: {
      ...listenOptions,
      max_frame: { type: "str", help: "the largest message a peer may send, e.g. 64MB (the default)" },
      max_connections: { type: "int", help: "open connections in all (default 1024)" },
      max_connections_per_ip: { type: "int", help: "open connections from one address (default 128)" },
    },
    examples: [
      "run tcp server !external_ip !anylog_server_port !ip !anylog_server_port",
      "run tcp server where external_ip = !external_ip and external_port = 32148 and max_frame = 16MB and max_connections_per_ip = 32",
      "run tcp server where external_ip = !external_ip and external_port = 32148 and internal_ip = !ip and internal_port = 32148 and bind = false",
    ],
  },
  essential: true,
  create: (node) => new TcpServer(node),
});
