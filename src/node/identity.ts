/**
 * @module node/identity
 * What the dictionary starts with: the node's name, host name, local and external IP
 * (found from the network interfaces, offline, without asking any web service) and the
 * data directories under `$ANYLOG_HOME`.
 */
import { homedir, hostname, networkInterfaces } from "node:os";
import { join } from "node:path";

const isPrivate = (ip: string) =>
  /^10\./.test(ip) ||
  /^192\.168\./.test(ip) ||
  /^172\.(1[6-9]|2\d|3[01])\./.test(ip) ||
  /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./.test(ip) || // carrier-grade NAT
  /^169\.254\./.test(ip);

/** The local IP (first private IPv4 of an interface) and the external IP (a public one, else the local). */
export function findAddresses(): { ip: string; externalIp: string } {
  const v4: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) v4.push(a.address);
  }
  const ip = v4.find(isPrivate) ?? v4[0] ?? "127.0.0.1";
  const externalIp = v4.find((a) => !isPrivate(a)) ?? ip;
  return { ip, externalIp };
}

/** The data directories every node has, relative to `anylog_path`. */
export const DATA_DIRS: Record<string, string> = {
  watch_dir: "data/watch",
  bkup_dir: "data/bkup",
  err_dir: "data/error",
  archive_dir: "data/archive",
  distr_dir: "data/distr",
  prep_dir: "data/prep",
  blobs_dir: "data/blobs",
  bwatch_dir: "data/bwatch",
  dbms_dir: "data/dbms",
  blockchain_dir: "blockchain",
  pem_dir: "pem",
  id_dir: "keys",
  tmp_dir: "tmp",
};

/** The dictionary a node starts with, before `--set` values and the role file. */
export function defaultDictionary(env: Record<string, string | undefined> = process.env): Record<string, string> {
  const home = env.ANYLOG_HOME || join(homedir(), ".anylog");
  const { ip, externalIp } = findAddresses();
  const host = hostname();
  const dict: Record<string, string> = {
    node_name: env.NODE_NAME || `anylog-${host}`,
    hostname: host,
    ip,
    external_ip: externalIp,
    anylog_path: home,
    anylog_home: home,
  };
  for (const [key, rel] of Object.entries(DATA_DIRS)) dict[key] = join(home, rel);
  dict.blockchain_file = join(home, "blockchain", "blockchain.json");
  return dict;
}
