/**
 * The readers of the operating system against independent sources: Node's own `os` figures,
 * `df`, and arithmetic on known CPU samples; and their errors (a path that does not exist).
 */
import { describe, expect, test } from "bun:test";
import os from "node:os";
import { type CpuTimes, busyPercent, cpuCounts, cpuPercents, cpuTimes, diskUsage, memory, modePercents, mountOf, netCounters, processFigures } from "./system.ts";

const sample = (user: number, system: number, idle: number, iowait = 0): CpuTimes => ({ user, nice: 0, system, idle, iowait, irq: 0, softirq: 0, steal: 0, guest: 0, guest_nice: 0 });

describe("system figures", () => {
  test("busy percent and mode percents of two samples, as psutil counts them (iowait is idle)", () => {
    expect(busyPercent(sample(10, 10, 80), sample(40, 20, 120, 20))).toBe(40); // 40 of 100 s busy: the 20 s of iowait count as idle
    expect(busyPercent(sample(1, 1, 1), sample(1, 1, 1))).toBe(0);
    expect(modePercents(sample(0, 0, 0), sample(25, 25, 50))).toMatchObject({ user: 25, system: 25, idle: 50 });
  });

  test("CPU times: one entry per CPU os.cpus() knows; percents within 0..100", async () => {
    const t = cpuTimes();
    if (!t.ok) throw new Error(t.error.message);
    expect(t.value.perCpu.length).toBe(os.cpus().length);
    expect(cpuCounts().logical).toBe(os.cpus().length);
    const p = await cpuPercents();
    if (!p.ok) throw new Error(p.error.message);
    for (const v of [p.value.total, ...p.value.perCpu]) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(100);
    }
  });

  test("memory: the total is os.totalmem(); used + free + buffers + cached is the total", () => {
    const m = memory();
    if (!m.ok) throw new Error(m.error.message);
    expect(m.value.total).toBe(os.totalmem());
    expect(m.value.used + m.value.free + m.value.buffers + m.value.cached).toBe(m.value.total);
  });

  test("disk usage of / is df's; a path that does not exist is not_found naming it", () => {
    const d = diskUsage("/");
    if (!d.ok) throw new Error(d.error.message);
    const [size] = Bun.spawnSync(["df", "-B1", "--output=size", "/"]).stdout.toString().trim().split("\n").slice(1).map(Number);
    expect(d.value.total).toBe(size!);
    const missing = diskUsage("/no/such/path");
    expect(missing.ok).toBe(false);
    if (!missing.ok) {
      expect(missing.error.code).toBe("not_found");
      expect(missing.error.message).toContain("/no/such/path");
    }
    expect(mountOf("/proc/self").mountpoint).toBe("/proc");
  });

  test("network counters include loopback; this process's figures are plausible", () => {
    const n = netCounters();
    if (!n.ok) throw new Error(n.error.message);
    expect(n.value.perDevice.has("lo")).toBe(true);
    const p = processFigures();
    if (!p.ok) throw new Error(p.error.message);
    expect(p.value.resident_bytes).toBeGreaterThan(1024 * 1024);
    expect(p.value.open_fds).toBeGreaterThan(2);
    expect(Math.abs(p.value.start_time_seconds - (Date.now() / 1000 - process.uptime()))).toBeLessThan(5);
  });
});
