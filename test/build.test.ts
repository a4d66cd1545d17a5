/**
 * The build output: the executable named by ANYLOG_BIN (make test sets it to this machine's
 * compiled executable) answers `version`, and the cross-compiled ARM64 executable is one
 * (test/arm64.test.ts runs it under qemu).
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const bin = process.env.ANYLOG_BIN;
const arm64 = fileURLToPath(new URL("../dist/anylog-linux-arm64", import.meta.url));

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
});
