/**
 * @module node/ingest
 * The seams through which data enters a node. The REST server only knows these interfaces:
 * the operator installs `node.ingest` when it runs; a message client with `broker=rest`
 * adds its topics to `node.restTopics`. Until then REST answers that nobody takes the data.
 */
import type { Result } from "../util/result.ts";

export interface PutRequest {
  dbms: string;
  table: string;
  mode: "streaming" | "file";
  /** A JSON object, a JSON array, or one JSON object per line. */
  body: string;
}

/** Stores rows on this node; resolves only when they are safe (committed, or on disk in a file). */
export interface RowIngest {
  put(request: PutRequest): Promise<Result<{ hash: string; rows: number }>>;
}

/** Maps a message body of one topic to rows (`POST` with `command: data` and `topic: <name>`). */
export type TopicHandler = (body: string) => Promise<Result<{ rows: number }>>;
