/**
 * @module cli/output
 * How replies look on a terminal: text as it is, data as indented JSON.
 */
import type { Reply } from "../commands/spec.ts";

export function formatReply(reply: Reply): string {
  if (reply === undefined || reply === null) return "";
  if (typeof reply === "object") return JSON.stringify(reply, null, 2);
  return String(reply);
}

export function printReply(reply: Reply): void {
  const text = formatReply(reply);
  if (text !== "") process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}
