/**
 * @module test/support/smtp
 * A throw-away SMTP server for tests: `smtp-server` run under Node (test/support/smtp-server.mjs;
 * its TLS modes hang under Bun) on a free loopback port, with one account, and STARTTLS with a
 * certificate the test made when `tls` is given. `mails` is what it received (envelope, subject,
 * text, whether the session was encrypted); `pause` and `resume` take it away and bring it
 * back on the same port.
 */
import type { Subprocess } from "bun";
import { join } from "node:path";
import { REPO_ROOT, freePort } from "./node-process.ts";

export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  secure: boolean;
  user: string | null;
}

export interface MailServerOptions {
  user: string;
  password: string;
  tls?: { key: string; cert: string };
  /** The address it listens on (default 127.0.0.1). */
  host?: string;
}

export class MailServer {
  readonly mails: ReceivedMail[] = [];
  private proc?: Subprocess<"ignore", "pipe", "pipe">;
  private err = "";

  private constructor(
    readonly port: number,
    private readonly options: MailServerOptions,
  ) {}

  static async start(options: MailServerOptions): Promise<MailServer> {
    const server = new MailServer(await freePort(), options);
    await server.resume();
    return server;
  }

  /** Starts the server on its port; resolves once it listens. */
  async resume(): Promise<void> {
    const config = JSON.stringify({ port: this.port, ...this.options });
    const proc = Bun.spawn(["node", join(REPO_ROOT, "test/support/smtp-server.mjs"), config], { cwd: REPO_ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    this.proc = proc;
    let listening!: () => void;
    const ready = new Promise<void>((r) => (listening = r));
    void (async () => {
      const d = new TextDecoder();
      let buf = "";
      for await (const chunk of proc.stdout) {
        buf += d.decode(chunk, { stream: true });
        for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
          const line = JSON.parse(buf.slice(0, nl)) as { event: string } & ReceivedMail;
          buf = buf.slice(nl + 1);
          if (line.event === "listening") listening();
          else if (line.event === "mail") this.mails.push(line);
        }
      }
    })();
    void (async () => {
      for await (const chunk of proc.stderr) this.err += new TextDecoder().decode(chunk);
    })();
    const deadline = Date.now() + 15_000;
    const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 15_000));
    const outcome = await Promise.race([ready.then(() => "ready" as const), proc.exited.then(() => "exited" as const), timeout]);
    if (outcome !== "ready") throw new Error(`the test SMTP server did not start (${outcome}, ${Date.now() > deadline ? "late" : ""}): ${this.err}`);
  }

  /** Stops the server (its port then refuses connections). */
  async pause(): Promise<void> {
    this.proc?.kill("SIGTERM");
    await this.proc?.exited;
    this.proc = undefined;
  }

  async stop(): Promise<void> {
    await this.pause();
  }

  get stderr(): string {
    return this.err;
  }
}

/** Waits until `cond` holds, at most `ms`; the caller's expect then says what did not happen. */
export async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await Bun.sleep(50);
}
