/**
 * @module test/support/postgres
 * A throw-away PostgreSQL server for tests: initdb in a temp dir, pg_ctl on a free port
 * (trust authentication on 127.0.0.1), stopped and removed afterwards. As root the server
 * runs as the `postgres` user (initdb refuses root). Without Debian's postgresql package the
 * start fails saying how to install it.
 */
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { freePort } from "./node-process.ts";

function binDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(join(root, v, "bin", "initdb"))) return join(root, v, "bin");
  throw new Error("PostgreSQL server binaries not found: install them with 'apt-get install postgresql' (make test does this as root)");
}

async function run(argv: string[], asPostgres: boolean): Promise<void> {
  const cmd = asPostgres ? ["runuser", "-u", "postgres", "--", ...argv] : argv;
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${argv.join(" ")} failed (${code}): ${err || out}`);
}

export class PostgresServer {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly bin: string,
    private readonly asPostgres: boolean,
  ) {}

  static async start(): Promise<PostgresServer> {
    const bin = binDir();
    const asPostgres = userInfo().uid === 0;
    const dir = mkdtempSync(join(tmpdir(), "anylog-pg-"));
    if (asPostgres) {
      const pw = Bun.spawnSync(["id", "-u", "postgres"]);
      const gw = Bun.spawnSync(["id", "-g", "postgres"]);
      if (pw.exitCode !== 0) throw new Error("no 'postgres' user: install Debian's postgresql package (apt-get install postgresql)");
      chownSync(dir, Number(pw.stdout.toString()), Number(gw.stdout.toString()));
    }
    const port = await freePort();
    const data = join(dir, "data");
    await run([join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"], asPostgres);
    const server = new PostgresServer(port, dir, bin, asPostgres);
    await server.resume();
    return server;
  }

  /** Runs SQL with psql against a database; returns its unaligned output rows. */
  async psql(database: string, sql: string): Promise<string[]> {
    const p = Bun.spawn([join(this.bin, "psql"), "-h", "127.0.0.1", "-p", String(this.port), "-U", "postgres", "-d", database, "-At", "-c", sql], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    if (code !== 0) throw new Error(`psql failed: ${err}`);
    return out.split("\n").filter((l) => l !== "");
  }

  /** Stops the server and keeps its data (an outage); `resume` starts it again on the same port. */
  async pause(): Promise<void> {
    await this.pgCtl("-m", "fast", "-w", "stop");
  }

  /** Starts the server (again) on its port, answering on 127.0.0.1. */
  async resume(): Promise<void> {
    await this.pgCtl("-l", join(this.dir, "log"), "-w", "-t", "30", "-o", `-p ${this.port} -k ${this.dir} -h 127.0.0.1`, "start");
  }

  private pgCtl(...args: string[]): Promise<void> {
    return run([join(this.bin, "pg_ctl"), "-D", join(this.dir, "data"), ...args], this.asPostgres);
  }

  async stop(): Promise<void> {
    try {
      // (not running when a test ends during a pause)
      if (existsSync(join(this.dir, "data", "postmaster.pid"))) await this.pause();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
