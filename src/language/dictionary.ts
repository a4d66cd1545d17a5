/**
 * @module language/dictionary
 * The node's dictionary: `!name` values. Keys are case-insensitive, values are text (a
 * command's data result is kept as its JSON text), exactly as AnyLog scripts expect.
 */
import type { Scope } from "./bind.ts";

export class Dictionary implements Scope {
  private readonly values = new Map<string, string>();

  constructor(
    initial: Record<string, string> = {},
    private readonly environment: Record<string, string | undefined> = process.env,
  ) {
    for (const [k, v] of Object.entries(initial)) this.set(k, v);
  }

  lookup(name: string): string | undefined {
    return this.values.get(name.toLowerCase());
  }

  env(name: string): string | undefined {
    return this.environment[name];
  }

  set(name: string, value: string): void {
    this.values.set(name.toLowerCase(), value);
  }

  delete(name: string): boolean {
    return this.values.delete(name.toLowerCase());
  }

  /** All entries, sorted by key. */
  entries(): Array<[string, string]> {
    return [...this.values.entries()].sort((a, b) => a[0].localeCompare(b[0]));
  }
}
