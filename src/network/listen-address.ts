/**
 * @module network/listen-address
 * Where a server listens, from the two forms AnyLog accepts: positional
 * `[ip] [port] [local ip] [local port] [threads]` or `where external_ip = ... and
 * external_port = ... and internal_ip = ... and internal_port = ... and bind = ...`.
 * With bind=false (the default) the server listens on every address at the port;
 * with bind=true only on the internal IP (else the external one).
 */
import type { Args, OptionTable, PositionalSpec } from "../commands/spec.ts";
import { type Result, fail, ok } from "../util/result.ts";

export const listenPositional: PositionalSpec[] = [
  { name: "ip", type: "str", help: "external IP (published to peers)", optional: true },
  { name: "port", type: "int", help: "external port", optional: true },
  { name: "local_ip", type: "str", help: "local IP", optional: true },
  { name: "local_port", type: "int", help: "local port", optional: true },
  { name: "threads", type: "int", help: "worker count", optional: true },
];

export const listenOptions: OptionTable = {
  external_ip: { type: "str", help: "IP published to peers" },
  external_port: { type: "int", help: "port published to peers" },
  internal_ip: { type: "str", help: "IP on the local network" },
  internal_port: { type: "int", help: "port on the local network" },
  bind: { type: "bool", help: "listen on the one IP only (default false: every IP)" },
  threads: { type: "int", help: "worker count" },
  workers: { type: "int", help: "worker count (same as threads)" },
};

export interface ListenAddress {
  externalIp: string;
  externalPort: number;
  internalIp?: string;
  internalPort?: number;
  bind: boolean;
  /** The host and port the socket binds. */
  host: string;
  port: number;
  threads: number;
}

export function listenAddress(args: Args, defaultThreads: number): Result<ListenAddress> {
  const externalIp = args.str("external_ip") ?? args.str("ip");
  const externalPort = args.int("external_port") ?? args.int("port");
  const internalIp = args.str("internal_ip") ?? args.str("local_ip");
  const internalPort = args.int("internal_port") ?? args.int("local_port");
  if (!externalIp && !internalIp) return fail("bad_option", "an IP is missing: give <ip> <port>, or external_ip = ... and external_port = ...");
  const port = internalPort ?? externalPort;
  if (port === undefined) return fail("bad_option", "a port is missing: give <ip> <port>, or external_port = ...");
  if (port < 0 || port > 65535) return fail("bad_option", `port ${port} is out of range (0-65535)`);
  const bind = args.bool("bind", false);
  const host = bind ? (internalIp ?? externalIp)! : "0.0.0.0";
  const threads = args.int("threads") ?? args.int("workers") ?? defaultThreads;
  return ok({
    externalIp: (externalIp ?? internalIp)!,
    externalPort: externalPort ?? port,
    internalIp,
    internalPort,
    bind,
    host,
    port,
    threads,
  });
}

/** Where a listener listens, as `get <process>` shows it. */
export function addressInfo(a: ListenAddress): Record<string, unknown> {
  return {
    external: `${a.externalIp}:${a.externalPort}`,
    internal: a.internalIp ? `${a.internalIp}:${a.internalPort ?? a.port}` : undefined,
    listening: `${a.host}:${a.port}`,
    bind: a.bind,
    threads: a.threads,
  };
}
