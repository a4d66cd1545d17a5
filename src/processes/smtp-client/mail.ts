/**
 * @module processes/smtp-client/mail
 * What one alert mail is, before any socket: AnyLog's defaults (subject "AnyLog Alert", body
 * "AnyLog Network Alert from Node: <node name>"), repeated `message` keys as lines, and the
 * recipient checked — addresses for `email to`, `<number>@<gateway>` for `sms to`.
 */
import { type Result, fail, ok } from "../../util/result.ts";

export interface Mail {
  /** One or more addresses, checked. */
  to: string[];
  subject: string;
  text: string;
}

export const DEFAULT_SUBJECT = "AnyLog Alert";

/** AnyLog's body when no `message` is given. */
export const defaultBody = (nodeName: string): string => `AnyLog Network Alert from Node: ${nodeName}`;

/** local@domain, without spaces, quotes, brackets or line breaks (what a header may carry as it is). */
const ADDRESS = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** A carrier's domain: labels joined by dots, at least two. */
const DOMAIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** `a@x.com` or `a@x.com, b@y.org`: each address checked. */
export function parseAddresses(text: string, what = "address"): Result<string[]> {
  const list = text.split(",").map((a) => a.trim()).filter((a) => a !== "");
  if (list.length === 0) return fail("bad_value", `an e-mail ${what} is missing`);
  for (const a of list) {
    if (!ADDRESS.test(a)) return fail("bad_value", `'${a}' is not an e-mail ${what} (name@domain, e.g. ops@example.com)`);
  }
  return ok(list);
}

/** `sms to <number> where gateway = <domain>`: the carrier's address for the phone number. */
export function smsAddress(number: string, gateway: string): Result<string> {
  const digits = number.replace(/[\s().-]/g, "").replace(/^\+/, "");
  if (!/^\d{3,15}$/.test(digits)) return fail("bad_value", `'${number}' is not a phone number (3 to 15 digits, e.g. 4155550123)`);
  const domain = gateway.trim().replace(/^@/, "");
  if (!DOMAIN.test(domain)) return fail("bad_value", `gateway '${gateway}' is not a carrier's mail domain (e.g. vtext.com)`);
  return ok(`${digits}@${domain}`);
}

/**
 * The mail to send: `subject` or AnyLog's default (on one line), the `message` values one per
 * line or AnyLog's default body.
 */
export function composeMail(to: string[], subject: string | undefined, lines: string[], nodeName: string): Mail {
  const oneLine = (subject ?? "").replace(/[\r\n]+/g, " ").trim();
  const given = lines.filter((l) => l !== "");
  return {
    to,
    subject: oneLine === "" ? DEFAULT_SUBJECT : oneLine,
    text: given.length === 0 ? `${defaultBody(nodeName)}\n` : given.map((l) => `${l}\n`).join(""),
  };
}
