/**
 * The operator seeds as written, against a master, on SQLite and on PostgreSQL; then the
 * operators ingest.
 *
 * - The master runs seed 002 as test/metadata-network.test.ts starts it.
 * - Operator A runs seed 001 steps 2-9 and 11 (step 1 has no commands). Left out: the
 *   `run message broker` line of step 2, step 10 (`run mqtt client`) and the
 *   `run data distributor` line of step 11 — the broker, MQTT and HA work brings them.
 *   Step 8's last line, cut off after `and` in the documentation, ends in
 *   `master=!ledger_conn` as in the metadata test.
 * - Operator B runs seed 003 steps 1-5 and 8, with the SQLite or the PostgreSQL block of
 *   steps 4 and 5 and the bind=false operator policy of step 3 (the other is the
 *   alternative for bind=true). Its fixed TCP port 32148 becomes a free port, and the
 *   PostgreSQL block's placeholders (port 54332, [DB user], [DB password]) the test
 *   server's. Seed 003 starts no REST server; one line after it adds one, for the PUT.
 *
 * After the scripts ran without an error, each operator ingests a watch-dir file and a
 * REST PUT into a new table: the rows are queryable, `get operator` counts both, the file
 * went where the seed's options say (distributor dir for 001, compressed in the archive
 * for 003), and the `table` policy with the CREATE statement reached the master's ledger.
 * For seed 001 also: the table is partitioned by day and the partition drop is scheduled.
 */
import { Database as Sqlite } from "bun:sqlite";
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "./support/node-process.ts";
import { type DataSource, type Engine, command, dropFile, operatorInfo, put, select, waitFor } from "./support/operator.ts";
import { PostgresServer } from "./support/postgres.ts";
import { ScriptNode, stopScriptNodes } from "./support/script-node.ts";
import { COMPANY, PLACE, seedBlocks, seedMasterOptions, seedsPresent, uncut } from "./support/seeds.ts";

setDefaultTimeout(180_000);

if (!seedsPresent) console.warn("operator seed tests skipped: the seeds are absent (CI has them beside the checkout)");

const work = mkdtempSync(join(tmpdir(), "anylog-opseeds-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Drops the lines of commands that later work brings. */
const without = (text: string, ...commands: RegExp[]) =>
  text
    .split("\n")
    .filter((l) => !commands.some((c) => c.test(l)))
    .join("\n");

interface Master {
  node: ScriptNode;
  tcp: number;
  home: string;
}

/** A question to the master through an operator's peer link (seed 002's REST server shares the TCP port, so it has none). */
async function askMaster(op: Operator, master: Master, cmd: string): Promise<string> {
  const r = await command(op.url, `run client (127.0.0.1:${master.tcp}) ${cmd}`);
  if (r.status !== 200) throw new Error(`${cmd} on the master: ${r.status} ${r.text}`);
  return r.text.trim();
}

async function startMaster(dir: string, engine: Engine, pg?: PostgresServer): Promise<Master> {
  const [tcp, rest] = (await freePorts(2)) as [number, number];
  const options = seedMasterOptions(dir, engine, { tcp, rest }, pg);
  return { node: await ScriptNode.start(options), tcp, home: options.home };
}

/** The master's `table` policies, read from its ledger table. */
async function masterTablePolicies(master: Master, engine: Engine, pg?: PostgresServer): Promise<Array<{ table: { name: string; dbms: string; create: string } }>> {
  const sql = "SELECT policy FROM ledger WHERE policy_type = 'table' AND status = 'active' ORDER BY seq";
  let texts: string[];
  if (engine === "psql") texts = await pg!.psql("blockchain", sql);
  else {
    const db = new Sqlite(join(master.home, "data", "dbms", "blockchain.dbms"), { readonly: true });
    try {
      texts = (db.query(sql).all() as Array<{ policy: string }>).map((r) => r.policy);
    } finally {
      db.close();
    }
  }
  return texts.map((t) => JSON.parse(t));
}

interface Operator extends DataSource {
  node: ScriptNode;
  script: string;
  dbms: string;
}

function scriptErrors(op: Operator): string[] {
  return op.node.stderr.split("\n").filter((l) => l.startsWith(`${op.script}:`));
}

/** Seed 001 steps 2-9 and 11 on operator A. */
async function startSeed001(dir: string, engine: Engine, master: Master, pg?: PostgresServer): Promise<Operator> {
  const [tcp, rest] = (await freePorts(2)) as [number, number];
  const blocks = seedBlocks("001");
  // blocks 0-7 are steps 2-9, block 8 is step 10 (MQTT), block 9 is step 11
  const script = without(uncut([...blocks.slice(0, 8), blocks[9]!].join("\n")), /^\s*run message broker\b/, /^\s*run data distributor\b/);
  expect(script).not.toContain("run mqtt client");
  return startOperator(dir, "operator-001", script, { tcp, rest }, master, { engine, pg, dbms: "test" }, {
    sync_time: "2 seconds",
    company_name: COMPANY,
    db_type: engine,
    db_ip: "127.0.0.1",
    db_port: String(pg?.port ?? 5432),
    db_user: "postgres",
    db_password: "test",
    memory: "true",
    cluster_name: "cluster-001",
    default_dbms: "test",
    table_name: "readings",
    partition_column: "timestamp",
    partition_interval: "1 day",
    partition_sync: "1 day",
    partition_keep: "3",
    ...PLACE,
  });
}

/** Seed 003 steps 1-5 and 8 on operator B. */
async function startSeed003(dir: string, engine: Engine, master: Master, pg?: PostgresServer): Promise<Operator> {
  const [tcp, rest] = (await freePorts(2)) as [number, number];
  const b = seedBlocks("003");
  // 0: step 1; 1-2: step 2; 3, 4, 6: step 3 (5 is the bind=true alternative); 7/8: step 4 SQLite/PostgreSQL;
  // 9/10: step 5 SQLite/PostgreSQL (11 MongoDB); 12: step 6 blobs; 13: step 7 HA; 14: step 8
  const storage = engine === "sqlite" ? [b[7]!, b[9]!] : [b[8]!, b[10]!];
  let script = [b[0]!, b[1]!, b[2]!, b[3]!, b[4]!, b[6]!, ...storage, b[14]!].join("\n");
  script = script.replaceAll("32148", String(tcp));
  if (pg) script = script.replaceAll("54332", String(pg.port)).replaceAll("[DB user]", "postgres").replaceAll("[DB password]", "test");
  // not in the seed: a REST server, for the PUT
  script += "\nrun rest server where external_ip = !ip and external_port = !anylog_rest_port and bind = true\n";
  return startOperator(dir, "operator-003", script, { tcp, rest }, master, { engine, pg, dbms: "mydb" }, {});
}

/** An operator from a seed's script in `<dir>/<name>.al`, home `<dir>/<name>`, against the master. */
async function startOperator(
  dir: string,
  name: string,
  script: string,
  ports: { tcp: number; rest: number },
  master: Master,
  data: { engine: Engine; pg?: PostgresServer; dbms: string },
  set: Record<string, string>,
): Promise<Operator> {
  const path = join(dir, `${name}.al`);
  writeFileSync(path, script);
  const home = join(dir, name);
  const node = await ScriptNode.start({
    home,
    script: path,
    restPort: ports.rest,
    set: {
      ip: "127.0.0.1",
      external_ip: "127.0.0.1",
      ledger_conn: `127.0.0.1:${master.tcp}`,
      node_name: name,
      anylog_server_port: String(ports.tcp),
      anylog_rest_port: String(ports.rest),
      ...set,
    },
  });
  return { node, script: path, url: `http://127.0.0.1:${ports.rest}`, home, ...data };
}

/** Rows over two days (so a daily partition rule gives two partitions). */
function readings(first: number, n: number): Array<Record<string, unknown>> {
  return Array.from({ length: n }, (_, i) => ({
    id: first + i,
    timestamp: new Date(Date.UTC(2025, 3, 1, 20) + (first + i) * 600_000).toISOString().replace("T", " ").replace("Z", ""),
    device_name: `dev-${(first + i) % 3}`,
    value: (first + i) * 0.5,
  }));
}

/** A file into the watch dir and a PUT: both land, get operator counts both, the table policy reaches the master. */
async function ingests(op: Operator, master: Master, engine: Engine, masterPg: PostgresServer | undefined, table: string): Promise<void> {
  const info = await operatorInfo(op.url);
  expect(info.status).toBe("Running");
  const file = readings(0, 40);
  const name = `${op.dbms}.${table}.seedtest.f1.0.json`;
  dropFile(info.watch_dir, name, file.map((r) => JSON.stringify(r)).join("\n"));
  const count = async () => (await select(op, op.dbms, `select count(*) as n from ${table}`).catch(() => [{ n: 0 }]))[0]?.n;
  await waitFor(`the file's 40 rows in ${op.dbms}.${table}`, async () => Number(await count()) === 40, 30_000, 200);

  const r = await put(op.url, op.dbms, table, JSON.stringify(readings(40, 60)));
  expect(r.status).toBe(200);
  expect((r.json as Record<string, string>)["AnyLog.status"]).toBe("Success");
  expect(Number(await count())).toBe(100);
  const sums = await select(op, op.dbms, `select count(distinct id) as ids, sum(value) as total, min(id) as lo, max(id) as hi from ${table}`);
  expect(sums.map((s) => ({ ids: Number(s.ids), total: Number(s.total), lo: Number(s.lo), hi: Number(s.hi) }))).toEqual([{ ids: 100, total: (99 * 100) / 4, lo: 0, hi: 99 }]);

  const after = await operatorInfo(op.url);
  expect(after.tables[`${op.dbms}.${table}`]).toMatchObject({ files: 2, rows: 100, errors: 0 });
  expect(existsSync(join(info.watch_dir, name))).toBe(false);

  // the table policy, with its CREATE statement, in the master's ledger
  const policies = await waitFor(
    `the table policy of ${op.dbms}.${table} in the master's ledger`,
    async () => {
      const all = await masterTablePolicies(master, engine, masterPg);
      const mine = all.filter((p) => p.table.dbms === op.dbms && p.table.name === table);
      return mine.length > 0 ? mine : undefined;
    },
    20_000,
    250,
  );
  expect(policies).toHaveLength(1);
  expect(policies[0]!.table.create).toMatch(new RegExp(`CREATE TABLE.*${table}`, "i"));
  expect(policies[0]!.table.create).toContain("device_name");
  // and the master answers for it
  await waitFor("the master's blockchain get table", async () => (await askMaster(op, master, `blockchain get table where dbms = ${op.dbms} and name = ${table} bring [table][name]`)) === table, 20_000, 250);
}

for (const engine of ["sqlite", "psql"] as Engine[]) {
  describe.skipIf(!seedsPresent)(`operator seeds against a master on ${engine}`, () => {
    // the master and seed 001's operator share one server; seed 003's operator, whose
    // almgm would be the same database, has its own
    let pg: PostgresServer | undefined;
    let pg3: PostgresServer | undefined;
    let master: Master;
    let dir: string;
    afterAll(async () => {
      await stopScriptNodes();
      await pg?.stop();
      await pg3?.stop();
    });

    test("seed 001 steps 2-9 and 11 run as written; the operator ingests a file and a PUT", async () => {
      dir = join(work, engine);
      mkdirSync(dir, { recursive: true });
      if (engine === "psql") [pg, pg3] = await Promise.all([PostgresServer.start(), PostgresServer.start()]);
      master = await startMaster(dir, engine, pg);
      const op = await startSeed001(dir, engine, master, pg);
      expect(scriptErrors(op)).toEqual([]);

      const processes = (await command(op.url, "get processes where format = json")).json as Record<string, { Status: string }>;
      for (const p of ["TCP", "REST", "Operator", "Scheduler", "Blockchain Sync"]) expect(processes[p]?.Status).toBe("Running");
      // the operator runs with its policy's id (step 11 looked it up)
      const id = (await command(op.url, `blockchain get operator where company = "${COMPANY}" and name = operator-001 bring [operator][id]`)).text.trim();
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      expect((await operatorInfo(op.url)).policy).toBe(id);

      await ingests(op, master, engine, pg, "readings");

      // step 9: readings is partitioned by day (the rows span two days), and the drop is scheduled
      const parts = (await command(op.url, "get partitions where format = json")).json as Array<{ table: string; column: string; interval: string; partitions: string[] }>;
      expect(parts.find((p) => p.table === "readings")).toMatchObject({ column: "timestamp", interval: "1 day", partitions: ["par_readings_20250401", "par_readings_20250402"] });
      const scheduled = await command(op.url, "get scheduler");
      expect(scheduled.status).toBe(200);
      expect(scheduled.text).toContain("Drop Partitions");
      expect(scheduled.text).toContain("drop partition");

      // distributor=true: a stored file waits in the distribution directory for the (future) distributor
      const distr = join(op.home, "data", "distr");
      expect(existsSync(distr) ? readdirSync(distr, { recursive: true }).map(String) : []).toContain("test.readings.seedtest.f1.0.json");
    });

    test("seed 003 steps 1-5 and 8 run as written; the operator ingests a file and a PUT", async () => {
      const op = await startSeed003(dir, engine, master, pg3);
      expect(scriptErrors(op)).toEqual([]);
      const processes = (await command(op.url, "get processes where format = json")).json as Record<string, { Status: string }>;
      for (const p of ["TCP", "REST", "Operator"]) expect(processes[p]?.Status).toBe("Running");
      const id = (await command(op.url, 'blockchain get operator where name = my-operator1 and company = "My Company" bring [operator][id]')).text.trim();
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      expect((await operatorInfo(op.url)).policy).toBe(id);
      // the cluster and operator policies reached the master too
      await waitFor(
        "seed 003's operator policy on the master",
        async () => (await askMaster(op, master, 'blockchain get operator where name = my-operator1 and company = "My Company" bring [operator][id]')) === id,
        20_000,
        250,
      );

      await ingests(op, master, engine, pg, "readings");

      // archive_json and compress_json: the stored file is compressed in the archive, by day
      const archive = join(op.home, "data", "archive");
      const archived = existsSync(archive) ? readdirSync(archive, { recursive: true }).map(String) : [];
      expect(archived.some((p) => p.endsWith("mydb.readings.seedtest.f1.0.json.gz"))).toBe(true);
    });
  });
}
