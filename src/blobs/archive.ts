/**
 * @module blobs/archive
 * Storing a blob the way the node is set up to: the Blobs Archiver's settings while it runs
 * (blobs database and/or date folders, compression, reuse of identical blobs), else the
 * dbms's blobs database when one is connected, or the blobs folder. The archiver and the
 * message clients' blob columns (messaging/mapping) store through here.
 */
import type { Node } from "../node/node.ts";
import { nodeSlot } from "../node/slot.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { type BlobSource, type PutOutcome, type PutRequest, putBlob } from "./store.ts";
import { databaseStore, folderStore, requireDatabaseStore } from "./stores.ts";

export interface ArchiveSettings {
  /** Keep blobs in the dbms's blobs database. */
  dbms: boolean;
  /** Keep blobs in date folders under `blobsDir`. */
  folder: boolean;
  compress: boolean;
  /** Reference a blob already stored with the same md5 instead of storing it again. */
  reuse: boolean;
}

/** The running archiver's settings (set by it while it runs). */
export const archiverSettings = nodeSlot((): { current?: ArchiveSettings } => ({}));

/** Stores one blob as the node is set up to; the outcome of the first place it went. */
export async function archiveBlob(node: Node, source: BlobSource, request: PutRequest): Promise<Result<PutOutcome>> {
  const settings = archiverSettings(node).current ?? { dbms: databaseStore(node, request.dbms) !== undefined, folder: databaseStore(node, request.dbms) === undefined, compress: false, reuse: false };
  let first: PutOutcome | undefined;
  if (settings.dbms) {
    const store = requireDatabaseStore(node, request.dbms);
    if (!store.ok) return store;
    const put = await putBlob(store.value, source, request, { reuse: settings.reuse });
    if (!put.ok) return put;
    first = put.value;
  }
  if (settings.folder) {
    // the same id in both places (a reused blob's id when the database reused one)
    const put = await putBlob(folderStore(node, settings.compress), source, first ? { ...request, id: first.info.id, date: first.info.date } : request, { reuse: settings.reuse && !first });
    if (!put.ok) return put;
    first ??= put.value;
  }
  return first ? ok(first) : fail("bad_option", "blobs are kept nowhere: set dbms = true or folder = true");
}
