/**
 * The build output: the executable named by ANYLOG_BIN (make test sets it to this machine's
 * compiled executable) answers `version`, and the cross-compiled ARM64 executable is one.
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const bin = process.env.ANYLOG_BIN;
const arm64 = fileURLToPath(new URL("../dist/anylog-linux-arm64", import.meta.url));
// on an x86_64 machine the arm64 executable can still run under qemu user mode with Debian's arm64 libc
const qemu = process.arch === "x64" ? Bun.which("qemu-aarch64-static") ?? Bun.which("qemu-aarch64") : null;
const sysroot = "/usr/aarch64-linux-gnu";
const canEmulate = existsSync(arm64) && qemu !== null && existsSync(`${sysroot}/lib/ld-linux-aarch64.so.1`);

describe("build", () => {
  test.skipIf(!bin)(
    bin ? `${bin} version answers 'anylog ...' and exits 0` : "version of the compiled executable: skipped, ANYLOG_BIN is unset (make test sets it)",
    () => {
      const run = Bun.spawnSync([bin!, "version"], { stdout: "pipe", stderr: "pipe" });
      const out = run.stdout.toString();
      expect(run.exitCode).toBe(0);
      expect(out).toMatch(/^anylog \S+/);
      // make build defines the commit and target; a run from source would say "commit source"
      expect(out).not.toContain("commit source");
    },
  );

  test.skipIf(!existsSync(arm64))(
    existsSync(arm64) ? "dist/anylog-linux-arm64 is an ELF aarch64 executable" : "ELF check of dist/anylog-linux-arm64: skipped, not built (make build)",
    async () => {
      const header = new Uint8Array(await Bun.file(arm64).slice(0, 20).arrayBuffer());
      expect([...header.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]); // \x7fELF
      expect(header[4]).toBe(2); // ELFCLASS64
      expect(header[5]).toBe(1); // little-endian
      expect(new DataView(header.buffer).getUint16(18, true)).toBe(0xb7); // e_machine EM_AARCH64
    },
  );

  test.skipIf(!canEmulate)(
    canEmulate
      ? "dist/anylog-linux-arm64 version runs under qemu"
      : "arm64 executable under qemu: skipped, needs x86_64, make build and apt-get install qemu-user-static libc6-arm64-cross",
    () => {
      const run = Bun.spawnSync([qemu!, "-L", sysroot, arm64, "version"], { stdout: "pipe", stderr: "pipe" });
      expect(run.stderr.toString()).toBe("");
      expect(run.exitCode).toBe(0);
      expect(run.stdout.toString()).toMatch(/^anylog \S+ \(linux-arm64, commit /);
    },
    30_000,
  );
});
