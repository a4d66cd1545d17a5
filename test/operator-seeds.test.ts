/**
 * The operator seeds as written, against a master, on SQLite and on PostgreSQL; then the
 * operators ingest.
 *
 * - The master runs seed 002 as test/metadata-network.test.ts starts it.
 * - Operator A runs seed 001 steps 2-11 (step 1 has no commands). Step 8's last line,
 *   cut off after `and` in the documentation, ends in `master=!ledger_conn` as in the
 *   metadata test. Step 2's broker shares the TCP port, as the seed starts it; step 10's
 *   `broker = local` client maps what mosquitto_pub sends there.
 * - Operator B runs seed 003 steps 1-5, 7 (HA) and 8, with the SQLite or the PostgreSQL block of
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
 *
 * - A publisher runs seed 000 steps 2-8 as written. Files dropped in its watch directory and
 *   messages its `broker = rest` client takes (step 7) reach the operator of their table's
 *   cluster, found in the policies it synced from the master.
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
import { publishLines } from "./support/mosquitto.ts";
import { COMPANY, PLACE, seedBlocks, seedMasterOptions, seedsPresent, uncut } from "./support/seeds.ts";

setDefaultTimeout(180_000);

if (!seedsPresent) console.warn("operator seed tests skipped: the seeds are absent (CI has them beside the checkout)");

const work = mkdtempSync(join(tmpdir(), "anylog-opseeds-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

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
  tcp: number;
}

function scriptErrors(op: Operator): string[] {
  return op.node.stderr.split("\n").filter((l) => l.startsWith(`${op.script}:`));
}

/** Seed 001 steps 2-11 on operator A. */
async function startSeed001(dir: string, engine: Engine, master: Master, pg?: PostgresServer): Promise<Operator> {
  const [tcp, rest] = (await freePorts(2)) as [number, number];
  const blocks = seedBlocks("001");
  // blocks 0-7 are steps 2-9, block 8 is step 10 (MQTT), block 9 is step 11
  const script = uncut(blocks.slice(0, 10).join("\n"));
  expect(script).toContain("run mqtt client");
  expect(script).toContain("run message broker");
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
    // step 10: the seed's mapping, read from the broker = local client's messages
    port: String(tcp),
    mqtt_log: "false",
    mqtt_topic_name: "plant/+/readings",
    mqtt_topic_dbms: "test",
    mqtt_topic_table: "mqtt_readings",
    mqtt_column_timestamp: "now",
    mqtt_column_value: "bring [value]",
    mqtt_column_value_type: "float",
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
  let script = [b[0]!, b[1]!, b[2]!, b[3]!, b[4]!, b[6]!, ...storage, b[13]!, b[14]!].join("\n");
  expect(b[13]).toContain("run data consumer");
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
  return { node, script: path, url: `http://127.0.0.1:${ports.rest}`, home, tcp: ports.tcp, ...data };
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
    /** The operators of seeds 001 and 003, for the publisher of seed 000. */
    let op001: Operator | undefined;
    let op003: Operator | undefined;
    afterAll(async () => {
      await stopScriptNodes();
      await pg?.stop();
      await pg3?.stop();
    });

    test("seed 001 steps 2-11 run as written; the operator ingests a file, a PUT and MQTT messages to its TCP port", async () => {
      dir = join(work, engine);
      mkdirSync(dir, { recursive: true });
      if (engine === "psql") [pg, pg3] = await Promise.all([PostgresServer.start(), PostgresServer.start()]);
      master = await startMaster(dir, engine, pg);
      const op = await startSeed001(dir, engine, master, pg);
      op001 = op;
      expect(scriptErrors(op)).toEqual([]);

      const processes = (await command(op.url, "get processes where format = json")).json as Record<string, { Status: string }>;
      for (const p of ["TCP", "REST", "Message Broker", "MQTT", "Distributor", "Operator", "Scheduler", "Blockchain Sync"]) expect(processes[p]?.Status).toBe("Running");
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

      // distributor=true: a stored file is archived by day (the distributor sends rows from the database)
      const archived = join(op.home, "data", "archive");
      expect(existsSync(archived) ? readdirSync(archived, { recursive: true }).map(String).some((p) => p.endsWith("test.readings.seedtest.f1.0.json")) : false).toBe(true);

      // steps 2 and 10: MQTT on the TCP port, mapped by the seed's topic into test.mqtt_readings
      await publishLines(op.tcp, "plant/line-1/readings", ['{"value": 20}', '{"value": 21.5}', '{"value": 23}'], 1);
      await waitFor("3 MQTT messages in test.mqtt_readings", async () => Number((await select(op, "test", "select count(*) as n from mqtt_readings").catch(() => [{ n: 0 }]))[0]?.n) === 3, 20_000, 200);
      const values = await select(op, "test", "select value, timestamp from mqtt_readings order by value");
      expect(values.map((v) => Number(v.value))).toEqual([20, 21.5, 23]);
      expect(values.every((v) => Date.now() - Date.parse(`${String(v.timestamp).replace(" ", "T")}Z`) < 120_000)).toBe(true); // now: when it arrived
    });

    test("seed 003 steps 1-5, 7 and 8 run as written; the operator ingests a file and a PUT", async () => {
      const op = await startSeed003(dir, engine, master, pg3);
      op003 = op;
      expect(scriptErrors(op)).toEqual([]);
      const processes = (await command(op.url, "get processes where format = json")).json as Record<string, { Status: string }>;
      for (const p of ["TCP", "REST", "Distributor", "Consumer", "Operator"]) expect(processes[p]?.Status).toBe("Running");
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

    test("seed 000 steps 2-8 run as written on a publisher: files and REST messages reach the operator of their table's cluster", async () => {
      const [o1, o3] = [op001, op003];
      if (!o1 || !o3) throw new Error("the seed 001 and 003 operators did not start");
      const [tcp, rest] = (await freePorts(2)) as [number, number];
      const script = uncut(seedBlocks("000").join("\n"));
      const pub = await startOperator(dir, "publisher-000", script, { tcp, rest }, master, { engine, dbms: "mydb" }, {
        sync_time: "2 seconds",
        company_name: COMPANY,
        db_type: "sqlite", // (the publisher's almgm: it stores no data)
        db_conn: "anylog@127.0.0.1:demo",
        db_port: "5432",
        port: String(tcp),
        mqtt_log: "false",
        mqtt_topic_name: "line-2",
        mqtt_topic_dbms: "mydb",
        mqtt_topic_table: "readings",
        mqtt_column_timestamp: "now",
        mqtt_column_value: "bring [value]",
        mqtt_column_value_type: "float",
        compress_file: "true",
        dbms_file_location: "file_name[0]",
        table_file_location: "file_name[1]",
        ...PLACE,
      });
      expect(scriptErrors(pub)).toEqual([]);
      const processes = (await command(pub.url, "get processes where format = json")).json as Record<string, { Status: string }>;
      for (const p of ["TCP", "REST", "Message Broker", "Scheduler", "Blockchain Sync", "MQTT", "Distributor", "Publisher"]) expect(processes[p]?.Status).toBe("Running");
      // step 6: its publisher policy reached the master
      await waitFor("the publisher policy on the master", async () => (await askMaster(pub, master, `blockchain get publisher where name = publisher-000 bring [publisher][port]`)) === String(tcp), 20_000, 250);

      // files: mydb is held only by seed 003's cluster (seed 001's cluster holds dbms test)
      const count = async (op: Operator, dbms: string, table: string) => Number((await select(op, dbms, `select count(*) as n from ${table}`).catch(() => [{ n: 0 }]))[0]?.n ?? 0);
      const before = { op003: await count(o3, "mydb", "readings"), op001: await count(o1, "test", "readings") };
      await waitFor("the table policies synced to the publisher", async () => (await command(pub.url, "blockchain get table where dbms = mydb and name = readings bring [table][name]")).text.trim() === "readings", 20_000, 250);
      const info = (await command(pub.url, "get publisher config where format = json")).json as { watch_dir: string };
      dropFile(info.watch_dir, "mydb.readings.pubseed.1.json", readings(1000, 30).map((r) => JSON.stringify(r)).join("\n"));
      // step 7: messages through the broker = rest client, written as a file and sent on
      for (const value of [1.5, 2.5]) {
        const r = await fetch(`${pub.url}/`, { method: "POST", headers: { command: "data", topic: "line-2", "User-Agent": "AnyLog/1.23", "content-type": "application/json" }, body: JSON.stringify({ value }) });
        expect(r.status).toBe(200);
      }
      await waitFor("32 more rows on seed 003's operator", async () => (await count(o3, "mydb", "readings")) === before.op003 + 32, 30_000, 250);
      expect(await count(o1, "test", "readings")).toBe(before.op001);
      const sent = (await command(pub.url, "get publisher where format = json")).json as { tables: Array<{ dbms: string; table: string; destination: string; files: number }> };
      expect(sent.tables.filter((t) => t.dbms === "mydb").map((t) => t.destination)).toEqual([`127.0.0.1:${o3.tcp}`]);
      // compress_json: sent files are kept compressed
      const bkup = join(pub.home, "data", "bkup");
      await waitFor("the sent file compressed in the backup", () => (existsSync(bkup) ? readdirSync(bkup, { recursive: true }).map(String) : []).some((f) => f.startsWith("mydb.readings.pubseed.1") && f.endsWith(".gz")), 10_000, 200);
    });
  });
}
