/**
 * The console: with a terminal on stdin, `anylog start` shows `AL <node_name> +> ` and runs
 * what is typed, line after line in order (pasted lines too). The terminal comes from
 * util-linux `script`; the test says it skipped where that is missing.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT, anylogCommand } from "./support/node-process.ts";

setDefaultTimeout(30_000);
const hasScript = Bun.spawnSync(["sh", "-c", "command -v script"]).exitCode === 0;
if (!hasScript) console.warn("console test skipped: util-linux 'script' is not installed (apt-get install bsdutils)");

test.skipIf(!hasScript)("typed lines run in order at the AL prompt", async () => {
  const dir = mkdtempSync(join(tmpdir(), "anylog-console-"));
  try {
    const input = join(dir, "typed");
    writeFileSync(input, "run tcp server 127.0.0.1 0 where bind = true\nx = get node name\necho hello !x\nget processes where format = json\nexit node\n");
    const command = [...anylogCommand(), "start", "--script", "/dev/null", "--set", "node_name=console-1"].map((a) => `'${a}'`).join(" ");
    const transcript = join(dir, "transcript");
    const p = Bun.spawn(["script", "-qec", command, transcript], {
      cwd: REPO_ROOT,
      env: { ...process.env, ANYLOG_HOME: dir },
      stdin: Bun.file(input),
      stdout: "ignore",
      stderr: "ignore",
    });
    expect(await p.exited).toBe(0);
    const out = readFileSync(transcript, "utf8").replace(/\r/g, "");
    expect(out).toContain("AL console-1 +> ");
    expect(out).toContain("hello console-1");
    expect(out).toMatch(/"TCP": \{\s*"Status": "Running"/);
    expect(out).not.toContain("Error:");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
