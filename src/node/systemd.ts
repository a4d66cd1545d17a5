/**
 * @module node/systemd
 * The node's side of a systemd unit (systemd/anylog.service.in). Owns the service-manager
 * protocol of sd_notify(3) — `READY=1` with a `STATUS=` line once start-up is done,
 * `WATCHDOG=1` every half `$WATCHDOG_USEC`, `STOPPING=1` on shutdown, all as datagrams to
 * `$NOTIFY_SOCKET` — and the unit's role check (`$ANYLOG_UNIT_ROLE`: anylog-operator.service
 * runs only a role file whose `role` includes operator). Outside systemd (no `$NOTIFY_SOCKET`)
 * every call is a no-op.
 *
 * Bun has no AF_UNIX datagram socket (node:dgram is UDP only, node:net is stream only), so the
 * datagram goes out through libc's socket(2)/sendto(2) by bun:ffi. That keeps the sender the
 * main process itself, so the unit can say `NotifyAccess=main`, and a watchdog ping costs one
 * system call rather than a fork of systemd-notify(1).
 */
import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { logger } from "../util/log.ts";
import type { Node } from "./node.ts";

const log = logger("systemd");

/** What start-up tells the service manager. Every method is safe to call outside systemd. */
export interface ServiceManager {
  /** True when `$NOTIFY_SOCKET` was set, i.e. systemd waits for `ready`. */
  readonly active: boolean;
  /** Start-up is finished (the role's sequence ran, its servers listen): `READY=1` + STATUS. */
  ready(status: string): void;
  /** A new status line for `systemctl status`. */
  status(status: string): void;
  /** Shutdown begins: `STOPPING=1`, once; the watchdog pings stop. */
  stopping(status: string): void;
}

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
/** sizeof(struct sockaddr_un): sa_family_t, then sun_path[108]. */
const SOCKADDR_UN_SIZE = 110;

/** The socket address of `$NOTIFY_SOCKET` ("/path" or "@abstract") as struct sockaddr_un bytes. */
export function notifySocketAddress(path: string): { bytes: Uint8Array; length: number } | undefined {
  if (!path.startsWith("/") && !path.startsWith("@")) return undefined; // e.g. vsock: (systemd 253+), not for a local service
  const name = new TextEncoder().encode(path);
  if (name.length > SOCKADDR_UN_SIZE - 3) return undefined;
  const bytes = new Uint8Array(SOCKADDR_UN_SIZE);
  new Uint16Array(bytes.buffer, 0, 1)[0] = AF_UNIX; // host byte order, as the kernel reads it
  bytes.set(name, 2);
  if (path.startsWith("@")) {
    bytes[2] = 0; // Linux abstract namespace: a leading NUL, the length counts exactly the name
    return { bytes, length: 2 + name.length };
  }
  return { bytes, length: 2 + name.length + 1 }; // a path: NUL-terminated
}

/** The watchdog interval from `$WATCHDOG_USEC` / `$WATCHDOG_PID` (half the timeout), or undefined. */
export function watchdogIntervalMs(env: Record<string, string | undefined>, pid: number = process.pid): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return undefined; // meant for another process
  return Math.max(1, Math.floor(usec / 2000));
}

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  sendto(fd: number, buf: Uint8Array, flags: number, addr: Uint8Array, addrLength: number): number;
  errno(): number;
}

function openLibc(): Libc {
  const { symbols } = dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    sendto: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i64 },
    __errno_location: { args: [], returns: FFIType.ptr },
  });
  return {
    socket: (d, t, p) => symbols.socket(d, t, p),
    sendto: (fd, buf, flags, addr, len) => Number(symbols.sendto(fd, ptr(buf), buf.length, flags, ptr(addr), len)),
    errno: () => read.i32(symbols.__errno_location()!, 0),
  };
}

const inactive: ServiceManager = { active: false, ready() {}, status() {}, stopping() {} };

/**
 * The service manager of this process: sends to `$NOTIFY_SOCKET` when systemd set it (and
 * removes it and the watchdog variables from the environment, so child processes do not
 * talk to systemd in the node's name), starts the watchdog pings, else does nothing.
 */
export function serviceManager(env: Record<string, string | undefined> = process.env): ServiceManager {
  const socketPath = env.NOTIFY_SOCKET;
  if (!socketPath) return inactive;
  const interval = watchdogIntervalMs(env);
  for (const key of ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]) delete env[key];
  const address = notifySocketAddress(socketPath);
  if (!address) {
    log.warn(`NOTIFY_SOCKET '${socketPath}' is not a local socket; systemd will not hear that the node is ready`);
    return inactive;
  }
  let libc: Libc;
  let fd: number;
  try {
    libc = openLibc();
    fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Error(`socket(AF_UNIX, SOCK_DGRAM) failed, errno ${libc.errno()}`);
  } catch (e) {
    log.error(`cannot reach systemd at ${socketPath}: ${e instanceof Error ? e.message : String(e)}`);
    return inactive;
  }
  const failed = new Set<number>();
  let stopped = false;
  const send = (message: string) => {
    const sent = libc.sendto(fd, new TextEncoder().encode(message), MSG_DONTWAIT | MSG_NOSIGNAL, address.bytes, address.length);
    if (sent < 0) {
      const errno = libc.errno();
      if (!failed.has(errno)) log.warn(`notify ${socketPath}: sendto failed, errno ${errno} ('${message.split("\n")[0]}')`);
      failed.add(errno);
    }
  };
  // one status line: systemctl shows it as is
  const line = (s: string) => s.replace(/\s*\n\s*/g, " ");
  const watchdog = interval === undefined ? undefined : setInterval(() => send("WATCHDOG=1"), interval);
  watchdog?.unref();
  if (interval !== undefined) log.debug(`watchdog ping every ${interval} ms`);
  return {
    active: true,
    ready: (s) => send(`READY=1\nSTATUS=${line(s)}`),
    status: (s) => send(`STATUS=${line(s)}`),
    stopping(s) {
      if (stopped) return;
      stopped = true;
      if (watchdog) clearInterval(watchdog);
      send(`STOPPING=1\nSTATUS=${line(s)}`);
    },
  };
}

/**
 * The role check of a role-named unit: anylog-<role>.service sets `ANYLOG_UNIT_ROLE=<role>`,
 * and a role file whose `role` does not include it is refused, with the unit to use instead
 * (a generic role file runs under any unit: its `commands:` say what it is).
 */
export function unitRoleMismatch(roles: readonly string[], file: string, env: Record<string, string | undefined> = process.env): string | undefined {
  const unitRole = env.ANYLOG_UNIT_ROLE;
  if (!unitRole || roles.includes(unitRole) || roles.includes("generic")) return undefined;
  const want = roles[0]!;
  return (
    `${file}: role ${roles.join(", ")} does not match anylog-${unitRole}.service; ` +
    `run 'systemctl restart anylog-${want}' instead (it stops this unit; 'systemctl enable anylog-${want}' and ` +
    `'systemctl disable anylog-${unitRole}' keep it so after a reboot), or set role: ${unitRole}`
  );
}

/** The STATUS line of a node that is up: its running processes and how many start-up lines failed. */
export function upStatus(node: Pick<Node, "name" | "processes">, failedLines: number): string {
  const running = node.processes.entries().filter(([, p]) => p.status() === "Running").map(([d]) => d.name);
  const failed = failedLines ? `; ${failedLines} start-up line${failedLines > 1 ? "s" : ""} failed, see the journal` : "";
  return `node '${node.name}' is up: ${running.join(", ") || "no processes"}${failed}`;
}
