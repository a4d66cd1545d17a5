/**
 * @module processes/registry
 * Background processes plug in here. A process module declares its definition (display
 * name, the words that name it for `get` / `exit`, its `run ...` command) and calls
 * `registerProcess` at the end of its own file; `processes/all.ts` is the only list.
 * `get processes`, `get <process>`, `exit <process>` and shutdown walk the registry.
 */
import { addCommand } from "../commands/table.ts";
import type { Args, CommandSpec } from "../commands/spec.ts";
import type { Node } from "../node/node.ts";
import { type Result, fail } from "../util/result.ts";

export type ProcessStatus = "Running" | "Not declared" | "Stopped" | "Failed";

/**
 * One background process of one node. Contract:
 * - `start` returns once the process is running (or with the error that stops it);
 * - `stop` stops taking new work, waits for work in flight, releases its resources;
 * - `status` / `details` / `info` never block and never fail.
 */
export interface NodeProcess {
  start(args: Args): Promise<Result<string>>;
  stop(): Promise<void>;
  status(): ProcessStatus;
  /** One line for the `get processes` table. */
  details(): string;
  /** What `get <process>` shows. */
  info(): Record<string, unknown>;
  /** `run ...` again while running (e.g. `run blockchain sync` forces a sync); without it that is an error. */
  runAgain?(args: Args): Promise<Result<string>>;
}

export interface ProcessDefinition {
  /** As `get processes` shows it: "TCP", "Blockchain Sync". */
  name: string;
  /** Place in `get processes` (AnyLog's order: TCP 10, REST 20, ... Kafka Consumer 150). */
  order: number;
  /** Lower-case names for `get <name>` and `exit <name>`: ["tcp", "tcp server"]. */
  aliases: string[];
  /** The `run ...` command (method POST, handler supplied by the registry). */
  run?: Omit<CommandSpec, "handler" | "method">;
  /** Other words for the same `run` command (`run msg client` = `run mqtt client`). */
  runAlso?: string[][];
  /**
   * The node is not what its start-up script asked for without this process (the TCP and
   * REST listeners): a failed `run` from a script is noted (`ProcessSet.takeFailedStarts`),
   * and `anylog start` ends with exit 1 unless the script's `on error` covers the line.
   */
  essential?: boolean;
  create(node: Node): NodeProcess;
}

/** A failed start of an essential process, from a script. */
export interface FailedStart {
  process: string;
  message: string;
}

const definitions: ProcessDefinition[] = [];

/** Adds a process; its `run` command goes into the command table. */
export function registerProcess(def: ProcessDefinition): ProcessDefinition {
  if (definitions.some((d) => d.name === def.name)) throw new Error(`process '${def.name}' is registered twice`);
  definitions.push(def);
  definitions.sort((a, b) => a.order - b.order);
  for (const words of def.run ? [def.run.words, ...(def.runAlso ?? [])] : []) {
    addCommand({
      ...def.run!,
      words,
      method: "POST",
      async handler(ctx, args) {
        const proc = ctx.node.processes.get(def.name);
        if (!proc) return fail("internal", `process ${def.name} is not set up on this node`);
        // a stop that began during start-up must not be outlived by processes its script starts after it
        if (ctx.node.isStopping) return fail("unavailable", `the node is shutting down: ${def.name} is not started`);
        if (proc.status() === "Running") {
          if (proc.runAgain) return proc.runAgain(args);
          return fail("conflict", `${def.name} is already running; stop it first with 'exit ${def.aliases[0]}'`);
        }
        const started = await proc.start(args);
        if (started.ok) ctx.node.log.info(`${def.name} started: ${started.value}`);
        else if (def.essential && ctx.source === "script") ctx.node.processes.noteFailedStart({ process: def.name, message: started.error.message });
        return started;
      },
    });
  }
  return def;
}

export function processDefinitions(): readonly ProcessDefinition[] {
  return definitions;
}

/** The processes of one node, created from the registry, in registration order. */
export class ProcessSet {
  private readonly byName = new Map<string, NodeProcess>();
  private failedStarts: FailedStart[] = [];

  constructor(node: Node) {
    for (const def of definitions) this.byName.set(def.name, def.create(node));
  }

  get(name: string): NodeProcess | undefined {
    return this.byName.get(name);
  }

  /**
   * The process registered as `name`, as its class: for the module that registered it, whose
   * commands reach its own methods (a process missing here is a defect, not a user's error).
   */
  instance<T extends NodeProcess>(name: string, type: abstract new (...args: never[]) => T): T {
    const proc = this.byName.get(name);
    if (!(proc instanceof type)) throw new Error(`the ${name} process is not registered`);
    return proc;
  }

  /** The process named by `words` (an alias or the display name, any case). */
  find(words: string): { def: ProcessDefinition; proc: NodeProcess } | undefined {
    const w = words.trim().toLowerCase().replace(/\s+/g, " ");
    const def = definitions.find((d) => d.name.toLowerCase() === w || d.aliases.includes(w));
    const proc = def && this.byName.get(def.name);
    return def && proc ? { def, proc } : undefined;
  }

  /** Notes that an essential process failed to start from a script. */
  noteFailedStart(failure: FailedStart): void {
    if (this.failedStarts.length < 64) this.failedStarts.push(failure); // bounded: only start-up takes them
  }

  /** The failed starts noted since the last call (a script's error report takes them line by line). */
  takeFailedStarts(): FailedStart[] {
    const taken = this.failedStarts;
    this.failedStarts = [];
    return taken;
  }

  entries(): Array<[ProcessDefinition, NodeProcess]> {
    return definitions.map((d) => [d, this.byName.get(d.name)!] as [ProcessDefinition, NodeProcess]);
  }

  /** Stops every running process, last registered first (servers last, so replies still go out). */
  async stopAll(): Promise<void> {
    for (const [def, proc] of this.entries().reverse()) {
      if (proc.status() !== "Running") continue;
      try {
        await proc.stop();
      } catch (e) {
        process.stderr.write(`error stopping ${def.name}: ${e instanceof Error ? e.message : String(e)}\n`);
      }
    }
  }
}

/** A definition for a process this build does not have yet: listed as "Not declared", its `run` command explains. */
export function notYetBuilt(def: Omit<ProcessDefinition, "create"> & { comesWith: string }): ProcessDefinition {
  return registerProcess({
    ...def,
    create: () => ({
      start: async () =>
        fail("unavailable", `'${def.run?.words.join(" ") ?? def.name}' is not in this build yet (${def.comesWith})`),
      stop: async () => {},
      status: () => "Not declared",
      details: () => "",
      info: () => ({ status: "Not declared" }),
    }),
  });
}

