/**
 * @module network/frames
 * The peer wire format, version 1. Every message is one frame:
 *
 *   "AL" | version u8 | flags u8 | header length u32 BE | body length u32 BE | header | body
 *
 * The header is UTF-8 JSON (a request or a reply, correlated by `id`); the body is raw bytes
 * (files later travel there without JSON escaping). `FrameDecoder` takes bytes as they
 * arrive and yields whole frames; a malformed frame is an error value, never a throw.
 */
import { type Result, fail, ok } from "../util/result.ts";

export const WIRE_VERSION = 1;
const MAGIC0 = 0x41; // 'A'
const MAGIC1 = 0x4c; // 'L'
/** The bytes every peer frame begins with ("AL"): a connection that begins otherwise speaks another protocol. */
export const PEER_MAGIC = [MAGIC0, MAGIC1] as const;
/** Bytes of a frame before its header. */
export const FRAME_PREFIX = 12;
const PREFIX = FRAME_PREFIX;
export const MAX_HEADER = 16 * 1024 * 1024;
export const MAX_BODY = 256 * 1024 * 1024;

export interface Frame {
  header: Record<string, unknown>;
  body?: Uint8Array;
}

export function encodeFrame(frame: Frame): Buffer {
  const header = Buffer.from(JSON.stringify(frame.header), "utf8");
  const body = frame.body ?? new Uint8Array(0);
  const prefix = Buffer.alloc(PREFIX);
  prefix[0] = MAGIC0;
  prefix[1] = MAGIC1;
  prefix[2] = WIRE_VERSION;
  prefix[3] = 0;
  prefix.writeUInt32BE(header.length, 4);
  prefix.writeUInt32BE(body.length, 8);
  return Buffer.concat([prefix, header, body]);
}

/**
 * Accumulates bytes and returns the frames they complete. After an error the stream is
 * unusable. Chunks are kept as they came and joined once a whole frame is there, so a
 * large frame arriving in many small chunks is copied once, not once per chunk.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private length = 0;
  /** The size (header and body) of the message refused for being too large, after that error. */
  oversize?: number;

  /** `maxFrame`: the largest frame (header and body) taken; a bigger one is refused by its prefix, before its bytes are kept. */
  constructor(private readonly maxFrame = MAX_HEADER + MAX_BODY) {}

  /** Bytes held for a frame not yet whole. */
  get pending(): number {
    return this.length;
  }

  push(chunk: Uint8Array): Result<Frame[]> {
    if (chunk.length > 0) {
      this.chunks.push(Buffer.from(chunk)); // a copy: the caller may reuse its memory
      this.length += chunk.length;
    }
    const frames: Frame[] = [];
    while (this.length >= PREFIX) {
      const b = this.front(PREFIX);
      if (b[0] !== MAGIC0 || b[1] !== MAGIC1) return fail("syntax", "not an AnyLog peer message (bad magic bytes)");
      if (b[2] !== WIRE_VERSION) return fail("syntax", `peer speaks wire version ${b[2]}, this node speaks ${WIRE_VERSION}`);
      const headerLength = b.readUInt32BE(4);
      const bodyLength = b.readUInt32BE(8);
      const limit = headerLength > MAX_HEADER ? `a header of at most ${MAX_HEADER} bytes` : bodyLength > MAX_BODY ? `a body of at most ${MAX_BODY} bytes` : headerLength + bodyLength > this.maxFrame ? `this node's limit of ${this.maxFrame} bytes` : undefined;
      if (limit !== undefined) {
        this.oversize = headerLength + bodyLength;
        return fail("too_large", `a peer message of ${headerLength + bodyLength} bytes is over ${limit}`);
      }
      const total = PREFIX + headerLength + bodyLength;
      if (this.length < total) break;
      const whole = this.take(total);
      let header: unknown;
      try {
        header = JSON.parse(whole.subarray(PREFIX, PREFIX + headerLength).toString("utf8"));
      } catch {
        return fail("syntax", "peer message header is not JSON");
      }
      if (typeof header !== "object" || header === null || Array.isArray(header)) {
        return fail("syntax", "peer message header is not a JSON object");
      }
      const frame: Frame = { header: header as Record<string, unknown> };
      if (bodyLength > 0) frame.body = new Uint8Array(whole.subarray(PREFIX + headerLength, total));
      frames.push(frame);
    }
    return ok(frames);
  }

  /** The first chunk, joined with the following ones until it holds at least `n` bytes (n <= length). */
  private front(n: number): Buffer {
    if (this.chunks[0]!.length < n) {
      let k = 0;
      let have = 0;
      while (have < n) have += this.chunks[k++]!.length;
      this.chunks.splice(0, k, Buffer.concat(this.chunks.slice(0, k), have));
    }
    return this.chunks[0]!;
  }

  /** Removes and returns the first `n` bytes (n <= length). */
  private take(n: number): Buffer {
    const first = this.front(n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.length -= n;
    return first.subarray(0, n);
  }
}
