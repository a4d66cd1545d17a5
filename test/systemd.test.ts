/**
 * The systemd units (systemd/): what `make units` makes of the one template, different only
 * where the role is, clean under `systemd-analyze verify`, rated OK or better by
 * `systemd-analyze security --offline=true`. Then, where this machine allows it (root, a
 * systemd, unshare), the units under a real systemd as PID 1 of private PID, mount and cgroup
 * namespaces: `systemctl start` returns only once REST answers, the node runs as anylog in its
 * sandbox, watchdog pings keep it up and a stuck node is killed and started again, a role
 * change by `systemctl restart anylog-<role>`, a role file of another role or a broken one
 * refused without a restart loop, and a clean stop.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UNIT_ROLES, renderUnits, unitName } from "../systemd/generate.ts";
import { REPO_ROOT, freePorts } from "./support/node-process.ts";

// bun's default is 5 s per test and hook: these bound waits for a real systemd, not speed
setDefaultTimeout(60_000);

const UNIT_DIR = join(REPO_ROOT, "systemd");
const analyze = Bun.which("systemd-analyze");
const NO_ANALYZE = "systemd-analyze is not installed (apt-get install systemd)";

function run(argv: string[], options: { env?: Record<string, string> } = {}): { code: number; out: string; err: string } {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", env: { ...(process.env as Record<string, string>), ...(options.env ?? {}) } });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

const unitText = (role: string) => readFileSync(join(UNIT_DIR, unitName(role)), "utf8");

describe("systemd units", () => {
  test("each unit is what `make units` makes of systemd/anylog.service.in", () => {
    const rendered = renderUnits();
    expect([...rendered.keys()].sort()).toEqual(UNIT_ROLES.map(unitName).sort());
    for (const [name, text] of rendered) expect({ name, text: readFileSync(join(UNIT_DIR, name), "utf8") }).toEqual({ name, text });
  });

  test("the units differ only where the role does", () => {
    const all = UNIT_ROLES.map(unitName);
    // each unit with its own role named ROLE and its Conflicts= line checked to name all the others
    const normal = UNIT_ROLES.map((role) =>
      unitText(role)
        .split("\n")
        .map((line) => {
          if (!line.startsWith("Conflicts=")) return line.replace(new RegExp(`\\b${role}\\b`, "g"), "ROLE");
          expect({ role, conflicts: [...line.slice(10).split(/\s+/), unitName(role)].sort() }).toEqual({ role, conflicts: [...all].sort() });
          return "Conflicts=<the other role units>";
        })
        .join("\n"),
    );
    for (const [i, text] of normal.entries()) expect({ role: UNIT_ROLES[i], text }).toEqual({ role: UNIT_ROLES[i], text: normal[0]! });
    expect(normal[0]).toContain("ANYLOG_UNIT_ROLE=ROLE");
  });

  test("each unit has the appliance contract: notify, watchdog, check first, restart, its user and directories", () => {
    for (const role of UNIT_ROLES) {
      const lines = unitText(role).split("\n");
      for (const want of [
        "Type=notify",
        "NotifyAccess=main",
        "ExecStartPre=-/usr/bin/anylog check --config /etc/anylog/node.yaml",
        "ExecStart=/usr/bin/anylog start --config /etc/anylog/node.yaml",
        "Restart=on-failure",
        "User=anylog",
        "StateDirectory=anylog",
        "ConfigurationDirectory=anylog",
        "Environment=ANYLOG_HOME=/var/lib/anylog",
        `Environment=ANYLOG_UNIT_ROLE=${role}`,
        "WantedBy=multi-user.target",
      ])
        expect({ role, has: lines.includes(want) ? want : `missing: ${want}` }).toEqual({ role, has: want });
      expect(lines.some((l) => /^WatchdogSec=[1-9]/.test(l))).toBe(true);
      expect(lines.some((l) => l.startsWith("MemoryDenyWriteExecute=yes"))).toBe(false); // JavaScriptCore's JIT
    }
    // the user the units name is the one sysusers.d creates
    expect(readFileSync(join(UNIT_DIR, "sysusers.d/anylog.conf"), "utf8")).toMatch(/^u anylog - "[^"]+" \/var\/lib\/anylog$/m);
  });

  test.skipIf(!analyze)(analyze ? "systemd-analyze verify: no warning, no error" : `systemd-analyze verify: skipped, ${NO_ANALYZE}`, () => {
    // a root with this machine's own units (sysinit.target, network-online.target, ...), the four
    // units in /etc/systemd/system and an executable /usr/bin/anylog, which verify looks for
    const root = mkdtempSync(join(tmpdir(), "anylog-verify-"));
    try {
      for (const d of ["usr/bin", "usr/lib/systemd", "etc/systemd/system"]) mkdirSync(join(root, d), { recursive: true });
      cpSync("/usr/lib/systemd/system", join(root, "usr/lib/systemd/system"), { recursive: true, verbatimSymlinks: true });
      writeFileSync(join(root, "usr/bin/anylog"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
      const units = UNIT_ROLES.map((role) => {
        const path = join(root, "etc/systemd/system", unitName(role));
        writeFileSync(path, unitText(role));
        return path;
      });
      const r = run([analyze!, "verify", `--root=${root}`, "--man=no", ...units]);
      expect({ code: r.code, out: r.out, err: r.err }).toEqual({ code: 0, out: "", err: "" });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test.skipIf(!analyze)(
    analyze ? "systemd-analyze security --offline=true rates each unit OK or better (exposure below 5.0)" : `systemd-analyze security: skipped, ${NO_ANALYZE}`,
    () => {
      const scores: Record<string, string> = {};
      for (const role of UNIT_ROLES) {
        // --threshold=49: exit non-zero when the exposure is above 4.9, i.e. MEDIUM or worse
        const r = run([analyze!, "security", "--offline=true", "--threshold=49", "--no-pager", join(UNIT_DIR, unitName(role))], { env: { SYSTEMD_COLORS: "0" } });
        const overall = r.out.match(/Overall exposure level for \S+: (\d+\.\d) (\w+)/);
        expect({ role, code: r.code, err: r.err, found: overall !== null }).toEqual({ role, code: 0, err: "", found: true });
        const [, score, rating] = overall!;
        expect({ role, rating }).toEqual({ role, rating: expect.stringMatching(/^(OK|SAFE|PERFECT)$/) as unknown as string });
        expect(Number(score)).toBeLessThan(5);
        scores[unitName(role)] = `${score} ${rating}`;
      }
      console.log(`systemd-analyze security: ${JSON.stringify(scores)}`);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// A real systemd, PID 1 of its own PID / mount / cgroup / UTS / IPC namespaces, sharing this
// machine's network (the nodes listen on free loopback ports). Inside, read-only overlays put
// the executable at /usr/bin/anylog and the anylog user (made by systemd-sysusers from
// systemd/sysusers.d/anylog.conf) into /etc/passwd; /etc/anylog is a directory the test
// writes; /run, /tmp, /var/tmp and /var/lib are fresh tmpfs. The unit search path is the
// repository's systemd/ (the committed units, unmodified) plus stub targets and one drop-in
// for all four units: WatchdogSec=2s (so a test sees pings and a watchdog kill in seconds)
// and stdout/stderr to /run/<unit>.log (there is no journal).

const bin = process.env.ANYLOG_BIN;
const boxProblem = ((): string | undefined => {
  if (process.platform !== "linux") return "needs Linux";
  if (process.getuid?.() !== 0) return "needs root (namespaces, mounts, cgroups)";
  if (!bin) return "needs the compiled executable in ANYLOG_BIN (make test sets it)";
  if (!existsSync("/lib/systemd/systemd")) return "needs systemd (apt-get install systemd)";
  for (const tool of ["unshare", "nsenter", "systemd-sysusers", "mountpoint"]) if (!Bun.which(tool)) return `needs ${tool}`;
  const probe = run(["unshare", "--pid", "--fork", "--mount", "--cgroup", "--mount-proc", "true"]);
  if (probe.code !== 0) return `cannot make namespaces here: ${probe.err.trim()}`;
  return undefined;
})();

// runs in the new namespaces as their PID 1, then becomes systemd
const NS_SCRIPT = `set -e
W=$1; REPO=$2
mount -t overlay overlay -o lowerdir=$W/usr-bin:/usr/bin /usr/bin
mount -t overlay overlay -o lowerdir=$W/root/etc:/etc /etc
mount --bind $W/etc-anylog /etc/anylog
for d in /run /tmp /var/tmp /var/lib; do case "$W/" in "$d"/*) ;; *) mount -t tmpfs tmpfs "$d" ;; esac; done
# cgroup file systems mounted afresh by systemd, rooted at this namespace's cgroup
umount -R /sys/fs/cgroup
export SYSTEMD_UNIT_PATH=$REPO/systemd:$W/units SYSTEMD_GENERATOR_PATH=$W/none SYSTEMD_ENVIRONMENT_GENERATOR_PATH=$W/none container=anylog-test
exec /lib/systemd/systemd --system --unit=anylog-box.target --log-target=console
`;

// joins a cgroup of its own in every hierarchy (so systemd's cgroups stay under it), then unshares
const OUTER_SCRIPT = `W=$1; REPO=$2; CG=$3
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then dirs=/sys/fs/cgroup
else dirs=$(for d in /sys/fs/cgroup/*/; do mountpoint -q "$d" && echo "\${d%/}"; done); fi
for c in $dirs; do mkdir -p "$c/$CG" && { echo $$ > "$c/$CG/cgroup.procs"; } 2>/dev/null; done
exec unshare --pid --fork --kill-child --mount --mount-proc --uts --ipc --cgroup --propagation private sh "$W/ns.sh" "$W" "$REPO"
`;

class SystemdBox {
  private constructor(
    readonly dir: string,
    readonly cgroup: string,
    readonly outer: ReturnType<typeof Bun.spawn>,
    readonly pid: number,
  ) {}

  static async boot(): Promise<SystemdBox> {
    const dir = join(REPO_ROOT, "build", `systemd-box-${process.pid}`);
    rmSync(dir, { recursive: true, force: true });
    for (const d of ["root/etc/anylog", "usr-bin", "units/anylog-.service.d", "etc-anylog", "none"]) mkdirSync(join(dir, d), { recursive: true });
    for (const f of ["passwd", "group", "shadow", "gshadow"]) if (existsSync(`/etc/${f}`)) cpSync(`/etc/${f}`, join(dir, "root/etc", f));
    const users = run(["systemd-sysusers", `--root=${join(dir, "root")}`, join(UNIT_DIR, "sysusers.d/anylog.conf")]);
    if (users.code !== 0) throw new Error(`systemd-sysusers failed: ${users.err}`);
    // a copy, not a link: the units' PrivateTmp hides a checkout that lives under /tmp
    copyFileSync(bin!, join(dir, "usr-bin/anylog"));
    chmodSync(join(dir, "usr-bin/anylog"), 0o755);
    for (const t of ["sysinit", "basic", "shutdown", "network-online", "anylog-box"])
      writeFileSync(join(dir, "units", `${t}.target`), "[Unit]\nDefaultDependencies=no\n");
    writeFileSync(
      join(dir, "units/anylog-.service.d/box.conf"),
      "[Service]\nWatchdogSec=2s\nStandardOutput=append:/run/%N.log\nStandardError=inherit\n",
    );
    writeFileSync(join(dir, "ns.sh"), NS_SCRIPT);
    writeFileSync(join(dir, "outer.sh"), OUTER_SCRIPT);
    const cgroup = `anylog-systemd-test-${process.pid}`;
    const outer = Bun.spawn(["sh", join(dir, "outer.sh"), dir, REPO_ROOT, cgroup], {
      stdin: "ignore",
      stdout: Bun.file(join(dir, "systemd.log")),
      stderr: Bun.file(join(dir, "systemd.log")),
    });
    // systemd is the one child of unshare (which took over the outer shell's pid), once it has exec'd
    const read = (path: string) => {
      try {
        return readFileSync(path, "utf8").trim();
      } catch {
        return "";
      }
    };
    let pid = 0;
    const deadline = Date.now() + 15_000;
    while (!pid && Date.now() < deadline) {
      if (read(`/proc/${outer.pid}/comm`) === "unshare") {
        const child = Number(read(`/proc/${outer.pid}/task/${outer.pid}/children`).split(/\s+/)[0]) || 0;
        if (child && read(`/proc/${child}/comm`) === "systemd") pid = child;
      }
      if (!pid) await Bun.sleep(50);
    }
    const box = new SystemdBox(dir, cgroup, outer, pid);
    if (!pid) {
      await box.dispose();
      throw new Error("systemd did not start in its namespaces");
    }
    for (;;) {
      const state = box.systemctl("is-system-running").out.trim();
      if (state === "running" || state === "degraded") return box;
      if (Date.now() > deadline) {
        const log = box.file("../systemd.log");
        await box.dispose();
        throw new Error(`systemd in the box is '${state}' after 15 s: ${log}`);
      }
      await Bun.sleep(100);
    }
  }

  systemctl(...args: string[]): { code: number; out: string; err: string } {
    return run(["nsenter", "-t", String(this.pid), "-m", "-p", "-u", "-i", "systemctl", "--no-pager", ...args]);
  }

  /** `systemctl show` properties of a unit. */
  show(unit: string, ...props: string[]): Record<string, string> {
    const r = this.systemctl("show", unit, ...props.map((p) => `--property=${p}`));
    return Object.fromEntries(r.out.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  }

  /** A file as the box sees it (e.g. /run/anylog-master.log), "" when absent. */
  file(path: string): string {
    try {
      return path.startsWith("../") ? readFileSync(join(this.dir, path.slice(3)), "utf8") : readFileSync(`/proc/${this.pid}/root${path}`, "utf8");
    } catch {
      return "";
    }
  }

  /** Writes /etc/anylog/node.yaml. */
  writeRole(yaml: string): void {
    writeFileSync(join(this.dir, "etc-anylog/node.yaml"), yaml);
  }

  async dispose(): Promise<void> {
    // SIGKILL to a PID namespace's init ends every process in it
    if (this.pid) {
      try {
        process.kill(this.pid, "SIGKILL");
      } catch {}
    }
    this.outer.kill("SIGKILL");
    await this.outer.exited;
    const roots = existsSync("/sys/fs/cgroup/cgroup.controllers")
      ? ["/sys/fs/cgroup"]
      : readdirSync("/sys/fs/cgroup").map((d) => join("/sys/fs/cgroup", d));
    const deadline = Date.now() + 5_000;
    for (const root of roots) {
      const top = join(root, this.cgroup);
      while (existsSync(top)) {
        // deepest first; a cgroup is removable once its last process has been reaped
        const dirs = run(["find", top, "-depth", "-type", "d"]).out.trim().split("\n").filter(Boolean);
        for (const d of dirs) run(["rmdir", d]);
        if (!existsSync(top) || Date.now() > deadline) break;
        await Bun.sleep(100);
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe.skipIf(boxProblem !== undefined)(
  boxProblem ? `the units under a real systemd: skipped, ${boxProblem}` : "the units under a real systemd (private namespaces)",
  () => {
    let box: SystemdBox;
    let tcp = 0;
    let rest = 0;
    const roleFile = (role: string, extra = "") => `# written by test/systemd.test.ts
role: ${role}
node:
  name: box
network:
  external_ip: 127.0.0.1
  internal_ip: 127.0.0.1
  tcp_port: ${tcp}
  rest_port: ${rest}
  bind: true
  rest_bind: true
${extra}`;
    const processes = async () => {
      const r = await fetch(`http://127.0.0.1:${rest}/`, { headers: { command: "get processes where format=json" }, signal: AbortSignal.timeout(5000) });
      const json = (await r.json()) as Record<string, { Status: string }>;
      return Object.entries(json)
        .filter(([, p]) => p.Status === "Running")
        .map(([name]) => name);
    };
    const until = async (what: string, ok: () => boolean, withinMs: number) => {
      const deadline = Date.now() + withinMs;
      while (!ok()) {
        if (Date.now() > deadline) throw new Error(`${what}: not within ${withinMs / 1000} s`);
        await Bun.sleep(100);
      }
    };

    beforeAll(async () => {
      [tcp, rest] = (await freePorts(2)) as [number, number];
      box = await SystemdBox.boot();
    });
    afterAll(async () => {
      await box?.dispose();
    });

    test("systemctl start returns once the role's servers answer; the node runs as anylog, sandboxed, with a status line", async () => {
      box.writeRole(roleFile("master"));
      const started = box.systemctl("start", "anylog-master");
      expect({ code: started.code, err: started.err, log: started.code ? box.file("/run/anylog-master.log") : "" }).toEqual({ code: 0, err: "", log: "" });
      // READY=1 came after the role's sequence ran: REST answers at once, no retry
      const health = await fetch(`http://127.0.0.1:${rest}/health`, { signal: AbortSignal.timeout(5000) });
      expect(health.status).toBe(200);
      const s = box.show("anylog-master", "ActiveState", "SubState", "StatusText", "NRestarts", "MainPID");
      expect(s).toMatchObject({ ActiveState: "active", SubState: "running", NRestarts: "0" });
      expect(s.StatusText).toMatch(/^node 'box' is up: TCP, REST\b/);
      expect(await processes()).toEqual(expect.arrayContaining(["TCP", "REST", "Blockchain Sync"]));
      const status = box.file(`/proc/${s.MainPID}/status`);
      const uid = box.file("/etc/passwd").match(/^anylog:x:(\d+):/m)?.[1];
      expect(uid).toBeDefined();
      expect(status).toMatch(new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s`, "m"));
      expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
      expect(status).toMatch(/^Seccomp:\s+2$/m); // the system call filter is on
    });

    test("watchdog pings keep the node up; a node that stops answering is killed and started again", async () => {
      const before = Number(box.show("anylog-master", "WatchdogTimestampMonotonic").WatchdogTimestampMonotonic);
      await Bun.sleep(2_500);
      const after = box.show("anylog-master", "WatchdogTimestampMonotonic", "ActiveState", "MainPID");
      expect(Number(after.WatchdogTimestampMonotonic)).toBeGreaterThan(before);
      expect(after.ActiveState).toBe("active");
      // a stopped process sends no pings: after WatchdogSec systemd kills it (Result=watchdog) and restarts it
      expect(box.systemctl("kill", "--signal=SIGSTOP", "anylog-master").code).toBe(0);
      let sawWatchdog = false;
      await until(
        "a watchdog kill and a restart",
        () => {
          const s = box.show("anylog-master", "Result", "ActiveState", "NRestarts", "MainPID");
          if (s.Result === "watchdog") sawWatchdog = true;
          return s.ActiveState === "active" && s.NRestarts === "1" && s.MainPID !== after.MainPID;
        },
        20_000,
      );
      expect(sawWatchdog).toBe(true);
      expect((await fetch(`http://127.0.0.1:${rest}/health`, { signal: AbortSignal.timeout(5000) })).status).toBe(200);
    });

    test("a role change: node.yaml edited, then systemctl restart anylog-<role> stops the old unit and runs the new role", async () => {
      expect(await processes()).not.toContain("Operator");
      box.writeRole(roleFile("[master, operator]", "operator:\n  dbms: box\n  cluster: box-cluster\n"));
      const r = box.systemctl("restart", "anylog-operator");
      expect({ code: r.code, err: r.err, log: r.code ? box.file("/run/anylog-operator.log") : "" }).toEqual({ code: 0, err: "", log: "" });
      expect(box.show("anylog-master", "ActiveState").ActiveState).toBe("inactive"); // Conflicts=
      expect(box.show("anylog-operator", "ActiveState").ActiveState).toBe("active");
      expect(await processes()).toEqual(expect.arrayContaining(["TCP", "REST", "Operator"]));
    });

    test("a role file of another role: exit 2 with the unit to use, no restart loop", () => {
      box.writeRole(roleFile("query", `ledger:\n  master: 127.0.0.1:${tcp}\n`));
      const r = box.systemctl("restart", "anylog-operator");
      expect(r.code).not.toBe(0);
      expect(box.show("anylog-operator", "ActiveState", "SubState", "ExecMainStatus", "NRestarts")).toEqual({
        ActiveState: "failed",
        SubState: "failed", // not auto-restart: RestartPreventExitStatus=2
        ExecMainStatus: "2",
        NRestarts: "0",
      });
      expect(box.file("/run/anylog-operator.log")).toContain(
        "/etc/anylog/node.yaml: role query does not match anylog-operator.service; run 'systemctl restart anylog-query' instead",
      );
    });

    test("a broken role file: ExecStartPre's anylog check names file, line and column; the node refuses it with exit 2, no restart loop", () => {
      box.writeRole(`role: query\nnetwrok:\n  rest_port: ${rest}\n`);
      const r = box.systemctl("start", "anylog-query");
      expect(r.code).not.toBe(0);
      expect(box.show("anylog-query", "ActiveState", "SubState", "ExecMainStatus", "NRestarts")).toEqual({
        ActiveState: "failed",
        SubState: "failed",
        ExecMainStatus: "2",
        NRestarts: "0",
      });
      const log = box.file("/run/anylog-query.log");
      expect(log).toMatch(/^\/etc\/anylog\/node\.yaml:2:1 netwrok: .*'network'/m);
      expect(log).toMatch(/^\/etc\/anylog\/node\.yaml:1:1 ledger\.master: missing/m); // every problem: that is anylog check
    });

    test("systemctl stop: the node stops cleanly, exit 0, the unit inactive (not failed)", async () => {
      box.writeRole(roleFile("master"));
      expect(box.systemctl("start", "anylog-master").code).toBe(0);
      expect(box.systemctl("stop", "anylog-master").code).toBe(0);
      expect(box.show("anylog-master", "ActiveState", "Result", "ExecMainStatus")).toEqual({ ActiveState: "inactive", Result: "success", ExecMainStatus: "0" });
      expect(box.file("/run/anylog-master.log")).toMatch(/shutting down: SIGTERM[\s\S]*\[start\] stopped\s*$/);
    });
  },
);
