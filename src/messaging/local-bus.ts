/**
 * @module messaging/local-bus
 * Messages published on this node, by topic: what MQTT clients publish to the node's own
 * broker (`run message broker`) and what `mqtt publish where broker = local` sends. Message
 * clients with `broker = local` subscribe here. `publish` resolves once every subscriber has
 * taken the message (for a data topic: the intake holds it durably), so the broker can
 * acknowledge a QoS 1/2 publisher only then; a subscriber's failure fails the publish.
 */
import { nodeSlot } from "../node/slot.ts";
import { type Result, ok } from "../util/result.ts";
import { topicMatches } from "./topics.ts";

export interface LocalMessage {
  topic: string;
  payload: Uint8Array;
  qos: 0 | 1 | 2;
}

/** Takes a message; resolves when it is safe (or with the reason it was refused). */
export type LocalSubscriber = (message: LocalMessage) => Promise<Result<void>>;

export class LocalBus {
  private readonly subscribers = new Set<{ filter: string; take: LocalSubscriber }>();

  /** Subscribes to the topics `filter` matches (MQTT wildcards `+` and `#`); returns the unsubscribe. */
  subscribe(filter: string, take: LocalSubscriber): () => void {
    const entry = { filter, take };
    this.subscribers.add(entry);
    return () => this.subscribers.delete(entry);
  }

  /** Whether any subscriber takes `topic`. */
  hasSubscriber(topic: string): boolean {
    for (const s of this.subscribers) if (topicMatches(s.filter, topic)) return true;
    return false;
  }

  /** Hands `message` to every matching subscriber; the first refusal is the answer (the others still take it). */
  async publish(message: LocalMessage): Promise<Result<void>> {
    const takers = [...this.subscribers].filter((s) => topicMatches(s.filter, message.topic));
    const results = await Promise.all(takers.map((s) => s.take(message)));
    return results.find((r) => !r.ok) ?? ok(undefined);
  }
}

/** The node's local bus. */
export const localBus = nodeSlot(() => new LocalBus());
