/**
 * MQTT benchmark (issue #11): MESSAGES JSON messages from `mosquitto_pub -l` to the node's own
 * broker (`run message broker`), mapped by a `broker = local` message client and stored by an
 * operator with a streamer (each QoS 1 message acknowledged once journaled), timed until
 * `flush buffers` has committed every row and `count(*)` says so; beside, in the same run,
 * the same messages from `mosquitto_pub` through a mosquitto broker to `mosquitto_sub` (the
 * baseline: moving them without storing them). At QoS 0 and QoS 1; ratio = node messages/s ÷
 * baseline messages/s (goal ≥ 0.5). Nodes are the compiled executable (ANYLOG_BIN, else built
 * by make). `--record` appends the table to bench/RESULTS.md.
 *
 *   bun bench/mqtt.ts [--record]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../test/support/node-process.ts";
import { Mosquitto, publishLines } from "../test/support/mosquitto.ts";
import { anylogBin, anylogVersion, type BenchNode, loadAverage, nodeCommand, osName, rowCount, startNode } from "./lib/node.ts";
import { report } from "./lib/report.ts";

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000);
const GOAL = 0.5;

const bin = anylogBin();
const work = mkdtempSync(join(tmpdir(), "anylog-bench-mqtt-"));
const loadBefore = loadAverage();
let node: BenchNode | undefined;
let mosquitto: Mosquitto | undefined;

const lines = (offset: number) => Array.from({ length: MESSAGES }, (_, i) => JSON.stringify({ n: offset + i, device: `dev-${i % 50}`, v: (i % 1000) / 10 }));

/** Seconds for `mosquitto_pub` → mosquitto → `mosquitto_sub` of MESSAGES messages. */
async function baseline(qos: 0 | 1): Promise<number> {
  const topic = `bench/q${qos}`;
  const sub = Bun.spawn(["mosquitto_sub", "-h", "127.0.0.1", "-p", String(mosquitto!.port), "-t", topic, "-q", String(qos), "-C", String(MESSAGES)], { stdout: "pipe", stderr: "inherit" });
  await Bun.sleep(300); // subscribed before the first message
  const t0 = performance.now();
  await mosquitto!.publish(topic, lines(0), qos);
  const received = (await new Response(sub.stdout).text()).split("\n").filter((l) => l !== "").length;
  const seconds = (performance.now() - t0) / 1000;
  if (received !== MESSAGES) throw new Error(`mosquitto_sub received ${received} of ${MESSAGES} at QoS ${qos}`);
  return seconds;
}

try {
  mosquitto = await Mosquitto.start();
  const brokerPort = await freePort();
  node = await startNode(bin, mkdtempSync(join(work, "node-")), [
    "connect dbms almgm where type = sqlite",
    "create table tsd_info where dbms = almgm",
    "connect dbms bench where type = sqlite",
    "run streamer",
    "run operator where create_table = true and update_tsd_info = true",
    `run message broker where external_ip = 127.0.0.1 and external_port = ${brokerPort} and bind = true`,
    'run msg client where broker = local and topic = (name = bench/+ and dbms = bench and table = "bring [table]" and column.n.int = "bring [n]" and column.device.str = "bring [device]" and column.v.float = "bring [v]")',
  ]);
  /** Seconds for `mosquitto_pub` → the node's broker → rows committed, into a table of its own. */
  const withTable = async (qos: 0 | 1, table: string, offset: number) => {
    const text = lines(offset).map((l) => l.replace(/^\{/, `{"table":"${table}",`));
    const t0 = performance.now();
    await publishLines(brokerPort, `bench/${table}`, text, qos);
    for (;;) {
      await nodeCommand(node!.url, "flush buffers", "POST");
      if ((await rowCount(node!.url, "bench", table)) >= MESSAGES) break;
      await Bun.sleep(20);
    }
    const seconds = (performance.now() - t0) / 1000;
    const stored = await rowCount(node!.url, "bench", table);
    if (stored !== MESSAGES) throw new Error(`${stored} rows of ${MESSAGES} messages at QoS ${qos}`);
    return seconds;
  };
  await withTable(1, "warmup", 0);
  const rows: string[][] = [];
  const ratios: number[] = [];
  for (const qos of [0, 1] as const) {
    const base = await baseline(qos);
    const mine = await withTable(qos, `q${qos}`, 0);
    const ratio = base / mine;
    ratios.push(ratio);
    rows.push([`QoS ${qos}`, (MESSAGES / mine).toFixed(0), (MESSAGES / base).toFixed(0), `${ratio.toFixed(2)}x`, ratio >= GOAL ? "met" : "not met"]);
  }
  report(
    "MQTT (bench/mqtt.ts)",
    `${osName()}; \`${anylogVersion(bin)}\`. Command: \`bun bench/mqtt.ts --record\`. Load average (1, 5, 15 min) ${loadBefore} before, ${loadAverage()} after. ${MESSAGES.toLocaleString("en")} JSON messages (~60 bytes) per run from one \`mosquitto_pub -l\`: to the node's own broker, a \`broker = local\` message client mapping 3 columns, an operator with a streamer (QoS 1 acknowledged once journaled), timed until \`flush buffers\` committed every row (count checked); baseline in the same run: the same messages through mosquitto to \`mosquitto_sub\`. After one warm-up run.`,
    ["QoS", "node: messages/s stored", "mosquitto → mosquitto_sub: messages/s", "ratio", `goal ≥ ${GOAL}`],
    rows,
  );
} finally {
  await node?.stop();
  await mosquitto?.stop();
  rmSync(work, { recursive: true, force: true });
}
