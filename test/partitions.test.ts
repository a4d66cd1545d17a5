/**
 * Time partitions on a real operator, on SQLite and on PostgreSQL: rows over 10 days with
 * `partition <dbms> <table> using <col> by 1 day` give 10 partitions (`get partitions`);
 * `drop partition ... keep=3` leaves the 3 newest and `select count(*)` on the table agrees;
 * `drop partition` without keep drops the oldest one at a time and never the only one; a
 * late row for a dropped day makes its partition again. Partitioned by insert_timestamp (what
 * the seeds and the appliance set), rows go to the partition of the day they are stored.
 */
import { afterAll, afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Engine, OperatorNode, command, put, scalar } from "./support/operator.ts";
import { PostgresServer } from "./support/postgres.ts";
import { stopScriptNodes } from "./support/script-node.ts";

// bound waits for real processes; nothing here measures speed
setDefaultTimeout(120_000);

const work = mkdtempSync(join(tmpdir(), "anylog-partitions-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(stopScriptNodes);

const DAYS = 10;
const PER_DAY = 25;
const FIRST_DAY = Date.UTC(2025, 2, 1); // 2025-03-01

/** Rows over DAYS days: day d has PER_DAY rows, spread over the day, value = d. */
function rows(): Array<{ id: number; ts: string; day: number; value: number }> {
  const out = [];
  for (let d = 0; d < DAYS; d++) {
    for (let i = 0; i < PER_DAY; i++) {
      const ts = new Date(FIRST_DAY + d * 86_400_000 + i * 3_400_000).toISOString().replace("T", " ").replace("Z", "");
      out.push({ id: d * PER_DAY + i, ts, day: d, value: d * 10 + i / 10 });
    }
  }
  return out;
}

interface PartitionReport {
  dbms: string;
  table: string;
  partitions: string[];
}

async function partitions(op: OperatorNode, table: string): Promise<string[]> {
  const r = await command(op.url, "get partitions where dbms = part and format = json");
  expect(r.status).toBe(200);
  const report = (r.json as PartitionReport[]).find((p) => p.table === table);
  return report?.partitions ?? [];
}

for (const engine of ["sqlite", "psql"] as Engine[]) {
  describe(`partitions on ${engine}`, () => {
    let pg: PostgresServer | undefined;
    afterAll(async () => pg?.stop());

    test("10 days by 1 day give 10 partitions; keep=3 leaves 3; without keep the only one stays; a dropped day comes back", async () => {
      if (engine === "psql") pg = await PostgresServer.start();
      const op = await OperatorNode.start({
        engine,
        pg,
        dir: join(work, engine),
        dbms: "part",
        before: ["partition part readings using ts by 1 day", "set buffer threshold where write_immediate = true"],
      });
      expect(op.scriptErrors()).toEqual([]);

      // the rows arrive in shuffled order, in 5 PUTs, so every PUT touches many partitions
      const all = rows();
      const shuffled = [...all].sort((a, b) => ((a.id * 7919) % 101) - ((b.id * 7919) % 101));
      for (let k = 0; k < 5; k++) {
        const part = shuffled.filter((_, i) => i % 5 === k);
        const r = await put(op.url, "part", "readings", part.map((x) => JSON.stringify(x)).join("\n"));
        expect(r.status).toBe(200);
      }

      const names = await partitions(op, "readings");
      expect(names).toHaveLength(DAYS);
      expect(names).toEqual(Array.from({ length: DAYS }, (_, d) => `par_readings_${new Date(FIRST_DAY + d * 86_400_000).toISOString().slice(0, 10).replaceAll("-", "")}`));
      expect(await scalar(op, "part", "select count(*) as n from readings")).toBe(DAYS * PER_DAY);
      // each partition holds exactly its day
      for (const [d, name] of names.entries()) {
        expect(await scalar(op, "part", `select count(*) as n from ${name} where day = ${d}`)).toBe(PER_DAY);
        expect(await scalar(op, "part", `select count(*) as n from ${name}`)).toBe(PER_DAY);
      }

      // keep = 3: the 3 newest days stay, and the table (its view) agrees
      const kept = await command(op.url, "drop partition where dbms = part and table = readings and keep = 3", true);
      expect(kept.status).toBe(200);
      expect(await partitions(op, "readings")).toEqual(names.slice(DAYS - 3));
      expect(await scalar(op, "part", "select count(*) as n from readings")).toBe(3 * PER_DAY);
      expect(await scalar(op, "part", "select min(day) as d from readings")).toBe(DAYS - 3);

      // data still flows into the kept table after the drop (a new day makes a new partition)
      const late = { id: 10_000, ts: new Date(FIRST_DAY + DAYS * 86_400_000 + 60_000).toISOString(), day: DAYS, value: 1.5 };
      expect((await put(op.url, "part", "readings", JSON.stringify(late))).status).toBe(200);
      expect(await partitions(op, "readings")).toHaveLength(4);
      expect(await scalar(op, "part", "select count(*) as n from readings")).toBe(3 * PER_DAY + 1);

      // without keep: the oldest one at a time, never the only one
      for (let left = 3; left >= 1; left--) {
        const r = await command(op.url, "drop partition where dbms = part and table = readings", true);
        expect(r.status).toBe(200);
        expect(await partitions(op, "readings")).toHaveLength(left);
      }
      const last = await command(op.url, "drop partition where dbms = part and table = readings", true);
      expect(last.status).toBe(200);
      expect(last.text).toContain("nothing to drop");
      const remaining = await partitions(op, "readings");
      expect(remaining).toEqual([`par_readings_${new Date(FIRST_DAY + DAYS * 86_400_000).toISOString().slice(0, 10).replaceAll("-", "")}`]);
      expect(await scalar(op, "part", "select count(*) as n from readings")).toBe(1);
      expect(await scalar(op, "part", "select sum(id) as s from readings")).toBe(10_000);

      // keep = 0 would drop the newest: refused
      const zero = await command(op.url, "drop partition where dbms = part and table = readings and keep = 0", true);
      expect(zero.status).toBe(400);
      expect(await partitions(op, "readings")).toHaveLength(1);

      // a late row for a day whose partition was dropped makes that partition again
      const old = { id: 20_000, ts: all[0]!.ts, day: 0, value: 2.5 };
      const again = await put(op.url, "part", "readings", JSON.stringify(old));
      expect(again.status).toBe(200);
      expect(await partitions(op, "readings")).toEqual([names[0]!, ...remaining]);
      expect(await scalar(op, "part", "select sum(id) as s from readings")).toBe(30_000);
    });
  });
}

describe("partitions by insert_timestamp", () => {
  test("rows, which never carry insert_timestamp, go to the partition of the day they are stored in (the appliance's setting)", async () => {
    const op = await OperatorNode.start({
      engine: "sqlite",
      dir: join(work, "by-insert"),
      dbms: "part",
      before: ["partition part * using insert_timestamp by 1 day", "set buffer threshold where write_immediate = true"],
    });
    expect(op.scriptErrors()).toEqual([]);
    const r = await put(op.url, "part", "events", [1, 2, 3].map((id) => JSON.stringify({ id, v: id * 2 })).join("\n"));
    expect(r.status).toBe(200);
    // a key named insert_timestamp is the user's own (kept as _insert_timestamp), not the partition's time
    const own = await put(op.url, "part", "events", JSON.stringify({ id: 4, v: 8, insert_timestamp: "2001-01-01 00:00:00" }));
    expect(own.status).toBe(200);
    const today = new Date().toISOString().slice(0, 10).replaceAll("-", "");
    const names = await partitions(op, "events");
    expect(names).toHaveLength(1);
    expect(names[0]!).toStartWith(`par_events_${today}`.slice(0, `par_events_`.length + 6)); // this month at least (a run across midnight)
    expect(await scalar(op, "part", "select count(*) as n from events")).toBe(4);
  });
});
