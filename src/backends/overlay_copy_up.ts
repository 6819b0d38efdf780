/**
 * Copying one node's bytes and attributes from one backend to another, in
 * bounded memory: what an {@linkcode Overlay}'s copy-up is made of.
 *
 * @module
 */

import { type Backend, supports } from "../core/backend.ts";
import { openFile, readRange } from "../core/derive.ts";
import type { Metadata } from "../core/types.ts";
import { isPrivateXattr } from "./overlay_format.ts";

/** Bytes moved per step when a file is copied: memory use stays bounded for any file size. */
export const COPY_CHUNK = 1 << 20;

/**
 * Write the first `length` bytes of the file `sourcePath` of `source` to
 * `targetPath` of `target`: a new file with permission bits `mode`, or,
 * with `replace`, the existing file there (keeping its inode, as
 * `copy_file_range` into an open target would).
 */
export async function copyContent(
  source: Backend,
  sourcePath: string,
  length: number,
  target: Backend,
  targetPath: string,
  options: { mode: number; replace?: boolean },
): Promise<void> {
  if (length <= COPY_CHUNK) {
    const data = length > 0 ? await readRange(source, sourcePath, 0, length) : new Uint8Array();
    await target.writeFile(
      targetPath,
      data,
      options.replace ? { create: false } : { createNew: true, mode: options.mode },
    );
    return;
  }
  const handle = await openFile(
    target,
    targetPath,
    options.replace
      ? { write: true, truncate: true }
      : { write: true, createNew: true, mode: options.mode },
  );
  try {
    for (let at = 0; at < length;) {
      const chunk = await readRange(source, sourcePath, at, Math.min(COPY_CHUNK, length - at));
      // The source is shorter than its metadata said (it changed under
      // us): copy what there is rather than loop forever.
      if (chunk.length === 0) break;
      await handle.write(chunk, at);
      at += chunk.length;
    }
  } finally {
    await handle.close();
  }
}

/**
 * Give `targetPath` of `target` the owner, permission bits and extended
 * attributes `meta` and `sourcePath` of `source` have — as far as the
 * target's capabilities allow (without `ownership` the target's default
 * owner stays; without `xattrs` attributes are dropped). Attributes the
 * overlay keeps for itself are not copied. Times are left to the caller:
 * they must be set last, after everything else that touches them.
 */
export async function copyAttributes(
  source: Backend,
  sourcePath: string,
  meta: Metadata,
  target: Backend,
  targetPath: string,
): Promise<void> {
  const made = await target.lstat(targetPath);
  let chowned = false;
  if (supports(target, "ownership") && (made.uid !== meta.uid || made.gid !== meta.gid)) {
    await target.chown(targetPath, meta.uid, meta.gid);
    chowned = true;
  }
  // After chown, which clears set-user-ID, and after mkdir, which drops
  // set-user-ID and set-group-ID from the mode it is given.
  const perms = meta.mode & 0o7777;
  if (
    meta.type !== "symlink" && supports(target, "permissions") &&
    (chowned || (made.mode & 0o7777) !== perms)
  ) {
    await target.chmod(targetPath, perms);
  }
  if (supports(source, "xattrs") && supports(target, "xattrs")) {
    for (const name of await source.listXattr(sourcePath)) {
      if (isPrivateXattr(name)) continue;
      await target.setXattr(targetPath, name, await source.getXattr(sourcePath, name));
    }
  }
}

/** Remove `path` of `backend` and everything below it, whatever it is. */
export async function removeTree(backend: Backend, path: string): Promise<void> {
  const meta = await backend.lstat(path);
  if (meta.type !== "dir") return backend.unlink(path);
  for (const entry of await backend.readDir(path)) {
    await removeTree(backend, path === "/" ? `/${entry.name}` : `${path}/${entry.name}`);
  }
  await backend.rmdir(path);
}
