/**
 * `anylog start` when a listener cannot start: a real port held by this test. Without an
 * `on error` line before it, the failed `run tcp server` / `run rest server` ends the node
 * with exit 1 and a message naming the line, the address and what to do (systemd's
 * Restart=on-failure then tries again); the node never reports itself up. With
 * `on error ignore` or `on error goto <label>` before it, the script goes on without it.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, type Server, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MINIMAL_SCRIPT, REPO_ROOT, anylogCommand, freePorts, killAll, startNode } from "./support/node-process.ts";

// bun's default is 5 s per test and hook: these bound waits for real processes, not speed
setDefaultTimeout(60_000);

let held: Server;
let heldPort: number;
let work: string;

beforeAll(async () => {
  held = createServer();
  heldPort = await new Promise<number>((ok, bad) => {
    held.once("error", bad);
    held.listen({ host: "127.0.0.1", port: 0 }, () => ok((held.address() as AddressInfo).port));
  });
  work = mkdtempSync(join(tmpdir(), "anylog-startup-"));
});

afterAll(async () => {
  await killAll();
  await new Promise<void>((done) => held.close(() => done()));
  rmSync(work, { recursive: true, force: true });
});

/** `anylog start` run to its end (bounded: a node that stays up is killed and fails the test). */
async function startToEnd(set: Record<string, string>, script?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const home = mkdtempSync(join(work, "home-"));
  const argv = [...anylogCommand(), "start", ...Object.entries(set).flatMap(([k, v]) => ["--set", `${k}=${v}`])];
  if (script !== undefined) {
    writeFileSync(join(home, "start.al"), script);
    argv.push("--script", join(home, "start.al"));
  }
  const env: Record<string, string> = { ...(process.env as Record<string, string>), ANYLOG_HOME: home };
  delete env.ANYLOG_CONFIG;
  delete env.NOTIFY_SOCKET;
  const proc = Bun.spawn(argv, { cwd: REPO_ROOT, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

const inUse = () => `cannot listen on 127.0.0.1:${heldPort}: the port is already in use`;

describe("a listener that cannot start ends anylog start with exit 1", () => {
  test("the embedded default with its REST port taken", async () => {
    const [tcp] = (await freePorts(1)) as [number];
    const r = await startToEnd({ anylog_server_port: String(tcp), anylog_rest_port: String(heldPort) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`embedded-default\\.yaml:\\d+: ${inUse()}`));
    expect(r.stderr).toContain("REST did not start");
    expect(r.stderr).toContain("so the node stops (exit 1)");
    expect(r.stderr).toContain("'on error ignore'");
    expect(r.stderr).not.toMatch(/is up/);
  });

  test("the embedded default with its TCP port taken: stops at that line, nothing after it runs", async () => {
    const [rest] = (await freePorts(1)) as [number];
    const r = await startToEnd({ anylog_server_port: String(heldPort), anylog_rest_port: String(rest) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`embedded-default\\.yaml:\\d+: ${inUse()}`));
    expect(r.stderr).toContain("TCP did not start");
    expect(r.stderr).not.toMatch(/is up|REST started|Operator started/);
  });

  test("a listener in a script run by `process`, without `on error`: exit 1 naming that script's line", async () => {
    const nested = join(work, "servers.al");
    writeFileSync(nested, `# servers\nrun tcp server where external_ip = 127.0.0.1 and external_port = ${heldPort} and bind = true\n`);
    const r = await startToEnd({}, `process ${nested}\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${nested}:2: TCP did not start (${inUse()})`);
  });
});

describe("with `on error` before the line, the script goes on without the listener", () => {
  test("on error ignore: the TCP port taken, REST answers, a clean stop exits 0", async () => {
    const node = await startNode({ script: `on error ignore\n${MINIMAL_SCRIPT}`, set: { anylog_server_port: String(heldPort) } });
    const processes = await node.rest("get processes");
    expect(processes.text).toMatch(/TCP\s+\|Not declared/);
    expect(processes.text).toMatch(/REST\s+\|Running/);
    expect(await node.stop()).toBe(0);
    expect(node.stderr).toContain(inUse());
    expect(node.stderr).toContain("TCP did not start; the script's 'on error' goes on without it");
  });

  test("on error goto <label>: the failing line jumps to the label and the node is up", async () => {
    const script = [
      "on error goto no_tcp",
      `run tcp server where external_ip = 127.0.0.1 and external_port = ${heldPort} and bind = true`,
      "echo not reached",
      ":no_tcp:",
      "run rest server where external_ip = 127.0.0.1 and external_port = !anylog_rest_port and bind = true",
      "",
    ].join("\n");
    const node = await startNode({ script, set: { anylog_server_port: String(heldPort) } });
    expect((await node.rest("get processes")).text).toMatch(/REST\s+\|Running/);
    expect(await node.stop()).toBe(0);
    expect(node.stdout).not.toContain("not reached");
  });
});
