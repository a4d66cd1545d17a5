/**
 * `monitor` on an in-process node, as a peer's command arrives: the sender is known by the
 * name and IP it declares (else by its `name` option, or the connection's IP); an info that is
 * not an object, or too large, is refused; `get monitored` and `reset monitored` answer.
 */
import "../features.ts";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Node } from "../node/node.ts";

const home = mkdtempSync(join(tmpdir(), "anylog-monitor-cmd-"));
const node = new Node({ env: { ANYLOG_HOME: home }, set: { node_name: "agg" } });
afterAll(async () => {
  await node.shutdown("test done");
  rmSync(home, { recursive: true, force: true });
});

const fromPeer = (from: string | undefined, peer = "10.0.0.9:51234") => ({ ...node.context("peer"), peer, from });

test("a peer's report is kept under the name and IP it declares, else its option or its connection's IP", async () => {
  expect((await node.execute('monitor operators where info = {"CPU Percent": 3.5}', fromPeer("op1@10.0.0.7"))).ok).toBe(true);
  expect((await node.execute('monitor operators where name = op2 and info = {"CPU Percent": 1}', fromPeer(undefined))).ok).toBe(true);
  expect((await node.execute('monitor Operators where info = {"Rows": 4}', fromPeer(undefined, "10.0.0.3:40000"))).ok).toBe(true);
  const r = await node.execute("get monitored operators");
  if (!r.ok) throw new Error(r.error.message);
  expect(Object.keys(r.value as object).sort()).toEqual(["10.0.0.3", "10.0.0.7.op1", "10.0.0.9.op2"]);
  expect((r.value as Record<string, Record<string, unknown>>)["10.0.0.7.op1"]).toMatchObject({ "CPU Percent": 3.5, Status: "Reporting", Reports: 1 });
  expect((await node.execute("get monitored")).ok && (await node.execute("get monitored where format = json"))).toMatchObject({ ok: true, value: ["operators"] });
});

test("an info that is not an object, or over 64 KB, is refused naming why; reset forgets the topic's nodes", async () => {
  const list = await node.execute("monitor operators where info = [1, 2]", fromPeer("x@10.0.0.1"));
  expect(list.ok).toBe(false);
  if (!list.ok) expect(list.error.message).toContain("JSON object");
  const big = await node.execute(`monitor operators where info = {"x": "${"a".repeat(70_000)}"}`, fromPeer("x@10.0.0.1"));
  expect(big.ok).toBe(false);
  if (!big.ok) expect(big.error.message).toContain("over 64 KB");
  expect((await node.execute("reset monitored operators")).ok).toBe(true);
  expect(await node.execute("get monitored operators")).toMatchObject({ ok: true, value: {} });
});
