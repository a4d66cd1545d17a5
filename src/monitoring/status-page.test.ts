/**
 * The status page on an in-process node: its sections, and every value escaped (a node name
 * and an error holding markup come out as text).
 */
import "../features.ts";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Node } from "../node/node.ts";
import { monitored } from "./monitored.ts";
import { escapeHtml, statusPage } from "./status-page.ts";

const home = mkdtempSync(join(tmpdir(), "anylog-page-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

test("escapeHtml leaves no markup character", () => {
  expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;");
});

test("the page has its sections and escapes what users and peers control", async () => {
  const node = new Node({ env: { ANYLOG_HOME: home }, set: { node_name: "<b>n1</b>" } });
  node.metrics.noteError('get "<img src=x onerror=alert(1)>"', "unknown command");
  monitored(node).report("operators", { ip: "10.0.0.7", name: "<i>op</i>" }, { "CPU Percent": 2.5, "<k>": "<v>" });
  const html = await statusPage(node);
  for (const id of ["node-name", "processes", "tables", "errors", "monitored-operators"]) expect(html).toContain(`id="${id}"`);
  expect(html).not.toMatch(/<(b|i|k|v|img)[ >]/);
  expect(html).toContain("&#60;img src=x onerror=alert(1)&#62;");
  expect(html).toContain("10.0.0.7.&#60;i&#62;op&#60;/i&#62;");
  expect(html).toContain("No database is connected.");
  await node.shutdown("test done");
});
