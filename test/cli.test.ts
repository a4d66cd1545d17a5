/**
 * The executable's other calls against a real node: `anylog cmd` (GET, --post, error
 * replies exit 1, non-ASCII commands, an unreachable node), `anylog version`, bad
 * invocations (exit 2 with usage). `anylog start` with a port already taken: startup.test.ts.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { type AnylogNode, MINIMAL_SCRIPT, REPO_ROOT, anylogCommand, freePort, killAll, startNode } from "./support/node-process.ts";

// bun's default is 5 s per test and hook: these bound waits for real processes, not speed
setDefaultTimeout(60_000);

/** Runs the executable to its end; bounded. */
async function anylog(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([...anylogCommand(), ...args], {
    cwd: REPO_ROOT,
    env: { ...(process.env as Record<string, string>), ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

describe("anylog cmd", () => {
  let node: AnylogNode;
  beforeAll(async () => {
    node = await startNode({ script: MINIMAL_SCRIPT });
  });
  afterAll(killAll);

  const cmd = (...words: string[]) => anylog(["cmd", "--node", `127.0.0.1:${node.restPort}`, ...words]);

  test("a read command prints the reply and exits 0", async () => {
    const r = await cmd("get", "status");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("running");
    expect(r.stdout).toContain(String(node.tcpPort));
  });

  test("an error reply exits 1 with the error on stderr", async () => {
    const r = await cmd("get", "statu");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("400");
    expect(r.stderr).toContain("get status");
    expect(r.stdout).toBe("");
  });

  test("a state change needs --post", async () => {
    const get = await cmd("set", "cli_key", "=", "1");
    expect(get.code).toBe(1);
    expect(get.stderr).toContain("405");
    const post = await cmd("--post", "set", "cli_key", "=", "1");
    expect(post.code).toBe(0);
    expect((await node.rest("get dictionary where format=json")).json).toMatchObject({ cli_key: "1" });
  });

  test("Latin-1 and wider UTF-8 in a command arrive as written", async () => {
    const latin = await cmd("echo", "Zürich", "façade");
    expect(latin.stderr).toBe("");
    expect(latin.code).toBe(0);
    expect(latin.stdout).toBe("Zürich façade\n");
    const wide = await cmd("echo", "日本", "🚀");
    expect(wide.stderr).toBe("");
    expect(wide.code).toBe(0);
    expect(wide.stdout).toBe("日本 🚀\n");
    const set = await cmd("--post", "set", "city", "=", "Zürich");
    expect(set.code).toBe(0);
    expect((await node.rest("get dictionary where format=json")).json).toMatchObject({ city: "Zürich" });
  });

  test("a node that is not there: exit 1 naming it", async () => {
    const port = await freePort();
    const r = await anylog(["cmd", "--node", `127.0.0.1:${port}`, "get", "status"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`127.0.0.1:${port}`);
  });

  test("--post exit node stops the node, which exits 0", async () => {
    const r = await cmd("--post", "exit", "node");
    expect(r.code).toBe(0);
    expect(await node.waitExit()).toBe(0);
  });
});

describe("the executable's calls", () => {
  test("version prints one line and exits 0", async () => {
    const r = await anylog(["version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
  });

  test("an unknown call exits 2 with the usage", async () => {
    const r = await anylog(["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("frobnicate");
    expect(r.stderr).toContain("usage:");
  });

  test("--set without KEY=VALUE exits 2 naming it", async () => {
    const r = await anylog(["start", "--set", "nonsense"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("nonsense");
  });

  test("cmd without a command exits 2", async () => {
    const r = await anylog(["cmd"]);
    expect(r.code).toBe(2);
  });
});
