/**
 * The SMTP client on an in-process node against a real SMTP server (`smtp-server` under Node,
 * test/support/smtp.ts): AnyLog's default subject and body, one line per `message`, SMS to
 * <number>@<gateway>; the option defaults (smtp.gmail.com, 465 with ssl, else 587); a login
 * the server refuses stops `run smtp client` with the reason; a server that is away is tried
 * again with a doubling wait a bounded number of times and the error shows in `get smtp client`;
 * option and address mistakes name the fault. Plus the alert-rule pieces of the language: a
 * query answer of one value compares as that value, an unset value never fires a `<` / `>`.
 */
import "../../features.ts";
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { Args } from "../../commands/spec.ts";
import { queryValue } from "../../language/interpreter.ts";
import { parseStatement } from "../../language/parser.ts";
import { Node } from "../../node/node.ts";
import { MailServer } from "../../../test/support/smtp.ts";
import { ATTEMPTS, settingsFrom } from "./client.ts";
import { DEFAULT_SUBJECT, composeMail, parseAddresses, smsAddress } from "./mail.ts";

setDefaultTimeout(60_000);

const home = mkdtempSync(join(tmpdir(), "anylog-smtp-"));
const USER = "alerts@test.local";
const PASSWORD = "pw-1";
let server: MailServer;
const nodes: Node[] = [];

beforeAll(async () => {
  server = await MailServer.start({ user: USER, password: PASSWORD });
});
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.shutdown("test done");
});
afterAll(async () => {
  await server.stop();
  rmSync(home, { recursive: true, force: true });
});

function node(): Node {
  const n = new Node({ env: { ANYLOG_HOME: join(home, `n${Date.now()}-${nodes.length}`) }, set: { node_name: "mailer" } });
  nodes.push(n);
  return n;
}

async function run(n: Node, text: string): Promise<unknown> {
  const r = await n.execute(text);
  if (!r.ok) throw new Error(`'${text}' failed: ${r.error.message}`);
  return r.value;
}

async function error(n: Node, text: string): Promise<{ code: string; message: string }> {
  const r = await n.execute(text);
  if (r.ok) throw new Error(`'${text}' succeeded: ${JSON.stringify(r.value)}`);
  return { code: r.error.code, message: r.error.message };
}

const runClient = (port: number, password = PASSWORD) => `run smtp client where host = 127.0.0.1 and port = ${port} and email = ${USER} and password = ${password}`;

describe("mail", () => {
  test("AnyLog's default subject and body; each message is a line; the subject stays on one line", () => {
    expect(composeMail(["a@x.com"], undefined, [], "node7")).toEqual({ to: ["a@x.com"], subject: DEFAULT_SUBJECT, text: "AnyLog Network Alert from Node: node7\n" });
    expect(composeMail(["a@x.com"], "disk\r\nBcc: evil@x.com", ["one", "two"], "n").subject).toBe("disk Bcc: evil@x.com");
    expect(composeMail(["a@x.com"], "s", ["one", "two"], "n").text).toBe("one\ntwo\n");
  });

  test("addresses and SMS gateways are checked", () => {
    expect(parseAddresses("ops@example.com, b@y.org")).toEqual({ ok: true, value: ["ops@example.com", "b@y.org"] });
    for (const bad of ["ops", "ops@", "a b@x.com", "<a@x.com>", ""]) expect(parseAddresses(bad).ok).toBe(false);
    expect(smsAddress("+1 (415) 555-0123", "vtext.com")).toEqual({ ok: true, value: "14155550123@vtext.com" });
    expect(smsAddress("call me", "vtext.com").ok).toBe(false);
    expect(smsAddress("4155550123", "vtext").ok).toBe(false);
  });

  test("run smtp client defaults: smtp.gmail.com, 465 with ssl, 587 without, 465 alone means ssl", () => {
    const s = (o: Record<string, unknown>) => settingsFrom(new Args({}, { email: "a@x.com", password: "p", ...o }));
    expect(s({})).toMatchObject({ ok: true, value: { host: "smtp.gmail.com", port: 587, ssl: false } });
    expect(s({ ssl: true })).toMatchObject({ ok: true, value: { port: 465, ssl: true } });
    expect(s({ port: 465 })).toMatchObject({ ok: true, value: { port: 465, ssl: true } });
    expect(s({ port: 2525, host: "mail.plant.local" })).toMatchObject({ ok: true, value: { host: "mail.plant.local", port: 2525, ssl: false } });
    expect(s({ port: 70000 }).ok).toBe(false);
    expect(s({ email: "not an address" }).ok).toBe(false);
  });
});

describe("sending", () => {
  test("email to and sms to reach the server with the subject and lines given", async () => {
    const n = node();
    const before = server.mails.length;
    await run(n, runClient(server.port));
    expect(await run(n, "email to ops@example.com")).toBe("Mail sent to ops@example.com");
    await run(n, 'email to ops@example.com where subject = "disk" and message = "almost full" and message = "on mailer"');
    await run(n, "sms to 4155550123 where gateway = vtext.com and message = hot");
    const got = server.mails.slice(before);
    expect(got.map((m) => [m.to, m.subject, m.text, m.user])).toEqual([
      [["ops@example.com"], "AnyLog Alert", "AnyLog Network Alert from Node: mailer\n", USER],
      [["ops@example.com"], "disk", "almost full\non mailer\n", USER],
      [["4155550123@vtext.com"], "AnyLog Alert", "hot\n", USER],
    ]);
    const info = (await run(n, "get smtp client")) as Record<string, unknown>;
    expect(info).toMatchObject({ status: "Running", server: `127.0.0.1:${server.port}`, state: "ready", mails_sent: 3, mails_failed: 0 });
    expect(JSON.stringify(info)).not.toContain(PASSWORD);
    expect(await run(n, "exit smtp")).toBe("SMTP stopped");
    expect((await error(n, "email to ops@example.com")).code).toBe("unavailable");
  });

  test("off this machine, a server that does not offer STARTTLS is refused: the password is never sent in clear", async () => {
    const address = Object.values(networkInterfaces()).flat().find((a) => a && a.family === "IPv4" && !a.internal)?.address;
    if (!address) return console.warn("skipped: this machine has no IPv4 address besides loopback to reach a server through");
    const plain = await MailServer.start({ user: USER, password: PASSWORD, host: "0.0.0.0" });
    try {
      const n = node();
      const e = await error(n, `run smtp client where host = ${address} and port = ${plain.port} and email = ${USER} and password = ${PASSWORD}`);
      expect(e.message).toContain("does not offer STARTTLS");
      expect(e.message).toContain("not sent in clear");
      expect(plain.mails).toHaveLength(0);
    } finally {
      await plain.stop();
    }
  });

  test("a login the server refuses stops run smtp client with the reason, shown in get smtp client", async () => {
    const n = node();
    const e = await error(n, runClient(server.port, "wrong"));
    expect(e.code).toBe("peer_failed");
    expect(e.message).toContain(`refused the login of ${USER}`);
    expect(e.message).toContain("535");
    const info = (await run(n, "get smtp client")) as Record<string, unknown>;
    expect(info).toMatchObject({ status: "Not declared", state: "refused", server: `127.0.0.1:${server.port}` });
    expect(String(info.last_error)).toContain("refused the login");
  });

  test("a server that is away: run still starts, a mail is tried 4 times with a doubling wait, then the error shows; it goes through once the server is back", async () => {
    const n = node();
    await server.pause();
    try {
      expect(String(await run(n, runClient(server.port)))).toContain("is not reachable");
      const started = Date.now();
      const e = await error(n, "email to ops@example.com");
      const waited = Date.now() - started;
      expect(e.code).toBe("unavailable");
      expect(e.message).toContain(`after ${ATTEMPTS} tries`);
      expect(waited).toBeGreaterThanOrEqual(6_900); // 1 + 2 + 4 s
      expect(waited).toBeLessThan(12_000);
      const info = (await run(n, "get smtp client")) as Record<string, unknown>;
      expect(info).toMatchObject({ status: "Running", state: "unreachable", mails_sent: 0, mails_failed: 1, retries: ATTEMPTS - 1 });
      expect(String(info.last_error)).toContain("ECONNREFUSED");
    } finally {
      await server.resume();
    }
    const before = server.mails.length;
    await run(n, "email to ops@example.com where subject = back");
    expect(server.mails.slice(before).map((m) => m.subject)).toEqual(["back"]);
    expect((await run(n, "get smtp client")) as Record<string, unknown>).toMatchObject({ state: "ready", mails_sent: 1 });
  });

  test("mistakes name the fault", async () => {
    const n = node();
    const cases: Array<[string, string]> = [
      ["run smtp client where email = a@x.com", "needs the option 'password'"],
      ["run smtp client where email = a@x.com and password = p and port = 0", "port 0 is not a TCP port"],
      ["run smtp client where email = a@x.com and password = p and ssl = maybe", "ssl"],
      ["run smtp client where email = a@x.com and password = p and hots = x", "did you mean 'host'"],
      ["run smtp client where email = a@x.com and password = p and tls_ca = /nonexistent/ca.crt", "tls_ca: cannot read '/nonexistent/ca.crt'"],
      ["email ops@example.com", "did you mean: email to"],
      ["email to", "needs <address>"],
      ["email to ops where subject = x", "'ops' is not an e-mail address"],
      ["email to ops@example.com where subjet = x", "did you mean 'subject'"],
      ["sms to 4155550123", "needs the option 'gateway'"],
      ["sms to 12 where gateway = vtext.com", "'12' is not a phone number"],
      ["get smtp clients", "unknown command 'get smtp clients'"],
    ];
    for (const [text, expected] of cases) expect((await error(n, text)).message).toContain(expected);
  });
});

describe("alert rule pieces of the language", () => {
  test("a query answer of one row and one column compares as its value; no row is not set", () => {
    expect(queryValue('{"Query":[{"max(value)":120}],"Statistics":[{"Count":1}]}')).toBe("120");
    expect(queryValue('[{"m": 7.5}]')).toBe("7.5");
    expect(queryValue('{"Query":[]}')).toBe("");
    expect(queryValue('{"Query":[{"m":null}]}')).toBe("");
    const two = '{"Query":[{"a":1},{"a":2}]}';
    expect(queryValue(two)).toBe(two);
    expect(queryValue("plain text")).toBe("plain text");
  });

  test("if !x > 100 reads a kept query answer; an unset value fires no < or >", async () => {
    const n = node();
    n.dictionary.set("x", '{"Query":[{"max(value)":120}],"Statistics":[{"Count":1,"Time":"00:00:00","Nodes":1}]}');
    expect(await run(n, "if !x > 100 then echo fired")).toBe("fired");
    expect(await run(n, "if !x > 200 then echo fired")).toBeUndefined();
    expect(await run(n, "if !unset_value < 10 then echo fired")).toBeUndefined();
    expect(await run(n, "if !unset_value > 10 then echo fired")).toBeUndefined();
    expect(await run(n, "if not !unset_value then echo empty")).toBe("empty");
  });

  test("schedule ... and task (AnyLog's documents put an and before task) parses", () => {
    const r = parseStatement("schedule name = wp-alert and time = 15 minutes and task process !scripts/alert.al");
    expect(r.ok && r.value.kind === "command" ? r.value.call.tail : r).toBe("process !scripts/alert.al");
  });
});
