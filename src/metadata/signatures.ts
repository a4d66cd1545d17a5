/**
 * @module metadata/signatures
 * Signed policies. `id sign` adds the signer's public key and a signature of the policy's
 * content (every attribute but `id`, `ledger` and the signature itself, in canonical JSON),
 * so a policy changed after signing, or signed by another key than it names, fails the
 * check. A policy names its author in `public_key`; a member policy signed for another
 * member (a root admitting a node) keeps the member's key there and names its author in
 * `signer`.
 */
import { type UnlockedKey, signData, verifyData } from "../security/keys.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { type Policy, body, canonicalContent, policyType } from "./policy.ts";

/** Attributes outside the signed content: derived from it (`id`), added by the ledger, or the signature. */
const UNSIGNED = new Set(["id", "ledger", "signature"]);

/** The text a policy's signature covers. */
export const signedText = (p: Policy): string => canonicalContent(p, UNSIGNED);

/**
 * The policy signed by `key`: `public_key` is the signer's when the policy names none; when it
 * names another key (a member policy for another node), the signer goes in `signer`. A date
 * is added when missing, so the date is signed too. The id is left out: the ledger derives it.
 */
export function signPolicy(p: Policy, key: UnlockedKey, now: Date = new Date()): Policy {
  const type = policyType(p);
  const attrs = { ...body(p) };
  for (const k of ["id", "ledger", "signature", "signer"]) delete attrs[k];
  if (typeof attrs.date !== "string") attrs.date = now.toISOString();
  if (attrs.public_key === undefined || attrs.public_key === "") attrs.public_key = key.publicKey;
  else if (attrs.public_key !== key.publicKey) attrs.signer = key.publicKey;
  const signed: Policy = { [type]: attrs };
  attrs.signature = signData(key, signedText(signed));
  return signed;
}

/** The key that signed the policy (whether or not the signature holds). */
export function authorOf(p: Policy): string | undefined {
  const b = body(p);
  const author = b.signer ?? b.public_key;
  return typeof author === "string" && author !== "" ? author : undefined;
}

/** A short, readable name of a key for messages: the end of its string. */
export const shortKey = (key: string): string => `…${key.slice(-12)}`;

/** The author's key when the policy's signature is the author's signature of its content. */
export function checkSignature(p: Policy): Result<string> {
  const b = body(p);
  const what = `${policyType(p)} policy${typeof b.id === "string" ? ` ${b.id}` : ""}`;
  const author = authorOf(p);
  if (typeof b.signature !== "string" || !author) return fail("forbidden", `the ${what} is not signed (id sign <policy> where password = ...)`);
  if (!verifyData(author, signedText(p), b.signature)) {
    return fail("forbidden", `the ${what} does not match its signature: it was changed after it was signed, or signed with another key than ${shortKey(author)}`);
  }
  return ok(author);
}
