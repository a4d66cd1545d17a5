/**
 * @module test/support/mosquitto
 * A throw-away mosquitto broker for tests: its own config on a free port (persistence on, so
 * a restart keeps sessions and queued messages; queues large enough for a load test; optional
 * user/password), stopped and removed afterwards; `restart` stops it and starts it again on
 * the same port. Without Debian's mosquitto the start fails saying how to install it.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort } from "./node-process.ts";

const BIN = "/usr/sbin/mosquitto";

export class Mosquitto {
  private proc?: Subprocess;
  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  static async start(options: { user?: string; password?: string } = {}): Promise<Mosquitto> {
    if (!existsSync(BIN)) throw new Error("mosquitto not found: install it with 'apt-get install mosquitto mosquitto-clients' (make test does this as root)");
    const dir = mkdtempSync(join(tmpdir(), "anylog-mosquitto-"));
    const port = await freePort();
    const lines = [
      `listener ${port} 127.0.0.1`,
      "persistence true",
      `persistence_location ${dir}/`,
      "max_queued_messages 1000000",
      "max_inflight_messages 100",
      "log_dest none",
      // as root, mosquitto would drop to the mosquitto user, which cannot use this private folder
      ...(userInfo().uid === 0 ? ["user root"] : []),
    ];
    if (options.user) {
      const pw = join(dir, "passwords");
      writeFileSync(pw, "");
      const made = Bun.spawnSync(["mosquitto_passwd", "-b", pw, options.user, options.password ?? ""]);
      if (made.exitCode !== 0) throw new Error(`mosquitto_passwd failed: ${made.stderr.toString()}`);
      lines.push("allow_anonymous false", `password_file ${pw}`);
    } else lines.push("allow_anonymous true");
    writeFileSync(join(dir, "mosquitto.conf"), `${lines.join("\n")}\n`);
    const m = new Mosquitto(port, dir);
    await m.resume();
    return m;
  }

  /** Starts the broker on its port and waits until it takes connections. */
  async resume(): Promise<void> {
    this.proc = Bun.spawn([BIN, "-c", join(this.dir, "mosquitto.conf")], { stdout: "ignore", stderr: "pipe" });
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const s = await Bun.connect({ hostname: "127.0.0.1", port: this.port, socket: { data() {} } });
        s.end();
        return;
      } catch {
        if (Date.now() > deadline || this.proc.exitCode !== null) throw new Error(`mosquitto did not start: ${await new Response(this.proc.stderr as ReadableStream).text()}`);
        await Bun.sleep(50);
      }
    }
  }

  /** Stops the broker (it saves its sessions and queued messages). */
  async pause(): Promise<void> {
    this.proc?.kill("SIGTERM");
    await this.proc?.exited;
    this.proc = undefined;
  }

  /** Publishes `lines` (one message per line) with mosquitto_pub. */
  async publish(topic: string, lines: string[], qos: 0 | 1 | 2 = 1, auth: string[] = []): Promise<void> {
    await publishLines(this.port, topic, lines, qos, auth);
  }

  async stop(): Promise<void> {
    await this.pause();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `mosquitto_pub -l`: one message per line of `lines`, to a broker on 127.0.0.1:port. */
export async function publishLines(port: number, topic: string, lines: string[], qos: 0 | 1 | 2 = 1, auth: string[] = []): Promise<void> {
  const p = Bun.spawn(["mosquitto_pub", "-h", "127.0.0.1", "-p", String(port), "-t", topic, "-q", String(qos), "-l", ...auth], { stdin: "pipe", stdout: "ignore", stderr: "pipe" });
  p.stdin.write(`${lines.join("\n")}\n`);
  await p.stdin.end();
  const code = await p.exited;
  if (code !== 0) throw new Error(`mosquitto_pub failed (${code}): ${await new Response(p.stderr).text()}`);
}
