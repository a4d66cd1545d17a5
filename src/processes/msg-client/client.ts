/**
 * @module processes/msg-client/client
 * One message client (`run msg client`): its topics' mappings, where its messages come from,
 * and its counts. Three kinds of broker:
 *   - an MQTT broker at host:port (MQTT.js): reconnects with a doubling wait, keeps a
 *     persistent session (clean = false, a client id stable across restarts) so QoS 1/2
 *     messages sent while the node was down arrive when it returns, and acknowledges a
 *     message only once the intake holds it durably (MQTT.js sends the PUBACK when
 *     `handleMessage` calls back);
 *   - `local`: the node's own broker and `mqtt publish where broker = local` (messaging/local-bus);
 *   - `rest`: REST `POST` with `command: data` and a `topic` header (network/rest-topics).
 * Every message ends counted: stored, or an error with its reason (and, with `log_error`,
 * written to the error directory); none is dropped silently.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { MqttClient } from "mqtt";
import { intakeOf, NO_OPERATOR } from "../../ingest/intake.ts";
import { localBus } from "../../messaging/local-bus.ts";
import { type TopicRule, mapPayload } from "../../messaging/mapping.ts";
import { topicMatches } from "../../messaging/topics.ts";
import { restTopics } from "../../network/rest-topics.ts";
import type { Node } from "../../node/node.ts";
import { logger } from "../../util/log.ts";
import { type Result, errorText, fail, ok } from "../../util/result.ts";

const log = logger("MQTT");

/** The longest wait between two connection attempts to an MQTT broker. */
const MAX_RECONNECT_MS = 30_000;
/** The longest wait before storing a message again after the intake could not take it (it is not acknowledged meanwhile). */
const MAX_RETRY_MS = 10_000;

export interface ClientSettings {
  id: number;
  /** host, `local` or `rest`. */
  broker: string;
  port: number;
  user?: string;
  password?: string;
  clientId: string;
  /** Log each message. */
  log: boolean;
  /** Write each message that fails to `errorDir`, with its reason. */
  logError: boolean;
  errorDir: string;
  topics: TopicRule[];
}

interface Counts {
  messages: number;
  success: number;
  errors: number;
  lastMessage?: Date;
  lastError?: Date;
  error?: string;
}

export class MessageClient {
  readonly counts: Counts = { messages: 0, success: 0, errors: 0 };
  readonly perTopic = new Map<string, Counts>();
  /** Why it is not connected (an MQTT broker), or "connected". */
  state = "not connected";
  private mqtt?: MqttClient;
  private readonly undo: Array<() => void> = [];
  private stopped = false;

  constructor(
    private readonly node: Node,
    readonly settings: ClientSettings,
  ) {
    for (const t of settings.topics) this.perTopic.set(t.name, { messages: 0, success: 0, errors: 0 });
  }

  get broker(): string {
    const { broker, port } = this.settings;
    return broker === "local" || broker === "rest" ? broker : `${broker}:${port}`;
  }

  /** Starts taking messages; an MQTT broker that cannot be reached now is tried again (the reason is its state). */
  async start(): Promise<Result<void>> {
    const { broker, topics } = this.settings;
    if (broker === "rest") {
      const rest = restTopics(this.node);
      for (const t of topics) {
        rest.set(t.name, (body) => this.take(t, t.name, body));
        this.undo.push(() => rest.delete(t.name));
      }
      this.state = "connected";
      return ok(undefined);
    }
    if (broker === "local") {
      const bus = localBus(this.node);
      for (const t of topics) this.undo.push(bus.subscribe(t.name, async (m) => this.takeHeld(t, m.topic, Buffer.from(m.payload).toString("utf8"))));
      this.state = "connected";
      return ok(undefined);
    }
    return this.connect();
  }

  private async connect(): Promise<Result<void>> {
    const { broker, port, user, password, clientId, topics } = this.settings;
    const mqtt = await import("mqtt");
    let wait = 1000;
    const client = mqtt.connect({
      host: broker,
      port,
      clientId,
      username: user,
      password,
      clean: false, // a persistent session: what arrives while the node is down waits at the broker
      reconnectPeriod: wait,
      connectTimeout: 10_000,
      protocolVersion: 4,
    });
    this.mqtt = client;
    // the PUBACK (or PUBREC) goes once this calls back: after the intake holds the message
    client.handleMessage = (packet, done) => {
      const topic = packet.topic;
      const rule = topics.find((t) => topicMatches(t.name, topic));
      const text = Buffer.from(packet.payload as Uint8Array).toString("utf8");
      if (!rule) {
        this.count(undefined, `no topic of this client maps '${topic}'`);
        done();
        return;
      }
      void this.takeHeld(rule, topic, text).then(() => done());
    };
    client.on("connect", () => {
      wait = 1000;
      client.options.reconnectPeriod = wait;
      this.state = "connected";
      for (const t of topics) client.subscribe(t.name, { qos: t.qos });
    });
    client.on("reconnect", () => {
      wait = Math.min(MAX_RECONNECT_MS, wait * 2);
      client.options.reconnectPeriod = wait;
    });
    client.on("error", (e) => {
      const why = /Not authorized|Bad username or password/i.test(e.message) ? `the broker refused the user or password (${e.message})` : e.message;
      this.state = `not connected: ${why}`;
      this.noteError(why);
    });
    client.on("offline", () => {
      if (!this.state.startsWith("not connected")) this.state = "not connected: the broker closed the connection";
    });
    return ok(undefined);
  }

  /**
   * A message held by its broker until this resolves: stored; refused for good (counted,
   * logged with log_error, and taken: sent again it would fail again, and a broker that
   * redelivers it would never get past it); or tried again while the intake cannot take it
   * (the node's database away, no operator yet), so an acknowledged message is always a
   * stored or a counted one. Only a client stopped meanwhile leaves the message unacknowledged.
   */
  private async takeHeld(rule: TopicRule, topic: string, text: string): Promise<Result<void>> {
    let wait = 250;
    for (;;) {
      const r = await this.store(rule, topic, text);
      if (r.ok || !transient(r.error.code)) {
        this.settle(rule, topic, text, r);
        return ok(undefined);
      }
      if (this.stopped) return fail(r.error.code, `${r.error.message} (the client stopped before it was stored)`);
      this.noteError(r.error.message); // not yet counted: the message is still to be stored
      await Bun.sleep(wait);
      wait = Math.min(MAX_RETRY_MS, wait * 2);
    }
  }

  /** Maps and stores one message, once; counts it (a REST `command: data`, whose client sends it again if it must). */
  async take(rule: TopicRule, topic: string, text: string): Promise<Result<{ rows: number }>> {
    const r = await this.store(rule, topic, text);
    this.settle(rule, topic, text, r);
    return r;
  }

  private async store(rule: TopicRule, topic: string, text: string): Promise<Result<{ rows: number }>> {
    if (this.settings.log) log.info(`client ${this.settings.id} topic ${topic}: ${text.length > 200 ? `${text.slice(0, 200)}...` : text}`);
    const mapped = mapPayload(rule, text);
    if (!mapped.ok) return fail(mapped.error.code, `topic '${topic}': ${mapped.error.message}`);
    const intake = intakeOf(this.node);
    if (!intake) return fail("unavailable", `topic '${topic}': ${NO_OPERATOR}`);
    let rows = 0;
    for (const group of mapped.value) {
      const stored = await intake.putRows(group.dbms, group.table, group.rows, `mqtt:${topic}`, group.types);
      if (!stored.ok) return fail(stored.error.code, `topic '${topic}': ${stored.error.message}`);
      rows += stored.value.rows;
    }
    return ok({ rows });
  }

  /** Counts a message's outcome; a refused one goes to the error directory with `log_error`. */
  private settle(rule: TopicRule, topic: string, text: string, r: Result<unknown>): void {
    if (r.ok) return this.count(rule.name);
    this.count(rule.name, r.error.message);
    if (this.settings.logError) this.logError(topic, text, r.error.message);
  }

  /** Counts a message of `topic` (its rule's name): a success, or an error with `error`. */
  private count(topic: string | undefined, error?: string): void {
    const now = new Date();
    const all = [this.counts, ...(topic && this.perTopic.has(topic) ? [this.perTopic.get(topic)!] : [])];
    for (const c of all) {
      c.messages++;
      c.lastMessage = now;
      if (error === undefined) c.success++;
      else {
        c.errors++;
        c.lastError = now;
        c.error = error;
      }
    }
  }

  /** An error that is not a message's (the connection's). */
  private noteError(error: string): void {
    this.counts.lastError = new Date();
    this.counts.error = error;
  }

  private logError(topic: string, text: string, message: string): void {
    try {
      mkdirSync(this.settings.errorDir, { recursive: true });
      const line = JSON.stringify({ time: new Date().toISOString(), client: this.settings.id, topic, error: message, message: text });
      appendFileSync(join(this.settings.errorDir, `msg_client_${this.settings.id}.err`), `${line}\n`);
    } catch (e) {
      log.warn(`cannot write the failed message to ${this.settings.errorDir}: ${errorText(e)}`);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.undo.splice(0)) u();
    const c = this.mqtt;
    this.mqtt = undefined;
    if (c) await c.endAsync(true).catch(() => {});
    this.state = "stopped";
  }
}

/** Failures that pass (the database away, the node busy): the message is tried again, not refused. */
const transient = (code: string) => code === "unavailable" || code === "io" || code === "timeout";
