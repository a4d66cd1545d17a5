/**
 * almgm.tsd_info claims on both engines: claims made at the same time (the buffers of
 * several tables, or two nodes on one database server) each get their own file id; a hash
 * claimed again is found as unfinished, then as stored once settled; a failed one is
 * forgotten.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PostgresServer } from "../../test/support/postgres.ts";
import type { Database } from "../storage/database.ts";
import { PostgresDatabase } from "../storage/postgres.ts";
import { TSD_INFO, createStatements } from "../storage/schema.ts";
import { SqliteDatabase } from "../storage/sqlite.ts";
import { claim, settle } from "./tsd-info.ts";

const work = mkdtempSync(join(tmpdir(), "anylog-tsd-"));
let pg: PostgresServer | undefined;
afterAll(async () => {
  await pg?.stop();
  rmSync(work, { recursive: true, force: true });
});

const claimOf = (hash: string, table = "t") => ({ hash, dbms: "d", table, source: "test", instructions: "" });

function ok<T>(r: { ok: true; value: T } | { ok: false; error: { message: string } }): T {
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

/** `second`: whether a second connection (another node on the same server) claims too. */
function tsdContract(engine: string, open: () => Promise<Database>, second: boolean) {
  describe(`tsd_info claims on ${engine}`, () => {
    let a: Database;
    let b: Database;

    test(`claims at the same time${second ? ", from two connections," : ""} each get their own file id`, async () => {
      a = await open();
      // SQLite files belong to one node: a second connection in this process would wait on
      // the first's lock while holding the only thread
      b = second ? await open() : a;
      for (const s of createStatements(TSD_INFO, a.engine)) ok(await a.exec(s));
      const batches = await Promise.all(
        Array.from({ length: 12 }, (_, w) => claim(w % 2 ? b : a, Array.from({ length: 5 }, (_, k) => claimOf(`h-${w}-${k}`, `t${w}`)))),
      );
      const ids = batches.flatMap((r) => ok(r).map((c) => (c.kind === "new" ? c.fileId : -1)));
      expect(ids.length).toBe(60);
      expect(new Set(ids).size).toBe(60);
      expect(Math.min(...ids)).toBe(1);
    });

    test("a hash claimed again is unfinished until settled, then stored; a failed claim is forgotten", async () => {
      const [first] = ok(await claim(a, [claimOf("again")]));
      expect(first?.kind).toBe("new");
      const fileId = first!.fileId;
      expect(ok(await claim(b, [claimOf("again")]))).toEqual([{ kind: "unfinished", fileId }]);
      ok(await settle(a, [{ fileId, rows: 7 }], []));
      expect(ok(await claim(b, [claimOf("again")]))).toEqual([{ kind: "stored", fileId, rows: 7 }]);

      const [lost] = ok(await claim(a, [claimOf("lost")]));
      ok(await settle(a, [], [lost!.fileId]));
      expect(ok(await claim(a, [claimOf("lost")]))[0]?.kind).toBe("new");
    });

    test("a batch of 12,000 (more than one statement's share), with hashes stored, unfinished and repeated in it, claims and settles as one at a time would", async () => {
      const [done, open] = ok(await claim(a, [claimOf("batch-done"), claimOf("batch-open")]));
      ok(await settle(a, [{ fileId: done!.fileId, rows: 3 }], []));
      const hashes = Array.from({ length: 12_000 }, (_, i) => `batch-${i}`);
      hashes[100] = "batch-done";
      hashes[6_000] = "batch-open";
      hashes[11_999] = "batch-5"; // the same hash twice in one batch: the second finds the first's claim
      const claims = ok(await claim(a, hashes.map((h) => claimOf(h, "big"))));
      expect(claims[100]).toEqual({ kind: "stored", fileId: done!.fileId, rows: 3 });
      expect(claims[6_000]).toEqual({ kind: "unfinished", fileId: open!.fileId });
      const fresh = claims.filter((c) => c.kind === "new").map((c) => c.fileId);
      expect(fresh.length).toBe(11_997);
      expect(new Set(fresh).size).toBe(11_997);
      expect(claims[11_999]).toEqual({ kind: "unfinished", fileId: claims[5]!.fileId });
      expect(fresh).toEqual(fresh.toSorted((x, y) => x - y)); // given in order

      // the even ones stored with their own row counts, the odd ones failed and forgotten
      const stored = fresh.filter((_, i) => i % 2 === 0).map((fileId, i) => ({ fileId, rows: i + 1 }));
      const failed = fresh.filter((_, i) => i % 2 === 1);
      expect([stored.length, failed.length]).toEqual([5_999, 5_998]);
      ok(await settle(a, stored, failed));
      const after = ok(await claim(b, hashes.slice(0, 11_999).map((h) => claimOf(h, "big"))));
      const byId = new Map(stored.map((s) => [s.fileId, s.rows]));
      after.forEach((c, i) => {
        const before = claims[i]!;
        if (before.kind !== "new") return;
        if (byId.has(before.fileId)) expect(c).toEqual({ kind: "stored", fileId: before.fileId, rows: byId.get(before.fileId)! });
        else expect(c.kind).toBe("new"); // forgotten: claimed afresh
      });
      const counts = ok(await a.query("SELECT status, count(*) AS n FROM tsd_info WHERE table_name = 'big' GROUP BY status ORDER BY status"));
      expect(counts.map((r) => [r.status, Number(r.n)])).toEqual([
        ["processing", failed.length], // claimed afresh
        ["stored", stored.length],
      ]);
    });

    afterAll(async () => {
      await a?.close();
      if (b !== a) await b?.close();
    });
  });
}

tsdContract("sqlite", async () => ok(SqliteDatabase.open({ name: "almgm", engine: "sqlite", directory: join(work, "sqlite") })), false);

tsdContract("psql", async () => {
  pg ??= await PostgresServer.start();
  return ok(await PostgresDatabase.open({ name: "almgm", engine: "psql", directory: "", host: "127.0.0.1", port: pg.port, user: "postgres" }));
}, true);
