/**
 * @module metadata/policy
 * Policies: JSON objects with one root key, the policy type (`{"operator": {...}}`).
 * Validation per type, the deterministic id (md5 of the content in canonical form, so the
 * same declaration has the same id on every node), and `prepare` (id and date added).
 */
import { type Result, fail, ok } from "../util/result.ts";
import { closest } from "../util/similar.ts";

export type PolicyBody = Record<string, unknown>;
export type Policy = Record<string, PolicyBody>;

/** Attributes a policy of each type must have; an inner array means "one of these". */
const REQUIRED: Record<string, Array<string | string[]>> = {
  master: [["ip", "external_ip", "internal_ip", "local_ip"], "port"],
  operator: [["ip", "local_ip"], "port"],
  publisher: [["ip", "local_ip"], "port"],
  query: [["ip", "local_ip"], "port"],
  cluster: ["name"],
  table: ["name", "dbms"],
  mapping: [],
  config: [],
  distribution: [],
  // a member of the network (node authentication): its key, and root, node or user
  member: ["type"],
};

const MEMBER_TYPES = ["root", "node", "user"];

export const POLICY_TYPES = Object.keys(REQUIRED);

/** Attributes the node adds, left out of the id. */
const NOT_CONTENT = new Set(["id", "date", "ledger"]);

const PORT_KEYS = new Set(["port", "rest_port", "broker_port"]);

/** The policy type (root key) of a policy-shaped value, if it has that shape. */
export function policyType(p: Policy): string {
  return Object.keys(p)[0]!;
}

export function body(p: Policy): PolicyBody {
  return p[policyType(p)]!;
}

/** Checks the shape, the type and the attributes the type needs. */
export function validatePolicy(value: unknown): Result<Policy> {
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return fail("bad_value", "the policy is not JSON");
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail("bad_value", 'a policy is a JSON object with one key, its type: {"operator": {...}}');
  }
  const keys = Object.keys(value);
  if (keys.length !== 1) {
    return fail("bad_value", `a policy has exactly one root key (its type); this one has ${keys.length}: ${keys.join(", ") || "none"}`);
  }
  const type = keys[0]!;
  const inner = (value as Record<string, unknown>)[type];
  if (typeof inner !== "object" || inner === null || Array.isArray(inner)) {
    return fail("bad_value", `policy '${type}': its value must be a JSON object of attributes`);
  }
  const required = REQUIRED[type];
  if (!required) {
    const near = closest(type, POLICY_TYPES, 1);
    return fail("bad_value", `unknown policy type '${type}'${near.length ? ` (did you mean '${near[0]}'?)` : ""}; known types: ${POLICY_TYPES.join(", ")}`);
  }
  const attrs = inner as PolicyBody;
  const present = (k: string) => attrs[k] !== undefined && attrs[k] !== null && attrs[k] !== "";
  for (const need of required) {
    const options = Array.isArray(need) ? need : [need];
    if (!options.some(present)) {
      return fail("bad_value", `a ${type} policy needs '${options.join("' or '")}'`);
    }
  }
  if (type === "member" && !MEMBER_TYPES.includes(String(attrs.type).toLowerCase())) {
    return fail("bad_value", `a member policy's type is ${MEMBER_TYPES.join(", ")}, not '${String(attrs.type)}'`);
  }
  for (const k of PORT_KEYS) {
    if (!present(k)) continue;
    const port = Number(attrs[k]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      return fail("bad_value", `${type} policy: '${k}' must be a port number (1-65535), not '${String(attrs[k])}'`);
    }
  }
  return ok({ [type]: attrs });
}

/** JSON with keys sorted at every level: the same content always gives the same text. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

/** The policy in canonical JSON without the attributes in `omit` (what its id, or its signature, covers). */
export function canonicalContent(p: Policy, omit: ReadonlySet<string>): string {
  const content = Object.fromEntries(Object.entries(body(p)).filter(([k]) => !omit.has(k)));
  return canonicalJson({ [policyType(p)]: content });
}

/** The policy's id: md5 of its content (without id, date and ledger). */
export function policyId(p: Policy): string {
  return new Bun.CryptoHasher("md5").update(canonicalContent(p, NOT_CONTENT)).digest("hex");
}

/** Validates and completes a policy: `id` from its content, `date` (kept when present), `ledger`. */
export function preparePolicy(value: unknown, now: Date = new Date()): Result<Policy> {
  const v = validatePolicy(value);
  if (!v.ok) return v;
  const type = policyType(v.value);
  const attrs = { ...body(v.value) };
  for (const k of PORT_KEYS) if (attrs[k] !== undefined && attrs[k] !== "") attrs[k] = Number(attrs[k]);
  const prepared: Policy = { [type]: attrs };
  attrs.id = policyId(prepared);
  if (typeof attrs.date !== "string") attrs.date = now.toISOString();
  if (attrs.ledger === undefined) attrs.ledger = "global";
  return ok(prepared);
}

/** `create policy <type> where k = v ...`: numbers for port attributes, text for the rest. */
export function policyFromOptions(type: string, options: Record<string, unknown>): Result<Policy> {
  const attrs: PolicyBody = {};
  for (const [k, v] of Object.entries(options)) {
    const value = Array.isArray(v) && v.length === 1 ? v[0] : v;
    attrs[k] = PORT_KEYS.has(k) && /^\d+$/.test(String(value)) ? Number(value) : value;
  }
  return validatePolicy({ [type.toLowerCase()]: attrs });
}
