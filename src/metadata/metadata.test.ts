import "../features.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PostgresServer } from "../../test/support/postgres.ts";
import { Node } from "../node/node.ts";
import type { Database } from "../storage/database.ts";
import { PostgresDatabase } from "../storage/postgres.ts";
import { SqliteDatabase } from "../storage/sqlite.ts";
import { LEDGER, createStatements } from "../storage/schema.ts";
import { applyBring, parseBring } from "./bring.ts";
import { changesSince, deletePolicy, insertPolicy } from "./master-ledger.ts";
import { type Policy, policyId, preparePolicy } from "./policy.ts";

const work = mkdtempSync(join(tmpdir(), "anylog-md-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
const node = (set: Record<string, string> = {}) => new Node({ env: { ANYLOG_HOME: join(work, `n${n++}`) }, set });

describe("policies", () => {
  test("the id is a hash of the content: same declaration, same id, whatever the order, date or node", () => {
    const a = preparePolicy({ cluster: { name: "c1", company: "Acme" } }, new Date(0));
    const b = preparePolicy({ cluster: { company: "Acme", name: "c1", date: "2020-01-01" } });
    expect(a.ok && b.ok).toBe(true);
    if (a.ok && b.ok) expect(a.value.cluster!.id).toBe(b.value.cluster!.id);
    expect(policyId({ cluster: { name: "c2", company: "Acme" } })).not.toBe(a.ok ? a.value.cluster!.id : "");
  });

  test("create policy builds a policy; port attributes become numbers", async () => {
    const r = await node().execute('create policy operator where name = op1 and company = "My Co" and ip = 10.0.0.1 and port = 32148');
    expect(r).toEqual({ ok: true, value: { operator: { name: "op1", company: "My Co", ip: "10.0.0.1", port: 32148 } } });
  });

  const bad: Array<[string, string]> = [
    ['{"operator": {"ip": "1.2.3.4", "port": }}', "bad JSON"],
    ['{"oprator": {"ip": "1.2.3.4", "port": 2}}', "unknown policy type 'oprator' (did you mean 'operator'?)"],
    ['{"operator": {"name": "x", "port": 2}}', "needs 'ip' or 'local_ip'"],
    ['{"operator": {"ip": "1.2.3.4"}}', "needs 'port'"],
    ['{"operator": {"ip": "1.2.3.4", "port": "abc"}}', "'port' must be a port number"],
    ['{"a": {}, "b": {}}', "exactly one root key"],
  ];
  for (const [policy, message] of bad) {
    test(`refused, nothing written: ${policy}`, async () => {
      const nd = node();
      const r = await nd.execute(`blockchain insert where policy = ${policy} and local = true`);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.message).toContain(message);
      expect(existsSync(nd.dictionary.lookup("blockchain_file")!)).toBe(false);
    });
  }

  test("a master that does not answer: a clear error, nothing written", async () => {
    const nd = node();
    const r = await nd.execute('blockchain insert where policy = {"cluster": {"name": "c"}} and local = true and master = 127.0.0.1:1');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain("master 127.0.0.1:1: cannot reach 127.0.0.1:1");
    expect(existsSync(nd.dictionary.lookup("blockchain_file")!)).toBe(false);
  });

  test("local insert is idempotent and written atomically; delete removes", async () => {
    const nd = node();
    const insert = 'blockchain insert where policy = {"cluster": {"name": "c", "company": "A"}} and local = true';
    expect((await nd.execute(insert)).ok).toBe(true);
    expect((await nd.execute(insert)).ok).toBe(true);
    const file = JSON.parse(readFileSync(nd.dictionary.lookup("blockchain_file")!, "utf8")) as { policies: Policy[] };
    expect(file.policies).toHaveLength(1);
    const id = file.policies[0]!.cluster!.id as string;
    expect((await nd.execute(`blockchain delete policy where id = ${id}`)).ok).toBe(true);
    expect(await nd.execute("blockchain get cluster")).toEqual({ ok: true, value: [] });
    expect((await nd.execute(`blockchain delete policy where id = ${id}`)).ok).toBe(false);
  });
});

describe("bring", () => {
  const ops: Policy[] = [
    { operator: { name: "a", ip: "10.0.0.1", port: 1, company: "X", id: "1" } },
    { operator: { name: "b", ip: "10.0.0.2", port: 2, company: "X", id: "2" } },
    { operator: { name: "c", ip: "10.0.0.2", port: 2, company: "Y", id: "3" } },
  ];
  const bring = (text: string) => {
    const b = parseBring(text);
    if (!b.ok) throw new Error(b.error.message);
    return applyBring(ops, b.value);
  };
  test("forms", () => {
    expect(bring("bring [operator][ip]")).toBe("10.0.0.110.0.0.210.0.0.2");
    expect(bring('bring [operator][ip] ":" [operator][port] separator = ,')).toBe("10.0.0.1:1,10.0.0.2:2,10.0.0.2:2");
    expect(bring("bring.unique [*][ip] separator = ,")).toBe("10.0.0.1,10.0.0.2");
    expect(bring("bring.first [*][name]")).toBe("a");
    expect(bring("bring.last [operator][name]")).toBe("c");
    expect(bring("bring.count")).toBe(3);
    expect(bring("bring.ip_port")).toBe("10.0.0.1:1,10.0.0.2:2");
    expect(bring("bring.json [*][name] [*][port]")).toEqual([{ name: "a", port: 1 }, { name: "b", port: 2 }, { name: "c", port: 2 }]);
    expect(bring("bring.max [*][port]")).toBe(2);
    expect(bring("bring.first")).toEqual([ops[0]]);
    expect(String(bring("bring.table [*][name] [*][company]"))).toContain("a   |X");
  });
  test("an unknown form is an error", () => {
    const b = parseBring("bring.frist [*][id]");
    expect(b.ok).toBe(false);
  });
});

/** The ledger contract, run against both engines. */
function ledgerContract(engine: string, open: () => Promise<Database>) {
  describe(`master ledger on ${engine}`, () => {
    let db: Database;
    beforeAll(async () => {
      db = await open();
      for (const s of createStatements(LEDGER, db.engine)) expect((await db.exec(s)).ok).toBe(true);
    });
    afterAll(async () => db.close());

    test("insert once, delete as a change, changes after a number", async () => {
      const p = preparePolicy({ cluster: { name: `c-${engine}` } });
      if (!p.ok) throw new Error(p.error.message);
      const first = await insertPolicy(db, p.value, "t");
      const again = await insertPolicy(db, p.value, "t");
      expect(first.ok && first.value.inserted).toBe(true);
      expect(again.ok && again.value.inserted).toBe(false);
      const before = await changesSince(db, 0);
      if (!before.ok) throw new Error(before.error.message);
      const seq = before.value.seq;
      expect((await deletePolicy(db, p.value.cluster!.id as string)).ok).toBe(true);
      const after = await changesSince(db, seq);
      expect(after.ok && after.value.changes.map((c) => c.status)).toEqual(["deleted"]);
      expect(after.ok && after.value.seq).toBe(seq + 1);
      const nothing = await changesSince(db, seq + 1);
      expect(nothing.ok && nothing.value.changes).toEqual([]);
    });

    test("concurrent inserts each get their own change number", async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => {
          const p = preparePolicy({ cluster: { name: `par-${i}` } });
          if (!p.ok) throw new Error(p.error.message);
          return insertPolicy(db, p.value, "t");
        }),
      );
      expect(results.every((r) => r.ok && r.value.inserted)).toBe(true);
      const seqs = results.map((r) => (r.ok ? r.value.seq : 0));
      expect(new Set(seqs).size).toBe(20);
    });
  });
}

ledgerContract("sqlite", async () => {
  const r = SqliteDatabase.open({ name: "blockchain", engine: "sqlite", directory: join(work, "ledger-sqlite") });
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
});

let pg: PostgresServer | undefined;
afterAll(async () => pg?.stop());
ledgerContract("psql", async () => {
  pg = await PostgresServer.start();
  const r = await PostgresDatabase.open({ name: "blockchain", engine: "psql", directory: "", host: "127.0.0.1", port: pg.port, user: "postgres" });
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
});

describe("connect dbms", () => {
  test("a PostgreSQL address that cannot be one is refused before any connection", async () => {
    const nd = node();
    const bad = await nd.execute("connect dbms x where type = psql and ip = 127.0 : .0.1");
    expect(!bad.ok && bad.error.message).toBe("'connect dbms' ip '127.0 : .0.1' is not a host name or address");
    const port = await nd.execute("connect dbms x where type = psql and ip = 127.0.0.1 and port = 99999");
    expect(!port.ok && port.error.message).toBe("'connect dbms' port 99999 is out of range (1-65535)");
  });
  test("the three forms of the seeds, and connecting twice changes nothing", async () => {
    const nd = node({ db_type: "sqlite", db_conn: "u@127.0.0.1:p", db_port: "5432" });
    for (const c of ["connect dbms a1 where type = sqlite", "connect dbms sqlite a2 where memory = true", "connect dbms !db_type !db_conn !db_port a3", "connect dbms a1 where type = sqlite"]) {
      const r = await nd.execute(c);
      expect(r.ok, c).toBe(true);
    }
    const list = await nd.execute("get databases where format = json");
    expect(list.ok && (list.value as Array<{ dbms: string }>).map((d) => d.dbms)).toEqual(["a1", "a2", "a3"]);
    const conflict = await nd.execute("connect dbms a1 where type = psql and user = x");
    expect(conflict.ok).toBe(false);
  });
});
