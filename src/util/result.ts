/**
 * @module util/result
 * Errors as values: every fallible step returns a `Result`, never throws to its caller.
 * An `AnyLogError` carries a stable `code` (for programs) and a `message` a user can act on.
 */

/** Stable error codes; REST maps them to HTTP statuses in one place (network/rest). */
export type ErrorCode =
  | "syntax" // the command text cannot be parsed
  | "unknown_command" // no command has these words
  | "bad_option" // an option is unknown, missing or of the wrong type
  | "bad_value" // a value (dictionary reference, JSON, number) is wrong
  | "wrong_method" // a state-changing command sent as a REST GET
  | "forbidden" // the sender may not run this command (a peer, a read-only user)
  | "not_found" // a named thing (process, file, dictionary key) does not exist
  | "conflict" // the thing is already in the requested state (e.g. a server already running)
  | "unavailable" // the process needed for this is not running on this node
  | "peer_failed" // a peer did not answer, refused, or replied with an error
  | "timeout" // no answer within the allowed time
  | "too_large" // a message or file over a size limit of the node that received it
  | "io" // a file or socket operation failed
  | "internal"; // a defect in the node: logged with its stack, reported without it

export class AnyLogError {
  constructor(
    readonly code: ErrorCode,
    readonly message: string,
    /** The command the error belongs to, when known (REST replies echo it). */
    readonly command?: string,
  ) {}

  /** The same error, attributed to `command` (keeps an existing attribution). */
  withCommand(command: string): AnyLogError {
    return this.command ? this : new AnyLogError(this.code, this.message, command);
  }

  toString(): string {
    return this.message;
  }
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: AnyLogError };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });

export const fail = <T = never>(code: ErrorCode, message: string, command?: string): Result<T> => ({
  ok: false,
  error: new AnyLogError(code, message, command),
});

/** Turns an unexpected exception into an `internal` error value (the stack goes to the log only). */
export function fromException(e: unknown, code: ErrorCode = "internal"): AnyLogError {
  const message = e instanceof Error ? e.message : String(e);
  return new AnyLogError(code, message);
}

/** The text of a caught exception, for a message: its `message` when it is an Error. */
export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
