/**
 * @module util/log
 * One line per event on stderr: time, level, process name, message. Secrets are masked
 * before anything is written (`password=...`, `"password": "..."`, `user:pass@`).
 */

export type Level = "debug" | "info" | "warn" | "error";
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

let threshold: Level = (process.env.ANYLOG_LOG_LEVEL as Level | undefined) ?? "info";
if (!(threshold in order)) threshold = "info";

export function setLogLevel(level: Level): void {
  threshold = level;
}

const secretPatterns: Array<[RegExp, string | ((match: string) => string)]> = [
  [/\b(password|passwd|pwd|secret|token)(\s*=\s*)("[^"]*"|'[^']*'|[^\s,)]+)/gi, "$1$2***"],
  [/("(?:password|passwd|pwd|secret|token)"\s*:\s*)"[^"]*"/gi, '$1"***"'],
  [/(\/\/[^:/\s]+:)[^@/\s]+@/g, "$1***@"],
  [/("authorization"\s*:\s*)"[^"]*"/gi, '$1"***"'],
  [/\b(authorization\s*:\s*)(Basic|Bearer)\s+\S+/gi, "$1$2 ***"],
  // id update user password where ... old = ... and new = ...
  [/(\bid\s+update\s+user\s+password\b[^\n]*)/gi, (m: string) => m.replace(/\b(old|new)(\s*=\s*)("[^"]*"|'[^']*'|[^\s,)]+)/gi, "$1$2***")],
];

/** Masks secrets in text that may be logged or echoed. */
export function redact(text: string): string {
  let out = text;
  // (two calls: replace takes a text or a function, not either)
  for (const [re, sub] of secretPatterns) out = typeof sub === "string" ? out.replace(re, sub) : out.replace(re, sub);
  return out;
}

function write(level: Level, source: string, message: string): void {
  if (order[level] < order[threshold]) return;
  const line = redact(message).replace(/\s*\n\s*/g, " | ");
  process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${source}] ${line}\n`);
}

/** A logger bound to one source name (a process or part of the node). */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function logger(source: string): Logger {
  return {
    debug: (m) => write("debug", source, m),
    info: (m) => write("info", source, m),
    warn: (m) => write("warn", source, m),
    error: (m) => write("error", source, m),
  };
}
