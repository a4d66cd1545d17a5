/**
 * @module network/body-reply
 * A command's reply that carries bytes beside it (`file get` answering a peer with a blob or
 * a file): the TCP server sends `reply` as the frame's header and `body` as its body, raw,
 * without JSON escaping.
 */
import type { Reply } from "../commands/spec.ts";

export class BodyReply {
  constructor(
    readonly reply: Reply,
    readonly body: Uint8Array,
  ) {}
}
