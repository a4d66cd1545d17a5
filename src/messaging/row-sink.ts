/**
 * @module messaging/row-sink
 * Where a message client's rows go on this node: the intake when an operator runs (stored
 * here), else the publisher's watched directory when a publisher runs (a data file, sent on
 * to the operators that host its table). The publisher registers itself while it runs; a
 * message client asks `rowSinkOf` for each batch, so a node that starts its operator or
 * publisher after its message clients (as the seeds do) is served once it does.
 */
import type { ColumnType } from "../ingest/columns.ts";
import { intakeOf } from "../ingest/intake.ts";
import type { DataRow } from "../ingest/rows.ts";
import type { Node } from "../node/node.ts";
import { nodeSlot } from "../node/slot.ts";
import type { Result } from "../util/result.ts";

export interface RowSink {
  /**
   * Takes rows of dbms.table durably; `messages` are the ids of the broker messages they came
   * in; `unique` names this delivery (equal rows delivered again are stored again).
   */
  putRows(dbms: string, table: string, rows: DataRow[], source: string, extra?: { types?: Map<string, ColumnType>; messages?: string[]; unique?: string }): Promise<Result<{ rows: number }>>;
  /** Whether the broker message `id` was taken lately (a sink that cannot tell says no). */
  holdsMessage(id: string): boolean;
}

/** The publisher's sink while it runs. */
const publisherSinks = nodeSlot((): { sink?: RowSink } => ({}));

/** Registers the publisher's sink; returns the function that removes it. */
export function setPublisherSink(node: Node, sink: RowSink): () => void {
  const slot = publisherSinks(node);
  slot.sink = sink;
  return () => {
    if (slot.sink === sink) slot.sink = undefined;
  };
}

/** Where rows taken on this node go now: the intake, the publisher, or nowhere yet. */
export function rowSinkOf(node: Node): RowSink | undefined {
  return intakeOf(node) ?? publisherSinks(node).sink;
}

/** The answer to rows with nowhere to go. */
export const NO_SINK = "no operator or publisher running on this node: start one with 'run operator' or 'run publisher'";
