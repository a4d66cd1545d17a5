/**
 * The metadata layer across real nodes: seed 002's master sequence as written (PostgreSQL,
 * then SQLite), seed 001 steps 2–8 on an operator and seed 000 steps 2–6 on a publisher
 * against it; every node answers the same after one sync; the master stopped and
 * restarted; a node restarted while the master is away; the declaration run twice.
 */
import { Database as Sqlite } from "bun:sqlite";
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "./support/node-process.ts";
import { PostgresServer } from "./support/postgres.ts";
import { ScriptNode, stopScriptNodes } from "./support/script-node.ts";
import { COMPANY, PLACE, SEEDS, seedBlocks, seedMasterOptions, seedsPresent, uncut } from "./support/seeds.ts";

if (!seedsPresent) console.warn(`metadata seed tests skipped: ${SEEDS} is absent (CI has it beside the checkout)`);

const work = mkdtempSync(join(tmpdir(), "anylog-meta-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(stopScriptNodes);

interface Network {
  master: ScriptNode;
  operator: ScriptNode;
  publisher: ScriptNode;
  masterTcp: number;
  restart(which: "master" | "operator"): Promise<ScriptNode>;
}

async function startNetwork(engine: "psql" | "sqlite", pg?: PostgresServer): Promise<Network> {
  const dir = mkdtempSync(join(work, `${engine}-`));
  const [mTcp, mRest, oTcp, oRest, pTcp, pRest] = (await freePorts(6)) as [number, number, number, number, number, number];
  const ledgerConn = `127.0.0.1:${mTcp}`;
  const common = { ip: "127.0.0.1", external_ip: "127.0.0.1", ledger_conn: ledgerConn, sync_time: "2 seconds", ...PLACE };
  const masterOptions = seedMasterOptions(dir, engine, { tcp: mTcp, rest: mRest }, pg);

  // seed 001 steps 2-8 (blocks 0-6), seed 000 steps 2-6 (blocks 0-4)
  writeFileSync(join(dir, "operator.al"), uncut(seedBlocks("001").slice(0, 7).join("\n")));
  writeFileSync(join(dir, "publisher.al"), uncut(seedBlocks("000").slice(0, 5).join("\n")));
  const operatorOptions = {
    home: join(dir, "operator"),
    script: join(dir, "operator.al"),
    restPort: oRest,
    set: {
      ...common,
      node_name: "operator-1",
      company_name: COMPANY,
      anylog_server_port: String(oTcp),
      anylog_rest_port: String(oRest),
      db_type: "sqlite",
      db_ip: "127.0.0.1",
      db_port: "5432",
      db_user: "anylog",
      db_password: "demo",
      memory: "true",
      cluster_name: "cluster-1",
      default_dbms: "test",
    },
  };
  const publisherOptions = {
    home: join(dir, "publisher"),
    script: join(dir, "publisher.al"),
    restPort: pRest,
    set: {
      ...common,
      node_name: "publisher-1",
      company_name: COMPANY,
      anylog_server_port: String(pTcp),
      anylog_rest_port: String(pRest),
      db_type: "sqlite",
      db_conn: "anylog@127.0.0.1:demo",
      db_port: "5432",
    },
  };
  const net: Network = {
    masterTcp: mTcp,
    master: await ScriptNode.start(masterOptions),
    operator: await ScriptNode.start(operatorOptions),
    publisher: await ScriptNode.start(publisherOptions),
    async restart(which) {
      const options = which === "master" ? masterOptions : operatorOptions;
      const node = await ScriptNode.start(options);
      if (which === "master") net.master = node;
      else net.operator = node;
      return node;
    },
  };
  return net;
}

/** Policy types in the master's ledger table, in change order (read straight from the database). */
async function ledgerTypes(engine: "psql" | "sqlite", net: Network, pg?: PostgresServer): Promise<string[]> {
  if (engine === "psql") return pg!.psql("blockchain", "SELECT policy_type FROM ledger WHERE status = 'active' ORDER BY seq");
  const db = new Sqlite(join(net.master.options.home, "data", "dbms", "blockchain.dbms"), { readonly: true });
  try {
    return (db.query("SELECT policy_type FROM ledger WHERE status = 'active' ORDER BY seq").all() as Array<{ policy_type: string }>).map((r) => r.policy_type);
  } finally {
    db.close();
  }
}

/** The same question asked of all three nodes (the master through the operator's peer link). */
async function askAll(net: Network, command: string): Promise<string[]> {
  const viaMaster = await net.operator.rest(`run client (127.0.0.1:${net.masterTcp}) ${command}`);
  return [(await net.operator.rest(command)).text, (await net.publisher.rest(command)).text, viaMaster.text];
}

async function syncAll(net: Network): Promise<void> {
  for (const n of [net.operator, net.publisher]) expect((await n.rest("run blockchain sync", true)).status).toBe(200);
  expect((await net.operator.rest(`run client (127.0.0.1:${net.masterTcp}) run blockchain sync`, true)).status).toBe(200);
}

for (const engine of ["psql", "sqlite"] as const) {
  describe.skipIf(!seedsPresent)(`seeds against a master on ${engine}`, () => {
    let pg: PostgresServer | undefined;
    afterAll(async () => pg?.stop());

    test("policies reach the master's ledger and every node answers the same after one sync", async () => {
      if (engine === "psql") pg = await PostgresServer.start();
      const net = await startNetwork(engine, pg);

      if (process.env.SHOW_NODE_LOGS) console.log(net.master.stderr, net.master.stdout, net.operator.stderr, net.publisher.stderr);
      // the master ran seed 002 as written: its ledger holds its own policy
      expect(net.master.stderr).toContain("Blockchain Sync started");
      expect(net.master.stdout).toContain("Blockchain Sync|Running");
      const types = await ledgerTypes(engine, net, pg);
      expect(types.sort()).toEqual(["cluster", "master", "operator", "publisher"]);

      await syncAll(net);
      const ips = await askAll(net, `blockchain get operator where company="${COMPANY}" bring [operator][ip]`);
      expect(ips).toEqual(["127.0.0.1", "127.0.0.1", "127.0.0.1"]);
      const counts = await askAll(net, "blockchain get * bring.count");
      expect(counts).toEqual(["4", "4", "4"]);

      // `destination: network` (and `run client ()`) go to the operators the metadata names
      const viaNetwork = await fetch(`http://127.0.0.1:${net.operator.options.restPort}/`, { headers: { command: "get node name", destination: "network" } });
      expect(await viaNetwork.text()).toBe("operator-1");
      expect((await net.publisher.rest("run client () get node name")).text).toBe("operator-1");

      // the operator's declaration again (a restart runs the script again): still one operator policy
      expect(await net.operator.stop()).toBe(0);
      await net.restart("operator");
      await syncAll(net);
      expect(await askAll(net, "blockchain get operator bring.count")).toEqual(["1", "1", "1"]);
      expect((await ledgerTypes(engine, net, pg)).filter((t) => t === "operator")).toHaveLength(1);
    }, 120_000);

    test.skipIf(engine !== "psql")("master away and back: nothing lost, the local copy answers, pending policies arrive", async () => {
      const net = await startNetwork(engine, pg);
      await syncAll(net);
      const before = await ledgerTypes(engine, net, pg);

      expect(await net.master.stop()).toBe(0);
      const table = `{"table": {"name": "readings", "dbms": "test", "create": "CREATE TABLE readings (ts timestamp, value float)"}}`;
      const inserted = await net.operator.rest(`blockchain insert where policy = ${table} and local = true and master = !ledger_conn`, true);
      expect(inserted.status).toBe(200);
      expect(inserted.text).toContain("kept locally");

      // a node restarted while the master is down answers from its local copy
      expect(await net.operator.stop()).toBe(0);
      const op = await net.restart("operator");
      expect((await op.rest(`blockchain get cluster where company="${COMPANY}" bring [cluster][name]`)).text).toBe("cluster-1");
      expect((await op.rest("get synchronizer")).text).toContain('"master_reachable":false');

      await net.restart("master");
      expect(await ledgerTypes(engine, net, pg)).toEqual(before); // restarted with every policy
      expect((await op.rest("run blockchain sync", true)).status).toBe(200);
      expect((await ledgerTypes(engine, net, pg)).sort()).toEqual([...before, "table"].sort());
      const sync = JSON.parse((await op.rest("get synchronizer")).text) as Record<string, unknown>;
      expect(sync.master_reachable).toBe(true);
      expect(sync.pending_policies).toBe(0);
    }, 120_000);
  });
}
