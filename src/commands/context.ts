/**
 * @module commands/context
 * What a command handler is given besides its arguments: the node, where the command came
 * from, the session it belongs to (for `if` / `do` / `else`) and where printed output goes.
 */
import type { Node } from "../node/node.ts";
import type { Reply } from "./spec.ts";

export type Source = "console" | "script" | "rest" | "peer" | "scheduler";

/** Per-conversation state: a console, a script run, one REST request. */
export interface Session {
  /** The outcome of the last `if`, which `do` and `else` lines follow. */
  lastIf?: boolean;
  /**
   * Called each time an `if` of the session holds (a scheduled alert rule counts its firings
   * by it); `process <file>` hands it on to the script it runs.
   */
  noteFiring?: () => void;
}

export interface CommandContext {
  node: Node;
  source: Source;
  session: Session;
  /** Output that is not the command's reply (lines printed by a nested script, `echo`). */
  out(reply: Reply): void;
  /** The peer a `peer` command came from. */
  peer?: string;
  /** Who the peer says it is (`node_name@ip`, as the sender declares it; for monitoring and logs, not for trust). */
  from?: string;
  /**
   * The front end takes a large query answer as it is read (a `StreamedReply`: REST streams
   * it, a peer sends it in pages); without this, answers are held whole, up to `max_volume`.
   */
  stream?: boolean;
  /** Aborts when the asker gives up (a REST timeout, a cancelled peer request): work under way stops. */
  signal?: AbortSignal;
  /** The bytes a peer sent with its command (the frame's body: a publisher's file). */
  payload?: Uint8Array;
}
