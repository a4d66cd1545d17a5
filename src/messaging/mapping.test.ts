/**
 * Message mapping: seed 001's topic block, EdgeX's `readings` list with the table from
 * `sourceName`, a payload list, optional columns, and messages that do not fit (each an
 * error that says why); topic blocks that cannot work are refused when checked.
 */
import { describe, expect, test } from "bun:test";
import { mapPayload, topicRule } from "./mapping.ts";

const NOW = "2026-12-05T10:00:00.000Z";

/** The mapped groups without their declared types and blobs (checked on their own). */
function groups(r: ReturnType<typeof mapPayload>) {
  return r.ok ? r.value.map(({ types: _types, blobs: _blobs, ...g }) => g) : r.error.message;
}

function rule(block: Record<string, unknown>) {
  const r = topicRule(block);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

describe("message mapping", () => {
  test("seed 001's block: a timestamp from the message and a typed value", () => {
    const r = rule({ name: "anylog-demo", dbms: "test", table: "rand_data", "column.timestamp.timestamp": "bring [timestamp]", "column.value": { value: "bring [value]", type: "float" } });
    const rows = mapPayload(r, JSON.stringify({ timestamp: "2026-12-05 09:00:00", value: "3" }), NOW);
    expect(groups(rows)).toEqual([{ dbms: "test", table: "rand_data", rows: [{ timestamp: "2026-12-05 09:00:00", value: 3 }] }]);
    // the declared types go with the rows: a float that came as 3 makes a float column
    expect(rows.ok && [...rows.value[0]!.types]).toEqual([["timestamp", "timestamp"], ["value", "float"]]);
  });

  test("EdgeX: one row per reading, the table from sourceName, now, an optional column", () => {
    const r = rule({
      name: "edgex/#",
      dbms: "edgex",
      table: "bring [sourceName]",
      "column.timestamp.timestamp": "now",
      "column.device.str": "bring [deviceName]",
      "column.value": { value: "bring [readings][][value]", type: "float" },
      "column.units": { value: "bring [readings][][units]", type: "str", optional: "true" },
    });
    const event = { deviceName: "Random-Float", sourceName: "Float 64 Source", readings: [{ value: "1.5", units: "C" }, { value: 2 }] };
    const rows = mapPayload(r, JSON.stringify(event), NOW);
    expect(groups(rows)).toEqual([
      { dbms: "edgex", table: "float_64_source", rows: [
        { timestamp: NOW, device: "Random-Float", value: 1.5, units: "C" },
        { timestamp: NOW, device: "Random-Float", value: 2 },
      ] },
    ]);
  });

  test("a payload list is one message per element, grouped by table", () => {
    const r = rule({ name: "t", dbms: "d", table: "bring [kind]", "column.v.int": "bring [v]" });
    const rows = mapPayload(r, JSON.stringify([{ kind: "A", v: 1 }, { kind: "b", v: "2" }, { kind: "a", v: 3 }]), NOW);
    expect(groups(rows)).toEqual([{ dbms: "d", table: "a", rows: [{ v: 1 }, { v: 3 }] }, { dbms: "d", table: "b", rows: [{ v: 2 }] }]);
  });

  test("messages that do not fit are errors that say why", () => {
    const r = rule({ name: "t", dbms: "d", table: "t", "column.v.int": "bring [v]", "column.ok.bool": "bring [ok]" });
    const why = (payload: string) => {
      const m = mapPayload(r, payload, NOW);
      return m.ok ? "mapped" : m.error.message;
    };
    expect(why("not json")).toMatch(/not JSON/);
    expect(why('{"ok": true}')).toMatch(/no value for column 'v' at \[v\].*optional = true/);
    expect(why('{"v": "x", "ok": true}')).toMatch(/column 'v': 'x' is not an int/);
    expect(why('{"v": 1, "ok": "maybe"}')).toMatch(/'maybe' is not a bool/);
    expect(why("42")).toMatch(/not a JSON object/);
  });

  test("topic blocks that cannot work are refused when checked", () => {
    const why = (block: Record<string, unknown>) => {
      const r = topicRule(block);
      return r.ok ? "ok" : r.error.message;
    };
    expect(why({ dbms: "d", table: "t", "column.v": "bring [v]" })).toMatch(/needs a name/);
    expect(why({ name: "a/#/b", dbms: "d", table: "t", "column.v": "bring [v]" })).toMatch(/not an MQTT topic filter/);
    expect(why({ name: "t", dbms: "d", table: "t", colum: "x", "column.v": "bring [v]" })).toMatch(/unknown key 'colum'/);
    expect(why({ name: "t", dbms: "d", table: "t", "column.v.number": "bring [v]" })).toMatch(/type 'number' is not one of/);
    expect(why({ name: "t", dbms: "d", table: "t" })).toMatch(/maps no columns/);
    expect(why({ name: "t", dbms: "d", table: "t", qos: "3", "column.v": "bring [v]" })).toMatch(/qos must be 0, 1 or 2/);
    expect(why({ name: "t", dbms: "d", table: "t", "column.a": "bring [x][][a]", "column.b": "bring [y][][b]" })).toMatch(/different lists/);
  });
});

describe("blob columns", () => {
  const camera = {
    name: "images",
    dbms: "edgex",
    table: "image",
    "column.ts.timestamp": "now",
    "column.file": { bring: "[readings][][binaryValue]", blob: "true", apply: "base64decoding", extension: "png", hash: "md5" },
    "column.device": "bring [deviceName]",
  };
  test("a base64 image becomes its id in the row and its bytes in blobs; equal images are one blob", () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
    const other = Buffer.from("other image");
    const md5 = (b: Uint8Array) => new Bun.CryptoHasher("md5").update(b).digest("hex");
    const msg = { deviceName: "Camera001", readings: [{ binaryValue: png.toString("base64") }, { binaryValue: png.toString("base64") }, { binaryValue: other.toString("base64") }] };
    const r = mapPayload(rule(camera), JSON.stringify(msg), NOW);
    if (!r.ok) throw new Error(r.error.message);
    const [g] = r.value;
    expect(g!.rows.map((x) => x.file)).toEqual([`${md5(png)}.png`, `${md5(png)}.png`, `${md5(other)}.png`]);
    expect(g!.types.get("file")).toBe("text");
    expect(g!.blobs.map((b) => [b.id, Buffer.from(b.bytes).equals(b.id.startsWith(md5(png)) ? png : other), b.cells.length])).toEqual([
      [`${md5(png)}.png`, true, 2],
      [`${md5(other)}.png`, true, 1],
    ]);
  });
  test("text that is not base64 is an error naming the column; blob options without blob = true, or unknown ones, are refused", () => {
    const r = mapPayload(rule(camera), JSON.stringify({ deviceName: "c", readings: [{ binaryValue: "not base64 !!" }] }), NOW);
    expect(!r.ok && r.error.message).toBe("column 'file': the blob is not base64 text (apply = base64decoding)");
    const noBlob = topicRule({ ...camera, "column.file": { value: "bring [x]", extension: "png" } });
    expect(!noBlob.ok && noBlob.error.message).toContain("add blob = true");
    const apply = topicRule({ ...camera, "column.file": { value: "bring [x]", blob: "true", apply: "opencv" } });
    expect(!apply.ok && apply.error.message).toContain("apply = opencv is not supported");
  });
});
