/**
 * The ARM64 executable (dist/anylog-linux-arm64, cross-compiled by `make build`) on an x86_64
 * machine, under qemu user mode (Debian's qemu-user-static) with Debian's arm64 libc in
 * build/arm64-root (`make arm64-root`; `make test` fetches both): `version` names the arm64
 * build, and `anylog start` on loopback answers the REST `/health` probe and `get status`,
 * then stops cleanly on SIGTERM. Under emulation JavaScriptCore runs several times slower,
 * so the bounds are wide.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT, freePorts } from "./support/node-process.ts";

// bun's default is 5 s per test: an emulated start-up takes several seconds, more on a busy machine
setDefaultTimeout(180_000);

const arm64 = join(REPO_ROOT, "dist/anylog-linux-arm64");
const sysroot = join(REPO_ROOT, "build/arm64-root");
const qemu = Bun.which("qemu-aarch64-static") ?? Bun.which("qemu-aarch64");

const problem = ((): string | undefined => {
  if (process.arch === "arm64") return "this machine is arm64: the whole suite runs the arm64 executable natively";
  if (process.arch !== "x64") return `no qemu setup for a ${process.arch} machine`;
  if (!existsSync(arm64)) return "dist/anylog-linux-arm64 is not built (make build)";
  if (!qemu) return "qemu-aarch64-static is not installed (apt-get install qemu-user-static; make test does it as root)";
  if (!existsSync(join(sysroot, "lib/ld-linux-aarch64.so.1"))) return "no arm64 libc in build/arm64-root (make arm64-root)";
  return undefined;
})();

/** The arm64 executable under qemu with the arm64 libc; stdout and stderr collected. */
function emulate(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([qemu!, "-L", sysroot, arm64, ...args], {
    cwd: REPO_ROOT,
    env: { ...(process.env as Record<string, string>), ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const output = Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { proc, output };
}

const homes: string[] = [];
const procs: Array<ReturnType<typeof Bun.spawn>> = [];
afterAll(async () => {
  for (const p of procs) p.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.exited));
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

describe.skipIf(problem !== undefined)(problem ? `arm64 executable under qemu: skipped, ${problem}` : "arm64 executable under qemu", () => {
  test("version names the arm64 build and its commit", async () => {
    const { proc, output } = emulate(["version"]);
    procs.push(proc);
    const [code, [out, err]] = await Promise.all([proc.exited, output]);
    expect({ code, err }).toEqual({ code: 0, err: "" });
    expect(out).toMatch(/^anylog \S+ \(linux-arm64, commit [0-9a-f]+\)\n$/);
  });

  test("anylog start on loopback answers GET /health and get status, and stops with exit 0 on SIGTERM", async () => {
    const [tcp, rest] = (await freePorts(2)) as [number, number];
    const home = mkdtempSync(join(tmpdir(), "anylog-arm64-"));
    homes.push(home);
    const env: Record<string, string> = { ANYLOG_HOME: home };
    const { proc, output } = emulate(["start", "--set", `anylog_server_port=${tcp}`, "--set", `anylog_rest_port=${rest}`], env);
    procs.push(proc);
    const started = Date.now();
    let health: unknown;
    while (health === undefined) {
      if (proc.exitCode !== null) throw new Error(`the emulated node exited with ${proc.exitCode}: ${(await output)[1]}`);
      if (Date.now() - started > 150_000) throw new Error("the emulated node did not answer GET /health within 150 s");
      try {
        const r = await fetch(`http://127.0.0.1:${rest}/health`, { signal: AbortSignal.timeout(2000) });
        if (r.ok) health = await r.json();
      } catch {
        await Bun.sleep(200);
      }
    }
    console.log(`arm64 under qemu: GET /health answered ${((Date.now() - started) / 1000).toFixed(1)} s after start`);
    expect(health).toMatchObject({ status: "healthy" });
    const status = await fetch(`http://127.0.0.1:${rest}/`, { headers: { command: "get status where format=json" }, signal: AbortSignal.timeout(30_000) });
    expect(await status.json()).toMatchObject({ status: "running", address: expect.stringContaining(`:${tcp}`) });
    proc.kill("SIGTERM");
    const code = await proc.exited;
    const [, err] = await output;
    expect({ code, stopped: /\[start\] stopped/.test(err) }).toEqual({ code: 0, stopped: true });
  });
});
