/**
 * @module appliance/image/image-test
 * `make image-test`: boots a built appliance image under qemu (TCG, no KVM) and checks it from
 * the host the way a user would, over the REST port (user-mode networking, forwarded to
 * 127.0.0.1 only).
 *
 *   bun appliance/image/image-test.ts amd64|rpi-arm64 [--record]
 *
 * amd64:     qemu-system-x86_64 -M q35, OVMF (Debian `ovmf`): firmware -> systemd-boot on the ESP
 *            -> the kernel and initramfs kernel-install put there -> the ext4 root.
 * rpi-arm64: qemu-system-aarch64 -M virt. A Raspberry Pi's GPU firmware cannot run on virt and
 *            RASPIFIRM holds no EFI loader, so the test boots the kernel and initramfs the image
 *            carries in RASPIFIRM (read out with mtools) with the root= of the image's own
 *            cmdline.txt, on the image's RASPIROOT: the same root file system a Pi boots.
 *
 * Every run starts from the compressed image in dist/ (its .sha256 checked), boots a fresh
 * copy-on-write overlay (1 GiB larger than the image, so first-boot growroot has work), and
 * checks replies that carry a per-run nonce, so nothing left by an earlier boot can make a run
 * pass:
 *   1. `get status` answers on the role file's REST port: anylog-operator started at boot
 *      (boot-to-REST-ready time measured from qemu's start);
 *   2. through qemu-guest-agent (the one-shot channel the test controls): a drop-in gives the
 *      units NODE_NAME=<nonce> (INTERFACE §1: EdgeLake variables override the role file), the
 *      operator restarts, and `get status` names the node <nonce>-operator, with Operator
 *      running; the root file system has grown to the disk;
 *   3. (amd64) two power cuts: 1,000 one-row streaming PUTs to the image's default dbms, 4 at a
 *      time, each acknowledged with a 200; at the last one qemu is SIGKILLed (no shutdown: the
 *      guest's RAM and all it had not flushed to its disk are gone) and the same disk booted
 *      again; then each phase's rows are counted: 1,000, and 1,000 distinct ids. First with
 *      node.yaml as the image ships it (write_immediate: each PUT stored and synced before its
 *      200), then with `write_immediate: false` and `time: 60 seconds` written into the guest's
 *      node.yaml (each PUT answered once it is in the fsynced journal, stored later, the journal
 *      replayed at start);
 *   4. the role change of INTERFACE §5: node.yaml's role becomes query,
 *      `systemctl restart anylog-query` (the units conflict, so the operator stops), and
 *      `get processes` from node <nonce>-query shows the processes the same node.yaml gives on
 *      the host (`anylog start --config` on loopback), and no Operator. (Publisher would show
 *      a process of its own, but `run publisher` is not in this build yet.)
 * Results go to build/image-test/<target>/result.json; with --record, the image sizes, boot
 * times and power cuts also go to bench/RESULTS.md. IMAGE_TEST_KEEP=1 leaves a failed guest running.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createConnection } from "node:net";
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { freePorts } from "../../test/support/node-process.ts";

const target = process.argv[2];
const record = process.argv.includes("--record");
if (target !== "amd64" && target !== "rpi-arm64") {
  console.error("usage: bun appliance/image/image-test.ts amd64|rpi-arm64 [--record]");
  process.exit(2);
}
const top = resolve(import.meta.dir, "../..");
const dist = join(top, "dist");
const work = join(top, "build", "image-test", target);
const image = `anylog-${target}.img`;
const nonce = `t${randomBytes(4).toString("hex")}`;
const t0 = performance.now();
const elapsed = () => ((performance.now() - t0) / 1000).toFixed(1);
const say = (msg: string) => console.error(`[image-test ${target} ${elapsed()}s] ${msg}`);

/** REST ports of INTERFACE §4, each forwarded from a free 127.0.0.1 port. */
const ROLE_REST = { master: 32049, operator: 32149, publisher: 32249, query: 32349 } as const;

function run(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", cwd: opts.cwd, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

function writeText(path: string, text: string): string {
  writeFileSync(path, text);
  return path;
}

/** The host's own executable (the role file's plan and reference processes). */
const native = join(dist, `anylog-linux-${process.arch === "arm64" ? "arm64" : "x64"}`);

/**
 * The processes a role file gives on the host: `anylog start --config FILE` on loopback with
 * free ports and a throw-away ANYLOG_HOME, `get processes` once the node says it is up.
 */
async function hostProcesses(config: string): Promise<Record<string, { Status: string }>> {
  const home = join(work, "host-node");
  mkdirSync(home, { recursive: true });
  const [tcp, restPort] = (await freePorts(2)) as [number, number];
  const sets = { anylog_server_port: tcp, anylog_rest_port: restPort, external_ip: "127.0.0.1", ip: "127.0.0.1" };
  const env: Record<string, string | undefined> = { ...process.env, ANYLOG_HOME: home };
  delete env.NODE_NAME;
  delete env.ANYLOG_CONFIG;
  const node = spawn(native, ["start", "--config", config, ...Object.entries(sets).flatMap(([k, v]) => ["--set", `${k}=${v}`])], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const up = new Promise<void>((ok) => {
    const seen = (chunk: Buffer) => {
      output += chunk.toString();
      if (/node '.*' is up/.test(output)) ok();
    };
    node.stdout!.on("data", seen);
    node.stderr!.on("data", seen);
  });
  try {
    await Promise.race([up, sleep(60_000).then(() => Promise.reject(new Error(`the host node did not come up:\n${output}`)))]);
    const reply = await rest(restPort, "get processes where format=json");
    if (!reply) throw new Error(`the host node gave no processes:\n${output}`);
    return reply;
  } finally {
    node.kill("SIGTERM");
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One REST command to the guest through a forwarded port: the parsed JSON reply, or undefined. */
async function rest(port: number, command: string): Promise<any> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { command }, signal: AbortSignal.timeout(5000) });
    if (!res.ok) return undefined;
    return JSON.parse(await res.text());
  } catch {
    return undefined;
  }
}

/** qemu-guest-agent over its chardev socket: one JSON command per line, one reply per line. */
class GuestAgent {
  private buffer = "";
  private waiting: ((line: string) => void)[] = [];
  private constructor(private socket: ReturnType<typeof createConnection>) {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.buffer += chunk;
      for (let i = this.buffer.indexOf("\n"); i >= 0; i = this.buffer.indexOf("\n")) {
        const line = this.buffer.slice(0, i).trim();
        this.buffer = this.buffer.slice(i + 1);
        if (line) this.waiting.shift()?.(line);
      }
    });
  }

  static async connect(path: string): Promise<GuestAgent> {
    const socket = createConnection(path);
    await new Promise<void>((ok, fail) => socket.once("connect", ok).once("error", fail));
    return new GuestAgent(socket);
  }

  private call(execute: string, args?: object, timeoutMs = 10_000): Promise<any> {
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`guest agent: no reply to ${execute}`)), timeoutMs);
      this.waiting.push((line) => {
        clearTimeout(timer);
        const reply = JSON.parse(line);
        if (reply.error) fail(new Error(`guest agent ${execute}: ${reply.error.desc}`));
        else ok(reply.return);
      });
      this.socket.write(`${JSON.stringify({ execute, ...(args ? { arguments: args } : {}) })}\n`);
    });
  }

  /** guest-sync until the agent answers with our id (it may be starting, or hold old output). */
  async sync(deadline: number): Promise<void> {
    while (performance.now() < deadline) {
      const ours = Math.floor(Math.random() * 1e9);
      try {
        this.waiting = [];
        this.buffer = "";
        const got = await this.call("guest-sync", { id: ours }, 3000);
        if (got === ours) return;
      } catch {
        await sleep(1000);
      }
    }
    throw new Error("guest agent did not answer (is qemu-guest-agent in the image?)");
  }

  /** Runs a shell command in the guest as root: exit code and output. */
  async sh(script: string, timeoutMs = 120_000): Promise<{ code: number; out: string }> {
    const { pid } = await this.call("guest-exec", { path: "/bin/sh", arg: ["-c", script], "capture-output": true });
    const end = performance.now() + timeoutMs;
    while (performance.now() < end) {
      const s = await this.call("guest-exec-status", { pid });
      if (s.exited) {
        const text = (b64?: string) => (b64 ? Buffer.from(b64, "base64").toString("utf8") : "");
        return { code: s.exitcode ?? -1, out: text(s["out-data"]) + text(s["err-data"]) };
      }
      await sleep(500);
    }
    throw new Error(`guest command did not end in ${timeoutMs / 1000} s: ${script}`);
  }

  close() {
    this.socket.destroy();
  }
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    const got = await probe();
    if (got !== undefined) return got;
    if (qemu.exitCode !== null || qemu.signalCode !== null) throw new Error(`qemu exited (${qemu.exitCode ?? qemu.signalCode}) while waiting for ${what}`);
    await sleep(500);
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
}

// ---- the power cuts ------------------------------------------------------------------------------
/** Rows per power cut, PUTs in flight at once, the table (in the image's default dbms). */
const CUT_ROWS = 1000;
const CUT_PARALLEL = 4;
const CUT_TABLE = "readings";

/**
 * CUT_ROWS one-row streaming PUTs `{"id": 1..CUT_ROWS, "phase": phase, ...}` to the operator,
 * CUT_PARALLEL at a time; the promise ends with the last acknowledgement (a 200). A 5xx or no
 * answer is tried again (the same body: the node stores a body it already has once), at most
 * 5 times; any other answer ends the run, since the node refuses the data itself.
 */
async function putRows(port: number, dbms: string, phase: number): Promise<{ seconds: number; retries: number }> {
  const start = performance.now();
  let next = 1;
  let retries = 0;
  const one = async (id: number) => {
    const body = JSON.stringify({ id, phase, run: nonce, value: id / 10 });
    for (let attempt = 1; ; attempt++) {
      let why: string;
      try {
        const res = await fetch(`http://127.0.0.1:${port}/`, {
          method: "PUT",
          headers: { type: "json", dbms, table: CUT_TABLE, mode: "streaming" },
          body,
          signal: AbortSignal.timeout(30_000),
        });
        const text = await res.text();
        if (res.status === 200) return;
        why = `${res.status} ${text}`;
        if (res.status < 500) throw new Error(`PUT of row ${id} (phase ${phase}) refused: ${why}`);
      } catch (e) {
        if ((e as Error).message.startsWith("PUT of row")) throw e;
        why = (e as Error).message;
      }
      if (attempt >= 5) throw new Error(`PUT of row ${id} (phase ${phase}) not acknowledged after ${attempt} tries: ${why}`);
      retries++;
      await sleep(1000);
    }
  };
  const worker = async () => {
    while (next <= CUT_ROWS) await one(next++);
  };
  await Promise.all(Array.from({ length: CUT_PARALLEL }, worker));
  return { seconds: (performance.now() - start) / 1000, retries };
}

/** `count(*)` and `count(distinct id)` of one phase's rows, through the operator's REST port. */
async function countRows(port: number, dbms: string, phase: number): Promise<{ n: number; d: number }> {
  const sql = `sql ${dbms} format=json and stat=false "select count(*) as n, count(distinct id) as d from ${CUT_TABLE} where phase = ${phase}"`;
  const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { command: sql }, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  const row = res.ok ? JSON.parse(text)?.Query?.[0] : undefined;
  if (!row) throw new Error(`${sql}: ${res.status} ${text}`);
  return { n: Number(row.n), d: Number(row.d) };
}

/** The power cut: qemu killed (SIGKILL: no shutdown, the guest's RAM gone), then the same disk booted again. */
async function powerCut(): Promise<{ killMs: number }> {
  const start = performance.now();
  const exited = new Promise((r) => qemu.once("exit", r));
  qemu.kill("SIGKILL");
  await exited;
  const killMs = performance.now() - start;
  boot();
  return { killMs };
}

// ---- the disk: the shipped artifact, checked, decompressed, under a fresh overlay -----------------
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const zst = join(dist, `${image}.zst`);
if (!existsSync(zst)) throw new Error(`${zst} is missing: make image`);
run("sha256sum", ["--check", "--quiet", `${image}.zst.sha256`], { cwd: dist });
const raw = join(work, image);
run("zstd", ["-q", "-d", "-f", zst, "-o", raw]);
const rawSize = statSync(raw).size;
const overlay = join(work, "overlay.qcow2");
run("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "raw", "-b", raw, overlay, String(rawSize + (1 << 30))]);
say(`${image}: ${(rawSize / 2 ** 20).toFixed(0)} MiB raw, ${(statSync(zst).size / 2 ** 20).toFixed(0)} MiB compressed; overlay +1 GiB; nonce ${nonce}`);

// ---- qemu ------------------------------------------------------------------------------------------
// taken together, so that no two are the same (one at a time, the kernel may give one twice)
const free = await freePorts(Object.keys(ROLE_REST).length);
const ports: Record<string, number> = Object.fromEntries(Object.keys(ROLE_REST).map((role, i) => [role, free[i]!]));
const hostfwd = Object.entries(ROLE_REST).map(([role, guest]) => `hostfwd=tcp:127.0.0.1:${ports[role]}-:${guest}`).join(",");
const qga = join(work, "qga.sock");
// one console file per boot (the power cuts boot the same disk again): console.log, console-2.log, ...
let boots = 0;
let consoleLog = join(work, "console.log");
const CONSOLE = "@CONSOLE@";
// cache=writeback, said outright (it is qemu's default): qemu gives the guest a volatile write
// cache and passes every guest flush (fdatasync, ext4 commits) on to the host as a flush of the
// qcow2 metadata it holds in memory plus an fdatasync of the file. So a SIGKILL of qemu loses
// what a power cut loses: the guest's RAM (page cache) and whatever the guest wrote but did
// not flush (qcow2 cluster mappings qemu had not written out yet), and nothing the guest
// flushed. cache=unsafe would ignore the guest's flushes, and the power-cut test below would
// then pass or fail by luck, whatever the node does.
const common = [
  "-smp", String(Math.min(2, cpus().length)), "-m", "1024", "-display", "none", "-monitor", "none", "-no-reboot",
  "-serial", CONSOLE,
  "-drive", `file=${overlay},if=virtio,format=qcow2,discard=unmap,cache=writeback`,
  "-netdev", `user,id=net0,${hostfwd}`, "-device", "virtio-net-pci,netdev=net0",
  "-chardev", `socket,path=${qga},server=on,wait=off,id=qga0`,
  "-device", "virtio-serial-pci", "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
];
let cmd: string;
let args: string[];
if (target === "amd64") {
  const vars = join(work, "OVMF_VARS.fd");
  copyFileSync("/usr/share/OVMF/OVMF_VARS_4M.fd", vars);
  cmd = "qemu-system-x86_64";
  args = [
    "-machine", "q35,accel=tcg", "-cpu", "max",
    "-drive", "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
    "-drive", `if=pflash,format=raw,unit=1,file=${vars}`,
    ...common,
  ];
} else {
  // the kernel, initramfs and cmdline.txt from the image's RASPIFIRM partition
  const table = JSON.parse(run("sfdisk", ["--json", raw])).partitiontable;
  const fat = table.partitions[0];
  const fatImage = `${raw}@@${fat.start * 512}`;
  const files = run("mdir", ["-b", "-i", fatImage, "::/"]).split("\n").map((f) => f.replace(/^::\//, "").trim());
  const kernel = files.find((f) => /^vmlinuz-/.test(f));
  const initrd = files.find((f) => /^initrd\.img-/.test(f));
  if (!kernel || !initrd) throw new Error(`RASPIFIRM holds no vmlinuz-*/initrd.img-*: ${files.join(" ")}`);
  for (const f of [kernel, initrd, "cmdline.txt"]) run("mcopy", ["-n", "-i", fatImage, `::/${f}`, join(work, f)]);
  const cmdline = readFileSync(join(work, "cmdline.txt"), "utf8").trim();
  if (!/root=LABEL=RASPIROOT/.test(cmdline)) throw new Error(`cmdline.txt does not mount RASPIROOT: ${cmdline}`);
  // the Pi's consoles (ttyS1, tty0) do not exist on virt: its PL011 is ttyAMA0
  const append = `${cmdline.split(/\s+/).filter((w) => !w.startsWith("console=")).join(" ")} console=ttyAMA0`;
  say(`RASPIFIRM: ${kernel}, ${initrd}; cmdline: ${append}`);
  cmd = "qemu-system-aarch64";
  args = ["-machine", "virt,accel=tcg", "-cpu", "cortex-a72", "-kernel", join(work, kernel), "-initrd", join(work, initrd), "-append", append, ...common];
}
let qemuStart = 0;
let qemu!: ChildProcess;
/** Starts qemu on the overlay (the first boot, and each boot after a power cut). */
function boot(): void {
  boots++;
  consoleLog = join(work, boots === 1 ? "console.log" : `console-${boots}.log`);
  const argv = args.map((a) => (a === CONSOLE ? `file:${consoleLog}` : a));
  writeFileSync(join(work, boots === 1 ? "qemu.cmd" : `qemu-${boots}.cmd`), [cmd, ...argv].map((a) => (/^[\w=,.:/@+-]+$/.test(a) ? a : `'${a}'`)).join(" ") + "\n");
  qemuStart = performance.now();
  qemu = spawn(cmd, argv, { stdio: ["ignore", "inherit", "inherit"] });
}
const qemuRunning = () => qemu.exitCode === null && qemu.signalCode === null;
const stopQemu = () => {
  if (qemuRunning()) qemu.kill("SIGKILL");
};
boot();
process.on("exit", stopQemu);

let agent: GuestAgent | undefined;
const results: Record<string, string | number> = {};
try {
  // 1. the operator started at boot answers on its REST port
  const first = await waitFor("get status on a forwarded REST port", 600_000, async () => {
    for (const [role, port] of Object.entries(ports)) {
      const reply = await rest(port, "get status where format=json");
      if (reply?.status === "running") return { role, port, reply };
    }
    return undefined;
  });
  const readySeconds = (performance.now() - qemuStart) / 1000;
  results.boot_to_rest = readySeconds;
  say(`boot to REST ready: ${readySeconds.toFixed(1)} s (guest port ${ROLE_REST[first.role as keyof typeof ROLE_REST]}): ${JSON.stringify(first.reply)}`);
  if (first.role !== "operator") throw new Error(`the node at boot answers on the ${first.role} REST port, not the operator's`);
  // REST listens early in the role's sequence; the Operator process comes at its end
  const up = await waitFor("the Operator process", 180_000, async () => {
    const r = await rest(ports.operator!, "get status where format=json");
    return r?.processes?.includes("Operator") ? r : undefined;
  });
  results.boot_to_operator = (performance.now() - qemuStart) / 1000;
  say(`boot to Operator running: ${(results.boot_to_operator as number).toFixed(1)} s: ${JSON.stringify(up)}`);

  // 2. the guest agent: this run's nonce into the units' environment; the operator restarts with it
  agent = await GuestAgent.connect(qga);
  await agent.sync(performance.now() + 120_000);
  const facts = await agent.sh(
    "systemctl is-enabled anylog-operator; systemctl is-active anylog-operator; id -un $(stat -c %u /var/lib/anylog); " +
      "anylog version; findmnt -bno SIZE /; lsblk -bdno SIZE /dev/vda; grep '^role:' /etc/anylog/node.yaml",
  );
  say(`guest: ${facts.out.trim().replace(/\n/g, " | ")}`);
  const lines = facts.out.trim().split("\n");
  if (lines[0] !== "enabled" || lines[1] !== "active" || lines[2] !== "anylog") throw new Error(`unexpected unit state or data owner in the guest:\n${facts.out}`);
  // first-boot growroot: the root file system now spans the overlay's extra GiB
  const rootBytes = Number(lines[4]);
  const rootSize = Number((rootBytes / 2 ** 30).toFixed(2));
  results.root_gib = rootSize;
  if (!(rootBytes > rawSize)) throw new Error(`the root file system did not grow to the disk: ${rootBytes} bytes on a ${lines[5]}-byte disk`);
  const dropIns = Object.keys(ROLE_REST)
    .map((role) => `mkdir -p /run/systemd/system/anylog-${role}.service.d && printf '[Service]\\nEnvironment=NODE_NAME=${nonce}-${role}\\n' > /run/systemd/system/anylog-${role}.service.d/image-test.conf`)
    .join(" && ");
  /** The drop-ins (in /run: gone after a power cut) and a restart of anylog-operator, which then answers as <nonce>-operator. */
  const renameOperator = async (before = "") => {
    const restart = await agent!.sh(`${before}${dropIns} && systemctl daemon-reload && systemctl restart anylog-operator`);
    if (restart.code !== 0) throw new Error(`restarting anylog-operator in the guest failed: ${restart.out}`);
    const renamed = await waitFor(`node ${nonce}-operator`, 120_000, async () => {
      const r = await rest(ports.operator!, "get status where format=json");
      return r?.node_name === `${nonce}-operator` && r.status === "running" && r.processes?.includes("Operator") ? r : undefined;
    });
    say(`anylog-operator restarted by the guest agent: ${JSON.stringify(renamed)}`);
  };
  await renameOperator();

  // 3. power cuts, on amd64 only (the intake and its syncs are the same code on the Pi image;
  // two more boots there would add minutes under TCG)
  if (target === "amd64") {
    // rows go to the default dbms of the image's node.yaml, as the image ships it
    const shipped = (await agent.sh("cat /etc/anylog/node.yaml")).out;
    const dbms = /^default_dbms = (\S+)$/m.exec(run(native, ["plan", "--config", writeText(join(work, "node.shipped.yaml"), shipped)]))?.[1];
    if (!dbms) throw new Error("the image's node.yaml names no default dbms");
    /** The thresholds the running operator uses (`get streaming config`). */
    const thresholds = async () => {
      const c = await rest(ports.operator!, "get streaming config where format=json");
      const t = c?.thresholds?.find((x: { scope: string }) => x.scope === "default");
      if (!t) throw new Error(`get streaming config: ${JSON.stringify(c)}`);
      return `write_immediate ${t.write_immediate}, time ${t.time} s, volume ${t.volume} bytes, streamer ${c.streamer}`;
    };
    /** After the power cut: the operator answers again (boot time), with every row of each phase once. */
    const recover = async (label: string, phases: number[]) => {
      await waitFor("the Operator process after the power cut", 600_000, async () => {
        const r = await rest(ports.operator!, "get status where format=json");
        return r?.status === "running" && r.processes?.includes("Operator") ? r : undefined;
      });
      const bootSeconds = (performance.now() - qemuStart) / 1000;
      agent?.close();
      agent = await GuestAgent.connect(qga);
      await agent.sync(performance.now() + 120_000);
      // `get status` lists the Operator while its intake still stores what the journal held
      // (flush buffers says "no operator running" until then): flush buffers until it
      // answers, which also writes anything still waiting in a buffer
      const flushed = await waitFor("flush buffers (the journal's replay at start)", 180_000, async () => {
        const r = await fetch(`http://127.0.0.1:${ports.operator}/`, { method: "POST", headers: { command: "flush buffers" }, signal: AbortSignal.timeout(60_000) }).catch(() => undefined);
        return r?.ok ? r.text() : undefined;
      });
      const counts = [];
      for (const phase of phases) counts.push({ phase, ...(await countRows(ports.operator!, dbms, phase)) });
      const replay = await agent.sh(
        `journalctl -b --no-pager -o cat -u anylog-operator | grep -E 'Intake|acknowledged' | tail -n 5; ls -l /var/lib/anylog/data/journal /var/lib/anylog/data/error 2>&1 | tail -n 8`,
      );
      say(`${label}: operator back ${bootSeconds.toFixed(1)} s after qemu's start; flush buffers: ${flushed.trim()}; rows: ${counts.map((c) => `phase ${c.phase} ${c.n} (distinct ids ${c.d})`).join(", ")}; guest log and journal folder:\n${replay.out.trim()}`);
      const bad = counts.filter((c) => c.n !== CUT_ROWS || c.d !== CUT_ROWS);
      if (bad.length > 0) {
        throw new Error(`${label}: after the power cut, ${bad.map((c) => `phase ${c.phase} has ${c.n} rows with ${c.d} distinct ids`).join("; ")}, not ${CUT_ROWS} acknowledged rows once each`);
      }
      return { bootSeconds, counts };
    };

    // 3a. node.yaml as shipped (write_immediate): each PUT is stored and synced before its 200
    say(`power cut 1, node.yaml as shipped (${await thresholds()}): ${CUT_ROWS} one-row PUTs to ${dbms}.${CUT_TABLE}, ${CUT_PARALLEL} at a time`);
    const put1 = await putRows(ports.operator!, dbms, 1);
    const cut1 = await powerCut();
    say(`${CUT_ROWS} PUTs acknowledged in ${put1.seconds.toFixed(1)} s (${put1.retries} tried again); qemu SIGKILLed at the last 200 (gone ${cut1.killMs.toFixed(0)} ms later); booting the same disk`);
    const back1 = await recover("power cut 1 (write_immediate)", [1]);
    results.cut1_puts_s = put1.seconds;
    results.cut1_boot_s = back1.bootSeconds;
    results.cut1_rows = back1.counts[0]!.n;

    // 3b. a 60-second time threshold: each PUT is answered once it is in the fsynced journal,
    // stored later (at 60 s or 10 KB), the journal replayed at start
    const timed =
      "sed -i -E 's/^( +write_immediate:) true/\\1 false/; s/^( +)# time: 60 seconds/\\1time: 60 seconds/' /etc/anylog/node.yaml && " +
      "grep -qE '^ +write_immediate: false' /etc/anylog/node.yaml && grep -qE '^ +time: 60 seconds' /etc/anylog/node.yaml && anylog check --config /etc/anylog/node.yaml >/dev/null && ";
    await renameOperator(timed);
    const mode = await thresholds();
    if (!/write_immediate false, time 60 s/.test(mode) || !/streamer running/.test(mode)) throw new Error(`the edited node.yaml did not give a 60-second threshold: ${mode}`);
    say(`power cut 2, node.yaml with a 60-second threshold (${mode}): ${CUT_ROWS} one-row PUTs, ${CUT_PARALLEL} at a time`);
    const put2 = await putRows(ports.operator!, dbms, 2);
    const cut2 = await powerCut();
    say(`${CUT_ROWS} PUTs acknowledged in ${put2.seconds.toFixed(1)} s (${put2.retries} tried again); qemu SIGKILLed at the last 200 (gone ${cut2.killMs.toFixed(0)} ms later); booting the same disk`);
    const back2 = await recover("power cut 2 (60-second threshold, journal)", [1, 2]);
    results.cut2_puts_s = put2.seconds;
    results.cut2_boot_s = back2.bootSeconds;
    results.cut2_rows = back2.counts[1]!.n;
    await renameOperator();
  }

  // 4. the role change: node.yaml says query, anylog-query restarts (and stops the operator);
  // its processes are those the same role file gives on the host
  const change = await agent.sh(
    "grep -q '^role: operator$' /etc/anylog/node.yaml && sed -i 's/^role: operator$/role: query/' /etc/anylog/node.yaml && " +
      "systemctl restart anylog-query && cat /etc/anylog/node.yaml",
  );
  if (change.code !== 0) throw new Error(`the role change in the guest failed: ${change.out}`);
  const edited = change.out;
  const queryPort = Number(/^anylog_rest_port = (\d+)$/m.exec(run(native, ["plan", "--config", writeText(join(work, "node.yaml"), edited)]))?.[1]);
  const forward = Object.entries(ROLE_REST).find(([, guest]) => guest === queryPort)?.[0];
  if (!forward) throw new Error(`the query node's REST port ${queryPort} is not one the test forwards`);
  const status = await waitFor(`node ${nonce}-query`, 120_000, async () => {
    const r = await rest(ports[forward]!, "get status where format=json");
    return r?.node_name === `${nonce}-query` && r.status === "running" ? r : undefined;
  });
  const processes = await rest(ports[forward]!, "get processes where format=json");
  const running = (p: Record<string, { Status: string }>) => Object.keys(p).filter((k) => p[k]!.Status === "Running").sort();
  const guestRunning = running(processes ?? {});
  const hostRunning = running(await hostProcesses(join(work, "node.yaml")));
  say(`after the role change, ${status.node_name} runs: ${guestRunning.join(", ")}; the same node.yaml on the host runs: ${hostRunning.join(", ")}`);
  if (guestRunning.join() !== hostRunning.join()) throw new Error("the guest's processes after the role change differ from the query role's");
  if (guestRunning.includes("Operator")) throw new Error("Operator still runs after the change to role query");
  // systemd runs the stop of the conflicting unit beside the start of the new one: the old
  // unit may still be deactivating (the emulated ARM64 guest is slow), so its state is
  // awaited, bounded, and how long it took is said
  const settleStart = performance.now();
  const guest = agent;
  let last = "";
  await waitFor("anylog-operator inactive and anylog-query active", 60_000, async () => {
    last = (await guest.sh("systemctl is-active anylog-operator anylog-query; true")).out.trim().split("\n").join(" ");
    return last === "inactive active" ? last : undefined;
  }).catch(() => {
    throw new Error(`unit states after the role change: ${last}`);
  });
  say(`the units settled ${((performance.now() - settleStart) / 1000).toFixed(1)} s after the query node answered`);
  say(`PASS: anylog-operator answered at boot; role changed to query (anylog-operator inactive, anylog-query active); root ${rootSize} GiB after growroot`);

  await agent.sh("systemctl poweroff", 10_000).catch(() => {});
} catch (e) {
  say(`FAIL: ${(e as Error).message}`);
  if (agent) {
    const journal = await agent.sh("journalctl -b --no-pager -u anylog-master -u anylog-operator -u anylog-publisher -u anylog-query | tail -n 60", 30_000).catch((err) => ({ out: String(err) }));
    say(`the anylog units' journal in the guest:\n${journal.out}`);
  }
  say(`last console lines (${consoleLog}):`);
  try {
    console.error(readFileSync(consoleLog, "utf8").split("\n").slice(-40).join("\n"));
  } catch {}
  agent?.close();
  if (process.env.IMAGE_TEST_KEEP) {
    say(`IMAGE_TEST_KEEP: qemu (pid ${qemu.pid}) left running; guest agent at ${qga}`);
    process.removeListener("exit", stopQemu);
    qemu.unref();
  } else stopQemu();
  process.exit(1);
}
agent?.close();
// the guest powers off (qemu -no-reboot exits then); one that hangs is killed after a minute
if (qemu.exitCode === null && qemu.signalCode === null) await Promise.race([new Promise((r) => qemu.once("exit", r)), sleep(60_000)]);
stopQemu();
// the disk copies (2 GiB and more) are only worth keeping when a run fails
rmSync(raw, { force: true });
rmSync(overlay, { force: true });

const round = (n: string | number | undefined) => Number(Number(n).toFixed(1));
const result = {
  target,
  date: new Date().toISOString(),
  image_zst_bytes: statSync(zst).size,
  image_raw_bytes: rawSize,
  boot_to_rest_s: Number((results.boot_to_rest as number).toFixed(1)),
  boot_to_operator_s: Number((results.boot_to_operator as number).toFixed(1)),
  root_gib_after_growroot: results.root_gib,
  // the power cuts (amd64): PUT time of the 1,000 rows, qemu's start to the operator's answer
  // on the boot after the cut, rows of that phase found once each
  ...(results.cut1_rows !== undefined
    ? {
        cut_write_immediate: { puts_s: round(results.cut1_puts_s), boot_s: round(results.cut1_boot_s), rows: results.cut1_rows },
        cut_time_60s: { puts_s: round(results.cut2_puts_s), boot_s: round(results.cut2_boot_s), rows: results.cut2_rows },
      }
    : {}),
  test_s: Number(elapsed()),
};
writeFileSync(join(work, "result.json"), `${JSON.stringify(result, null, 2)}\n`);

if (record) {
  // one table per day and machine: a run right after another target's appends its row
  const machine = `\`nproc\` ${cpus().length}, ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM`;
  const day = result.date.slice(0, 10);
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  const emulator =
    target === "amd64"
      ? "qemu-system-x86_64 -M q35 -cpu max, TCG, OVMF -> systemd-boot -> kernel"
      : "qemu-system-aarch64 -M virt -cpu cortex-a72, TCG, the kernel and initramfs from RASPIFIRM";
  const [c1, c2] = [result.cut_write_immediate, result.cut_time_60s];
  const cuts =
    c1 && c2
      ? `write_immediate: ${c1.rows} of ${CUT_ROWS} rows (PUTs ${c1.puts_s} s, boot ${c1.boot_s} s); 60 s threshold: ${c2.rows} of ${CUT_ROWS} (PUTs ${c2.puts_s} s, boot ${c2.boot_s} s)`
      : "-";
  const row = `| ${target} | ${mib(result.image_zst_bytes)} | ${mib(result.image_raw_bytes)} | ${result.boot_to_rest_s} s | ${result.boot_to_operator_s} s | ${cuts} | ${result.test_s} s | ${emulator} |`;
  const path = join(top, "bench", "RESULTS.md");
  const text = readFileSync(path, "utf8").trimEnd();
  const head = `## appliance images (appliance/image/image-test.ts), ${day}`;
  const tail = text.slice(text.lastIndexOf("\n## ") + 1);
  if (tail.startsWith(head) && tail.includes(machine) && tail.includes("| power cuts |") && /\n\| (amd64|rpi-arm64) \|[^\n]*$/.test(tail)) {
    appendFileSync(path, `${row}\n`);
  } else {
    const exe = (arch: string) => (existsSync(join(dist, `anylog-linux-${arch}`)) ? mib(statSync(join(dist, `anylog-linux-${arch}`)).size) : "-");
    appendFileSync(
      path,
      `\n${head}\n\n${machine}; guest: 2 vCPUs, 1 GiB, no KVM. Command: \`make image-test IMAGE_TEST_FLAGS=--record\`. ` +
        `Boot to REST ready: from qemu's start to the first \`get status\` reply of anylog-operator through the forwarded port; ` +
        `to Operator: until that reply lists the Operator process (the end of the role's sequence). ` +
        `Power cuts (amd64): ${CUT_ROWS} one-row PUTs acknowledged (${CUT_PARALLEL} at a time), qemu SIGKILLed at the last 200 (drive cache=writeback), ` +
        `the same disk booted again (boot: qemu's start to the Operator's answer) and the rows counted, once with node.yaml as shipped (write_immediate), ` +
        `once with a 60-second threshold (the journal). Test: the whole run of image-test.ts. ` +
        `Executables in the images: linux-x64 ${exe("x64")}, linux-arm64 ${exe("arm64")}.\n\n` +
        `| image | .img.zst | .img (raw) | boot to REST ready | boot to Operator | power cuts | test | emulation |\n| --- | ---: | ---: | ---: | ---: | --- | ---: | --- |\n${row}\n`,
    );
  }
  say("recorded in bench/RESULTS.md");
}
