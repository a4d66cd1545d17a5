/**
 * @module security/keys
 * Key pairs of members (nodes and users): Ed25519, the private key kept as encrypted PKCS#8
 * PEM (AES-256 under the member's password), the public key written as AnyLog's "public
 * string" (the base64 body of its PEM, one line), which is what policies and messages carry.
 * A keys file holds both PEM blocks. Signing and checking are here and nowhere else.
 */
import { type KeyObject, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { type Result, errorText, fail, ok } from "../util/result.ts";

/** A member's keys as written in a keys file: the public key PEM and the encrypted private key PEM. */
export interface KeyFile {
  publicPem: string;
  privatePem: string;
}

/** A private key unlocked with its password, with the public string that names it. */
export interface UnlockedKey {
  privateKey: KeyObject;
  publicKey: string;
}

/** Passwords shorter than this would make the encrypted private key easy to open. */
const MIN_PASSWORD = 4;

/** Makes a key pair; the private key is encrypted with `password`. */
export function createKeys(password: string): Result<KeyFile> {
  if (password.length < MIN_PASSWORD) return fail("bad_value", `the key's password must have ${MIN_PASSWORD} characters or more`);
  const pair = generateKeyPairSync("ed25519", {
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: password },
  });
  return ok({ publicPem: pair.publicKey, privatePem: pair.privateKey });
}

/** The one-line public string of a public key PEM (its base64 body). */
export function publicString(publicPem: string): string {
  return publicPem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
}

/** The PEM of a private key (or a public key) given as its one-line string, or already PEM. */
export function asPem(text: string, kind: "ENCRYPTED PRIVATE KEY" | "PUBLIC KEY"): string {
  if (text.includes("-----BEGIN")) return text;
  const body = text.replace(/\s+/g, "");
  return `-----BEGIN ${kind}-----\n${body.match(/.{1,64}/g)?.join("\n") ?? ""}\n-----END ${kind}-----\n`;
}

/** Opens an encrypted private key with its password. */
export function unlock(privatePem: string, password: string): Result<UnlockedKey> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: asPem(privatePem, "ENCRYPTED PRIVATE KEY"), passphrase: password });
  } catch (e) {
    const why = /decrypt|bad_decrypt|passphrase/i.test(errorText(e)) ? "the password is wrong" : `it is not an encrypted private key (${errorText(e)})`;
    return fail("forbidden", `the private key cannot be opened: ${why}`);
  }
  if (privateKey.asymmetricKeyType !== "ed25519") return fail("bad_value", `the private key is ${privateKey.asymmetricKeyType}, not an Ed25519 member key`);
  const spki = createPublicKey(privateKey).export({ type: "spki", format: "pem" }).toString();
  return ok({ privateKey, publicKey: publicString(spki) });
}

/** The base64 signature of `data`. */
export function signData(key: UnlockedKey, data: string | Uint8Array): string {
  return sign(null, typeof data === "string" ? Buffer.from(data) : data, key.privateKey).toString("base64");
}

/** Public keys already parsed, by their string: a member's key is parsed once, not per message. */
const parsed = new Map<string, KeyObject | null>();

/** Whether `signature` is `publicKey`'s signature of `data`; a malformed key or signature is false. */
export function verifyData(publicKey: string, data: string | Uint8Array, signature: string): boolean {
  let key = parsed.get(publicKey);
  if (key === undefined) {
    try {
      key = createPublicKey(asPem(publicKey, "PUBLIC KEY"));
      if (key.asymmetricKeyType !== "ed25519") key = null;
    } catch {
      key = null;
    }
    if (parsed.size > 10_000) parsed.clear();
    parsed.set(publicKey, key);
  }
  if (!key) return false;
  try {
    return verify(null, typeof data === "string" ? Buffer.from(data) : data, key, Buffer.from(signature, "base64"));
  } catch {
    return false;
  }
}

/** Reads a keys file (the two PEM blocks, in any order). */
export function readKeyFile(path: string): Result<KeyFile> {
  if (!existsSync(path)) return fail("not_found", `no keys file ${path}: 'id create keys' makes one`);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    return fail("io", `the keys file ${path} cannot be read: ${errorText(e)}`);
  }
  const block = (kind: string) => text.match(new RegExp(`-----BEGIN ${kind}-----[\\s\\S]+?-----END ${kind}-----\\n?`))?.[0];
  const publicPem = block("PUBLIC KEY");
  const privatePem = block("ENCRYPTED PRIVATE KEY");
  if (!publicPem || !privatePem) return fail("bad_value", `${path} is not a keys file: it needs a PUBLIC KEY and an ENCRYPTED PRIVATE KEY block`);
  return ok({ publicPem, privatePem });
}

/** Writes a new keys file, readable by its owner only; an existing one is never replaced. */
export function writeKeyFile(path: string, keys: KeyFile): Result<void> {
  if (existsSync(path)) return fail("conflict", `${path} exists: keys are made once (remove the file to make new ones, and update the member policy that names the old key)`);
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, keys.publicPem + keys.privatePem, { mode: 0o600, flag: "wx" });
    chmodSync(path, 0o600);
  } catch (e) {
    return fail("io", `cannot write the keys file ${path}: ${errorText(e)}`);
  }
  return ok(undefined);
}
