/**
 * `move`: rename a file or directory, replacing the destination on request,
 * as `@std/fs`'s, over any Deno-shaped file API.
 *
 * @module
 */

import { fsError } from "../core/errors.ts";
import { isWithin } from "../core/path.ts";
import type { FsApi } from "./api.ts";
import { copy, type CopyFs, entryLocation } from "./copy.ts";
import { codeOf, toPathString } from "./paths.ts";

/** Options of {@linkcode move}. */
export interface MoveOptions {
  /** Replace (remove) whatever is at the destination. Default `false` (`EEXIST`). */
  overwrite?: boolean;
}

/** The part of the file API {@linkcode move} needs. */
export type MoveFs = CopyFs & Pick<FsApi, "rename">;

/**
 * Move `src` to `dest` with one `rename`. Without `overwrite` anything at
 * `dest` is `EEXIST`; with it, `dest` is removed first (recursively). A
 * directory cannot move into itself (`EINVAL`). When the rename crosses
 * storages (`EXDEV`, e.g. between the layers of an overlay), the tree is
 * copied (times preserved) and the source removed.
 *
 * @example
 * ```ts
 * import { FileStorage, MemoryBackend, move } from "@anyfs/anyfs";
 *
 * const fs = new FileStorage(new MemoryBackend());
 * await fs.writeTextFile("/draft.txt", "text");
 * await move(fs, "/draft.txt", "/final.txt");
 * console.log(await fs.exists("/draft.txt")); // false
 * ```
 */
export async function move(
  fs: MoveFs,
  src: string | URL,
  dest: string | URL,
  options: MoveOptions = {},
): Promise<void> {
  const op = "move";
  const s = toPathString(src, op);
  const d = toPathString(dest, op);
  const info = await fs.lstat(s);
  const from = await entryLocation(fs, s);
  const to = await entryLocation(fs, d);
  if (info.isDirectory && isWithin(to, from)) {
    throw fsError("EINVAL", op, s, { dest: d, reason: "cannot move a directory into itself" });
  }
  if (options.overwrite) {
    if (from === to) return;
    try {
      await fs.remove(d, { recursive: true });
    } catch (e) {
      if (codeOf(e) !== "ENOENT") throw e;
    }
  } else {
    let exists = true;
    try {
      await fs.lstat(d);
    } catch (e) {
      if (codeOf(e) !== "ENOENT") throw e;
      exists = false;
    }
    if (exists) throw fsError("EEXIST", op, s, { dest: d, reason: `'${d}' already exists` });
  }
  try {
    await fs.rename(s, d);
  } catch (e) {
    if (codeOf(e) !== "EXDEV") throw e;
    await copy(fs, s, d, { overwrite: options.overwrite, preserveTimestamps: true });
    await fs.remove(s, { recursive: true });
  }
}
