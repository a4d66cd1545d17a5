/**
 * @module blobs/mapping-blobs
 * The blobs a message carried (blob columns of a topic mapping, messaging/mapping): each is
 * stored as the node keeps blobs (blobs/archive) before its rows go on, so a row never names
 * a blob that is not stored. With reuse, a blob stored before under another id is referenced
 * by that id in the rows.
 */
import type { MappedRows } from "../messaging/mapping.ts";
import type { Node } from "../node/node.ts";
import { type Result, ok } from "../util/result.ts";
import { archiveBlob } from "./archive.ts";

/** Stores every blob of `groups`; the rows then hold the ids they were stored under. */
export async function storeMappedBlobs(node: Node, groups: MappedRows[]): Promise<Result<number>> {
  let stored = 0;
  for (const g of groups) {
    for (const b of g.blobs) {
      const put = await archiveBlob(node, { bytes: b.bytes }, { dbms: g.dbms, table: g.table, id: b.id, hash: b.hash, extension: b.extension });
      if (!put.ok) return put;
      if (put.value.info.id !== b.id) for (const c of b.cells) c.row[c.column] = put.value.info.id;
      stored++;
    }
  }
  return ok(stored);
}
