/**
 * @module monitoring/exporter
 * The machine's figures on every node's `/metrics`, named as Prometheus' node_exporter names
 * them (`node_cpu_seconds_total{cpu,mode}`, `node_memory_MemAvailable_bytes`,
 * `node_filesystem_avail_bytes{device,fstype,mountpoint}` for the disk of the node's home,
 * `node_network_receive_bytes_total{device}`, ...) and this process's as Prometheus clients
 * name them (`process_cpu_seconds_total`, `process_resident_memory_bytes`, ...), so the
 * dashboards made for them read a node as they read any machine; then, on an aggregator (a
 * query node), each monitored node's state and numeric figures under `anylog_monitored_*`.
 * A figure the machine does not give (no /proc) is left out, never an error.
 */
import { type MetricFamily, type Sample, addCollector } from "../node/metrics.ts";
import type { Node } from "../node/node.ts";
import { VERSION } from "../version.ts";
import { monitored } from "./monitored.ts";
import { CPU_MODES, type DiskCounters, type NetCounters, bootTime, cpuTimes, diskCounters, diskUsage, loadAverage, meminfo, mountOf, netCounters, processFigures } from "./system.ts";

const gauge = (name: string, help: string, samples: Sample[]): MetricFamily => ({ name, help, type: "gauge", samples });
const counter = (name: string, help: string, samples: Sample[]): MetricFamily => ({ name, help, type: "counter", samples });
const one = (value: number): Sample[] => [{ value }];

/** One sample per device, labelled with its name. */
const perDevice = <C>(devices: Map<string, C>, pick: (c: C) => number): Sample[] => [...devices].map(([device, c]) => ({ labels: { device }, value: pick(c) }));

/** /proc/meminfo fields exported as node_exporter does: node_memory_<field>_bytes. */
const MEMINFO_FIELDS = ["MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapTotal", "SwapFree", "Shmem"];

function machineFamilies(node: Node): MetricFamily[] {
  const families: MetricFamily[] = [];
  families.push(gauge("anylog_node_info", "The node's name and version (always 1).", [{ labels: { node: node.name, version: VERSION }, value: 1 }]));
  const cpu = cpuTimes();
  if (cpu.ok) {
    const samples = cpu.value.perCpu.flatMap((t, i) => CPU_MODES.filter((m) => m !== "guest" && m !== "guest_nice").map((mode) => ({ labels: { cpu: String(i), mode }, value: t[mode] })));
    families.push(counter("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", samples));
  }
  const mem = meminfo();
  if (mem.ok) {
    for (const field of MEMINFO_FIELDS) {
      const v = mem.value.get(field);
      if (v !== undefined) families.push(gauge(`node_memory_${field}_bytes`, `Memory information field ${field}_bytes.`, one(v)));
    }
  }
  const load = loadAverage();
  if (load.ok) {
    families.push(gauge("node_load1", "1m load average.", one(load.value[0])));
    families.push(gauge("node_load5", "5m load average.", one(load.value[1])));
    families.push(gauge("node_load15", "15m load average.", one(load.value[2])));
  }
  const home = node.dictionary.lookup("anylog_path") ?? ".";
  const disk = diskUsage(home);
  if (disk.ok) {
    const labels = mountOf(home);
    families.push(gauge("node_filesystem_size_bytes", "Filesystem size in bytes (the disk of the node's home).", [{ labels, value: disk.value.total }]));
    families.push(gauge("node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes (the disk of the node's home).", [{ labels, value: disk.value.free }]));
    families.push(gauge("node_filesystem_free_bytes", "Filesystem free space in bytes (the disk of the node's home).", [{ labels, value: disk.value.total - disk.value.used }]));
  }
  const net = netCounters();
  if (net.ok) {
    const per = (pick: (c: NetCounters) => number) => perDevice(net.value.perDevice, pick);
    families.push(counter("node_network_receive_bytes_total", "Network device statistic receive_bytes.", per((c) => c.bytes_recv)));
    families.push(counter("node_network_transmit_bytes_total", "Network device statistic transmit_bytes.", per((c) => c.bytes_sent)));
    families.push(counter("node_network_receive_packets_total", "Network device statistic receive_packets.", per((c) => c.packets_recv)));
    families.push(counter("node_network_transmit_packets_total", "Network device statistic transmit_packets.", per((c) => c.packets_sent)));
    families.push(counter("node_network_receive_errs_total", "Network device statistic receive_errs.", per((c) => c.errin)));
    families.push(counter("node_network_transmit_errs_total", "Network device statistic transmit_errs.", per((c) => c.errout)));
  }
  const disks = diskCounters();
  if (disks.ok) {
    const per = (pick: (c: DiskCounters) => number) => perDevice(disks.value.perDevice, pick);
    families.push(counter("node_disk_reads_completed_total", "The total number of reads completed successfully.", per((c) => c.read_count)));
    families.push(counter("node_disk_writes_completed_total", "The total number of writes completed successfully.", per((c) => c.write_count)));
    families.push(counter("node_disk_read_bytes_total", "The total number of bytes read successfully.", per((c) => c.read_bytes)));
    families.push(counter("node_disk_written_bytes_total", "The total number of bytes written successfully.", per((c) => c.write_bytes)));
  }
  const boot = bootTime();
  if (boot.ok) families.push(gauge("node_boot_time_seconds", "Node boot time, in unixtime.", one(boot.value)));
  families.push(gauge("node_time_seconds", "System time in seconds since epoch (1970).", one(Date.now() / 1000)));
  const proc = processFigures();
  if (proc.ok) {
    families.push(counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", one(proc.value.cpu_seconds)));
    families.push(gauge("process_resident_memory_bytes", "Resident memory size in bytes.", one(proc.value.resident_bytes)));
    families.push(gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", one(proc.value.virtual_bytes)));
    families.push(gauge("process_open_fds", "Number of open file descriptors.", one(proc.value.open_fds)));
    families.push(gauge("process_max_fds", "Maximum number of open file descriptors.", one(proc.value.max_fds)));
    families.push(gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", one(proc.value.start_time_seconds)));
  }
  return families;
}

/** Each monitored node (on an aggregator): whether it reports, since when, and its numeric figures. */
function monitoredFamilies(node: Node): MetricFamily[] {
  const m = monitored(node);
  const up: Sample[] = [];
  const since: Sample[] = [];
  const values: Sample[] = [];
  for (const topic of m.topicNames()) {
    for (const n of m.view(topic) ?? []) {
      const labels = { topic, node: n.id };
      up.push({ labels, value: n.reporting ? 1 : 0 });
      since.push({ labels, value: Math.round(n.elapsed * 10) / 10 });
      for (const [key, v] of Object.entries(n.info)) if (typeof v === "number" && Number.isFinite(v)) values.push({ labels: { ...labels, key }, value: v });
    }
  }
  if (up.length === 0) return [];
  return [
    gauge("anylog_monitored_up", "1 while a monitored node reports (silent for two of its intervals: 0).", up),
    gauge("anylog_monitored_seconds_since_report", "Seconds since a monitored node last reported.", since),
    gauge("anylog_monitored_value", "The numeric figures a monitored node last reported (rows, queries, errors, CPU, ...), by key.", values),
  ];
}

addCollector((node) => [...machineFamilies(node), ...monitoredFamilies(node)]);
