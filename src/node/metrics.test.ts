/**
 * The Prometheus text of a node: every family once with HELP and TYPE, label values escaped,
 * collectors' families added, REST calls counted per caller and method, the last errors kept
 * (secrets masked, oldest dropped).
 */
import "../features.ts";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addCollector } from "./metrics.ts";
import { Node } from "./node.ts";

const home = mkdtempSync(join(tmpdir(), "anylog-metrics-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

addCollector(() => [{ name: "test_escaped", help: "A label with \\ and \" and a\nnewline.", type: "gauge", samples: [{ labels: { v: 'a\\b"c\nd' }, value: 1 }] }]);

describe("Metrics", () => {
  const node = new Node({ env: { ANYLOG_HOME: home }, set: { node_name: "m1" } });

  test("every family has HELP then TYPE, once, before its samples; labels and help are escaped", () => {
    const text = node.metrics.render(node);
    const declared = new Set<string>();
    let current = "";
    for (const line of text.trimEnd().split("\n")) {
      const help = /^# HELP (\S+) /.exec(line);
      const type = /^# TYPE (\S+) (counter|gauge)$/.exec(line);
      if (help) {
        expect(declared.has(help[1]!)).toBe(false);
        declared.add(help[1]!);
        current = help[1]!;
      } else if (type) expect(type[1]).toBe(current);
      else expect(line.split(/[{ ]/)[0]).toBe(current);
    }
    expect(text).toContain('test_escaped{v="a\\\\b\\"c\\nd"} 1');
    expect(text).toContain("# HELP test_escaped A label with \\\\ and \" and a\\nnewline.");
    expect(text).toContain('anylog_process_state{process="TCP",state="Not declared"} 1');
    expect(text).toContain("node_memory_MemTotal_bytes ");
  });

  test("REST calls per caller and method; an error status is counted with the last one kept", () => {
    node.metrics.restCall("curl/8", "GET", 200, "127.0.0.1");
    node.metrics.restCall("curl/8", "GET", 404, "127.0.0.2");
    node.metrics.restCall("curl/8", "POST", 200, "127.0.0.1");
    const get = node.metrics.restCalls().find((c) => c.caller === "curl/8" && c.method === "GET")!;
    expect(get).toMatchObject({ processed: 2, errors: 1, lastError: 404, lastClient: "127.0.0.2" });
    expect(node.metrics.restRequests).toBe(3);
    expect(node.metrics.render(node)).toContain('anylog_rest_calls_total{method="GET",caller="curl/8"} 2');
  });

  test("the last 20 errors are kept, newest first, with secrets masked", () => {
    for (let i = 0; i < 25; i++) node.metrics.noteError(`cmd ${i} password = s3cret`, `failed ${i}`);
    const errors = node.metrics.recentErrors();
    expect(errors.length).toBe(20);
    expect(errors[0]!.command).toBe("cmd 24 password = ***");
    expect(errors[19]!.message).toBe("failed 5");
    expect(node.metrics.errors).toBe(25);
  });
});
