/**
 * Shared by the benchmarks: a markdown table of figures, printed, and appended to
 * bench/RESULTS.md with the date and machine when the run was given `--record`.
 */
import { appendFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";

export function machineLine(): string {
  return `${new Date().toISOString().slice(0, 10)}, \`nproc\` ${cpus().length}, ${cpus()[0]?.model ?? "unknown CPU"}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, bun ${Bun.version}`;
}

/** Prints the table; with --record appends `## title`, the machine, `intro`, the table and `after` (when given). */
export function report(title: string, intro: string, header: string[], rows: string[][], after?: string): void {
  const table = [`| ${header.join(" | ")} |`, `| --- |${" ---: |".repeat(header.length - 1)}`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
  console.log(table);
  if (process.argv.includes("--record")) {
    appendFileSync(join(import.meta.dir, "..", "RESULTS.md"), `\n## ${title}\n\n${machineLine()}. ${intro}\n\n${table}\n${after ? `\n${after}\n` : ""}`);
  }
}
