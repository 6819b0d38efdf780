/**
 * The hard links of an {@linkcode Overlay}'s lower layer: which names
 * share an inode, so that copying one name up can bring the others along
 * (what Linux overlayfs does with `index=on`).
 *
 * @module
 */

import type { Backend } from "../core/backend.ts";
import { isFsError } from "../core/errors.ts";
import { childPath } from "../core/path.ts";
import { WORK_DIR_NAME } from "./overlay_format.ts";

/**
 * Every name of every non-directory of `lower` that has more than one
 * link, by the layer's inode number. Single-link files are left out, so
 * the index stays small however big the tree is; building it costs one
 * walk of the tree (a `readDir` per directory and an `lstat` per
 * non-directory), which is why an overlay builds it once, and only when
 * it first copies up a file with several links.
 *
 * A directory that cannot be listed, or an entry that cannot be
 * stat'ed, is skipped rather than failing the copy-up that asked: its
 * names are then copied up alone, as without the index. The work
 * directory's name at the root is skipped: the overlay never shows it.
 */
export async function indexLowerLinks(lower: Backend): Promise<Map<number, string[]>> {
  const index = new Map<number, string[]>();
  // Iterative, not recursive: a deep tree must not exhaust the stack.
  const pending = ["/"];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    let entries;
    try {
      entries = await lower.readDir(dir);
    } catch (e) {
      if (isFsError(e)) continue;
      throw e;
    }
    for (const entry of entries) {
      if (dir === "/" && entry.name === WORK_DIR_NAME) continue;
      const path = childPath(dir, entry.name);
      if (entry.type === "dir") {
        pending.push(path);
        continue;
      }
      let meta;
      try {
        meta = await lower.lstat(path);
      } catch (e) {
        if (isFsError(e)) continue;
        throw e;
      }
      // A type that changed since the listing cannot happen on a lower
      // layer that holds still; a directory here is skipped all the same.
      if (meta.type === "dir" || meta.nlink <= 1) continue;
      const names = index.get(meta.ino);
      if (names === undefined) index.set(meta.ino, [path]);
      else names.push(path);
    }
  }
  return index;
}
