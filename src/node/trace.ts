/**
 * @module node/trace
 * Trace levels of a node's processes (`trace level = N <process>`): 0 is off, 1 logs each
 * request a process receives, 2 adds its headers and body.
 */
import { nodeSlot } from "./slot.ts";

/** The trace level of each process that has one, by process name. */
export const traceLevels = nodeSlot(() => new Map<string, number>());

/** The trace level of `process` on `node` (0 when none is set). */
export const traceLevel = (node: Parameters<typeof traceLevels>[0], process: string): number => traceLevels(node).get(process) ?? 0;
