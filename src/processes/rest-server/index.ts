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
import { type TlsMaterial, pemDir, readOrgTls } from "../../security/certificates.ts";
import type { Node } from "../../node/node.ts";
import { type Result, fail, ok } from "../../util/result.ts";
import { queryPool } from "../query-pool/index.ts";
import { type NodeProcess, type ProcessStatus, registerProcess } from "../registry.ts";

class RestServer implements NodeProcess {
  private server?: Server<undefined>;
  private address?: ListenAddress;
  private timeout = 20;
  private tls?: TlsMaterial & { clientCertificates: boolean };

  constructor(private readonly node: Node) {}

  async start(args: Args): Promise<Result<string>> {
    const address = listenAddress(args, 5);
    if (!address.ok) return address;
    const tls = this.tlsOptions(args);
    if (!tls.ok) return tls;
    this.tls = tls.value;
    const a = address.value;
    this.timeout = args.int("timeout", 20);
    if (this.timeout <= 0) return fail("bad_option", "'timeout' must be a positive number of seconds");
    const list = (key: string) => (args.str(key) ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
    const guard = { corsOrigins: list("cors"), extraHosts: list("hosts") };
    const app = restApp(this.node, { timeout: this.timeout, pool: (work) => queryPool(this.node).run(work), guard });
    try {
      // Bun.serve does not give the handler the client's certificate, so its CN cannot yet name
      // the REST user; a client without a certificate the CA signed never reaches the app.
      const t = this.tls;
      const tlsServe = t ? { tls: { cert: t.cert, key: t.key, ca: t.ca, requestCert: t.clientCertificates, rejectUnauthorized: true } } : {};
      this.server = Bun.serve({ hostname: a.host, port: a.port, fetch: app.fetch, idleTimeout: Math.min(255, this.timeout + 10), ...tlsServe });
    } catch (e) {
      const code = (e as { code?: string }).code;
      const why = code === "EADDRINUSE" ? "the port is already in use" : e instanceof Error ? e.message : String(e);
      return fail("io", `cannot listen on ${a.host}:${a.port}: ${why}`);
    }
    const port = this.server.port ?? a.port;
    this.address = { ...a, port, externalPort: a.port === 0 ? port : a.externalPort };
    return ok(this.details());
  }

  /** `ssl = true`: the files of ca_org and server_org, read now so a missing one fails `run`, not the first client. */
  private tlsOptions(args: Args): Result<(TlsMaterial & { clientCertificates: boolean }) | undefined> {
    const ssl = args.bool("ssl", false);
    const clientCertificates = args.bool("client_certificates", false);
    const caOrg = args.str("ca_org");
    const serverOrg = args.str("server_org");
    if (!ssl) {
      if (clientCertificates || caOrg !== undefined || serverOrg !== undefined) return fail("bad_option", "'client_certificates', 'ca_org' and 'server_org' need 'ssl = true'");
      return ok(undefined);
    }
    if (caOrg === undefined || serverOrg === undefined) return fail("bad_option", "'ssl = true' needs 'ca_org' (the CA that signed the node's certificate) and 'server_org' (the node's certificate): e.g. ssl = true and ca_org = AnyLog and server_org = \"Node 128\"");
    const files = readOrgTls(pemDir(this.node), caOrg, serverOrg);
    return files.ok ? ok({ ...files.value, clientCertificates }) : files;
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
    const ssl = this.tls ? `SSL: https${this.tls.clientCertificates ? " with client certificates" : ""}` : "SSL: None";
    return `Listening on: ${a.externalIp}:${a.externalPort}, Threads Pool: ${a.threads}, Timeout: ${this.timeout}, ${ssl}`;
  }

  info(): Record<string, unknown> {
    const a = this.address;
    if (!this.server || !a) return {};
    const t = this.tls;
    return {
      external: `${a.externalIp}:${a.externalPort}`,
      listening: `${a.host}:${a.port}`,
      protocol: t ? "https" : "http",
      timeout: this.timeout,
      ssl: t !== undefined,
      ...(t ? { client_certificates: t.clientCertificates, certificate: t.files.cert, ca: t.files.ca } : {}),
      threads: a.threads,
    };
  }
}

registerProcess({
  name: "REST",
  order: 20,
  aliases: ["rest", "rest server", "rest server info"],
  run: {
    words: ["run", "rest", "server"],
    peer: false,
    summary: "Serves REST requests from users and applications",
    positional: listenPositional,
    options: {
      ...listenOptions,
      timeout: { type: "int", help: "seconds before a request times out (default 20)" },
      ssl: { type: "bool", help: "HTTPS with the certificate of server_org signed by ca_org (files under !pem_dir)" },
      ca_org: { type: "str", help: "with ssl: the org of the CA (ca-<org>-public-key.crt)" },
      server_org: { type: "str", help: "with ssl: the org of the node's certificate (server-<org>-public-key.crt, server-<org>-private-key.key)" },
      client_certificates: { type: "bool", help: "with ssl: clients must present a certificate signed by ca_org (default false)" },
      cors: { type: "str", help: "origins web pages may call from, comma-separated (\"*\": any); default none: CORS off" },
      hosts: { type: "str", help: "host names the node answers to besides its own names and addresses, comma-separated" },
    },
    examples: [
      'run rest server !ip !rest_port where ssl = true and ca_org = AnyLog and server_org = "Node 128" and client_certificates = true',"run rest server !ip !anylog_rest_port", "run rest server where external_ip = !ip and external_port = 32149 and timeout = 30"],
  },
  essential: true,
  create: (node) => new RestServer(node),
});
