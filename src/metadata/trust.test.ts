/**
 * Signed policies and who the network trusts (metadata/signatures, metadata/trust): the root
 * signs itself, members admit members, anything else needs a member's signature; unsigned,
 * altered and strangers' policies are refused with a reason.
 */
import { describe, expect, test } from "bun:test";
import { createKeys, unlock, type UnlockedKey } from "../security/keys.ts";
import { type Policy, body, preparePolicy } from "./policy.ts";
import { checkSignature, signPolicy } from "./signatures.ts";
import { judge } from "./trust.ts";

function key(): UnlockedKey {
  const made = createKeys("secret-pw");
  if (!made.ok) throw new Error(made.error.message);
  const opened = unlock(made.value.privatePem, "secret-pw");
  if (!opened.ok) throw new Error(opened.error.message);
  return opened.value;
}

const prepared = (p: unknown): Policy => {
  const r = preparePolicy(p);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
};
const signed = (p: unknown, k: UnlockedKey): Policy => prepared(signPolicy(prepared(p), k));

const root = key();
const node = key();
const stranger = key();
const rootPolicy = signed({ member: { type: "root", name: "master" } }, root);
const nodeMember = signed({ member: { type: "node", name: "op1", public_key: node.publicKey } }, root);
const operator = signed({ operator: { name: "op1", ip: "10.0.0.1", port: 32148 } }, node);

describe("signatures", () => {
  test("a signed policy names its signer and its signature holds; the member key stays the member's", () => {
    expect(body(rootPolicy).public_key).toBe(root.publicKey);
    expect(checkSignature(rootPolicy)).toEqual({ ok: true, value: root.publicKey });
    expect(body(nodeMember).public_key).toBe(node.publicKey);
    expect(body(nodeMember).signer).toBe(root.publicKey);
    expect(checkSignature(nodeMember)).toEqual({ ok: true, value: root.publicKey });
  });

  test("an unsigned policy and one changed after signing fail the check, saying so", () => {
    const unsigned = checkSignature(prepared({ operator: { name: "x", ip: "10.0.0.2", port: 1 } }));
    expect(unsigned.ok).toBe(false);
    if (!unsigned.ok) expect(unsigned.error.message).toContain("not signed");
    const altered = structuredClone(operator);
    body(altered).ip = "10.6.6.6";
    const r = checkSignature(altered);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain("changed after it was signed");
  });

  test("the id, ledger and date the ledger adds do not break the signature; a new date does", () => {
    const again = prepared(JSON.parse(JSON.stringify(operator)));
    expect(checkSignature(again).ok).toBe(true);
    const redated = structuredClone(operator);
    body(redated).date = "2020-01-01T00:00:00.000Z";
    expect(checkSignature(redated).ok).toBe(false);
  });
});

describe("trust", () => {
  test("the root, the members it admits and their policies are accepted", () => {
    const v = judge([rootPolicy, nodeMember, operator]);
    expect(v.refused.size).toBe(0);
    expect([...v.members].sort()).toEqual([root.publicKey, node.publicKey].sort());
  });

  test("a member policy listed after what its key signed is still accepted (the copy is judged whole)", () => {
    expect(judge([operator, nodeMember, rootPolicy]).refused.size).toBe(0);
  });

  test("without a root nothing is accepted, and the reason says so", () => {
    const v = judge([nodeMember, operator]);
    expect(v.refused.size).toBe(2);
    expect([...v.refused.values()][0]).toContain("no root member");
  });

  test("a stranger's policy, a self-admitted member, a second root and an unsigned policy are refused", () => {
    const foreign = signed({ operator: { name: "rogue", ip: "10.6.6.6", port: 32148 } }, stranger);
    const selfMember = signed({ member: { type: "node", name: "me" } }, stranger);
    const secondRoot = signed({ member: { type: "root", name: "me too" } }, stranger);
    const unsigned = prepared({ cluster: { name: "c" } });
    const v = judge([rootPolicy, nodeMember, operator, foreign, selfMember, secondRoot, unsigned]);
    expect(v.refused.get(foreign)).toContain("not a member");
    expect(v.refused.get(selfMember)).toContain("not a member");
    expect(v.refused.get(secondRoot)).toContain("second root");
    expect(v.refused.get(unsigned)).toContain("not signed");
    expect(v.refused.has(operator)).toBe(false);
    expect(v.members.has(stranger.publicKey)).toBe(false);
  });

  test("removing a member policy removes its key and what it signed", () => {
    const v = judge([rootPolicy, operator]);
    expect(v.refused.get(operator)).toContain("not a member");
  });

  test("a root signed by another key is refused", () => {
    const forgedRoot = signed({ member: { type: "root", name: "m", public_key: root.publicKey } }, stranger);
    expect(judge([forgedRoot]).refused.get(forgedRoot)).toContain("signed by its own key");
  });

  test("a wrong password does not open a key", () => {
    const made = createKeys("right-pw");
    if (!made.ok) throw new Error(made.error.message);
    const r = unlock(made.value.privatePem, "wrong-pw");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain("password is wrong");
  });
});
