/**
 * Bad input to a real operator (SQLite), by REST PUT and by watch-directory files: malformed
 * JSON, a row whose types contradict the table, an unknown dbms, a file name out of
 * convention, an empty body, a 100 MB body. Each is a clear error — HTTP 400/404/413 with a
 * JSON `{error}` that says what is wrong, or a file in the error directory with
 * `<name>.err.txt` giving the reason — and the good rows sent before and after each still
 * land, exactly once. An operator with limit_tables refuses data for other tables.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { curl, hasStackTrace } from "./support/node-process.ts";
import { OperatorNode, dropFile, operatorInfo, put, select, waitFor } from "./support/operator.ts";
import { stopScriptNodes } from "./support/script-node.ts";

// bound waits for real processes; nothing here measures speed
setDefaultTimeout(120_000);

const work = mkdtempSync(join(tmpdir(), "anylog-errors-"));
let op: OperatorNode;

beforeAll(async () => {
  op = await OperatorNode.start({ engine: "sqlite", dir: join(work, "op"), dbms: "edge", streamer: true });
  expect(op.scriptErrors()).toEqual([]);
});
afterAll(async () => {
  await stopScriptNodes();
  rmSync(work, { recursive: true, force: true });
});

/** Every good id sent so far; the table must end up holding exactly these. */
const good: number[] = [];
let nextId = 1;

function goodRows(n: number): Array<{ id: number; ts: string; v: number; note: string }> {
  return Array.from({ length: n }, () => {
    const id = nextId++;
    good.push(id);
    return { id, ts: new Date(Date.UTC(2025, 0, 1) + id * 1000).toISOString(), v: id * 3, note: `row ${id}` };
  });
}

async function putGood(n = 5): Promise<void> {
  const r = await put(op.url, "edge", "readings", JSON.stringify(goodRows(n)));
  expect(r.status).toBe(200);
  expect((r.json as Record<string, string>)["AnyLog.status"]).toBe("Success");
}

/** A refused PUT: the status, a JSON error whose text matches `why`, no stack trace. */
async function expectRefused(r: { status: number; text: string; json: unknown }, status: number, why: RegExp): Promise<string> {
  expect(r.status).toBe(status);
  expect(hasStackTrace(r.text)).toBe(false);
  const error = (r.json as { error?: string } | undefined)?.error ?? "";
  expect(error).toMatch(why);
  return error;
}

/** Waits until a file is in the error directory with its reason beside it; returns the reason. */
async function inErrorDir(name: string): Promise<string> {
  const reason = join(op.errorDir, `${name}.err.txt`);
  await explained(waitFor(`${name} in the error directory with ${name}.err.txt`, () => existsSync(join(op.errorDir, name)) && existsSync(reason), 20_000));
  expect(existsSync(join(op.watchDir, name))).toBe(false);
  return readFileSync(reason, "utf8");
}

/** A wait that, when it fails, says what the directories hold and what the node logged. */
async function explained<T>(wait: Promise<T>): Promise<T> {
  try {
    return await wait;
  } catch (e) {
    const list = (d: string) => (existsSync(d) ? readdirSync(d, { recursive: true }).join(", ") : "(none)");
    const info = await operatorInfo(op.url).catch((x) => String(x));
    throw new Error(`${e instanceof Error ? e.message : e}\nwatch: ${list(op.watchDir)}\nerror: ${list(op.errorDir)}\nbkup: ${list(op.bkupDir)}\nget operator: ${JSON.stringify(info)}\nnode log:\n${op.node.stderr}`);
  }
}

async function ids(): Promise<number[]> {
  return (await select(op, "edge", "select id from readings order by id")).map((r) => Number(r.id));
}

describe("bad input by REST PUT", () => {
  test("malformed JSON is 400 and says where", async () => {
    await putGood();
    const r = await put(op.url, "edge", "readings", '{"id": 1000, "v": 3, "note": ');
    await expectRefused(r, 400, /JSON/i);
    const lines = await put(op.url, "edge", "readings", '{"id": 1001, "v": 3}\n{"id": 1002, "v": }\n');
    await expectRefused(lines, 400, /line 2/);
    const file = await put(op.url, "edge", "readings", "[{\"id\": 1003}, ", { mode: "file" });
    await expectRefused(file, 400, /JSON/i);
    await putGood();
  });

  test("a row whose types contradict the table is 400 naming the column, and none of that PUT's rows land", async () => {
    await putGood();
    const r = await put(op.url, "edge", "readings", JSON.stringify({ id: 2000, ts: "2025-01-01T00:00:00Z", v: "not a number", note: "x" }));
    await expectRefused(r, 400, /'v'/);
    // good rows around one bad one: the PUT is one unit, refused whole
    const mixed = [{ id: 2001, v: 1 }, { id: 2002, v: "abc" }, { id: 2003, v: 2 }];
    await expectRefused(await put(op.url, "edge", "readings", JSON.stringify(mixed)), 400, /'v'/);
    const ts = await put(op.url, "edge", "readings", JSON.stringify({ id: 2004, ts: "yesterday-ish", v: 4 }));
    await expectRefused(ts, 400, /'ts'/);
    await putGood();
    expect(await ids()).toEqual(good);
  });

  test("an unknown dbms is 4xx naming it", async () => {
    await putGood();
    const r = await put(op.url, "nosuchdb", "readings", JSON.stringify({ id: 3000, v: 1 }));
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect((r.json as { error: string }).error).toContain("nosuchdb");
    const file = await put(op.url, "nosuchdb", "readings", JSON.stringify({ id: 3001, v: 1 }), { mode: "file" });
    expect(file.status).toBeGreaterThanOrEqual(400);
    expect(file.status).toBeLessThan(500);
    await putGood();
  });

  test("a table or dbms name that is not a name is 400 naming it, in both modes", async () => {
    await putGood();
    for (const mode of ["streaming", "file"] as const) {
      for (const table of ["two words", "x;drop table readings", "9lives", 'quo"te', "t".repeat(49)]) {
        const error = await expectRefused(await put(op.url, "edge", table, JSON.stringify({ id: 3100, v: 1 }), { mode }), 400, /not a table name/);
        expect(error).toContain(table);
      }
      await expectRefused(await put(op.url, "ed ge", "readings", JSON.stringify({ id: 3101, v: 1 }), { mode }), 400, /not a database name/);
    }
    await putGood();
  });

  test("an empty body is 400", async () => {
    await putGood();
    for (const body of ["", "   \n\n  ", "[]"]) await expectRefused(await put(op.url, "edge", "readings", body), 400, /empty|no data/i);
    await expectRefused(await put(op.url, "edge", "readings", "", { mode: "file" }), 400, /empty|no data/i);
    await putGood();
  });

  test("a 100 MB body is 413 and the node goes on", async () => {
    await putGood();
    const row = `${JSON.stringify({ id: 4000, v: 1, note: "x".repeat(1000) })}\n`;
    const path = join(work, "big.json");
    writeFileSync(path, row.repeat(Math.ceil((100 * 1024 * 1024) / row.length)));
    expect(statSync(path).size).toBeGreaterThanOrEqual(100 * 1024 * 1024);
    // the real curl (a new connection): Bun's fetch reuses a connection whose request body
    // the server cut short with its early 413, and the next request on it then hangs
    const r = await curl(["-X", "PUT", "-H", "type: json", "-H", "dbms: edge", "-H", "table: readings", "-H", "mode: streaming", "--data-binary", `@${path}`, `${op.url}/`]);
    expect(r.status).toBe(413);
    expect((JSON.parse(r.body) as { error: string }).error).toMatch(/MB/);
    rmSync(path);
    await putGood();
    expect((await put(op.url, "edge", "readings", JSON.stringify(goodRows(1)), { mode: "file" })).status).toBe(200);
  });

  test("every good row landed, once", async () => {
    await waitFor("the file-mode PUT stored", async () => (await ids()).length === good.length, 20_000);
    expect(await ids()).toEqual(good);
  });
});

describe("bad input by watch-directory files", () => {
  const goodFiles: string[] = [];
  let fileNo = 0;

  function dropGood(): void {
    const name = `edge.readings.test.f${++fileNo}.0.json`;
    goodFiles.push(name);
    dropFile(op.watchDir, name, goodRows(4).map((r) => JSON.stringify(r)).join("\n"));
  }

  test("each bad file goes to the error directory with its reason; the good ones around it are stored", async () => {
    const before = (await operatorInfo(op.url)).tables["edge.readings"]?.errors ?? 0;
    const bad: Array<[name: string, text: string, why: RegExp]> = [
      ["edge.readings.test.bad1.0.json", '{"id": 5000, "v": 1,\n', /JSON/i],
      ["edge.readings.test.bad2.0.json", JSON.stringify({ id: 5001, v: "many", note: "types" }), /'v'/],
      ["edge.readings.test.bad3.0.json", `${JSON.stringify({ id: 5002, v: 1 })}\n${JSON.stringify({ id: 5003, v: [1, 2] })}`, /'v'/],
      ["nosuchdb.readings.test.bad4.0.json", JSON.stringify({ id: 5004, v: 1 }), /nosuchdb/],
      ["readings.json", JSON.stringify({ id: 5005, v: 1 }), /naming convention|dbms/i],
      ["edge.readings.test.bad6.0.txt", JSON.stringify({ id: 5006, v: 1 }), /\.json/],
      ["edge.readings.test.bad7.0.json", "", /empty|no data/i],
      ["edge.readings.test.bad8.0.json", "[]", /empty|no data/i],
    ];
    for (const [name, text] of bad) {
      dropGood();
      dropFile(op.watchDir, name, text);
    }
    dropGood();

    for (const [name, , why] of bad) {
      const reason = await inErrorDir(name);
      expect(reason).toMatch(why);
      expect(hasStackTrace(reason)).toBe(false);
    }
    await explained(waitFor("the good files stored and moved out of the watch directory", () => goodFiles.every((f) => !existsSync(join(op.watchDir, f))), 20_000));
    for (const f of goodFiles) expect(existsSync(join(op.errorDir, f))).toBe(false);
    expect(readdirSync(op.watchDir).filter((f) => !f.startsWith("."))).toEqual([]);
    expect(await ids()).toEqual(good);

    const info = await operatorInfo(op.url);
    expect(info.tables["edge.readings"]?.errors).toBeGreaterThanOrEqual(before + 4);
  });

  test("the same file dropped again is refused as a duplicate, its rows are not stored twice", async () => {
    const rows = goodRows(3).map((r) => JSON.stringify(r)).join("\n");
    dropFile(op.watchDir, "edge.readings.test.dup.0.json", rows);
    await explained(waitFor("first copy stored", async () => (await ids()).length === good.length, 20_000));
    dropFile(op.watchDir, "edge.readings.test.dup-again.0.json", rows);
    expect(await inErrorDir("edge.readings.test.dup-again.0.json")).toMatch(/duplicate/);
    expect(await ids()).toEqual(good);
  });

  test("a file written in place, in pieces with pauses, is taken only once it is whole", async () => {
    const name = `edge.readings.test.slow${++fileNo}.0.json`;
    const lines = goodRows(12).map((r) => JSON.stringify(r));
    const path = join(op.watchDir, name);
    // each piece ends inside a JSON object: a file taken early would be refused as bad JSON
    const text = `${lines.join("\n")}\n`;
    const pieces = [0, 1, 2, 3, 4, 5].map((k) => text.slice((k * text.length) / 6, ((k + 1) * text.length) / 6));
    for (const piece of pieces) {
      appendFileSync(path, piece);
      await Bun.sleep(40);
    }
    await explained(waitFor("the slow file stored", () => !existsSync(path) && existsSync(join(op.bkupDir, name)), 20_000));
    expect(existsSync(join(op.errorDir, name))).toBe(false);
    expect(await ids()).toEqual(good);
  });

  test("the same text for another table is other data: stored, not refused as a duplicate", async () => {
    const text = JSON.stringify({ id: 6000, v: 6, note: "same text" });
    dropFile(op.watchDir, "edge.readings.test.same1.0.json", text);
    good.push(6000);
    await explained(waitFor("stored in readings", async () => (await ids()).includes(6000), 20_000));
    dropFile(op.watchDir, "edge.copies.test.same2.0.json", text);
    await explained(waitFor("stored in copies", async () => existsSync(join(op.bkupDir, "edge.copies.test.same2.0.json")), 20_000));
    expect(existsSync(join(op.errorDir, "edge.copies.test.same2.0.json"))).toBe(false);
    expect(await select(op, "edge", "select id, v from copies")).toEqual([{ id: 6000, v: 6 }]);
    // and a streaming PUT of that text to a third table
    expect((await put(op.url, "edge", "more_copies", text)).status).toBe(200);
    expect(await select(op, "edge", "select id, v from more_copies")).toEqual([{ id: 6000, v: 6 }]);
    expect(await ids()).toEqual(good);
  });
});

describe("an operator with limit_tables", () => {
  test("data for another table is refused: a PUT with 400 in both modes, a file into the error directory; its own table flows", async () => {
    const limited = await OperatorNode.start({ engine: "sqlite", dir: join(work, "limited"), dbms: "edge", operator: "create_table = true and update_tsd_info = true and limit_tables = (mine)" });
    expect(limited.scriptErrors()).toEqual([]);
    for (const mode of ["streaming", "file"] as const) {
      const r = await put(limited.url, "edge", "other", JSON.stringify({ id: 1 }), { mode });
      expect(r.status).toBe(400);
      expect((r.json as { error: string }).error).toBe("table 'other' is not in this operator's limit_tables");
    }
    dropFile(limited.watchDir, "edge.other.test.1.json", JSON.stringify({ id: 2 }));
    const reason = join(limited.errorDir, "edge.other.test.1.json.err.txt");
    await waitFor("the other table's file in the error directory", () => existsSync(reason));
    expect(readFileSync(reason, "utf8")).toContain("limit_tables");
    expect((await put(limited.url, "edge", "mine", JSON.stringify({ id: 3 }))).status).toBe(200);
    expect(await select(limited, "edge", "select id from mine")).toEqual([{ id: 3 }]);
  });
});
