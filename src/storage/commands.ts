/**
 * @module storage/commands
 * Databases from the command line: `connect dbms` (its three forms), `disconnect dbms`,
 * `get databases`, and `create table <ledger|tsd_info> where dbms = ...`.
 */
import type { Args } from "../commands/spec.ts";
import { command } from "../commands/spec.ts";
import { addCommands } from "../commands/table.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { textTable } from "../util/text-table.ts";
import type { ConnectOptions, Engine } from "./database.ts";
import { FIXED_TABLES, createStatements } from "./schema.ts";
import { connectMongo, disconnectMongo, mongoConnections } from "../blobs/stores.ts";

/** `connect dbms ... where type = mongo`: a blobs database (blobs/stores), not a SQL one. */
export interface MongoConnect {
  mongo: true;
  name: string;
  host: string;
  port: number;
  user?: string;
  password?: string;
}

const ENGINES: Record<string, Engine | "mongo"> = {
  sqlite: "sqlite",
  psql: "psql",
  postgres: "psql",
  postgresql: "psql",
  mongo: "mongo",
  mongodb: "mongo",
};

/**
 * The forms of `connect dbms`:
 *   connect dbms <name> where type = sqlite|psql and ip = ... and port = ... and user = ... and password = ...
 *   connect dbms <type> <name> [where memory = true]
 *   connect dbms <type> <user@host:password> <port> <name>
 */
export function connectOptions(args: Args, directory: string): Result<ConnectOptions | MongoConnect> {
  const words = args.list("words");
  let name: string | undefined;
  let type = args.str("type");
  let host = args.str("ip");
  let port = args.int("port");
  let user = args.str("user");
  let password = args.str("password");
  if (words.length === 1) name = words[0];
  else if (words.length === 2) [type, name] = words;
  else if (words.length === 4) {
    const [t, conn, p, n] = words as [string, string, string, string];
    type = t;
    name = n;
    const m = /^([^@]*)@([^:]*)(?::(.*))?$/.exec(conn);
    if (m) {
      user = m[1] || user;
      host = m[2] || host;
      password = m[3] ?? password;
    }
    if (!/^\d+$/.test(p)) return fail("bad_option", `'connect dbms' port '${p}' is not a number`);
    port = Number(p);
  } else {
    return fail("syntax", "usage: connect dbms <name> where type = sqlite|psql ..., or connect dbms <type> <user@ip:password> <port> <name>");
  }
  if (!name || !/^[A-Za-z_][\w]*$/.test(name)) return fail("bad_option", `'${name ?? ""}' is not a database name (letters, digits, _)`);
  const memory = args.bool("memory", false);
  const engine = ENGINES[(type ?? "sqlite").toLowerCase()];
  if (!engine) return fail("bad_option", `'connect dbms' type '${type}' is not one of sqlite, psql, mongo`);
  if (engine === "mongo") {
    // a blobs-only dbms: its blobs go to MongoDB database <name>_blobs (blobs/stores)
    if (host !== undefined && !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:]+\]?$/.test(host)) return fail("bad_option", `'connect dbms' ip '${host}' is not a host name or address`);
    if (port !== undefined && (port < 1 || port > 65535)) return fail("bad_option", `'connect dbms' port ${port} is out of range (1-65535)`);
    return ok({ mongo: true, name, host: host ?? "127.0.0.1", port: port ?? 27017, user, password });
  }
  if (engine === "psql" && !memory) {
    if (host !== undefined && !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:]+\]?$/.test(host)) return fail("bad_option", `'connect dbms' ip '${host}' is not a host name or address`);
    if (port !== undefined && (port < 1 || port > 65535)) return fail("bad_option", `'connect dbms' port ${port} is out of range (1-65535)`);
  }
  // an in-memory database is always SQLite (AnyLog's system_query)
  return ok({ name, engine: memory ? "sqlite" : engine, directory, memory, host, port, user, password });
}

addCommands(
  command({
    words: ["connect", "dbms"],
    peer: false,
    summary: "Connects a logical database: connect dbms <name> where type = sqlite|psql ...",
    method: "POST",
    waitsOnNetwork: true,
    positional: [{ name: "words", type: "list", help: "<name>, or <type> <name>, or <type> <user@ip:password> <port> <name>", rest: true }],
    options: {
      type: { type: "str", help: "sqlite (default), psql, or mongo (a blobs database)" },
      ip: { type: "str", help: "PostgreSQL host" },
      port: { type: "int", help: "PostgreSQL port" },
      user: { type: "str", help: "PostgreSQL user" },
      password: { type: "str", help: "PostgreSQL password" },
      memory: { type: "bool", help: "an in-memory SQLite database" },
    },
    examples: [
      "connect dbms almgm where type = sqlite",
      "connect dbms blockchain where type = psql and ip = 127.0.0.1 and port = 5432 and user = anylog and password = demo",
      "connect dbms sqlite system_query where memory = true",
    ],
    async handler(ctx, args) {
      const dir = ctx.node.dictionary.lookup("dbms_dir") ?? `${ctx.node.dictionary.lookup("anylog_path")}/data/dbms`;
      const options = connectOptions(args, dir);
      if (!options.ok) return options;
      if ("mongo" in options.value) {
        const m = await connectMongo(ctx.node, options.value);
        return m.ok ? ok(`dbms '${options.value.name}' connected for blobs (${m.value.describe()})`) : m;
      }
      const db = await ctx.node.databases.connect(options.value);
      if (!db.ok) return db;
      return ok(`dbms '${db.value.name}' connected (${db.value.describe()})`);
    },
  }),
  command({
    words: ["disconnect", "dbms"],
    peer: false,
    summary: "Closes a logical database",
    method: "POST",
    positional: [{ name: "dbms", type: "str", help: "database name" }],
    async handler(ctx, args) {
      const name = args.str("dbms", "");
      // a name connected as mongo for blobs (and perhaps as SQL for rows too): both are closed
      const wasMongo = await disconnectMongo(ctx.node, name);
      if (wasMongo && !ctx.node.databases.get(name)) return ok(`dbms '${name}' disconnected`);
      const r = await ctx.node.databases.disconnect(name);
      return r.ok ? ok(`dbms '${args.str("dbms")}' disconnected`) : r;
    },
  }),
  command({
    words: ["get", "databases"],
    summary: "The connected logical databases",
    method: "GET",
    options: { format: { type: "str", help: "json for a list of objects" } },
    handler(ctx, args) {
      const rows = ctx.node.databases.list().map((d) => ({ dbms: d.name, type: d.engine as string, location: d.describe() }));
      for (const m of mongoConnections(ctx.node)) rows.push({ dbms: m.name, type: "mongo", location: m.describe() });
      if (args.str("format") === "json") return ok(rows);
      return ok(textTable(["DBMS", "Type", "Location"], rows.map((r) => [r.dbms, r.type, r.location])));
    },
  }),
  command({
    words: ["create", "table"],
    summary: "Creates a system table (ledger, tsd_info) in a database; an existing one is left as it is",
    method: "POST",
    positional: [{ name: "table", type: "str", help: `one of: ${Object.keys(FIXED_TABLES).join(", ")}` }],
    options: { dbms: { type: "str", help: "the database", required: true } },
    examples: ["create table ledger where dbms = blockchain", "create table tsd_info where dbms = almgm"],
    async handler(ctx, args) {
      const name = args.str("table", "").toLowerCase();
      const decl = FIXED_TABLES[name];
      if (!decl) return fail("bad_value", `'create table' makes the system tables ${Object.keys(FIXED_TABLES).join(", ")}, not '${name}'`);
      const db = ctx.node.databases.require(args.str("dbms", ""));
      if (!db.ok) return db;
      const created = await db.value.transaction(async (tx) => {
        for (const statement of createStatements(decl, tx.engine)) {
          const r = await tx.exec(statement);
          if (!r.ok) return r;
        }
        return ok(undefined);
      });
      if (!created.ok) return created;
      return ok(`table '${name}' ready in dbms '${db.value.name}'`);
    },
  }),
);
