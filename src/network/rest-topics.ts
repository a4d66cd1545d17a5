/**
 * @module network/rest-topics
 * The topics a node takes by REST `POST` with `command: data` and `topic: <name>`: a
 * message client with `broker = rest` adds its topics here; REST looks a topic up and
 * hands it the body. Without one, REST answers which `run msg client` is missing.
 */
import { nodeSlot } from "../node/slot.ts";
import type { Result } from "../util/result.ts";

/** Maps a message body of one topic to rows and stores them; resolves once they are safe. */
export type TopicHandler = (body: string) => Promise<Result<{ rows: number }>>;

/** The REST topics of a node, by name. */
export const restTopics = nodeSlot(() => new Map<string, TopicHandler>());
