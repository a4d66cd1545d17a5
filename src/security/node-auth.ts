/**
 * @module security/node-auth
 * Node authentication of one node: whether it is on, and the node's own key — the keys file
 * `!id_dir/node_id.pem` made by `id create keys for node`, opened with its password
 * (`set private password`, or the role file's password file at start) and then held in
 * memory to sign the node's policies and messages. With it on, the node signs what it
 * declares and sends, and accepts policies and messages only from members (metadata/trust,
 * security/peer-auth).
 */
import { join } from "node:path";
import type { Node } from "../node/node.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { type KeyFile, type UnlockedKey, publicString, readKeyFile, unlock } from "./keys.ts";

export interface NodeAuth {
  enabled: boolean;
  /** The node's key, once opened with its password. */
  key?: UnlockedKey;
  /** Peer messages refused, by sender address (security/peer-auth). */
  refused: Map<string, number>;
}

const states = new WeakMap<Node, NodeAuth>();

export function nodeAuthOf(node: Node): NodeAuth {
  let s = states.get(node);
  if (!s) states.set(node, (s = { enabled: false, refused: new Map() }));
  return s;
}

/** The node's keys file. */
export function nodeKeysFile(node: Node): string {
  const dir = node.dictionary.lookup("id_dir") ?? join(node.dictionary.lookup("anylog_path") ?? ".", "keys");
  return join(dir, "node_id.pem");
}

/** The node's keys file, read. */
function nodeKeys(node: Node): Result<KeyFile> {
  const keys = readKeyFile(nodeKeysFile(node));
  if (!keys.ok && keys.error.code === "not_found") return fail("not_found", "this node has no keys: 'id create keys for node where password = ...' makes them");
  return keys;
}

/** The node's public key (its id in the network), from its keys file. */
export function nodePublicKey(node: Node): Result<string> {
  const keys = nodeKeys(node);
  return keys.ok ? ok(publicString(keys.value.publicPem)) : keys;
}

/** Opens the node's private key with its password and keeps it for signing. */
export function unlockNodeKey(node: Node, password: string): Result<UnlockedKey> {
  const keys = nodeKeys(node);
  if (!keys.ok) return keys;
  const key = unlock(keys.value.privatePem, password);
  if (key.ok) nodeAuthOf(node).key = key.value;
  return key;
}

/** The key the node signs with, or the error that says how to open it. */
export function nodeSigner(node: Node): Result<UnlockedKey> {
  const key = nodeAuthOf(node).key;
  if (key) return ok(key);
  const id = nodePublicKey(node);
  if (!id.ok) return id;
  return fail("forbidden", "this node's private key is locked: 'set private password = ...' opens it (or the role file's security.node_key_password_file at start)");
}
