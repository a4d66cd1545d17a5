/**
 * @module security/users
 * The node's REST users and whether REST asks for them. A user has a name, a password kept
 * only as its argon2id hash (`Bun.password`), a type (`admin` may change the node's state;
 * `user` may only read: GET) and an optional expiration. They are kept in
 * `<anylog_path>/data/users.json`, readable by the node's own user only (mode 0600),
 * written whole and synced. With authentication on, a request carries HTTP Basic
 * credentials; a good one is remembered for a minute (its argon2 check costs ~30 ms of CPU),
 * and after a failure an address's requests are checked one at a time, FAILURE_SPACING_MS
 * apart, so guessing is slow for that address alone.
 */
import { chmodSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Node } from "../node/node.ts";
import { nodeSlot } from "../node/slot.ts";
import { writeFileAtomic } from "../util/atomic-file.ts";
import { KeyedLock } from "../util/keyed-lock.ts";
import { type Result, errorText, fail, ok } from "../util/result.ts";

export type UserType = "admin" | "user";

interface StoredUser {
  name: string;
  hash: string;
  type: UserType;
  /** ISO time it expires, or null. */
  expires: string | null;
  created: string;
}

/** Who a request is, once its credentials are checked. */
export interface Caller {
  name: string;
  type: UserType;
}

/**
 * argon2id with OWASP's smallest recommended cost (19 MiB, 2 passes): ~30 ms a check here,
 * bearable on a Pi; Bun's default (64 MiB) took ~110 ms.
 */
const ARGON2 = { algorithm: "argon2id", memoryCost: 19_456, timeCost: 2 } as const;

/** How long a verified Authorization header is trusted without checking its password again. */
const VERIFIED_TTL_MS = 60_000;
/** Failed attempts from one address are answered at most one per this many milliseconds. */
export const FAILURE_SPACING_MS = 35;
/** How long after its last failure an address's checks stay one at a time. */
const SUSPECT_MS = 10_000;
/** Addresses whose failures are remembered (the oldest go first). */
const MAX_TRACKED_ADDRESSES = 10_000;

export class Users {
  enabled = false;
  private users = new Map<string, StoredUser>();
  private loaded = false;
  /** An Authorization header → who it is, until when. */
  private readonly verified = new Map<string, { caller: Caller; until: number }>();
  /** Per address: when its next check may run, after a failure. */
  private readonly nextFailure = new Map<string, number>();
  /** Addresses that failed lately: their checks run one at a time. */
  private readonly suspects = new KeyedLock();

  constructor(private readonly node: Node) {}

  private get file(): string {
    return join(this.node.dictionary.lookup("anylog_path") ?? ".", "data", "users.json");
  }

  private load(): void {
    if (this.loaded) return;
    this.loaded = true;
    try {
      const list = JSON.parse(readFileSync(this.file, "utf8")) as StoredUser[];
      for (const u of list) this.users.set(u.name, u);
    } catch {
      // (no users yet)
    }
  }

  private save(): Result<void> {
    const written = writeFileAtomic(this.file, `${JSON.stringify([...this.users.values()], null, 1)}\n`);
    if (!written.ok) return written;
    try {
      chmodSync(this.file, 0o600);
    } catch (e) {
      return fail("io", `cannot make ${this.file} private: ${errorText(e)}`);
    }
    return ok(undefined);
  }

  list(): Array<{ name: string; type: UserType; expires: string | null; created: string }> {
    this.load();
    return [...this.users.values()].map(({ name, type, expires, created }) => ({ name, type, expires, created }));
  }

  hasAdmin(): boolean {
    this.load();
    return [...this.users.values()].some((u) => u.type === "admin" && !expired(u));
  }

  /** Turns authentication on (refused until an admin exists, who could turn it off again) or off. */
  enable(on: boolean): Result<void> {
    if (on && !this.hasAdmin()) return fail("conflict", "no admin user yet: 'id add user where name = ... and password = ... and type = admin' first, or nobody could turn it off");
    this.enabled = on;
    return ok(undefined);
  }

  async add(name: string, password: string, type: UserType, expiresInMs?: number): Promise<Result<void>> {
    this.load();
    if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(name)) return fail("bad_value", `'${name}' is not a user name (letters, digits, _ . @ -; up to 64)`);
    if (password.length < 8) return fail("bad_value", "a password needs at least 8 characters");
    if (this.users.has(name)) return fail("conflict", `user '${name}' exists: 'id remove user where name = ${name}' first, or 'id update user password'`);
    const hash = await Bun.password.hash(password, ARGON2);
    const now = new Date();
    this.users.set(name, { name, hash, type, expires: expiresInMs ? new Date(now.getTime() + expiresInMs).toISOString() : null, created: now.toISOString() });
    const saved = this.save();
    if (!saved.ok) this.users.delete(name);
    return saved;
  }

  remove(name: string): Result<void> {
    this.load();
    const user = this.users.get(name);
    if (!user) return fail("not_found", `no user '${name}'`);
    if (this.enabled && user.type === "admin" && [...this.users.values()].filter((u) => u.type === "admin" && !expired(u)).length === 1) {
      return fail("conflict", `'${name}' is the last admin while authentication is on: add another admin, or 'set user authentication off' first`);
    }
    this.users.delete(name);
    this.forget(name);
    const saved = this.save();
    if (!saved.ok) this.users.set(name, user);
    return saved;
  }

  async updatePassword(name: string, old: string, password: string): Promise<Result<void>> {
    this.load();
    const user = this.users.get(name);
    if (!user || !(await Bun.password.verify(old, user.hash))) return fail("bad_value", `user '${name}' with that old password is not known`);
    if (password.length < 8) return fail("bad_value", "a password needs at least 8 characters");
    const before = user.hash;
    user.hash = await Bun.password.hash(password, ARGON2);
    this.forget(name);
    const saved = this.save();
    if (!saved.ok) user.hash = before;
    return saved;
  }

  /**
   * The caller an `Authorization: Basic ...` header names, or why not. A header checked
   * lately is known without a new check. An address that failed lately has its requests
   * checked one at a time, FAILURE_SPACING_MS apart, before their passwords are even
   * looked at: guessing from one address is slow, and costs the node one check at a time.
   */
  async authenticate(header: string | undefined, addressOf: () => string): Promise<Result<Caller>> {
    // (the header itself is the key: it is in memory for the request anyway)
    const key = header ?? "";
    const known = key ? this.verified.get(key) : undefined;
    if (known && known.until > Date.now()) {
      const user = this.users.get(known.caller.name);
      if (user && !expired(user)) return ok(known.caller);
    }
    const address = addressOf();
    const suspect = (this.nextFailure.get(address) ?? 0) > Date.now() - SUSPECT_MS;
    const checked = suspect ? await this.suspects.run(address, () => this.spacedCheck(header, address)) : await this.check(header);
    if (checked.ok) {
      this.verified.set(key, { caller: checked.value, until: Date.now() + VERIFIED_TTL_MS });
      if (this.verified.size > 10_000) this.verified.delete(this.verified.keys().next().value!);
      return checked;
    }
    if (!suspect) this.noteFailure(address);
    return checked;
  }

  /** A check for an address that failed lately: after its next slot, one at a time. */
  private async spacedCheck(header: string | undefined, address: string): Promise<Result<Caller>> {
    const wait = (this.nextFailure.get(address) ?? 0) - Date.now();
    if (wait > 0) await Bun.sleep(wait);
    const started = Date.now();
    const checked = await this.check(header);
    if (!checked.ok) this.noteFailure(address, started);
    return checked;
  }

  /** The address failed a check that began at `started`: its next check begins FAILURE_SPACING_MS after. */
  private noteFailure(address: string, started = Date.now()): void {
    this.nextFailure.delete(address); // (re-inserted: the map stays in order of last failure)
    this.nextFailure.set(address, started + FAILURE_SPACING_MS);
    if (this.nextFailure.size > MAX_TRACKED_ADDRESSES) this.nextFailure.delete(this.nextFailure.keys().next().value!);
  }

  private async check(header: string | undefined): Promise<Result<Caller>> {
    this.load();
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "");
    if (!m) return fail("bad_option", "this node asks for a user: send HTTP Basic credentials (curl -u name:password)");
    const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    const [name, password] = colon < 0 ? [decoded, ""] : [decoded.slice(0, colon), decoded.slice(colon + 1)];
    const user = this.users.get(name);
    // (a name that is not known costs the same check, so timing does not tell names apart)
    const good = await Bun.password.verify(password, user?.hash ?? dummyHash()).catch(() => false);
    if (!user || !good) return fail("bad_option", "wrong user name or password");
    if (expired(user)) return fail("bad_option", `user '${name}' expired at ${user.expires}`);
    return ok({ name: user.name, type: user.type });
  }

  private forget(name: string): void {
    for (const [k, v] of this.verified) if (v.caller.name === name) this.verified.delete(k);
  }
}

const expired = (u: StoredUser) => u.expires !== null && Date.parse(u.expires) <= Date.now();

/** A hash to check unknown names against (its password is random and never used), made when first needed. */
let dummy: string | undefined;
const dummyHash = () => (dummy ??= Bun.password.hashSync(crypto.randomUUID(), ARGON2));

/** The node's users. */
export const usersOf = nodeSlot((node) => new Users(node));

/** "2 hours", "30 minutes", "7 days" → milliseconds. */
export function parseDuration(text: string): Result<number> {
  const m = /^\s*(\d+)\s*(second|minute|hour|day|week)s?\s*$/i.exec(text);
  if (!m) return fail("bad_value", `'${text}' is not a duration such as "2 hours" or "7 days"`);
  const unit = { second: 1_000, minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 604_800_000 }[m[2]!.toLowerCase() as "second"];
  return ok(Number(m[1]) * unit);
}
