/**
 * @module metadata/trust
 * Which policies a node accepts when node authentication is on. Every policy must carry a
 * valid signature (metadata/signatures). The network's keys start at its root: the first
 * `member` policy of type `root`, signed by its own key. A member policy signed by a member
 * makes its `public_key` a member too, and so on; any other policy is accepted when its
 * author is a member. Removing a member policy removes its key, and what it alone admitted.
 */
import { type Policy, body, policyType } from "./policy.ts";
import { authorOf, checkSignature, shortKey } from "./signatures.ts";
import { idOf } from "./local-copy.ts";

export interface Verdict {
  /** The public keys of the network's members. */
  members: Set<string>;
  /** Refused policies, with the reason. */
  refused: Map<Policy, string>;
}

/** Signature checks already made, by policy object (a local copy's policies are checked once). */
const checked = new WeakMap<Policy, string | { error: string }>();

function author(p: Policy): string | { error: string } {
  let r = checked.get(p);
  if (r === undefined) {
    const c = checkSignature(p);
    r = c.ok ? c.value : { error: c.error.message };
    checked.set(p, r);
  }
  return r;
}

const memberKey = (p: Policy): string | undefined => {
  const k = body(p).public_key;
  return typeof k === "string" && k !== "" ? k : undefined;
};

/** Judges `policies` (in ledger order) as a whole. */
export function judge(policies: Iterable<Policy>): Verdict {
  const members = new Set<string>();
  const refused = new Map<Policy, string>();
  const waiting: Policy[] = [];
  const others: Policy[] = [];
  let root: Policy | undefined;
  for (const p of policies) {
    const a = author(p);
    if (typeof a !== "string") {
      refused.set(p, a.error);
      continue;
    }
    if (policyType(p) !== "member") {
      others.push(p);
      continue;
    }
    const key = memberKey(p);
    if (!key) refused.set(p, `member policy ${idOf(p) ?? ""} names no public_key`);
    else if (String(body(p).type).toLowerCase() !== "root") waiting.push(p);
    else if (root) refused.set(p, `a second root member (${shortKey(key)}): the network's root is ${shortKey(memberKey(root)!)}`);
    else if (a !== key) refused.set(p, `the root member ${shortKey(key)} must be signed by its own key, not ${shortKey(a)}`);
    else {
      root = p;
      members.add(key);
    }
  }
  // members admit members: repeat until no member policy is admitted
  for (let admitted = true; admitted; ) {
    admitted = false;
    for (let i = 0; i < waiting.length; i++) {
      const p = waiting[i]!;
      if (!members.has(authorOf(p)!)) continue;
      members.add(memberKey(p)!);
      waiting.splice(i--, 1);
      admitted = true;
    }
  }
  const notMember = (p: Policy) =>
    root ? `its author ${shortKey(authorOf(p)!)} is not a member of the network (a member signs a member policy naming the key)` : "the network has no root member yet (a member policy of type root, signed by its own key)";
  for (const p of waiting) refused.set(p, `member ${shortKey(memberKey(p)!)}: ${notMember(p)}`);
  for (const p of others) if (!members.has(authorOf(p)!)) refused.set(p, notMember(p));
  return { members, refused };
}
