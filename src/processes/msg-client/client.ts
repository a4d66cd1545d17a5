/**
 * @module processes/msg-client/client
 * One message client (`run msg client`): its topics' mappings, where its messages come from,
 * and its counts. Three kinds of broker:
 *   - an MQTT broker at host:port (MQTT.js): reconnects with a doubling wait, keeps a
 *     persistent session (clean = false, a client id stable across restarts) so QoS 1/2
 *     messages sent while the node was down arrive when it returns, and acknowledges a
 *     message only once the node holds it durably (MQTT.js sends the PUBACK when
 *     `handleMessage` calls back);
 *   - `local`: the node's own broker and `mqtt publish where broker = local` (messaging/local-bus);
 *   - `rest`: REST `POST` with `command: data` and a `topic` header (network/rest-topics).
 * Every message ends counted: stored, or an error with its reason (and, with `log_error`,
 * written to the error directory); none is dropped silently.
 *
 * Messages are taken in batches: those that arrive while one batch is being stored make the
 * next, and a batch's rows of one table are one unit of the intake (one hash, one journal
 * record, one tsd_info row), so a busy topic costs one fsync per batch, not per message. A
 * message's acknowledgement waits for its batch. From an MQTT broker, QoS 1 PUBACKs are sent
 * by the client itself once the batch is durable (MQTT.js sends its own only after the
 * previous message is done, one at a time); QoS 0 messages are taken without waiting; QoS 2
 * keeps MQTT.js's one-at-a-time exchange. A broker that sends a message again (DUP) because
 * its acknowledgement was lost in a crash finds it recognised by its id (the intake keeps the
 * ids in its journal) and not stored twice.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { MqttClient } from "mqtt";
import { NO_SINK, type RowSink, rowSinkOf } from "../../messaging/row-sink.ts";
import { localBus } from "../../messaging/local-bus.ts";
import { type TopicRule, mapPayload } from "../../messaging/mapping.ts";
import { storeMappedBlobs } from "../../blobs/mapping-blobs.ts";
import { topicMatches } from "../../messaging/topics.ts";
import { restTopics } from "../../network/rest-topics.ts";
import type { Node } from "../../node/node.ts";
import { logger } from "../../util/log.ts";
import { type Result, errorText, fail, ok } from "../../util/result.ts";
import type { StoredType } from "../../messaging/mapping.ts";

const log = logger("MQTT");

/** The longest wait between two connection attempts to an MQTT broker. */
const MAX_RECONNECT_MS = 30_000;
/** The longest wait before storing a message again after the intake could not take it (it is not acknowledged meanwhile). */
const MAX_RETRY_MS = 10_000;
/** The most messages in one batch. */
const MAX_BATCH = 2_000;
/** Messages waiting or being stored past which a broker's next message waits (its connection is not read meanwhile). */
const MAX_WAITING = 10_000;

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
  /** Successes that were a message the broker sent again (DUP) and the node held already. */
  resent: number;
  lastMessage?: Date;
  lastError?: Date;
  error?: string;
}

/** A message on its way in: where it came from, and who waits for its outcome. */
interface Incoming {
  rule: TopicRule;
  topic: string;
  text: string;
  /** Its id, for a message a broker may send again (QoS 1/2 from an MQTT broker). */
  id?: string;
  /** The broker sends it again (DUP): it may be held already. */
  dup: boolean;
  /** Takes its outcome: stored or refused for good (to acknowledge), or not taken (the client stopped). */
  settle: (taken: Result<{ rows: number }>) => void;
}

/** The rows of one batch for one dbms.table (of one topic rule: its declared types). */
interface Group {
  dbms: string;
  table: string;
  types: Map<string, StoredType>;
  rows: Array<Record<string, unknown>>;
  /** The messages whose rows these are, with their rows (to try them one by one). */
  members: Array<{ message: Incoming; rows: Array<Record<string, unknown>> }>;
}

/** A message's id: its topic and payload (what a broker sends again is the same). */
const messageId = (topic: string, text: string) => Bun.hash(`${topic}\n${text}`).toString(36);

export class MessageClient {
  readonly counts: Counts = { messages: 0, success: 0, errors: 0, resent: 0 };
  readonly perTopic = new Map<string, Counts>();
  /** Why it is not connected (an MQTT broker), or "connected". */
  state = "not connected";
  private mqtt?: MqttClient;
  private readonly undo: Array<() => void> = [];
  private stopped = false;
  /** Messages waiting for the next batch. */
  private waiting: Incoming[] = [];
  /** Messages in the batch being stored. */
  private storing = 0;
  private draining = false;
  /** Units handed to the node so far (each one's name is unique: equal readings are each stored). */
  private deliveries = 0;
  /** Brokers' deliveries held back until fewer messages wait. */
  private roomWaiters: Array<() => void> = [];

  constructor(
    private readonly node: Node,
    readonly settings: ClientSettings,
  ) {
    for (const t of settings.topics) this.perTopic.set(t.name, { messages: 0, success: 0, errors: 0, resent: 0 });
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
      for (const t of topics) {
        this.undo.push(
          bus.subscribe(t.name, async (m) => {
            const settled = this.arrive(t, m.topic, Buffer.from(m.payload).toString("utf8"), false);
            // QoS 0: nothing to acknowledge; the broker's next message waits only for room
            if (m.qos === 0) return this.room().then(() => ok(undefined));
            const r = await settled;
            return r.ok ? ok(undefined) : r;
          }),
        );
      }
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
    // MQTT.js hands the next message over only once this calls back
    client.handleMessage = (packet, done) => {
      const topic = packet.topic;
      const rule = topics.find((t) => topicMatches(t.name, topic));
      const text = Buffer.from(packet.payload as Uint8Array).toString("utf8");
      if (!rule) {
        this.count(undefined, `no topic of this client maps '${topic}'`);
        done();
        return;
      }
      const settled = this.arrive(rule, topic, text, packet.qos > 0, packet.dup);
      if (packet.qos === 2) {
        void settled.then((r) => (r.ok ? done() : undefined)); // PUBREC once stored; none for a message not taken
        return;
      }
      if (packet.qos === 1) {
        // the PUBACK once stored, from here; MQTT.js sends none for a callback given an error
        const stream = client.stream;
        const messageId = packet.messageId;
        void settled.then((r) => {
          if (r.ok && messageId !== undefined && client.connected && client.stream === stream) sendPuback(client, messageId);
        });
        void this.room().then(() => done(ACK_SENT_HERE));
        return;
      }
      void this.room().then(() => done());
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
   * A message held by its broker until it settles: stored; refused for good (counted, logged
   * with log_error, and taken: sent again it would fail again, and a broker that redelivers
   * it would never get past it); or tried again while the intake cannot take it (the node's
   * database away, no operator yet), so an acknowledged message is always a stored or a
   * counted one. Only a client stopped meanwhile leaves it unsettled (not ok: not acknowledged).
   */
  private arrive(rule: TopicRule, topic: string, text: string, resent: boolean, dup = false): Promise<Result<{ rows: number }>> {
    return new Promise((resolve) => {
      this.waiting.push({ rule, topic, text, dup, ...(resent ? { id: messageId(topic, text) } : {}), settle: resolve });
      void this.drain();
    });
  }

  /** Maps and stores one message, once; counts it (a REST `command: data`, whose client sends it again if it must). */
  async take(rule: TopicRule, topic: string, text: string): Promise<Result<{ rows: number }>> {
    return new Promise((resolve) => void this.takeBatch([{ rule, topic, text, dup: false, settle: resolve }], false));
  }

  /** Resolves once fewer than MAX_WAITING messages wait (at once, mostly). */
  private room(): Promise<void> {
    if (this.waiting.length + this.storing < MAX_WAITING) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Stores batch after batch while messages wait. */
  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting.splice(0, MAX_BATCH);
        this.storing = batch.length;
        await this.takeBatch(batch, true);
        this.storing = 0;
        if (this.waiting.length < MAX_WAITING) for (const wake of this.roomWaiters.splice(0)) wake();
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * Maps a batch and stores each table's rows as one unit; `retry`: a failure that passes is
   * tried again with a doubling wait (a REST message is answered instead). Rows refused for
   * good with more than one message in the unit are tried message by message, so one bad
   * message does not sink the others. Every message is settled once.
   */
  private async takeBatch(batch: Incoming[], retry: boolean): Promise<void> {
    // (a message sent again is recognised by the intake: wait for one, as storing would)
    const sink = retry ? await this.sink() : rowSinkOf(this.node);
    const groups = new Map<string, Group>();
    const outcome = new Map<Incoming, Result<{ rows: number }>>();
    for (const m of batch) {
      if (this.settings.log) log.info(`client ${this.settings.id} topic ${m.topic}: ${m.text.length > 200 ? `${m.text.slice(0, 200)}...` : m.text}`);
      if (m.dup && m.id && sink?.holdsMessage(m.id)) {
        outcome.set(m, ok({ rows: 0 })); // sent again after a crash: stored already
        for (const c of [this.counts, this.perTopic.get(m.rule.name)]) if (c) c.resent++;
        continue;
      }
      const mapped = mapPayload(m.rule, m.text);
      if (!mapped.ok) {
        outcome.set(m, fail(mapped.error.code, `topic '${m.topic}': ${mapped.error.message}`));
        continue;
      }
      // blob columns: the blobs are stored before their rows (blobs/mapping-blobs)
      if (mapped.value.some((g) => g.blobs.length > 0)) {
        const blobs = await storeMappedBlobs(this.node, mapped.value);
        if (!blobs.ok) {
          outcome.set(m, fail(blobs.error.code, `topic '${m.topic}': ${blobs.error.message}`));
          continue;
        }
      }
      outcome.set(m, ok({ rows: 0 }));
      for (const rows of mapped.value) {
        const key = `${m.rule.name}\u0000${rows.dbms}\u0000${rows.table}`;
        let g = groups.get(key);
        if (!g) groups.set(key, (g = { dbms: rows.dbms, table: rows.table, types: rows.types, rows: [], members: [] }));
        for (const row of rows.rows) g.rows.push(row);
        g.members.push({ message: m, rows: rows.rows });
      }
    }
    const record = (m: Incoming, r: Result<{ rows: number }>) => {
      const before = outcome.get(m);
      if (!before?.ok) return; // its first failure is its outcome
      outcome.set(m, r.ok ? ok({ rows: before.value.rows + r.value.rows }) : r);
    };
    for (const g of groups.values()) {
      const r = await this.putGroup(g.dbms, g.table, g.rows, g.types, g.members.map((x) => x.message), retry);
      if (r.ok || g.members.length === 1 || transient(r.error.code)) {
        for (const { message, rows } of g.members) record(message, r.ok ? ok({ rows: rows.length }) : r);
        continue;
      }
      for (const { message, rows } of g.members) record(message, await this.putGroup(g.dbms, g.table, rows, g.types, [message], retry));
    }
    for (const m of batch) {
      const r = outcome.get(m)!;
      if (!r.ok && transient(r.error.code)) {
        m.settle(r); // not taken: the client stopped (or a REST message, answered with the reason)
        if (!retry) this.settle(m, r);
        continue;
      }
      this.settle(m, r);
      m.settle(r);
    }
  }

  /** Where the node takes rows, once there is a place (an operator or a publisher runs); undefined when the client stops first. */
  private async sink(): Promise<RowSink | undefined> {
    let wait = 250;
    for (;;) {
      const sink = rowSinkOf(this.node);
      if (sink || this.stopped) return sink;
      this.noteError(`${NO_SINK}: the messages wait`);
      await Bun.sleep(wait);
      wait = Math.min(MAX_RETRY_MS, wait * 2);
    }
  }

  /** One unit into the intake; with `retry`, a failure that passes is tried again until it stores, is refused, or the client stops. */
  private async putGroup(dbms: string, table: string, rows: Array<Record<string, unknown>>, types: Map<string, StoredType>, messages: Incoming[], retry: boolean): Promise<Result<{ rows: number }>> {
    const ids = messages.flatMap((m) => (m.id ? [m.id] : []));
    const topic = messages[0]!.topic;
    let wait = 250;
    for (;;) {
      const sink = rowSinkOf(this.node);
      const r: Result<{ rows: number }> = sink
        ? await sink.putRows(dbms, table, rows, `mqtt:${topic}`, { types, ...(ids.length > 0 ? { messages: ids } : {}), ...(retry ? { unique: `${this.settings.clientId}/${Date.now()}/${++this.deliveries}` } : {}) })
        : fail("unavailable", NO_SINK);
      if (r.ok || !transient(r.error.code) || !retry) return r.ok ? ok({ rows: r.value.rows }) : fail(r.error.code, `topic '${topic}': ${r.error.message}`);
      if (this.stopped) return fail(r.error.code, `topic '${topic}': ${r.error.message} (the client stopped before it was stored)`);
      this.noteError(`topic '${topic}': ${r.error.message}`); // not yet counted: the messages are still to be stored
      await Bun.sleep(wait);
      wait = Math.min(MAX_RETRY_MS, wait * 2);
    }
  }

  /** Counts a message's outcome; a refused one goes to the error directory with `log_error`. */
  private settle(m: Incoming, r: Result<unknown>): void {
    if (r.ok) return this.count(m.rule.name);
    this.count(m.rule.name, r.error.message);
    if (this.settings.logError) this.logError(m.topic, m.text, r.error.message);
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
    for (const wake of this.roomWaiters.splice(0)) wake();
    for (const u of this.undo.splice(0)) u();
    const c = this.mqtt;
    this.mqtt = undefined;
    if (c) await c.endAsync(true).catch(() => {});
    this.state = "stopped";
  }
}

/** Failures that pass (the database away, the node busy): the message is tried again, not refused. */
const transient = (code: string) => code === "unavailable" || code === "io" || code === "timeout";

/** What a QoS 1 message's MQTT.js callback is given so that MQTT.js sends no PUBACK (this client sends it once the message is stored). */
const ACK_SENT_HERE = new Error("the PUBACK is sent by the message client once the message is stored");

/** Sends a PUBACK. MQTT.js has no public call for it; `_sendPacket` is the one its own handler uses (mqtt 5.x). */
function sendPuback(client: MqttClient, messageId: number): void {
  (client as unknown as { _sendPacket(packet: { cmd: "puback"; messageId: number }): void })._sendPacket({ cmd: "puback", messageId });
}
