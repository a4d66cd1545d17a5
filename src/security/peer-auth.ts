/**
 * @module security/peer-auth
 * Authenticated peers: the peer transport with node authentication laid over it. With it
 * on, every request the node sends carries its signature (its key, the time, a nonce, and
 * the command, sender and a digest of the body, signed), and a request that arrives is
 * answered only when a member of the network signed it (metadata/trust), within two minutes
 * of this node's clock, and not seen before; anything else gets a refusal, is counted by
 * address and logged once per address. Replies travel on the connection the asker opened and
 * are not signed. With it off, requests pass as they are.
 */
import type { Node } from "../node/node.ts";
import type { PeerLimits, PeerListener, PeerReply, PeerRequest, PeerTransport, RequestHandler, RequestOptions } from "../network/transport.ts";
import { shortKey } from "../metadata/signatures.ts";
import { type Result, fail } from "../util/result.ts";
import { type UnlockedKey, signData, verifyData } from "./keys.ts";
import { nodeAuthOf, nodeSigner } from "./node-auth.ts";

/** How far a request's time may be from this node's clock. */
const WINDOW_MS = 120_000;

/** The text a request's signature covers. */
export function sealedText(request: PeerRequest, ts: number, nonce: string): string {
  const digest = request.body && request.body.length > 0 ? new Bun.CryptoHasher("sha256").update(request.body).digest("base64") : "";
  return `anylog-peer/1\n${ts}\n${nonce}\n${request.from ?? ""}\n${request.command}\n${digest}`;
}

/** The signature a request carries (its `auth`). */
export function seal(key: UnlockedKey, request: PeerRequest): Record<string, unknown> {
  const ts = Date.now();
  const nonce = crypto.randomUUID();
  return { key: key.publicKey, ts, nonce, sig: signData(key, sealedText(request, ts, nonce)) };
}

export class AuthenticatedTransport implements PeerTransport {
  /** Signatures of requests taken lately, in generations of WINDOW_MS: a request sent again is refused. */
  private generations: Array<Set<string>> = [new Set(), new Set(), new Set()];
  private rotated = Date.now();

  constructor(
    private readonly inner: PeerTransport,
    private readonly node: Node,
  ) {}

  async request(peer: string, request: PeerRequest, timeoutMs: number, options?: RequestOptions): Promise<Result<PeerReply>> {
    if (!nodeAuthOf(this.node).enabled) return this.inner.request(peer, request, timeoutMs, options);
    const key = nodeSigner(this.node);
    if (!key.ok) return fail(key.error.code, `'${request.command}' is not sent to ${peer}: node authentication is on and ${key.error.message}`);
    return this.inner.request(peer, { ...request, auth: seal(key.value, request) }, timeoutMs, options);
  }

  listen(host: string, port: number, handler: RequestHandler, limits?: Partial<PeerLimits>): Promise<Result<PeerListener>> {
    return this.inner.listen(
      host,
      port,
      (request, remote, asked) => {
        const why = this.refusal(request);
        return why === undefined ? handler(request, remote, asked) : Promise.resolve(this.refuse(remote, why));
      },
      limits,
    );
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Why a request is not taken, or undefined when it is. */
  private refusal(request: PeerRequest): string | undefined {
    const auth = nodeAuthOf(this.node);
    if (!auth.enabled) return undefined;
    const a = request.auth;
    if (!a) return "the message is not signed";
    const { key, ts, nonce, sig } = a;
    if (typeof key !== "string" || typeof ts !== "number" || typeof nonce !== "string" || typeof sig !== "string") return "its signature is malformed";
    const skew = Date.now() - ts;
    if (Math.abs(skew) > WINDOW_MS) return `it was signed ${Math.round(skew / 1000)} s from this node's time (clocks must agree within ${WINDOW_MS / 1000} s)`;
    if (key !== auth.key?.publicKey && !this.node.metadata.members().has(key)) return `it is signed by ${shortKey(key)}, which is not a member of the network`;
    if (!verifyData(key, sealedText(request, ts, nonce), sig)) return "its signature does not match the message";
    this.rotate();
    if (this.generations.some((g) => g.has(sig))) return "it was received before (a message sent again)";
    this.generations[0]!.add(sig);
    return undefined;
  }

  private rotate(): void {
    if (Date.now() - this.rotated < WINDOW_MS) return;
    this.rotated = Date.now();
    this.generations = [new Set(), this.generations[0]!, this.generations[1]!];
  }

  /** The refusal sent back; counted by address and logged once per address. */
  private refuse(remote: string, why: string): PeerReply {
    const address = remote.replace(/:\d+$/, "");
    const refused = nodeAuthOf(this.node).refused;
    const count = refused.get(address) ?? 0;
    if (count === 0) {
      if (refused.size >= 10_000) refused.delete(refused.keys().next().value!);
      this.node.log.warn(`node authentication: refused a message from ${address}: ${why} (logged once per address; 'get authentication' counts them)`);
    }
    refused.set(address, count + 1);
    return { ok: false, code: "forbidden", message: `${this.node.name} takes messages from members of the network only (node authentication is on): ${why}` };
  }
}
