/**
 * The check `connect dbms ... type = psql` makes before it hands an address to the driver
 * (which reconnects hundreds of times a second to an address that closes its connections):
 * real sockets on loopback standing in for what may be found at an address.
 */
import { expect, test } from "bun:test";
import { type Server, createServer } from "node:net";
import { probePostgres } from "./postgres.ts";

async function serve(onConnection: (socket: import("node:net").Socket) => void): Promise<{ server: Server; port: number; connections: () => number }> {
  let n = 0;
  const server = createServer((s) => {
    n++;
    onConnection(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { server, port: (server.address() as { port: number }).port, connections: () => n };
}

test("an address that closes every connection: a clear error after three tries with a doubling wait, not a storm", async () => {
  const s = await serve((c) => c.destroy());
  const r = await probePostgres("127.0.0.1", s.port);
  expect(r.ok).toBe(false);
  if (!r.ok) expect(r.error.message).toContain("closed the connection without answering as PostgreSQL does");
  expect(s.connections()).toBe(3);
  s.server.close();
});

test("a server that answers something else is not PostgreSQL (one try); one that answers N or S is", async () => {
  const http = await serve((c) => c.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
  const r = await probePostgres("127.0.0.1", http.port);
  expect(r.ok).toBe(false);
  if (!r.ok) expect(r.error.message).toContain("is not a PostgreSQL server");
  expect(http.connections()).toBe(1);
  http.server.close();
  const pg = await serve((c) => c.once("data", () => c.write("N")));
  expect(await probePostgres("127.0.0.1", pg.port)).toEqual({ ok: true, value: undefined });
  pg.server.close();
});

test("nothing listening: an error saying so", async () => {
  const s = await serve(() => {});
  const port = s.port;
  await new Promise<void>((r) => s.server.close(() => r()));
  const r = await probePostgres("127.0.0.1", port);
  expect(r.ok).toBe(false);
  if (!r.ok) expect(r.error.message).toMatch(/nothing listens there|cannot reach/);
});
