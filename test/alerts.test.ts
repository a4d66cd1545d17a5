/**
 * Alert rules and the SMTP client on a real node process (the compiled executable), sending
 * to real SMTP servers this test starts (`smtp-server` under Node): a scheduled rule over a
 * dictionary value mails once per firing with the subject and lines given, and `get
 * scheduler` counts the same firings; with the server down the error shows in `get smtp
 * client` (and the rule's last error) and a firing goes through once it is back; a rule over a
 * query's answer, written as AnyLog writes it (two tasks: `t_max = sql ...`, then `if !t_max >
 * 100 then email ...`), fires once a reading passes 100; with STARTTLS offered (a certificate
 * from a CA this test makes with the node's own certificate code) the mail goes over TLS, and
 * without `tls_ca` the untrusted certificate is a clear error. Then the error paths over REST:
 * a login refused, bad options, unknown command words, a mail with no client running.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { caFiles, generateAuthority, generateRequest, serverFiles, signRequest } from "../src/security/certificates.ts";
import { freePorts } from "./support/node-process.ts";
import { ScriptNode, stopScriptNodes } from "./support/script-node.ts";
import { MailServer, type ReceivedMail, until } from "./support/smtp.ts";

setDefaultTimeout(120_000);

const USER = "alerts@plant.test";
const PASSWORD = "mail-pass-1";
const work = mkdtempSync(join(tmpdir(), "anylog-alerts-"));
const home = join(work, "home");
const pem = join(work, "pem");
let plain: MailServer;
let secure: MailServer;
let node: ScriptNode;

const DISK_RULE =
  'schedule name = disk_alert and time = 1 second task if !disk_free < 10 then email to ops@example.com where subject = "disk" and message = "disk almost full" and message = "free space below 10%"';

beforeAll(async () => {
  // a CA and a certificate for 127.0.0.1 signed by it, made without openssl
  const made = [
    await generateAuthority({ dir: pem, subject: { org: "Test CA", commonName: "test-ca" }, days: 2, overwrite: true }),
    await generateRequest({ dir: pem, subject: { org: "Mail", commonName: "127.0.0.1" }, names: ["127.0.0.1", "localhost"], overwrite: true }),
    await signRequest({ dir: pem, caOrg: "Test CA", serverOrg: "Mail", days: 2, overwrite: true }),
  ];
  for (const m of made) if (!m.ok) throw new Error(m.error.message);
  const files = serverFiles(pem, "Mail");
  plain = await MailServer.start({ user: USER, password: PASSWORD });
  secure = await MailServer.start({ user: USER, password: PASSWORD, tls: { key: await Bun.file(files.key).text(), cert: await Bun.file(files.cert).text() } });

  // the database the query rule reads: one reading of 50
  mkdirSync(join(home, "data", "dbms"), { recursive: true });
  const db = new Database(join(home, "data", "dbms", "test.dbms"));
  db.run("create table readings (value integer)");
  db.run("insert into readings values (50)");
  db.close();

  const [tcp, rest] = (await freePorts(2)) as [number, number];
  const script = join(work, "node.al");
  writeFileSync(
    script,
    [
      `run tcp server where external_ip = 127.0.0.1 and external_port = ${tcp} and bind = true`,
      `run rest server where external_ip = 127.0.0.1 and external_port = ${rest} and bind = true`,
      "connect dbms test where type = sqlite",
      `smtp_password = ${PASSWORD}`,
      `run smtp client where host = 127.0.0.1 and port = ${plain.port} and email = ${USER} and password = !smtp_password`,
      "run scheduler 1",
      "disk_free = 50",
      DISK_RULE,
      // a rule over a query, as AnyLog writes it: the value, then the condition
      'schedule name = t_max and time = 1 second task t_max = sql test "select max(value) from readings"',
      'schedule name = hot and time = 1 second task if !t_max > 100 then email to ops@example.com, oncall@example.com where subject = "hot" and message = "a reading is above 100"',
      "",
    ].join("\n"),
  );
  node = await ScriptNode.start({ home, script, restPort: rest, set: { node_name: "alerts" } });
});

afterAll(async () => {
  await stopScriptNodes();
  await plain?.stop();
  await secure?.stop();
  rmSync(work, { recursive: true, force: true });
});

interface TaskInfo {
  name: string;
  runs: number;
  firings: number;
  last_run?: string;
  last_fired?: string;
  last_error?: string;
  last_failed?: string;
}

async function json<T>(command: string): Promise<T> {
  const r = await node.rest(command);
  if (r.status !== 200) throw new Error(`${command}: ${r.status} ${r.text}`);
  return JSON.parse(r.text) as T;
}

async function post(command: string): Promise<{ status: number; text: string }> {
  return node.rest(command, true);
}

async function task(name: string): Promise<TaskInfo> {
  const info = await json<{ schedulers: Array<{ id: number; tasks: TaskInfo[] }> }>("get scheduler 1");
  const t = info.schedulers[0]?.tasks.find((x) => x.name === name);
  if (!t) throw new Error(`no task ${name}`);
  return t;
}

const withSubject = (server: MailServer, subject: string): ReceivedMail[] => server.mails.filter((m) => m.subject === subject);

/** Polls `read` until `cond` holds on its value, at most `ms`; returns the last value. */
async function poll<T>(read: () => Promise<T>, cond: (v: T) => boolean, ms: number): Promise<T> {
  const end = Date.now() + ms;
  let v = await read();
  while (!cond(v) && Date.now() < end) {
    await Bun.sleep(200);
    v = await read();
  }
  return v;
}

describe("alert rules", () => {
  test("a rule over a dictionary value mails once per firing, with the subject and lines given", async () => {
    await Bun.sleep(2_500);
    const quiet = await task("disk_alert");
    expect(quiet.runs).toBeGreaterThanOrEqual(2);
    expect(quiet.firings).toBe(0);
    expect(quiet.last_fired).toBeUndefined();
    expect(withSubject(plain, "disk")).toHaveLength(0);

    expect((await post("disk_free = 5")).status).toBe(200);
    await until(() => withSubject(plain, "disk").length >= 3, 15_000);
    expect((await post("disk_free = 50")).status).toBe(200);
    await Bun.sleep(1_500); // a run under way ends
    const fired = await task("disk_alert");
    const mails = withSubject(plain, "disk");
    expect(mails.length).toBeGreaterThanOrEqual(3);
    expect(fired.firings).toBe(mails.length);
    expect(fired.last_fired).toBeDefined();
    expect(Date.parse(fired.last_run!)).toBeGreaterThanOrEqual(Date.parse(fired.last_fired!));
    for (const m of mails) {
      expect(m).toMatchObject({ from: USER, to: ["ops@example.com"], subject: "disk", text: "disk almost full\nfree space below 10%\n", user: USER, secure: false });
    }
    await Bun.sleep(2_000);
    expect(withSubject(plain, "disk")).toHaveLength(mails.length); // the condition no longer holds
    expect((await task("disk_alert")).firings).toBe(fired.firings);
    const smtp = await json<Record<string, unknown>>("get smtp client");
    expect(smtp).toMatchObject({ process: "SMTP", status: "Running", state: "ready", server: `127.0.0.1:${plain.port}` });
    expect(smtp.mails_sent as number).toBeGreaterThanOrEqual(mails.length);
    expect(JSON.stringify(smtp)).not.toContain(PASSWORD);
  });

  test("with the server down the error shows in get smtp client and the rule; a firing goes through once it is back", async () => {
    await plain.pause();
    const before = withSubject(plain, "disk").length;
    try {
      expect((await post("disk_free = 5")).status).toBe(200);
      const smtp = await poll(() => json<Record<string, unknown>>("get smtp client"), (s) => (s.mails_failed as number) >= 1, 20_000);
      expect(smtp).toMatchObject({ status: "Running", state: "unreachable" });
      expect(String(smtp.last_error)).toContain(`the SMTP server 127.0.0.1:${plain.port} is not reachable`);
      const failing = await task("disk_alert");
      expect(failing.last_error).toContain("not sent (after 4 tries)");
      expect(failing.last_failed).toBeDefined();
    } finally {
      await plain.resume();
    }
    await until(() => withSubject(plain, "disk").length > before, 20_000);
    expect(withSubject(plain, "disk").length).toBeGreaterThan(before);
    expect((await post("disk_free = 50")).status).toBe(200);
    const back = await poll(() => json<Record<string, unknown>>("get smtp client"), (s) => s.state === "ready", 10_000);
    expect(back.state).toBe("ready");
  });

  test("a rule over a query's answer fires once a reading passes 100", async () => {
    const quiet = await task("hot");
    expect(quiet.runs).toBeGreaterThanOrEqual(2);
    expect(quiet.firings).toBe(0);
    const db = new Database(join(home, "data", "dbms", "test.dbms"));
    db.run("PRAGMA busy_timeout = 5000");
    db.run("insert into readings values (150)");
    db.close();
    await until(() => withSubject(plain, "hot").length >= 1, 15_000);
    expect((await post('task remove where name = "hot"')).status).toBe(200);
    const mail = withSubject(plain, "hot")[0];
    expect(mail).toMatchObject({ to: ["ops@example.com", "oncall@example.com"], text: "a reading is above 100\n" });
  });
});

describe("the SMTP client", () => {
  test("with STARTTLS offered the mail goes over TLS; an untrusted certificate is a clear error", async () => {
    expect((await post("exit smtp")).status).toBe(200);
    const untrusted = await post(`run smtp client where host = 127.0.0.1 and port = ${secure.port} and email = ${USER} and password = ${PASSWORD}`);
    expect(untrusted.status).toBe(400);
    expect(untrusted.text).toContain("TLS with the SMTP server");
    expect(untrusted.text).toContain("tls_ca");
    const ca = caFiles(pem, "Test CA").cert;
    const started = await post(`run smtp client where host = 127.0.0.1 and port = ${secure.port} and email = ${USER} and password = ${PASSWORD} and tls_ca = ${ca}`);
    expect([started.status, started.text]).toEqual([200, expect.any(String)]);
    expect((await post('email to ops@example.com where subject = "over tls" and message = "sealed"')).status).toBe(200);
    expect(withSubject(secure, "over tls")).toEqual([{ event: "mail", from: USER, to: ["ops@example.com"], subject: "over tls", text: "sealed\n", secure: true, user: USER } as ReceivedMail]);
    const processes = await json<Record<string, { Status: string; Details: string }>>("get processes where format = json");
    expect(processes.SMTP).toEqual({ Status: "Running", Details: `Using '127.0.0.1:${secure.port}' (starttls when offered) with email: '${USER}', mails sent: 1` });
  });

  test("error paths: a login refused, bad options, unknown words, no client running", async () => {
    expect((await post("exit smtp")).status).toBe(200);
    const refused = await post(`run smtp client where host = 127.0.0.1 and port = ${plain.port} and email = ${USER} and password = wrong-one`);
    expect(refused.status).toBe(502);
    expect(refused.text).toContain(`refused the login of ${USER}`);
    const shown = await json<Record<string, unknown>>("get smtp client");
    expect(shown).toMatchObject({ status: "Not declared", state: "refused" });
    expect(String(shown.last_error)).toContain("535");

    const noClient = await post("email to ops@example.com");
    expect(noClient.status).toBe(503);
    expect(noClient.text).toContain("run smtp client");

    const cases: Array<[string, number, string]> = [
      ["run smtp client where email = a@x.com", 400, "needs the option 'password'"],
      ["run smtp client where email = a@x.com and password = p and port = 99999", 400, "not a TCP port"],
      ["run smtp client where email = a@x.com and password = p and colour = blue", 400, "has no option 'colour'"],
      ["email to somebody", 400, "'somebody' is not an e-mail address"],
      ["sms to 4155550123 where gateway = nowhere", 400, "not a carrier's mail domain"],
      ["email ops@example.com", 400, "did you mean: email to"],
      ["mail to ops@example.com", 400, "unknown command"],
    ];
    for (const [command, status, text] of cases) {
      const r = await post(command);
      expect([command, r.status]).toEqual([command, status]);
      expect(r.text).toContain(text);
    }
    // a read-only GET may not send mail
    expect((await node.rest("email to ops@example.com")).status).toBe(405);
    // the node stops cleanly with the rules and the client declared
    expect(await node.stop()).toBe(0);
  });
});
