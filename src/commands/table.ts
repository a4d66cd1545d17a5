/**
 * @module commands/table
 * The one command table. Command modules (and process definitions, for their `run ...`
 * command) add their declarations here when imported; the parser finds a command by its
 * longest matching words, and `help` renders from the same entries.
 */
import { editDistance } from "../util/similar.ts";
import type { CommandSpec } from "./spec.ts";

const byWords = new Map<string, CommandSpec>();
let longest = 1;

/** Adds a declaration; two commands with the same words are a defect caught at start-up. */
export function addCommand(spec: CommandSpec): CommandSpec {
  const key = spec.words.join(" ");
  if (byWords.has(key)) throw new Error(`command '${key}' is declared twice`);
  if (spec.words.some((w) => w !== w.toLowerCase())) throw new Error(`command '${key}' must be declared in lower case`);
  byWords.set(key, spec);
  longest = Math.max(longest, spec.words.length);
  return spec;
}

export function addCommands(...specs: CommandSpec[]): void {
  for (const s of specs) addCommand(s);
}

/** The command named by the longest run of `words` (already lower case), and how many words it used. */
export function findCommand(words: string[]): { spec: CommandSpec; used: number } | undefined {
  for (let n = Math.min(longest, words.length); n >= 1; n--) {
    const spec = byWords.get(words.slice(0, n).join(" "));
    if (spec) return { spec, used: n };
  }
  return undefined;
}

/** Exact look-up by the full words (for `help <command>`). */
export function commandByName(name: string): CommandSpec | undefined {
  return byWords.get(name.trim().toLowerCase().split(/\s+/).join(" "));
}

export function allCommands(): CommandSpec[] {
  return [...byWords.values()].sort((a, b) => a.words.join(" ").localeCompare(b.words.join(" ")));
}

/** The first words of all commands: a word here starts a command, not a value. */
export function isCommandWord(word: string): boolean {
  const w = word.toLowerCase();
  for (const spec of byWords.values()) if (spec.words[0] === w) return true;
  return false;
}

/** The known commands closest to what the user typed (compared word count for word count). */
export function suggestCommands(words: string[]): string[] {
  const typed = words.map((w) => w.toLowerCase());
  const scored: Array<[string, number]> = [];
  for (const name of byWords.keys()) {
    const n = name.split(" ").length;
    const attempt = typed.slice(0, n).join(" ");
    const d = editDistance(attempt, name);
    if (d <= Math.max(2, Math.floor(name.length / 4))) scored.push([name, d]);
  }
  if (scored.length === 0) {
    return [...byWords.keys()].filter((n) => n.split(" ")[0] === typed[0]).slice(0, 3);
  }
  return scored.sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0])).slice(0, 3).map(([n]) => n);
}
