/**
 * @module processes/rest-server
 * The REST server (`run rest server`): Bun's HTTP server carrying the Hono app of
 * `network/rest.ts`, for users and applications that are not network members. Essential: a
 * port that cannot be listened on ends `anylog start` with exit 1 unless the script's
 * `on error` covers it (cli/start.ts).
 */
import type { Server } from "bun";
import type { Args } from "../../commands/spec.ts";
import { listenAddress, listenOptions, listenPositional, type ListenAddress } from "../../network/listen-address.ts";
import { restApp } from "../../network/rest.ts";
import type { Node } from "../../node/node.ts";
import { type Result, fail, ok } from "../../util/result.ts";
import { queryPool } from "../query-pool/index.ts";
import { type NodeProcess, type ProcessStatus, registerProcess } from "../registry.ts";

class RestServer implements NodeProcess {
  private server?: Server<undefined>;
  private address?: ListenAddress;
  private timeout = 20;

  constructor(private readonly node: Node) {}

  async start(args: Args): Promise<Result<string>> {
    if (args.bool("ssl", false)) return fail("unavailable", "'ssl = true' is not supported by this build: run REST behind a TLS proxy");
    const address = listenAddress(args, 5);
    if (!address.ok) return address;
    const a = address.value;
    this.timeout = args.int("timeout", 20);
    if (this.timeout <= 0) return fail("bad_option", "'timeout' must be a positive number of seconds");
    const app = restApp(this.node, { timeout: this.timeout, pool: (work) => queryPool(this.node).run(work) });
    try {
      this.server = Bun.serve({ hostname: a.host, port: a.port, fetch: app.fetch, idleTimeout: Math.min(255, this.timeout + 10) });
    } catch (e) {
      const code = (e as { code?: string }).code;
      const why = code === "EADDRINUSE" ? "the port is already in use" : e instanceof Error ? e.message : String(e);
      return fail("io", `cannot listen on ${a.host}:${a.port}: ${why}`);
    }
    const port = this.server.port ?? a.port;
    this.address = { ...a, port, externalPort: a.port === 0 ? port : a.externalPort };
    return ok(this.details());
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    await s?.stop(false);
  }

  status(): ProcessStatus {
    return this.server ? "Running" : "Not declared";
  }

  details(): string {
    const a = this.address;
    if (!this.server || !a) return "";
    return `Listening on: ${a.externalIp}:${a.externalPort}, Threads Pool: ${a.threads}, Timeout: ${this.timeout}, SSL: None`;
  }

  info(): Record<string, unknown> {
    const a = this.address;
    if (!this.server || !a) return {};
    return { external: `${a.externalIp}:${a.externalPort}`, listening: `${a.host}:${a.port}`, timeout: this.timeout, ssl: false, threads: a.threads };
  }
}

registerProcess({
  name: "REST",
  order: 20,
  aliases: ["rest", "rest server", "rest server info"],
  run: {
    words: ["run", "rest", "server"],
    summary: "Serves REST requests from users and applications",
    positional: listenPositional,
    options: {
      ...listenOptions,
      timeout: { type: "int", help: "seconds before a request times out (default 20)" },
      ssl: { type: "bool", help: "HTTPS with client certificates" },
    },
    examples: ["run rest server !ip !anylog_rest_port", "run rest server where external_ip = !ip and external_port = 32149 and timeout = 30"],
  },
  essential: true,
  create: (node) => new RestServer(node),
});
