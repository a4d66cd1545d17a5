/**
 * @module util/disk
 * Small helpers for files that must survive a power cut: writing all of a buffer, syncing a
 * folder (so a new file's name is on disk with its content), and a disk failure's reason in
 * words a user acts on.
 */
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { open } from "node:fs/promises";
import { errorText } from "./result.ts";

/** fsyncs a folder: the names created or renamed in it are on disk. */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** syncDirectory off the event loop's thread (a folder's fsync can take long while the disk is busy). */
export async function syncDirectoryAsync(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Why a file operation failed: "the disk is full" for ENOSPC, else the error's own text. */
export function diskReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code === "ENOSPC" ? "the disk is full" : code === "EACCES" ? "permission denied" : errorText(e);
}

/** Writes all of `bytes` at the file's position (a write may take only part; throws as writeSync does). */
export function writeFully(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}
