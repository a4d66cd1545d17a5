/**
 * The blob commands on an in-process node: a local `file get` of a blob and of a plain file,
 * a dbms name found as `blobs_<name>`, and the errors of `connect dbms ... type = mongo`,
 * `file store`, `file retrieve` and `file get` that need no second node.
 */
import "../features.ts";
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Node } from "../node/node.ts";

const work = mkdtempSync(join(tmpdir(), "anylog-blob-cmd-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
const node = () => new Node({ env: { ANYLOG_HOME: join(work, `n${n++}`) } });

describe("blob commands on one node", () => {
  test("a dbms connected as blobs_<name> holds the blobs of <name>; file get copies a blob or a file locally", async () => {
    const nd = node();
    expect((await nd.execute("connect dbms blobs_cams where type = sqlite")).ok).toBe(true);
    const src = join(work, "pic.jpg");
    writeFileSync(src, "jpeg bytes");
    const stored = await nd.execute(`file store where dbms = cams and table = t and file = ${src}`);
    expect(stored.ok && (stored.value as { store: string }).store).toContain("sqlite dbms 'blobs_cams'");
    const id = (stored.ok && (stored.value as { id: string }).id) || "";
    const dest = join(work, "copy.jpg");
    const got = await nd.execute(`file get (dbms = cams and table = t and id = ${id}) ${dest}`);
    expect(got.ok).toBe(true);
    expect(readFileSync(dest, "utf8")).toBe("jpeg bytes");
    const plain = await nd.execute(`file get ${src} ${join(work, "plain.jpg")}`);
    expect(plain.ok && readFileSync(join(work, "plain.jpg"), "utf8")).toBe("jpeg bytes");
    const listed = await nd.execute("get databases where format = json");
    expect(listed.ok && JSON.stringify(listed.value)).toContain("blobs_cams");
  });

  test("errors name what is wrong and leave nothing behind", async () => {
    const nd = node();
    const mongo = await nd.execute("connect dbms m where type = mongo and ip = 127.0.0.1 and port = 1");
    expect(!mongo.ok && mongo.error.code).toBe("unavailable");
    const port = await nd.execute("connect dbms m where type = mongo and port = 70000");
    expect(!port.ok && port.error.message).toContain("out of range");
    const noFile = await nd.execute("file store where dbms = d and table = t");
    expect(!noFile.ok && noFile.error.message).toContain("file = <path>");
    const noDbms = await nd.execute("file retrieve where table = t and id = x and dest = /tmp/x");
    expect(!noDbms.ok && noDbms.error.code).toBe("bad_option");
    const several = await nd.execute(`file retrieve where dbms = d and table = t and dest = ${join(work, "not-a-dir.bin")}`);
    expect(!several.ok && several.error.message).toContain("is not a folder");
    const noWhat = await nd.execute(`file get (dbms = d and table = t) ${join(work, "w.bin")}`);
    expect(!noWhat.ok && noWhat.error.message).toContain("by id or hash");
    const missing = await nd.execute(`file get ${join(work, "absent.bin")} ${join(work, "w.bin")}`);
    expect(!missing.ok && missing.error.code).toBe("not_found");
    expect(existsSync(join(work, "w.bin"))).toBe(false);
    const twoPeers = await nd.execute(`run client (127.0.0.1:1, 127.0.0.1:2) file get (dbms = d and table = t and id = x) ${join(work, "w.bin")}`);
    expect(!twoPeers.ok && twoPeers.error.message).toContain("exactly one peer");
  }, 15000);
});
