/**
 * @module processes/msg-client
 * Message clients (`run msg client`, `run mqtt client`): each `run` adds a client (ids from
 * 1) with its broker and topics (processes/msg-client/client); `get msg clients` shows their
 * connections and counts, `exit msg client [n | all]` stops one or all (`exit mqtt` too),
 * and `mqtt publish` sends a message to a broker, so scripts and the scheduler can publish.
 */
import { hostname } from "node:os";
import type { Args } from "../../commands/spec.ts";
import { boolOption, command, strOption } from "../../commands/spec.ts";
import { addCommands } from "../../commands/table.ts";
import { localBus } from "../../messaging/local-bus.ts";
import { type TopicRule, topicRule } from "../../messaging/mapping.ts";
import type { Node } from "../../node/node.ts";
import { type Result, errorText, fail, ok } from "../../util/result.ts";
import { textTable } from "../../util/text-table.ts";
import { type NodeProcess, type ProcessStatus, registerProcess } from "../registry.ts";
import { MessageClient } from "./client.ts";
import { timeText } from "../../util/time-text.ts";

class MessageClients implements NodeProcess {
  readonly clients: MessageClient[] = [];
  private nextId = 1;

  constructor(private readonly node: Node) {}

  async start(args: Args): Promise<Result<string>> {
    return this.add(args);
  }

  /** Another `run msg client` while some run: one more client. */
  runAgain(args: Args): Promise<Result<string>> {
    return this.add(args);
  }

  private async add(args: Args): Promise<Result<string>> {
    const broker = args.str("broker", "").trim();
    if (!broker) return fail("bad_option", "run msg client needs broker = <host> | local | rest");
    const kind = broker.toLowerCase() === "local" || broker.toLowerCase() === "rest" ? broker.toLowerCase() : broker;
    const port = args.int("port", 1883);
    const blocks = args.nested("topic");
    if (blocks.length === 0) return fail("bad_option", "run msg client needs at least one topic = (name = ... and dbms = ... and table = ... and column.<name>.<type> = ...)");
    const topics: TopicRule[] = [];
    for (const b of blocks) {
      const rule = topicRule(b);
      if (!rule.ok) return rule;
      topics.push(rule.value);
    }
    // a topic is taken by one client of a broker: two would store each message twice
    const where = kind === "local" || kind === "rest" ? kind : `${kind}:${port}`;
    for (const t of topics) {
      const twice = topics.filter((o) => o.name === t.name).length > 1 || this.clients.some((c) => c.broker === where && c.settings.topics.some((o) => o.name === t.name));
      if (twice) return fail("conflict", `topic '${t.name}' of ${where} is already taken by a message client: one client per topic and broker`);
    }
    const id = this.nextId++;
    const client = new MessageClient(this.node, {
      id,
      broker: kind,
      port,
      user: args.str("user"),
      password: args.str("password"),
      // stable across restarts, so the broker keeps the session (and the messages that wait in it)
      clientId: args.str("client_id") ?? `anylog-${this.node.name || hostname()}-${id}`,
      log: args.bool("log", false),
      logError: args.bool("log_error", false),
      errorDir: args.str("err_dir") ?? this.node.dictionary.lookup("err_dir") ?? "error",
      topics,
    });
    const started = await client.start();
    if (!started.ok) return started;
    this.clients.push(client);
    return ok(`message client ${id} on ${client.broker}: ${topics.map((t) => t.name).join(", ")}`);
  }

  /** Stops client `id`, or all. */
  async stopClient(id?: number): Promise<Result<string>> {
    const chosen = id === undefined ? [...this.clients] : this.clients.filter((c) => c.settings.id === id);
    if (chosen.length === 0) return fail("not_found", id === undefined ? "no message client runs" : `no message client ${id} (see 'get msg clients')`);
    for (const c of chosen) {
      await c.stop();
      this.clients.splice(this.clients.indexOf(c), 1);
    }
    return ok(`message client${chosen.length > 1 ? "s" : ""} ${chosen.map((c) => c.settings.id).join(", ")} stopped`);
  }

  async stop(): Promise<void> {
    await this.stopClient();
  }

  status(): ProcessStatus {
    return this.clients.length > 0 ? "Running" : "Not declared";
  }

  details(): string {
    return this.clients.map((c) => `client ${c.settings.id}: ${c.broker} (${c.state})`).join(", ");
  }

  info(): Record<string, unknown> {
    return { clients: this.clients.map((c) => describe(c, false)) };
  }
}

const when = (d: Date | undefined) => (d ? timeText(d) : "");

/** One client as `get msg clients` shows it. */
function describe(c: MessageClient, detailed: boolean): Record<string, unknown> {
  const { counts } = c;
  return {
    id: c.settings.id,
    broker: c.broker,
    connection: c.state,
    messages: counts.messages,
    success: counts.success,
    errors: counts.errors,
    sent_again: counts.resent,
    last_message: when(counts.lastMessage),
    last_error_time: when(counts.lastError),
    last_error: counts.error ?? "",
    topics: c.settings.topics.map((t) => {
      const per = c.perTopic.get(t.name)!;
      return {
        name: t.name,
        qos: t.qos,
        messages: per.messages,
        success: per.success,
        errors: per.errors,
        sent_again: per.resent,
        last_error: per.error ?? "",
        ...(detailed ? { mapping: t } : {}),
      };
    }),
  };
}

const processOf = (node: Node) => node.processes.get("MQTT") as MessageClients | undefined;

registerProcess({
  name: "MQTT",
  order: 100,
  aliases: ["mqtt", "mqtt client", "msg client", "msg clients"],
  runAlso: [["run", "msg", "client"]],
  run: {
    words: ["run", "mqtt", "client"],
    peer: false,
    summary: "Subscribes to broker topics and maps messages to table rows (each run adds a client)",
    options: {
      broker: strOption("broker host, 'local' (this node's broker) or 'rest' (REST command: data)"),
      port: { type: "int", help: "broker port (default 1883)" },
      user: strOption("broker user"),
      password: strOption("broker password"),
      client_id: strOption("MQTT client id (default: anylog-<node name>-<client number>, stable across restarts)"),
      log: boolOption("log each message"),
      log_error: boolOption("write each message that fails, with its reason, to the error directory"),
      user_agent: strOption("REST user agent (broker = rest)"),
      prep_dir: strOption("prep directory (kept for AnyLog scripts)"),
      watch_dir: strOption("watch directory (kept for AnyLog scripts)"),
      err_dir: strOption("where log_error writes"),
      topic: {
        type: "nested",
        multiple: true,
        help: "a topic and how its messages map to columns",
        options: { name: strOption("topic name (MQTT wildcards + and #)"), dbms: strOption("database, or \"bring [key]\""), table: strOption("table, or \"bring [key]\""), qos: { type: "int", help: "0, 1 or 2" } },
        patterns: [{ prefix: "column.", spec: { type: "any", help: 'column mapping: column.<name>.<type> = "bring [key]" | now | constant, or (value = ... and type = ... and optional = true)' } }],
      },
    },
    examples: [
      'run msg client where broker = local and topic = (name = sensors/# and dbms = iot and table = "bring [sensor]" and column.timestamp.timestamp = now and column.value.float = "bring [value]")',
      'run mqtt client where broker = 10.0.0.5 and port = 1883 and user = u and password = p and topic = (name = plc and qos = 1 and dbms = plant and table = readings and column.ts.timestamp = "bring [ts]" and column.value = (value = "bring [v]" and type = float))',
    ],
  },
  create: (node) => new MessageClients(node),
});

addCommands(
  command({
    words: ["get", "msg", "clients"],
    summary: "Message clients: broker, connection, messages, successes, errors and the last error, per client and topic",
    method: "GET",
    options: {
      id: { type: "int", help: "one client" },
      topic: strOption("clients of this topic"),
      broker: strOption("clients of this broker (ip:port, local, rest)"),
      detailed: boolOption("show each topic's column mapping"),
      statistics: boolOption("counts only"),
      format: strOption("table (default) or json"),
    },
    examples: ["get msg clients", "get msg clients where id = 1 and detailed = true", "get msg clients where format = json"],
    handler(ctx, args) {
      const clients = processOf(ctx.node)?.clients ?? [];
      const id = args.int("id");
      const topic = args.str("topic");
      const broker = args.str("broker");
      const chosen = clients.filter((c) => (id === undefined || c.settings.id === id) && (!topic || c.settings.topics.some((t) => t.name === topic)) && (!broker || c.broker === broker));
      const rows = chosen.map((c) => describe(c, args.bool("detailed", false)));
      if ((args.str("format") ?? "table").toLowerCase() === "json") return ok(rows);
      if (rows.length === 0) return ok("no message client runs (start one with 'run msg client')");
      const stats = args.bool("statistics", false);
      const header = stats ? ["ID", "Broker", "Messages", "Success", "Errors"] : ["ID", "Broker", "Connection", "Messages", "Success", "Errors", "Last message", "Last error time", "Last error"];
      const lines = rows.map((r) => (stats ? [r.id, r.broker, r.messages, r.success, r.errors] : [r.id, r.broker, r.connection, r.messages, r.success, r.errors, r.last_message, r.last_error_time, r.last_error]) as Array<string | number>);
      const topics = chosen.flatMap((c) => c.settings.topics.map((t) => [c.settings.id, t.name, t.qos, c.perTopic.get(t.name)!.messages, c.perTopic.get(t.name)!.errors, c.perTopic.get(t.name)!.error ?? ""] as Array<string | number>));
      return ok(`${textTable(header, lines)}\n\n${textTable(["Client", "Topic", "QoS", "Messages", "Errors", "Last error"], topics)}`);
    },
  }),
  command({
    words: ["exit", "msg", "client"],
    peer: false,
    summary: "Stops message client n (as 'get msg clients' numbers them), or all of them",
    method: "POST",
    positional: [{ name: "id", type: "any", help: "client number, or all", optional: true }],
    async handler(ctx, args) {
      const clients = processOf(ctx.node);
      if (!clients) return fail("internal", "message clients are not set up on this node");
      const which = (args.str("id") ?? "all").trim().toLowerCase();
      if (which === "all") return clients.stopClient();
      const id = Number(which);
      return Number.isInteger(id) ? clients.stopClient(id) : fail("bad_value", `'${which}' is not a client number or 'all'`);
    },
  }),
  command({
    words: ["mqtt", "publish"],
    peer: false,
    summary: "Publishes a message to a broker (an MQTT broker at host:port, or 'local': this node's)",
    method: "POST",
    options: {
      broker: { ...strOption("host, or local"), required: true },
      port: { type: "int", help: "broker port (default 1883)" },
      topic: { ...strOption("topic"), required: true },
      message: { type: "any", help: "the message (JSON or text)", required: true },
      qos: { type: "int", help: "0, 1 or 2" },
      user: strOption("broker user"),
      password: strOption("broker password"),
    },
    examples: ['mqtt publish where broker = local and topic = sensors/a and message = {"value": 3}', "mqtt publish where broker = 10.0.0.5 and port = 1883 and topic = alerts and message = !alert and qos = 1"],
    waitsOnNetwork: true,
    async handler(ctx, args) {
      const topic = args.str("topic", "");
      const qos = args.int("qos", 0);
      if (qos !== 0 && qos !== 1 && qos !== 2) return fail("bad_value", "qos must be 0, 1 or 2");
      const raw = args.json("message");
      const text = typeof raw === "string" ? raw : JSON.stringify(raw);
      const broker = args.str("broker", "");
      if (broker.toLowerCase() === "local") {
        const published = await localBus(ctx.node).publish({ topic, payload: Buffer.from(text), qos });
        return published.ok ? ok(`published to local topic '${topic}'`) : published;
      }
      const mqtt = await import("mqtt");
      const port = args.int("port", 1883);
      try {
        const client = await mqtt.connectAsync({ host: broker, port, username: args.str("user"), password: args.str("password"), connectTimeout: 10_000, reconnectPeriod: 0 });
        try {
          await client.publishAsync(topic, text, { qos });
        } finally {
          await client.endAsync();
        }
        return ok(`published to ${broker}:${port} topic '${topic}'`);
      } catch (e) {
        return fail("peer_failed", `cannot publish to ${broker}:${port}: ${errorText(e)}`);
      }
    },
  }),
);
