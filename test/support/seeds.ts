/**
 * @module test/support/seeds
 * The shared seeds (beside the checkout, as CI has them): their text and ```anylog blocks,
 * the repair of the two lines the documentation cut off, and seed 002's master as the
 * network tests start it.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./node-process.ts";
import type { PostgresServer } from "./postgres.ts";
import type { ScriptNodeOptions } from "./script-node.ts";

export const SEEDS = join(REPO_ROOT, "..", "shared", "seeds");
export const seedsPresent = existsSync(SEEDS);

/** The whole text of seed `<prefix>_*.txt`. */
export function seedText(prefix: string): string {
  const file = readdirSync(SEEDS).find((f) => f.startsWith(prefix));
  if (!file) throw new Error(`no seed ${prefix}_*.txt in ${SEEDS}`);
  return readFileSync(join(SEEDS, file), "utf8");
}

/** The ```anylog blocks of a seed, in order. */
export function seedBlocks(prefix: string): string[] {
  return [...seedText(prefix).matchAll(/```anylog[^\n]*\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** The two lines the documentation cut off after `and` are meant to end in `master=!ledger_conn`. */
export const uncut = (text: string) => text.replace(/and local=true and\s*$/gm, "and local=true and master=!ledger_conn");

/** The company and place the network tests declare their policies with. */
export const COMPANY = "Test Co";
export const PLACE = { loc: "43.65,-79.38", country: "CA", state: "ON", city: "Toronto" };

/**
 * Seed 002 (the master) as written, on SQLite or on the test's PostgreSQL: writes its script
 * to `<dir>/master.al` and gives the options to start (and restart) it from `<dir>/master`.
 */
export function seedMasterOptions(dir: string, engine: "sqlite" | "psql", ports: { tcp: number; rest: number }, pg?: PostgresServer): ScriptNodeOptions {
  let script = seedBlocks("002").join("\n");
  if (engine === "sqlite") script = script.replace("type=psql", "type=sqlite");
  // Seed 002 puts its REST server on the TCP port (external_port = !anylog_server_port): that
  // server cannot listen, and a listener that cannot start stops the node unless the script
  // says to go on. As a user running this seed must, the test says so before each such line;
  // the ledger works over TCP.
  script = script.replace(/^(\s*)(run rest server .*external_port = !anylog_server_port.*)$/gm, "$1on error ignore\n$1$2");
  writeFileSync(join(dir, "master.al"), script);
  return {
    home: join(dir, "master"),
    script: join(dir, "master.al"),
    env: { NODE_NAME: "master-1", COMPANY_NAME: COMPANY, ANYLOG_SERVER_PORT: String(ports.tcp) },
    set: {
      ip: "127.0.0.1",
      external_ip: "127.0.0.1",
      internal_ip: "127.0.0.1",
      ledger_conn: `127.0.0.1:${ports.tcp}`,
      sync_time: "2 seconds",
      anylog_rest_port: String(ports.rest),
      db_ip: "127.0.0.1",
      db_port: String(pg?.port ?? 5432),
      db_user: "postgres",
      db_passwd: "",
      blockchain_source: "master",
      blockchain_destination: "file",
      ...PLACE,
    },
  };
}
