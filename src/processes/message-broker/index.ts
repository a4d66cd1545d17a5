/**
 * @module processes/message-broker
 * The node's own MQTT 3.1.1 broker (`run message broker`), built on aedes: MQTT clients
 * (mosquitto_pub, sensors) publish to it and other MQTT clients subscribe and receive what is
 * published (QoS 0/1/2, retained messages, optional user/password). Every message a client
 * publishes is first handed to the node's local bus (messaging/local-bus.ts), where
 * `broker = local` message clients take it; a QoS 1/2 publisher is acknowledged only once
 * the bus took the message, and a refusal is not acknowledged (MQTT 3.1.1 has no negative
 * acknowledgement, so the publisher's connection closes and it sends again). Owns the
 * listener, the broker's counters and `get local broker`. MQTT 5 clients are refused
 * (aedes speaks MQTT 3.1 and 3.1.1). On the TCP server's own port (seeds 000 and 001 start
 * it so) the broker shares it: a connection that does not begin as a peer message is MQTT.
 * With `enable_tls = true` its own listener speaks MQTT over TLS (`tls_cert`, `tls_key`, and
 * `tls_ca` / `users_ca` to require client certificates that CA signed); not on the shared port.
 */
import { Aedes, type AedesOptions, type AuthenticateError, type Client, type PublishPacket } from "aedes";
import { timingSafeEqual } from "node:crypto";
import { type Server, type Socket, createServer } from "node:net";
import { type TLSSocket, createServer as createTlsServer } from "node:tls";
import type { Args } from "../../commands/spec.ts";
import { command } from "../../commands/spec.ts";
import { addCommands } from "../../commands/table.ts";
import { localBus } from "../../messaging/local-bus.ts";
import { addressInfo, listenAddress, type ListenAddress } from "../../network/listen-address.ts";
import type { Node } from "../../node/node.ts";
import { type TlsMaterial, readTls } from "../../security/certificates.ts";
import { type Result, errorText, fail, ok } from "../../util/result.ts";
import { textTable } from "../../util/text-table.ts";
import { type NodeProcess, type ProcessStatus, registerProcess } from "../registry.ts";
import { TcpServer } from "../tcp-server/index.ts";

const NAME = "Message Broker";

/** One kind of event the broker counts. */
interface EventCount {
  count: number;
  last?: Date;
}

/** What `get local broker` reports, from the start of the running broker. */
interface BrokerCounts {
  /** MQTT clients that connected (CONNACK accepted). */
  connections: EventCount;
  /** PUBLISH packets (and wills) received from clients. */
  publishes: EventCount;
  /** Messages written to subscribed MQTT clients (retained ones on subscribe included). */
  delivered: EventCount;
  /** Messages a local subscriber of the node's bus took (`broker = local` clients). */
  local: EventCount;
  /** Refused connections and publishes, protocol and socket errors. */
  errors: EventCount;
  lastError?: string;
}

const freshCounts = (): BrokerCounts => ({
  connections: { count: 0 },
  publishes: { count: 0 },
  delivered: { count: 0 },
  local: { count: 0 },
  errors: { count: 0 },
});

const note = (e: EventCount): void => {
  e.count++;
  e.last = new Date();
};

/** The part of aedes' in-memory persistence the broker asks (its type is not declared by aedes' typings). */
interface IncomingStore {
  incomingGetPacket(client: Client, packet: PublishPacket): Promise<unknown>;
}

/** Bounded wait for a close callback (a stuck socket must not hold a node's shutdown). */
const closed = (close: (done: () => void) => void, withinMs = 5_000): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, withinMs);
    close(() => {
      clearTimeout(timer);
      resolve();
    });
  });

class MessageBroker implements NodeProcess {
  /** Stops taking connections: its own listener closed, or its share of the TCP server's port ended. */
  private unlisten?: () => Promise<void>;
  private broker?: Aedes;
  private address?: ListenAddress;
  private credentials?: { user: string; password: Buffer };
  private tls?: TlsMaterial;
  /** `allowed_users`: the common names (CN) of the client certificates that may connect; undefined lets any the CA signed. */
  private allowedUsers?: Set<string>;
  private counts = freshCounts();
  /** Errors already counted where they arose (aedes reports them again as client errors). */
  private counted = new WeakSet<Error>();
  /** Bus hand-overs in flight; `stop` waits for them. */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly sockets = new Set<Socket>();

  constructor(private readonly node: Node) {}

  async start(args: Args): Promise<Result<string>> {
    const address = listenAddress(args, 6);
    if (!address.ok) return address;
    const a = address.value;
    const user = args.str("user");
    const password = args.str("password");
    if ((user === undefined) !== (password === undefined)) {
      return fail("bad_option", "give 'user' and 'password' together (or neither, for a broker without authentication)");
    }
    this.credentials = user !== undefined ? { user, password: Buffer.from(password!, "utf8") } : undefined;
    const tls = this.tlsOptions(args, a.port);
    if (!tls.ok) return tls;
    this.tls = tls.value;
    const allowed = args.list("allowed_users");
    if (allowed.length > 0 && !this.tls?.ca) return fail("bad_option", "'allowed_users' needs 'enable_tls = true' and 'users_ca' (or 'tls_ca'): the users are the CNs of client certificates that CA signed");
    this.allowedUsers = allowed.length > 0 ? new Set(allowed) : undefined;
    this.counts = freshCounts();
    this.counted = new WeakSet();

    const options: AedesOptions = {
      authorizePublish: (client, packet, callback) => void this.take(client, packet).then((refused) => callback(refused)),
      authorizeForward: (_client, packet) => {
        note(this.counts.delivered);
        return packet;
      },
      ...(this.credentials ? { authenticate: (client, username, pass, done) => done(...this.authenticate(client, username, pass)) } : {}),
    };
    let broker: Aedes;
    try {
      broker = await Aedes.createBroker(options);
    } catch (e) {
      return fail("internal", `the MQTT broker did not start: ${errorText(e)}`);
    }
    broker.on("clientReady", () => note(this.counts.connections));
    broker.on("clientError", (client, error) => this.clientError(client, error));
    broker.on("connectionError", (client, error) => this.clientError(client, error));

    const listening = await this.listen(a.host, a.port, broker);
    if (!listening.ok) {
      await closed((done) => broker.close(done));
      return listening;
    }
    const { port, unlisten } = listening.value;
    this.unlisten = unlisten;
    this.broker = broker;
    this.address = { ...a, port, externalPort: a.port === 0 ? port : a.externalPort };
    return ok(this.details());
  }

  /** `enable_tls = true`: the PEM files read now, so a missing one fails `run`; never on the TCP server's shared port. */
  private tlsOptions(args: Args, port: number): Result<TlsMaterial | undefined> {
    const given = ["tls_cert", "tls_key", "tls_ca", "users_ca", "allowed_users"].filter((k) => args.has(k));
    if (!args.bool("enable_tls", false)) {
      return given.length > 0 ? fail("bad_option", `${given.map((k) => `'${k}'`).join(", ")} need${given.length === 1 ? "s" : ""} 'enable_tls = true'`) : ok(undefined);
    }
    const tcp = this.node.processes.get("TCP");
    if (tcp instanceof TcpServer && tcp.port === port) {
      return fail("bad_option", `'enable_tls = true' cannot apply to port ${port}: the broker shares it with the TCP server, which speaks plain TCP; give the broker a port of its own (MQTT over TLS is commonly 8883)`);
    }
    const cert = args.str("tls_cert");
    const key = args.str("tls_key");
    if (cert === undefined || key === undefined) return fail("bad_option", "'enable_tls = true' needs 'tls_cert' (the broker's certificate file) and 'tls_key' (its private key file)");
    const ca = args.str("users_ca") ?? args.str("tls_ca");
    return readTls({ cert, key, ca }, { cert: "tls_cert", key: "tls_key", ca: args.has("users_ca") ? "users_ca" : "tls_ca" });
  }

  /** Takes MQTT connections at host:port: a share of the TCP server's port when it is that one, else a listener of its own. */
  private async listen(host: string, port: number, broker: Aedes): Promise<Result<{ port: number; unlisten: () => Promise<void> }>> {
    const tcp = this.node.processes.get("TCP");
    if (tcp instanceof TcpServer && tcp.port === port) {
      const shared = tcp.share((connection) => broker.handle(connection));
      if (!shared.ok) return shared;
      return ok({ port, unlisten: async () => shared.value() });
    }
    const accept = (socket: Socket) => {
      if (this.allowedUsers && !this.allowedUser(socket as TLSSocket)) return;
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
      broker.handle(socket);
    };
    const t = this.tls;
    // with a CA, only clients holding a certificate it signed get past the handshake (mTLS)
    const server: Server = t
      ? createTlsServer({ cert: t.cert, key: t.key, ca: t.ca, requestCert: t.ca !== undefined, rejectUnauthorized: true }, accept)
      : createServer(accept);
    if (t) server.on("tlsClientError", (e: Error) => this.error(`a TLS handshake failed: ${e.message}`));
    const bound = await new Promise<Result<number>>((resolve) => {
      const onError = (e: Error & { code?: string }) => {
        const why = e.code === "EADDRINUSE" ? "the port is already in use" : e.code === "EACCES" ? "permission denied" : e.message;
        resolve(fail("io", `cannot listen on ${host}:${port}: ${why}`));
      };
      server.once("error", onError);
      server.listen({ host, port }, () => {
        server.off("error", onError);
        const address = server.address();
        resolve(ok(typeof address === "object" && address ? address.port : port));
      });
    });
    if (!bound.ok) return bound;
    server.on("error", (e) => this.error(`the broker's listener on ${host}:${port}: ${e.message}`));
    return ok({ port: bound.value, unlisten: () => closed((done) => server.close(() => done())) });
  }

  /** A TLS client whose certificate's CN is in `allowed_users`; any other is counted and cut off. */
  private allowedUser(socket: TLSSocket): boolean {
    const cn = socket.getPeerCertificate().subject?.CN;
    const name = Array.isArray(cn) ? cn[0] : cn;
    if (name !== undefined && this.allowedUsers?.has(name)) return true;
    this.error(`a client with the certificate of '${name ?? "no CN"}' was refused: not in allowed_users`);
    socket.destroy();
    return false;
  }

  /**
   * aedes' authorizePublish: hands a client's message to the local bus and answers once the
   * bus took it (aedes sends PUBACK/PUBREC only after this answer). The error, if any, is
   * why the message is refused: aedes closes the publisher's connection without an ack.
   */
  private take(client: Client | null, packet: PublishPacket): Promise<Error | null> {
    const work = this.handOver(client, packet);
    const tracked = work.then(() => {});
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
    return work;
  }

  private async handOver(client: Client | null, packet: PublishPacket): Promise<Error | null> {
    note(this.counts.publishes);
    const from = client?.id ? `client '${client.id}'` : "a client's will";
    if (packet.topic.startsWith("$SYS/")) return this.refuse(`${from} published to '${packet.topic}': $SYS topics are the broker's own`);
    const broker = this.broker;
    // a QoS 2 message sent again (DUP) after the bus took it and aedes stored it: aedes answers
    // PUBREC without publishing; the bus must not take it twice
    if (packet.qos === 2 && packet.dup && client && broker) {
      // aedes' typings do not declare `persistence`; the memory persistence has this method
      const store = (broker as unknown as { persistence: IncomingStore }).persistence;
      const stored = await store.incomingGetPacket(client, packet).then(
        () => true,
        () => false,
      );
      if (stored) return null;
    }
    const bus = localBus(this.node);
    const taken = bus.hasSubscriber(packet.topic);
    const payload = typeof packet.payload === "string" ? new TextEncoder().encode(packet.payload) : packet.payload;
    let result: Result<void>;
    try {
      result = await bus.publish({ topic: packet.topic, payload, qos: packet.qos });
    } catch (e) {
      result = fail("internal", errorText(e));
    }
    if (!result.ok) return this.refuse(`${from} published to '${packet.topic}': the node refused the message, not acknowledged: ${result.error.message}`);
    if (taken) note(this.counts.local);
    return null;
  }

  /** aedes' authenticate: the user and password `run message broker` was given. */
  private authenticate(client: Client, username: string | undefined, password: Buffer | undefined): [AuthenticateError | null, boolean] {
    const want = this.credentials;
    if (!want) return [null, true];
    const given = password ?? Buffer.alloc(0);
    const same = username === want.user && given.length === want.password.length && timingSafeEqual(given, want.password);
    if (same) return [null, true];
    const why = username === undefined ? "no user name given" : `user '${username}': bad user name or password`;
    const error = Object.assign(new Error(`client '${client.id}': connection refused: ${why}`), {
      returnCode: 4 as AuthenticateError["returnCode"],
    });
    this.error(error.message);
    this.counted.add(error);
    return [error, false];
  }

  private refuse(message: string): Error {
    const error = new Error(message);
    this.error(message);
    this.counted.add(error);
    return error;
  }

  private clientError(client: Client | null, error: Error): void {
    // counted where it arose; or a client cut off by `stop` (aedes reports "mqemitter is closed")
    if (this.counted.has(error) || !this.broker) return;
    this.error(`${client?.id ? `client '${client.id}'` : "a connection"}: ${error.message}`);
  }

  private error(message: string): void {
    note(this.counts.errors);
    this.counts.lastError = message;
    this.node.log.warn(`${NAME}: ${message}`);
  }

  async stop(): Promise<void> {
    const unlisten = this.unlisten;
    const broker = this.broker;
    this.unlisten = undefined;
    this.broker = undefined;
    if (!unlisten || !broker) return;
    const listenerClosed = unlisten();
    await Promise.all([...this.inFlight]);
    await closed((done) => broker.close(done));
    for (const s of this.sockets) s.destroy();
    await listenerClosed;
  }

  status(): ProcessStatus {
    return this.unlisten ? "Running" : "Not declared";
  }

  details(): string {
    const a = this.address;
    if (!this.unlisten || !a) return "";
    const tls = this.tls ? `, TLS: ${this.tls.ca ? "with client certificates" : "on"}` : "";
    return `Listening on: ${a.externalIp}:${a.externalPort}, Threads Pool: ${a.threads}${this.credentials ? ", Authentication: user" : ""}${tls}`;
  }

  info(): Record<string, unknown> {
    const a = this.address;
    if (!this.unlisten || !a) return {};
    return {
      ...addressInfo(a),
      authentication: this.credentials ? "user" : "none",
      tls: this.tls ? (this.tls.ca ? "client certificates" : "on") : "off",
      clients: this.broker?.connectedClients ?? 0,
      publishes: this.counts.publishes.count,
    };
  }

  /** `get local broker`: the counters of the running broker; undefined when it does not run. */
  report(): { json: Record<string, unknown>; text: string } | undefined {
    if (!this.unlisten || !this.address) return undefined;
    const c = this.counts;
    const events: Array<[string, string, EventCount]> = [
      ["connections", "Connections", c.connections],
      ["publishes", "Publishes received", c.publishes],
      ["delivered", "Delivered to subscribers", c.delivered],
      ["local", "Taken by local subscribers", c.local],
      ["errors", "Errors", c.errors],
    ];
    const json: Record<string, unknown> = {
      listening: `${this.address.externalIp}:${this.address.externalPort}`,
      clients_connected: this.broker?.connectedClients ?? 0,
    };
    for (const [key, , e] of events) json[key] = { count: e.count, last: e.last?.toISOString() ?? null };
    (json.errors as Record<string, unknown>).last_error = c.lastError ?? null;
    const head = `Message broker listening on ${String(json.listening)}, clients connected: ${String(json.clients_connected)}`;
    const table = textTable(["Event", "Count", "Last"], events.map(([, label, e]) => [label, e.count, e.last?.toISOString() ?? ""]));
    return { json, text: `${head}\n${table}\nLast error: ${c.lastError ?? "none"}` };
  }
}

registerProcess({
  name: NAME,
  order: 110,
  aliases: ["message broker", "broker", "local broker"],
  run: {
    words: ["run", "message", "broker"],
    peer: false,
    summary: "Makes the node an MQTT 3.1.1 broker: clients publish to it and subscribe to it; published messages go to the node's local subscribers",
    positional: [
      { name: "ip", type: "str", help: "external IP", optional: true },
      { name: "port", type: "int", help: "external port", optional: true },
      { name: "local_ip", type: "str", help: "local IP", optional: true },
      { name: "local_port", type: "int", help: "local port", optional: true },
      { name: "threads", type: "int", help: "worker count", optional: true },
    ],
    options: {
      external_ip: { type: "str", help: "external IP" },
      external_port: { type: "int", help: "external port" },
      internal_ip: { type: "str", help: "local IP" },
      internal_port: { type: "int", help: "local port" },
      bind: { type: "bool", help: "listen on the one IP only (default false: every IP)" },
      threads: { type: "int", help: "worker count" },
      user: { type: "str", help: "user name MQTT clients must give (with password)" },
      password: { type: "str", help: "password MQTT clients must give (with user)" },
      enable_tls: { type: "bool", help: "MQTT over TLS on the broker's own port (with tls_cert and tls_key)" },
      tls_cert: { type: "str", help: "the broker's certificate (PEM file)" },
      tls_key: { type: "str", help: "the broker's private key (PEM file)" },
      tls_ca: { type: "str", help: "a CA certificate (PEM file): clients must present a certificate it signed" },
      users_ca: { type: "str", help: "same as tls_ca (AnyLog's name)" },
      allowed_users: { type: "list", help: "with a CA: the CNs of the client certificates that may connect, e.g. (user1, user2)" },
    },
    examples: [
      "run message broker !external_ip !anylog_broker_port !ip !anylog_broker_port",
      "run message broker where external_ip = !external_ip and external_port = 32150 and internal_ip = !ip and internal_port = 32150 and bind = false and threads = 6",
      "run message broker where external_ip = !ip and external_port = 32150 and user = sensors and password = !broker_password",
      "run message broker where external_ip = !ip and external_port = 8883 and enable_tls = true and tls_cert = !pem_dir/server-node-128-public-key.crt and tls_key = !pem_dir/server-node-128-private-key.key",
    ],
  },
  create: (node) => new MessageBroker(node),
});

addCommands(
  command({
    words: ["get", "local", "broker"],
    summary: "The node's MQTT broker: connections, publishes received, messages delivered, errors (count, last time, last error)",
    method: "GET",
    options: { format: { type: "str", help: "json for a JSON reply, text otherwise" } },
    examples: ["get local broker", "get local broker where format = json"],
    handler(ctx, args) {
      const proc = ctx.node.processes.get(NAME);
      const report = proc instanceof MessageBroker ? proc.report() : undefined;
      if (!report) return fail("unavailable", "the message broker is not running on this node: start it with 'run message broker <ip> <port>'");
      return ok(args.str("format") === "json" ? report.json : report.text);
    },
  }),
);
