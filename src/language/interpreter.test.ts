import "../features.ts";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Node } from "../node/node.ts";
import { runScript } from "./interpreter.ts";

const home = mkdtempSync(join(tmpdir(), "anylog-int-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

function node(): Node {
  return new Node({ env: { ANYLOG_HOME: home }, set: { node_name: "n1" } });
}

async function script(n: Node, text: string): Promise<{ out: unknown[]; errors: string[] }> {
  const out: unknown[] = [];
  const errors: string[] = [];
  const r = await runScript(text, "t.al", n.context("script", (x) => out.push(x)), (w, m) => errors.push(`${w}: ${m}`));
  if (!r.ok) errors.push(r.error.message);
  return { out, errors };
}

describe("statements", () => {
  test("assignment of a value and of a command's result", async () => {
    const n = node();
    await n.execute("greeting = hello   world");
    await n.execute("who = get node name");
    expect(n.dictionary.lookup("greeting")).toBe("hello world");
    expect(n.dictionary.lookup("who")).toBe("n1");
  });

  test("a lone word that starts commands but is none by itself is a value: default_dbms = test (test network is a command)", async () => {
    const n = node();
    for (const word of ["test", "query", "reset", "blockchain"]) {
      const r = await n.execute(`default_dbms = ${word}`);
      expect(r.ok).toBe(true);
      expect(n.dictionary.lookup("default_dbms")).toBe(word);
    }
    // more words that start a command are a command, and a wrong one is an error, not a value
    const wrong = await n.execute("x = test networkk");
    expect(wrong.ok).toBe(false);
  });

  test("if / then / do / else follow the last condition", async () => {
    const n = node();
    const { out, errors } = await script(
      n,
      `
      policy = ""
      if not !policy then echo missing
      do echo first
      else echo never
      x = 5
      if !x > 3 then
      do echo big
      else echo small
      if !x == 4 then echo four
      else echo not-four
      `,
    );
    expect(errors).toEqual([]);
    expect(out).toEqual(["missing", "first", "big", "not-four"]);
  });

  test("<...> blocks span lines; `and` continues a where-clause", async () => {
    const n = node();
    const { errors } = await script(
      n,
      `<new_policy = {"cluster": {
          "name": !node_name,
          "port": !n.int}}>
      n = 7`,
    );
    // the block ran before n was set: the error names the missing key and the line
    expect(errors).toEqual(["t.al:1: '!n' is not in the dictionary (set it first: n = <value>)"]);
    await script(n, `<new_policy = {"cluster": {\n "name": !node_name,\n "port": !n.int}}>`);
    expect(JSON.parse(n.dictionary.lookup("new_policy")!)).toEqual({ cluster: { name: "n1", port: 7 } });
  });

  test("if { } else { } blocks pick a branch; a bare key in the condition is read from the dictionary", async () => {
    const n = node();
    const text = `
      if (overlay_network is true {
        echo overlay
        echo and more
      } else {
        echo plain
      }`;
    expect((await script(n, text)).out).toEqual(["plain"]);
    n.dictionary.set("overlay_network", "true");
    expect((await script(n, text)).out).toEqual(["overlay", "and more"]);
  });

  test("a failing line reports file and line and the script goes on", async () => {
    const n = node();
    const { out, errors } = await script(n, "echo a\nget nothing-here\necho b");
    expect(out).toEqual(["a", "b"]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toStartWith("t.al:2: unknown command 'get nothing-here'");
  });

  test("on error end script / goto, labels, end script", async () => {
    const n = node();
    expect((await script(n, "on error end script\necho a\nbad command\necho b")).out).toEqual(["a"]);
    expect((await script(n, "on error goto done\nbad command\necho skipped\n:done:\necho here")).out).toEqual(["here"]);
    expect((await script(n, "echo a\nend script\necho b")).out).toEqual(["a"]);
    expect((await script(n, "goto nowhere")).errors[0]).toContain("no label ':nowhere:'");
  });

  test("an unterminated < block is reported with its line", async () => {
    const { errors } = await script(node(), "echo a\n<x = {\n \"a\": 1");
    expect(errors[0]).toContain("line 2: the '<' block opened here is never closed");
  });

  test("pasted prompts are ignored", async () => {
    expect((await script(node(), "AL > echo one\nAL anylog-master +> echo two")).out).toEqual(["one", "two"]);
  });
});

describe("command errors name the fault", () => {
  const cases: Array<[string, string]> = [
    ["get statsu", "unknown command 'get statsu'; did you mean: get status?"],
    ["run tcp servr 1 2", "did you mean: run tcp server"],
    ["get processes where formt = json", "'get processes' has no option 'formt'; did you mean 'format'?"],
    ["run scheduler abc", "'run scheduler' argument <id> expects a whole number, got 'abc'"],
    ["run tcp server where external_ip = 1.2.3.4 and external_port = x", "'run tcp server' option 'external_port' expects a whole number, got 'x'"],
    ["blockchain insert where policy = {} and local = true and", "the where-clause ends in 'and'"],
    ["get processes where format", "option 'format' must be followed by '=' and a value"],
    ["set buffer threshold where write_immediate = maybe", "option 'write_immediate' expects true or false, got 'maybe'"],
    ["run client (not-an-address) get status", "destination 'not-an-address' is not ip:port"],
    ["exit opertor", "did you mean: exit operator"],
  ];
  for (const [text, message] of cases) {
    test(text, async () => {
      const r = await node().execute(text);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.message).toContain(message);
    });
  }
});

describe("help", () => {
  test("lists every command and explains one from its declaration", async () => {
    const n = node();
    const all = await n.execute("help");
    expect(all.ok && String(all.value)).toContain("run tcp server");
    const one = await n.execute("help run tcp server");
    expect(one.ok).toBe(true);
    if (one.ok) {
      expect(String(one.value)).toContain("Usage: run tcp server [<ip>] [<port>]");
      expect(String(one.value)).toContain("external_port      (int)");
    }
    const bad = await n.execute("help run tcp servre");
    expect(bad.ok).toBe(false);
  });
});

describe("dictionary commands", () => {
  test("set, get dictionary (text and json), secrets masked", async () => {
    const n = node();
    await n.execute("set db_password = s3cret");
    await n.execute("set sync_time = 30 seconds");
    const json = await n.execute("get dictionary where format = json");
    expect(json.ok).toBe(true);
    if (json.ok) {
      const d = json.value as Record<string, string>;
      expect(d.sync_time).toBe("30 seconds");
      expect(d.db_password).toBe("***");
      expect(d.watch_dir).toEndWith("data/watch");
    }
  });
});
