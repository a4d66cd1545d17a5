/**
 * @module monitoring/system
 * The machine's figures, read from the operating system the way psutil reads them on Linux
 * (the library AnyLog's monitoring commands call): CPU times (`/proc/stat`), memory and swap
 * (`/proc/meminfo`, `/proc/vmstat`), load (`/proc/loadavg`), network and disk counters
 * (`/proc/net/dev`, `/proc/diskstats`), file systems (`statfs`, `/proc/self/mountinfo`) and
 * this process (`/proc/self`). Every reader returns a Result: a machine without the file (not
 * Linux, a container without /proc) is an error naming it, never a crash.
 *
 * @example
 *   const mem = memory();            // ok({total, available, used, free, percent, ...}) in bytes
 *   const disk = diskUsage("/var");  // fail("not_found", ...) when the path does not exist
 */
import { readFileSync, readdirSync, readlinkSync, statfsSync } from "node:fs";
import os from "node:os";
import { resolve } from "node:path";
import { type Result, errorText, fail, ok } from "../util/result.ts";

/** Clock ticks per second of the times in /proc/stat (USER_HZ: 100 on every Linux the node runs on). */
const TICKS = 100;
const SECTOR = 512;

function readProc(path: string): Result<string> {
  try {
    return ok(readFileSync(path, "utf8"));
  } catch (e) {
    return fail("unavailable", `cannot read ${path} (${errorText(e)}): this figure needs Linux's /proc`);
  }
}

/** Seconds a CPU spent in each mode (psutil's `cpu_times`). */
export interface CpuTimes {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
  guest: number;
  guest_nice: number;
}

export const CPU_MODES = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice"] as const;

/** The machine's CPU times: `total` (the `cpu` line) and one entry per CPU (`cpu0`, `cpu1`, ...). */
export function cpuTimes(): Result<{ total: CpuTimes; perCpu: CpuTimes[] }> {
  const text = readProc("/proc/stat");
  if (!text.ok) return text;
  let total: CpuTimes | undefined;
  const perCpu: CpuTimes[] = [];
  for (const line of text.value.split("\n")) {
    const m = /^cpu(\d*)\s+(.*)$/.exec(line);
    if (!m) continue;
    const n = m[2]!.trim().split(/\s+/).map(Number);
    const times = Object.fromEntries(CPU_MODES.map((mode, i) => [mode, (n[i] ?? 0) / TICKS])) as unknown as CpuTimes;
    if (m[1] === "") total = times;
    else perCpu[Number(m[1])] = times;
  }
  if (!total) return fail("unavailable", "/proc/stat has no cpu line");
  return ok({ total, perCpu: perCpu.filter((t) => t !== undefined) });
}

/** Busy and all seconds of a sample, as psutil counts them (guest time is inside user time already). */
function busyAndAll(t: CpuTimes): { busy: number; all: number } {
  const all = t.user + t.nice + t.system + t.idle + t.iowait + t.irq + t.softirq + t.steal;
  return { busy: all - t.idle - t.iowait, all };
}

/** Percent of `now - before` a CPU was busy (0 when no time passed). */
export function busyPercent(before: CpuTimes, now: CpuTimes): number {
  const a = busyAndAll(before);
  const b = busyAndAll(now);
  const all = b.all - a.all;
  if (all <= 0) return 0;
  return round2(Math.min(100, Math.max(0, ((b.busy - a.busy) / all) * 100)));
}

/** Percent of the time between two samples spent in each mode (psutil's `cpu_times_percent`). */
export function modePercents(before: CpuTimes, now: CpuTimes): CpuTimes {
  const all = busyAndAll(now).all - busyAndAll(before).all;
  return Object.fromEntries(CPU_MODES.map((m) => [m, all > 0 ? round2(Math.max(0, ((now[m] - before[m]) / all) * 100)) : 0])) as unknown as CpuTimes;
}

export const round2 = (x: number): number => Math.round(x * 100) / 100;

interface CpuSample {
  at: number;
  total: CpuTimes;
  perCpu: CpuTimes[];
}

/** The last sample taken: percentages are over the time since it, as psutil's `cpu_percent(interval=None)`. */
let lastSample: CpuSample | undefined;
/** A window shorter than this says little: a new sample is taken after waiting for it. */
const MIN_WINDOW_MS = 200;

/**
 * Busy percent of the machine and of each CPU since the previous call (any caller: the
 * figures are the machine's). The first call, or one right after another, measures over
 * the next 200 ms instead of answering 0.
 */
export async function cpuPercents(): Promise<Result<{ total: number; perCpu: number[]; modes: CpuTimes; seconds: number }>> {
  const take = (): Result<CpuSample> => {
    const t = cpuTimes();
    return t.ok ? ok({ at: Date.now(), ...t.value }) : t;
  };
  let before = lastSample;
  if (!before || Date.now() - before.at < MIN_WINDOW_MS) {
    const first = take();
    if (!first.ok) return first;
    before = first.value;
    await Bun.sleep(MIN_WINDOW_MS);
  }
  const now = take();
  if (!now.ok) return now;
  lastSample = now.value;
  const b = before;
  return ok({
    total: busyPercent(b.total, now.value.total),
    perCpu: now.value.perCpu.map((t, i) => busyPercent(b.perCpu[i] ?? t, t)),
    modes: modePercents(b.total, now.value.total),
    seconds: (now.value.at - b.at) / 1000,
  });
}

/** Values of /proc/meminfo in bytes, by name (`MemTotal`, `SwapFree`, ...). */
export function meminfo(): Result<Map<string, number>> {
  const text = readProc("/proc/meminfo");
  if (!text.ok) return text;
  const values = new Map<string, number>();
  for (const line of text.value.split("\n")) {
    const m = /^(\S+):\s+(\d+)(?:\s+kB)?/.exec(line);
    if (m) values.set(m[1]!, Number(m[2]) * (line.endsWith("kB") ? 1024 : 1));
  }
  if (!values.has("MemTotal")) return fail("unavailable", "/proc/meminfo has no MemTotal");
  return ok(values);
}

/** psutil's `virtual_memory`, in bytes. */
export interface Memory {
  total: number;
  available: number;
  used: number;
  free: number;
  percent: number;
  buffers: number;
  cached: number;
  shared: number;
}

export function memory(): Result<Memory> {
  const info = meminfo();
  if (!info.ok) return info;
  const v = (k: string) => info.value.get(k) ?? 0;
  const total = v("MemTotal");
  const free = v("MemFree");
  const buffers = v("Buffers");
  const cached = v("Cached") + v("SReclaimable");
  const available = info.value.get("MemAvailable") ?? free + buffers + cached;
  let used = total - free - buffers - cached;
  if (used < 0) used = total - free;
  return ok({ total, available, used, free, percent: total > 0 ? round2(((total - available) / total) * 100) : 0, buffers, cached, shared: v("Shmem") });
}

/** psutil's `swap_memory`, in bytes (sin / sout: bytes swapped in and out since boot). */
export function swap(): Result<{ total: number; used: number; free: number; percent: number; sin: number; sout: number }> {
  const info = meminfo();
  if (!info.ok) return info;
  const total = info.value.get("SwapTotal") ?? 0;
  const free = info.value.get("SwapFree") ?? 0;
  const vm = readProc("/proc/vmstat");
  const page = (name: string) => Number(vm.ok ? new RegExp(`^${name} (\\d+)$`, "m").exec(vm.value)?.[1] ?? 0 : 0) * 4096;
  return ok({ total, used: total - free, free, percent: total > 0 ? round2(((total - free) / total) * 100) : 0, sin: page("pswpin"), sout: page("pswpout") });
}

/** The load averages over 1, 5 and 15 minutes. */
export function loadAverage(): Result<[number, number, number]> {
  const text = readProc("/proc/loadavg");
  if (!text.ok) return text;
  const [a, b, c] = text.value.trim().split(/\s+/).map(Number);
  return ok([a ?? 0, b ?? 0, c ?? 0]);
}

/** The counters of every device added up, key by key (the machine's total, as psutil gives it). */
function sumCounters<K extends string>(perDevice: Map<string, Record<K, number>>, keys: readonly K[]): Record<K, number> {
  const total = Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
  for (const c of perDevice.values()) for (const k of keys) total[k] += c[k];
  return total;
}

/** Counters of one network interface (psutil's `net_io_counters` names). */
export interface NetCounters {
  bytes_sent: number;
  bytes_recv: number;
  packets_sent: number;
  packets_recv: number;
  errin: number;
  errout: number;
  dropin: number;
  dropout: number;
}

const NET_KEYS = ["bytes_sent", "bytes_recv", "packets_sent", "packets_recv", "errin", "errout", "dropin", "dropout"] as const;

/** Counters per interface and summed over all of them (loopback included, as psutil sums). */
export function netCounters(): Result<{ total: NetCounters; perDevice: Map<string, NetCounters> }> {
  const text = readProc("/proc/net/dev");
  if (!text.ok) return text;
  const perDevice = new Map<string, NetCounters>();
  for (const line of text.value.split("\n").slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const n = m[2]!.trim().split(/\s+/).map(Number);
    perDevice.set(m[1]!, {
      bytes_recv: n[0] ?? 0,
      packets_recv: n[1] ?? 0,
      errin: n[2] ?? 0,
      dropin: n[3] ?? 0,
      bytes_sent: n[8] ?? 0,
      packets_sent: n[9] ?? 0,
      errout: n[10] ?? 0,
      dropout: n[11] ?? 0,
    });
  }
  return ok({ total: sumCounters(perDevice, NET_KEYS), perDevice });
}

/** Counters of one block device (psutil's `disk_io_counters` names; times in ms). */
export interface DiskCounters {
  read_count: number;
  write_count: number;
  read_bytes: number;
  write_bytes: number;
  read_time: number;
  write_time: number;
}

const DISK_KEYS = ["read_count", "write_count", "read_bytes", "write_bytes", "read_time", "write_time"] as const;

/** Counters of the machine's disks (whole devices under /sys/block; loop and ram devices left out), and their sum. */
export function diskCounters(): Result<{ total: DiskCounters; perDevice: Map<string, DiskCounters> }> {
  const text = readProc("/proc/diskstats");
  if (!text.ok) return text;
  let disks: Set<string> | undefined;
  try {
    disks = new Set(readdirSync("/sys/block").filter((d) => !/^(loop|ram)\d/.test(d)));
  } catch {
    disks = undefined; // no /sys: every device of diskstats that is not a partition-looking name
  }
  const perDevice = new Map<string, DiskCounters>();
  for (const line of text.value.split("\n")) {
    const f = line.trim().split(/\s+/);
    const name = f[2];
    if (!name || f.length < 14) continue;
    if (disks ? !disks.has(name) : /^(loop|ram)\d|\d$/.test(name)) continue;
    const n = f.map(Number);
    perDevice.set(name, { read_count: n[3]!, read_bytes: n[5]! * SECTOR, read_time: n[6]!, write_count: n[7]!, write_bytes: n[9]! * SECTOR, write_time: n[10]! });
  }
  return ok({ total: sumCounters(perDevice, DISK_KEYS), perDevice });
}

/** The space of the file system holding a path, in bytes, as `df` counts it (psutil's `disk_usage`). */
export interface DiskUsage {
  path: string;
  total: number;
  used: number;
  free: number;
  /** Used, of what a user may use (used + free), as `df` shows Use%. */
  percent: number;
  /** Free, of the whole disk: AnyLog's "Free Space Percent" (`get disk percentage`). */
  freePercent: number;
}

export function diskUsage(path: string): Result<DiskUsage> {
  const full = resolve(path);
  try {
    const s = statfsSync(full);
    const total = s.blocks * s.bsize;
    const used = (s.blocks - s.bfree) * s.bsize;
    const free = s.bavail * s.bsize;
    return ok({ path: full, total, used, free, percent: used + free > 0 ? round2((used / (used + free)) * 100) : 0, freePercent: total > 0 ? round2((free / total) * 100) : 0 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return fail("not_found", `no such path '${path}': give an existing file or directory on the disk to measure`);
    return fail("io", `cannot read the disk of '${path}': ${errorText(e)}`);
  }
}

/** The mount a path is on (the longest mount point that holds it), from /proc/self/mountinfo. */
export function mountOf(path: string): { device: string; fstype: string; mountpoint: string } {
  const full = resolve(path);
  const text = readProc("/proc/self/mountinfo");
  let best = { device: "unknown", fstype: "unknown", mountpoint: "/" };
  let bestLength = -1;
  if (!text.ok) return best;
  for (const line of text.value.split("\n")) {
    const [left, right] = line.split(" - ");
    const mountpoint = left?.split(" ")[4]?.replace(/\\040/g, " ");
    const [fstype, device] = right?.split(" ") ?? [];
    if (!mountpoint || !fstype || !device) continue;
    const holds = mountpoint === "/" || full === mountpoint || full.startsWith(`${mountpoint}/`);
    if (holds && mountpoint.length >= bestLength) {
      best = { device, fstype, mountpoint };
      bestLength = mountpoint.length;
    }
  }
  return best;
}

/** What `platform.uname()` says: the system, its release and version, the host, the machine, the processor. */
export function platformInfo(): { system: string; release: string; version: string; node: string; machine: string; processor: string } {
  const cpus = os.cpus();
  return {
    system: os.type(),
    release: os.release(),
    version: os.version(),
    node: os.hostname(),
    machine: os.machine(),
    processor: cpus[0]?.model?.trim() || os.machine(),
  };
}

/** Logical CPUs, and physical cores (distinct physical id + core id of /proc/cpuinfo; the logical count when it says nothing). */
export function cpuCounts(): { logical: number; physical: number } {
  const logical = os.cpus().length;
  const text = readProc("/proc/cpuinfo");
  if (!text.ok) return { logical, physical: logical };
  const cores = new Set<string>();
  for (const block of text.value.split(/\n\s*\n/)) {
    const pid = /^physical id\s*:\s*(\d+)/m.exec(block)?.[1];
    const cid = /^core id\s*:\s*(\d+)/m.exec(block)?.[1];
    if (pid !== undefined && cid !== undefined) cores.add(`${pid}.${cid}`);
  }
  return { logical, physical: cores.size || logical };
}

/** Seconds since the epoch at which the machine booted (btime of /proc/stat). */
export function bootTime(): Result<number> {
  const text = readProc("/proc/stat");
  if (!text.ok) return text;
  const btime = /^btime (\d+)$/m.exec(text.value)?.[1];
  return btime ? ok(Number(btime)) : fail("unavailable", "/proc/stat has no btime");
}

/** This process's figures, named as Prometheus clients name them. */
export interface ProcessFigures {
  cpu_seconds: number;
  resident_bytes: number;
  virtual_bytes: number;
  open_fds: number;
  max_fds: number;
  start_time_seconds: number;
  threads: number;
}

export function processFigures(): Result<ProcessFigures> {
  const stat = readProc("/proc/self/stat");
  if (!stat.ok) return stat;
  // the fields after the command name (which may hold spaces and parentheses)
  const f = stat.value.slice(stat.value.lastIndexOf(")") + 2).trim().split(/\s+/).map(Number);
  const boot = bootTime();
  let openFds = 0;
  try {
    openFds = readdirSync("/proc/self/fd").filter((fd) => {
      try {
        readlinkSync(`/proc/self/fd/${fd}`);
        return true;
      } catch {
        return false; // the directory's own descriptor, gone by now
      }
    }).length;
  } catch {
    openFds = 0;
  }
  const status = readProc("/proc/self/status");
  const kB = (name: string) => Number(status.ok ? new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status.value)?.[1] ?? 0 : 0) * 1024;
  const limits = readProc("/proc/self/limits");
  const maxFds = Number(limits.ok ? /^Max open files\s+(\d+)/m.exec(limits.value)?.[1] ?? 0 : 0);
  return ok({
    cpu_seconds: ((f[11] ?? 0) + (f[12] ?? 0)) / TICKS,
    threads: f[17] ?? 0,
    start_time_seconds: (boot.ok ? boot.value : 0) + (f[19] ?? 0) / TICKS,
    virtual_bytes: f[20] ?? 0,
    resident_bytes: kB("VmRSS"),
    open_fds: openFds,
    max_fds: maxFds,
  });
}
