/**
 * @module security/rest-auth
 * The REST server's check of who sends a request, when user authentication is on
 * (security/users): HTTP Basic credentials, 401 with `WWW-Authenticate` when they are
 * missing, wrong or expired, 403 when a `user` (who may only read) sends a request to `/`
 * that is not a GET — a command that changes the node, a PUT of rows, a `command: data`.
 * `/health` stays open (monitors and systemd ask it), and so do CORS preflights.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { Node } from "../node/node.ts";
import { usersOf } from "./users.ts";

/** The address a request came from (Bun's server, passed to the app as its env). */
export function remoteAddress(c: Context): string {
  const server = c.env as { requestIP?: (request: Request) => { address: string } | null } | undefined;
  return server?.requestIP?.(c.req.raw)?.address ?? "unknown";
}

export function userAuthentication(node: Node): MiddlewareHandler {
  return async (c, next) => {
    const users = usersOf(node);
    if (!users.enabled || c.req.path === "/health" || c.req.method === "OPTIONS") return next();
    const who = await users.authenticate(c.req.header("authorization"), () => remoteAddress(c));
    if (!who.ok) return c.json({ error: who.error.message, command: "" }, 401, { "WWW-Authenticate": 'Basic realm="anylog", charset="UTF-8"' });
    // (Grafana's data-source paths are reads, whatever their method)
    if (who.value.type !== "admin" && c.req.path === "/" && c.req.method !== "GET") {
      return c.json({ error: `user '${who.value.name}' may only read (GET): an admin sends commands that change the node, PUTs and data`, command: "" }, 403);
    }
    return next();
  };
}
