/**
 * Conversions from the backend's plain records to the shapes Deno's own file
 * API returns: {@linkcode Metadata} → `Deno.FileInfo`, directory entries →
 * `Deno.DirEntry`.
 *
 * @module
 */

import type { DirEntry, FileType, Metadata } from "../core/types.ts";

/** The I/O block size reported in `Deno.FileInfo.blksize`. */
export const BLOCK_SIZE = 4096;

/**
 * The `Deno.FileInfo` for a backend's metadata. `dev` identifies the storage
 * (Deno reports the device number of the file system). A `birthtimeMs` of 0
 * ("unknown") becomes `birthtime: null`, as Deno reports where the platform
 * has no birth time.
 *
 * @example
 * ```ts
 * import { MemoryBackend, toFileInfo } from "@anyfs/anyfs";
 * const backend = new MemoryBackend();
 * await backend.writeFile("/a", new Uint8Array(3));
 * const info = toFileInfo(await backend.lstat("/a"));
 * console.log(info.isFile, info.size); // true 3
 * ```
 */
export function toFileInfo(meta: Metadata, dev = 0): Deno.FileInfo {
  const type = meta.type;
  return {
    isFile: type === "file",
    isDirectory: type === "dir",
    isSymlink: type === "symlink",
    size: meta.size,
    mtime: new Date(meta.mtimeMs),
    atime: new Date(meta.atimeMs),
    birthtime: meta.birthtimeMs ? new Date(meta.birthtimeMs) : null,
    ctime: new Date(meta.ctimeMs),
    dev,
    ino: meta.ino,
    mode: meta.mode,
    nlink: meta.nlink,
    uid: meta.uid,
    gid: meta.gid,
    rdev: meta.rdev,
    blksize: BLOCK_SIZE,
    blocks: meta.blocks,
    isBlockDevice: type === "blockdev",
    isCharDevice: type === "chardev",
    isFifo: type === "fifo",
    isSocket: type === "socket",
  };
}

/** The `Deno.DirEntry` for an entry of the given name and type (special files are none of the three). */
export function toDirEntry(name: string, type: FileType): Deno.DirEntry {
  return {
    name,
    isFile: type === "file",
    isDirectory: type === "dir",
    isSymlink: type === "symlink",
  };
}

/** The `Deno.DirEntry` for a backend's directory entry. */
export function dirEntryOf(entry: DirEntry): Deno.DirEntry {
  return toDirEntry(entry.name, entry.type);
}
