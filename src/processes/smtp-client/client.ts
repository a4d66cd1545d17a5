/**
 * @module processes/smtp-client/client
 * The SMTP client process (`run smtp client`): the server's settings, one connection per
 * mail through nodemailer (SMTPS on 465 with `ssl = true`, else STARTTLS when the server
 * offers it), and the sending rules: one mail at a time, a server that is down or answers
 * "try later" retried with a doubling wait a bounded number of times, a refusal (login,
 * recipient, certificate) reported at once. Never throws; every outcome is a `Result`, and
 * `get smtp client` shows the state, the counts and the last error.
 */
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { createTransport, type NodemailerError, type SMTPSentMessageInfo, type Transporter } from "nodemailer";
import type { Args } from "../../commands/spec.ts";
import { logger } from "../../util/log.ts";
import { type ErrorCode, type Result, errorText, fail, ok } from "../../util/result.ts";
import type { NodeProcess, ProcessStatus } from "../registry.ts";
import type { Mail } from "./mail.ts";

const log = logger("smtp");

/** Tries per mail, and the first wait between them (then 2 s, 4 s): at most ~7 s of waiting. */
export const ATTEMPTS = 4;
const FIRST_WAIT_MS = 1_000;
/** Mails that may wait their turn; more are refused at once rather than piled up. */
const MAX_WAITING = 16;
/** Bounds on each step of one connection, so a silent server cannot hold a mail for minutes. */
const TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000, dnsTimeout: 10_000 };
/** How long `exit smtp` waits for a mail on the wire before leaving it. */
const STOP_WAIT_MS = 10_000;

export interface SmtpSettings {
  host: string;
  port: number;
  /** TLS from the first byte (SMTPS); otherwise STARTTLS when the server offers it. */
  ssl: boolean;
  email: string;
  password: string;
  /** A CA to trust besides the system's (a plant's own mail relay). */
  caFile?: string;
}

type State = "not running" | "not checked" | "ready" | "unreachable" | "refused";

/** `run smtp client` options with AnyLog's defaults: smtp.gmail.com, 465 with ssl, else 587. */
export function settingsFrom(args: Args): Result<SmtpSettings> {
  const host = (args.str("host") ?? "smtp.gmail.com").trim();
  if (host === "" || /[\s/]/.test(host)) return fail("bad_option", `'run smtp client' host '${host}' is not a host name or address`);
  const given = args.int("port");
  if (given !== undefined && (given < 1 || given > 65535)) return fail("bad_option", `'run smtp client' port ${given} is not a TCP port (1 to 65535)`);
  // port 465 is SMTPS: plain SMTP there would wait for a greeting that never comes
  const ssl = args.has("ssl") ? args.bool("ssl", false) : given === 465;
  const email = (args.str("email") ?? "").trim();
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) return fail("bad_option", `'run smtp client' email '${email}' is not an e-mail address: it is the sender and the login`);
  const password = args.str("password") ?? "";
  if (password === "") return fail("bad_option", "'run smtp client' needs the password of the sender's account (password = ...)");
  const caFile = args.str("tls_ca");
  return ok({ host, port: given ?? (ssl ? 465 : 587), ssl, email, password, caFile });
}

/** A host name or address of this machine's loopback interface. */
export const isLoopback = (host: string): boolean => host === "localhost" || /^127\./.test(host) || host === "::1";

/** Whether trying the same mail again later may work: the server is down or said "try later". */
export function isTransient(e: NodemailerError): boolean {
  if (tlsRefused(e)) return false; // (nodemailer reports a certificate it cannot trust as a socket error)
  if (typeof e.responseCode === "number") return e.responseCode === 421 || e.responseCode === 503 || (e.responseCode >= 400 && e.responseCode < 500);
  return ["ECONNECTION", "ESOCKET", "ETIMEDOUT", "EDNS"].includes(e.code ?? "");
}

/** The TLS handshake failed: a certificate that is not trusted, expired or for another name. */
function tlsRefused(e: NodemailerError): boolean {
  return e.code === "ETLS" || /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(e.originalCode ?? "") || /certificate|self[- ]signed/i.test(e.message ?? "");
}

/** What went wrong, in words a user can act on. */
export function describeError(e: NodemailerError, s: Pick<SmtpSettings, "host" | "port" | "email">): string {
  const at = `${s.host}:${s.port}`;
  const said = e.response ? `: ${e.response}` : e.message ? `: ${e.message}` : "";
  if (e.code === "EAUTH") return `the SMTP server ${at} refused the login of ${s.email}${said} (check email and password)`;
  if (/STARTTLS/i.test(e.message ?? "") && !/certificate|self[- ]signed/i.test(e.message ?? "")) {
    return `the SMTP server ${at} does not offer STARTTLS${said}: the password is not sent in clear to a server off this machine (use its SMTPS port with ssl = true, or a relay that speaks TLS)`;
  }
  if (tlsRefused(e)) {
    return `TLS with the SMTP server ${at} failed: ${e.message} (a server with its own CA: add tls_ca = <its CA certificate file>)`;
  }
  if (e.code === "EENVELOPE") return `the SMTP server ${at} refused the envelope${said}`;
  if (isTransient(e) && e.responseCode === undefined) return `the SMTP server ${at} is not reachable: ${e.message}`;
  return `the SMTP server ${at} answered an error${said}`;
}

export class SmtpClient implements NodeProcess {
  private settings?: SmtpSettings;
  private transport?: Transporter<SMTPSentMessageInfo>;
  private stopping?: AbortController;
  /** The mail being sent and those waiting their turn (one at a time). */
  private line: Promise<unknown> = Promise.resolve();
  private waiting = 0;
  private state: State = "not running";
  private sent = 0;
  private failed = 0;
  private retries = 0;
  private lastSent?: Date;
  private lastError?: string;
  private lastErrorAt?: Date;
  /** The server a failed `run smtp client` tried (shown with its error). */
  private tried?: string;

  async start(args: Args): Promise<Result<string>> {
    const settings = settingsFrom(args);
    if (!settings.ok) return settings;
    const s = settings.value;
    this.tried = `${s.host}:${s.port}`;
    let ca: string | undefined;
    if (s.caFile !== undefined) {
      try {
        ca = readFileSync(s.caFile, "utf8");
      } catch (e) {
        return fail("not_found", `'run smtp client' tls_ca: cannot read '${s.caFile}': ${errorText(e)}`);
      }
      if (!ca.includes("-----BEGIN CERTIFICATE-----")) return fail("bad_value", `'run smtp client' tls_ca: '${s.caFile}' is not a PEM certificate`);
    }
    const transport = createTransport({
      host: s.host,
      port: s.port,
      secure: s.ssl,
      // the password never crosses a network in clear: off this machine, a server that does not
      // offer STARTTLS is refused (on loopback, a local relay may speak plain SMTP)
      requireTLS: !s.ssl && !isLoopback(s.host),
      auth: { user: s.email, pass: s.password },
      ...TIMEOUTS,
      // (a `ca` replaces the trusted roots: keep the system's beside the one given)
      ...(ca ? { tls: { ca: [...rootCertificates, ca] } } : {}),
    });
    this.state = "not checked";
    this.lastError = this.lastErrorAt = this.lastSent = undefined;
    this.sent = this.failed = this.retries = 0;
    // one look at the server now: a refusal is a mistake to fix before anything runs; a server
    // that is away may come back, so the client runs and its mails are retried
    try {
      await transport.verify();
      this.state = "ready";
    } catch (e) {
      const err = e as NodemailerError;
      const message = describeError(err, s);
      const transient = isTransient(err);
      this.noteError(message, transient ? "unreachable" : "refused");
      if (!transient) {
        transport.close();
        return fail(err.code === "EAUTH" ? "peer_failed" : "bad_value", message);
      }
    }
    this.settings = s;
    this.transport = transport;
    this.stopping = new AbortController();
    const reach = this.state === "ready" ? "" : `; ${this.lastError}: mails will be tried again`;
    return ok(`${this.details()}${reach}`);
  }

  async stop(): Promise<void> {
    this.stopping?.abort();
    const inFlight = this.line;
    await Promise.race([inFlight, new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref?.())]);
    this.transport?.close();
    this.transport = undefined;
    this.settings = undefined;
    this.state = "not running";
  }

  status(): ProcessStatus {
    return this.settings ? "Running" : "Not declared";
  }

  details(): string {
    const s = this.settings;
    if (!s) return "";
    return `Using '${s.host}:${s.port}' (${s.ssl ? "ssl" : "starttls when offered"}) with email: '${s.email}', mails sent: ${this.sent}`;
  }

  info(): Record<string, unknown> {
    const s = this.settings;
    return {
      server: s ? `${s.host}:${s.port}` : this.tried,
      tls: s ? (s.ssl ? "ssl" : "starttls when offered") : undefined,
      tls_ca: s?.caFile,
      email: s?.email,
      state: this.state,
      mails_sent: this.sent,
      mails_failed: this.failed,
      retries: this.retries,
      waiting: this.waiting,
      last_sent: this.lastSent?.toISOString(),
      last_error: this.lastError,
      last_error_at: this.lastErrorAt?.toISOString(),
    };
  }

  /** Sends one mail, after those before it; tries again while the server is away, a bounded number of times. */
  send(mail: Mail): Promise<Result<string>> {
    if (!this.settings || !this.transport) return Promise.resolve(fail("unavailable", "the SMTP client is not running: start it with 'run smtp client where email = ... and password = ...'"));
    if (this.waiting >= MAX_WAITING) {
      return Promise.resolve(fail("unavailable", `${this.waiting} mails are waiting for the SMTP server ${this.settings.host}:${this.settings.port}: this one is not sent (${this.lastError ?? "the server is slow"})`));
    }
    this.waiting++;
    const turn = this.line.then(() => {
      this.waiting--;
      return this.deliver(mail);
    });
    this.line = turn;
    return turn;
  }

  private async deliver(mail: Mail): Promise<Result<string>> {
    const s = this.settings;
    const transport = this.transport;
    const signal = this.stopping?.signal;
    if (!s || !transport || !signal || signal.aborted) return fail("unavailable", "the SMTP client stopped before the mail was sent");
    let wait = FIRST_WAIT_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        await transport.sendMail({ from: s.email, to: mail.to, subject: mail.subject, text: mail.text });
        this.sent++;
        this.lastSent = new Date();
        this.state = "ready";
        return ok(`Mail sent to ${mail.to.join(", ")}`);
      } catch (e) {
        const err = e as NodemailerError;
        const transient = isTransient(err);
        const message = describeError(err, s);
        this.noteError(message, transient ? "unreachable" : "refused");
        const last = !transient || attempt >= ATTEMPTS || signal.aborted;
        if (last) {
          this.failed++;
          const tries = attempt > 1 ? ` (after ${attempt} tries)` : "";
          log.warn(`mail to ${mail.to.join(", ")} not sent${tries}: ${message}`);
          const code: ErrorCode = transient ? "unavailable" : "peer_failed";
          return fail(code, `mail to ${mail.to.join(", ")} not sent${tries}: ${message}`);
        }
        this.retries++;
        log.info(`mail to ${mail.to.join(", ")}: ${message}; trying again in ${wait / 1000} s (try ${attempt + 1} of ${ATTEMPTS})`);
        await sleep(wait, signal);
        if (signal.aborted) {
          this.failed++;
          return fail("unavailable", `mail to ${mail.to.join(", ")} not sent: the SMTP client stopped while it waited to try again (${message})`);
        }
        wait *= 2;
      }
    }
  }

  private noteError(message: string, state: State): void {
    this.lastError = message;
    this.lastErrorAt = new Date();
    this.state = state;
  }
}

/** Waits `ms`, or less when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
