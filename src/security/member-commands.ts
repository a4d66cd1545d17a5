/**
 * @module security/member-commands
 * Node keys and signed policies, as AnyLog writes them: `id create keys [for node]`, `get node
 * id`, `get public key`, `get private key`, `set private password`, `id sign`, `id
 * authenticate`, `set node authentication on | off`, `set authentication on | off` (users and
 * nodes together) and `get authentication`.
 */
import { extname, isAbsolute, join } from "node:path";
import type { CommandContext } from "../commands/context.ts";
import { command } from "../commands/spec.ts";
import { addCommands } from "../commands/table.ts";
import { checkSignature, shortKey, signPolicy } from "../metadata/signatures.ts";
import { preparePolicy } from "../metadata/policy.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { type KeyFile, type UnlockedKey, createKeys, publicString, readKeyFile, unlock, writeKeyFile } from "./keys.ts";
import { nodeAuthOf, nodeKeysFile, nodePublicKey, nodeSigner, unlockNodeKey } from "./node-auth.ts";
import { usersOf } from "./users.ts";

/** A keys file named by a command: a bare name is in `!id_dir`, and `.pem` is added when it has no type. */
function keysPath(ctx: CommandContext, name: string): string {
  const file = extname(name) === "" ? `${name}.pem` : name;
  return isAbsolute(file) ? file : join(ctx.node.dictionary.lookup("id_dir") ?? ".", file);
}

/** The keys a command reads: `keys_file`'s, or the node's own. */
function keysOf(ctx: CommandContext, keysFile: string | undefined): Result<KeyFile> {
  return readKeyFile(keysFile ? keysPath(ctx, keysFile) : nodeKeysFile(ctx.node));
}

/** Turns node authentication on or off: on needs the node's key open; the local copy is checked at once. */
function setNodeAuthentication(ctx: CommandContext, on: boolean): Result<string> {
  const auth = nodeAuthOf(ctx.node);
  if (on) {
    const key = nodeSigner(ctx.node);
    if (!key.ok) return fail("conflict", `node authentication needs this node's key, to sign what it sends: ${key.error.message}`);
  }
  auth.enabled = on;
  if (!on) return ok("Node authentication off");
  const dropped = ctx.node.dictionary.lookup("blockchain_file") ? ctx.node.metadata.enforce() : ok(0);
  if (!dropped.ok) return dropped;
  return ok(`Node authentication on${dropped.value > 0 ? ` (${dropped.value} policies not signed by members were dropped from the local copy: see the log)` : ""}`);
}

addCommands(
  command({
    words: ["id", "create", "keys", "for", "node"],
    peer: false,
    summary: "Makes the node's key pair (!id_dir/node_id.pem, the private key encrypted with the password) and opens it",
    method: "POST",
    options: {
      password: { type: "str", help: "protects the private key (4 characters or more)", required: true },
      if_missing: { type: "bool", help: "keys already made are opened with the password instead (a role file's first boot)" },
    },
    examples: ["id create keys for node where password = !node_password"],
    handler(ctx, args) {
      const password = args.str("password", "");
      const path = nodeKeysFile(ctx.node);
      if (args.bool("if_missing", false) && readKeyFile(path).ok) {
        const opened = unlockNodeKey(ctx.node, password);
        return opened.ok ? ok(`The node's keys exist and are open: public key ${opened.value.publicKey}`) : opened;
      }
      const keys = createKeys(password);
      if (!keys.ok) return keys;
      const written = writeKeyFile(path, keys.value);
      if (!written.ok) return written;
      const opened = unlockNodeKey(ctx.node, password);
      return opened.ok ? ok(`Keys written to ${path}: public key ${opened.value.publicKey}`) : opened;
    },
  }),
  command({
    words: ["id", "create", "keys"],
    peer: false,
    summary: "Makes a key pair for a user (or a root): written to keys_file, or shown when no file is named",
    method: "POST",
    options: {
      password: { type: "str", help: "protects the private key (4 characters or more)", required: true },
      keys_file: { type: "str", help: "file name (in !id_dir, .pem added) or path" },
    },
    paths: ["keys_file"],
    examples: ["id create keys where password = !root_password and keys_file = root_keys"],
    handler(ctx, args) {
      const keys = createKeys(args.str("password", ""));
      if (!keys.ok) return keys;
      const name = args.str("keys_file");
      if (name === undefined) return ok(keys.value.publicPem + keys.value.privatePem);
      const path = keysPath(ctx, name);
      const written = writeKeyFile(path, keys.value);
      return written.ok ? ok(`Keys written to ${path}: public key ${publicString(keys.value.publicPem)}`) : written;
    },
  }),
  command({
    words: ["get", "node", "id"],
    summary: "The node's public key: its id among the members of the network",
    method: "GET",
    handler: (ctx) => nodePublicKey(ctx.node),
  }),
  command({
    words: ["get", "public", "key"],
    summary: "A public key (PEM): the node's, or the one in keys_file",
    method: "GET",
    options: { keys_file: { type: "str", help: "file name (in !id_dir) or path" } },
    paths: ["keys_file"],
    handler(ctx, args) {
      const keys = keysOf(ctx, args.str("keys_file"));
      return keys.ok ? ok(keys.value.publicPem) : keys;
    },
  }),
  command({
    words: ["get", "private", "key"],
    peer: false,
    summary: "An encrypted private key (PEM): the node's, or the one in keys_file; it opens with its password only",
    method: "GET",
    options: { keys_file: { type: "str", help: "file name (in !id_dir) or path" } },
    paths: ["keys_file"],
    examples: ["private_key = get private key where keys_file = root_keys"],
    handler(ctx, args) {
      const keys = keysOf(ctx, args.str("keys_file"));
      return keys.ok ? ok(keys.value.privatePem) : keys;
    },
  }),
  command({
    words: ["set", "private"],
    peer: false,
    bareOptions: true,
    summary: "Opens the node's private key with its password (set private password = ...), so the node signs its policies and messages",
    method: "POST",
    options: { password: { type: "str", help: "the password of the node's private key", required: true } },
    examples: ["set private password = !node_password"],
    handler(ctx, args) {
      const opened = unlockNodeKey(ctx.node, args.str("password", ""));
      return opened.ok ? ok(`The node's private key is open: public key ${opened.value.publicKey}`) : opened;
    },
  }),
  command({
    words: ["id", "sign"],
    peer: false,
    summary: "Signs a policy: adds the signer's public_key (or signer, for another member's policy) and the signature",
    method: "GET",
    positional: [{ name: "policy", type: "json", help: "the policy JSON, or !name of one" }],
    options: {
      password: { type: "str", help: "the password of the node's private key, or of key" },
      key: { type: "str", help: "another private key (get private key where keys_file = ...): signs as that member" },
    },
    examples: ["member = id sign !member where password = !node_password", "member = id sign !member where key = !root_key and password = !root_password"],
    handler(ctx, args) {
      const prepared = preparePolicy(args.json("policy"));
      if (!prepared.ok) return prepared;
      const password = args.str("password");
      const other = args.str("key");
      let key: Result<UnlockedKey>;
      if (other !== undefined) key = password === undefined ? fail("bad_option", "'key' needs its 'password'") : unlock(other, password);
      else key = password === undefined ? nodeSigner(ctx.node) : unlockNodeKey(ctx.node, password);
      if (!key.ok) return key;
      return ok(signPolicy(prepared.value, key.value));
    },
  }),
  command({
    words: ["id", "authenticate"],
    summary: "Checks a policy's signature: who signed it, and whether the signer is a member of the network",
    method: "GET",
    positional: [{ name: "policy", type: "json", help: "the policy JSON, or !name of one" }],
    handler(ctx, args) {
      const prepared = preparePolicy(args.json("policy"));
      if (!prepared.ok) return prepared;
      const author = checkSignature(prepared.value);
      if (!author.ok) return author;
      const member = ctx.node.metadata.members().has(author.value);
      return ok(`The signature holds: signed by ${author.value} (${shortKey(author.value)}), ${member ? "a member of the network" : "not a member of the network by the local copy"}`);
    },
  }),
  command({
    words: ["set", "node", "authentication"],
    peer: false,
    summary: "Whether the node signs its policies and messages and takes them only from members of the network: on or off",
    method: "POST",
    positional: [{ name: "state", type: "bool", help: "on or off" }],
    examples: ["set node authentication on"],
    handler: (ctx, args) => setNodeAuthentication(ctx, args.bool("state", false)),
  }),
  command({
    words: ["set", "authentication"],
    peer: false,
    summary: "User and node authentication together: on or off",
    method: "POST",
    positional: [{ name: "state", type: "bool", help: "on or off" }],
    handler(ctx, args) {
      const on = args.bool("state", false);
      const users = usersOf(ctx.node);
      const before = users.enabled;
      const user = users.enable(on);
      if (!user.ok) return user;
      const node = setNodeAuthentication(ctx, on);
      if (!node.ok) {
        users.enabled = before; // both or neither
        return node;
      }
      return ok(`User authentication ${on ? "on" : "off"}; ${node.value}`);
    },
  }),
  command({
    words: ["get", "authentication"],
    summary: "Whether user and node authentication are on, the node's key, the members known, and peer messages refused",
    method: "GET",
    handler(ctx) {
      const auth = nodeAuthOf(ctx.node);
      const id = nodePublicKey(ctx.node);
      return ok({
        "user authentication": usersOf(ctx.node).enabled ? "on" : "off",
        "node authentication": auth.enabled ? "on" : "off",
        "node key": id.ok ? id.value : "none",
        "node key state": auth.key ? "open" : id.ok ? "locked" : "none",
        members: ctx.node.metadata.members().size,
        "refused peer messages": Object.fromEntries(auth.refused),
      });
    },
  }),
);
