/**
 * @module security/rest-guard
 * What a browser may make the REST server do. CORS is off unless `run rest server ... and
 * cors = "<origin>, ..."` names the origins allowed (a role file's `network.cors_origins`):
 * then those origins get CORS headers. A request that changes the node (anything but GET,
 * HEAD, OPTIONS) and comes with a browser `Origin` that is not allowed is refused, so a web
 * page open on the plant network cannot post commands with a form or `text/plain` fetch.
 * The `Host` a request names must be one of the node's names or addresses (or one listed in
 * `hosts = "..."`), so a DNS name rebound to the node's address reaches nothing.
 */
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { hostname, networkInterfaces } from "node:os";
import type { Node } from "../node/node.ts";

export interface GuardSettings {
  /** Origins allowed cross-origin requests ("*" for any); none: CORS off. */
  corsOrigins: string[];
  /** Host names the node answers to beyond its own names and addresses. */
  extraHosts: string[];
}

/** The node's own names and addresses: what a `Host` header may name. */
function ownHosts(node: Node, extra: string[]): Set<string> {
  const hosts = new Set(["localhost", "127.0.0.1", "::1", hostname().toLowerCase()]);
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) hosts.add(a.address.toLowerCase());
  for (const key of ["ip", "external_ip", "internal_ip", "local_ip", "hostname"]) {
    const v = node.dictionary.lookup(key);
    if (v) hosts.add(v.toLowerCase());
  }
  for (const h of extra) hosts.add(h.trim().toLowerCase());
  return hosts;
}

/** The host part of a Host header: `a.b:8080` → `a.b`, `[::1]:80` → `::1`. */
const hostOf = (header: string) => {
  const h = header.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(1, h.indexOf("]"));
  return h.includes(":") && h.indexOf(":") === h.lastIndexOf(":") ? h.slice(0, h.indexOf(":")) : h;
};

export function restGuards(node: Node, settings: GuardSettings): MiddlewareHandler[] {
  const allowed = new Set(settings.corsOrigins.map((o) => o.trim().replace(/\/$/, "")).filter((o) => o !== ""));
  let hosts: Set<string> | undefined;
  const guard: MiddlewareHandler = async (c, next) => {
    hosts ??= ownHosts(node, settings.extraHosts);
    const host = c.req.header("host");
    if (host !== undefined && !hosts.has(hostOf(host))) {
      return c.json({ error: `Host '${host}' is not one of this node's names or addresses (run rest server ... and hosts = "<name>" adds one)`, command: "" }, 403);
    }
    const origin = c.req.header("origin");
    const changes = !["GET", "HEAD", "OPTIONS"].includes(c.req.method);
    if (origin !== undefined && changes && !allowed.has("*") && !allowed.has(origin.replace(/\/$/, ""))) {
      return c.json({ error: `a request from the web page of origin '${origin}' may not change this node (run rest server ... and cors = "<origin>" allows one)`, command: "" }, 403);
    }
    return next();
  };
  if (allowed.size === 0) return [guard];
  const origin = allowed.has("*") ? "*" : [...allowed];
  return [guard, cors({ origin, allowHeaders: ["*"], allowMethods: ["GET", "POST", "PUT", "OPTIONS"] })];
}
