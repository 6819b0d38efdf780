/**
 * `copy`: recursive copy of files, links and directory trees, as
 * `@std/fs`'s, over any Deno-shaped file API.
 *
 * @module
 */

import { fsError } from "../core/errors.ts";
import { isWithin, normalize } from "../core/path.ts";
import type { FsApi } from "./api.ts";
import { codeOf, dirName, joinPath, lastComponent, toPathString } from "./paths.ts";

/** Options of {@linkcode copy}. */
export interface CopyOptions {
  /**
   * Replace what is in the way: files and links at the destination are
   * replaced, directories are merged into. Default `false` (`EEXIST`).
   */
  overwrite?: boolean;
  /** Give copies the source's access and modification times. Default `false`. */
  preserveTimestamps?: boolean;
}

/** The part of the file API {@linkcode copy} needs. */
export type CopyFs = Pick<
  FsApi,
  | "lstat"
  | "readDir"
  | "mkdir"
  | "copyFile"
  | "readLink"
  | "symlink"
  | "utime"
  | "realPath"
  | "remove"
>;

/**
 * The canonical path of `path` where it may not exist: the deepest existing
 * ancestor is canonicalized and the rest appended.
 */
export async function softRealPath(fs: Pick<FsApi, "realPath">, path: string): Promise<string> {
  try {
    return await fs.realPath(path);
  } catch (e) {
    if (codeOf(e) !== "ENOENT") throw e;
    const parent = dirName(path);
    if (parent === path || parent === ".") {
      if (parent === path) return path;
      return normalize(path, await fs.realPath("."));
    }
    return normalize(joinPath(await softRealPath(fs, parent), lastComponent(path)));
  }
}

/** The canonical location of the entry `path` names, without following a final link. */
export async function entryLocation(fs: Pick<FsApi, "realPath">, path: string): Promise<string> {
  const name = lastComponent(path);
  if (name === "" || name === "." || name === "..") return await softRealPath(fs, path);
  return normalize(joinPath(await softRealPath(fs, dirName(path)), name));
}

async function lstatOrNull(fs: CopyFs, path: string): Promise<Deno.FileInfo | null> {
  try {
    return await fs.lstat(path);
  } catch (e) {
    if (codeOf(e) === "ENOENT") return null;
    throw e;
  }
}

/**
 * Copy `src` to `dest`: a file's content and permission bits, a symbolic
 * link as a link (its target verbatim), a directory with everything in it
 * (new directories get the source's permission bits, minus the umask).
 * Without `overwrite` anything at `dest` is `EEXIST`. A directory cannot
 * be copied into itself (`EINVAL`), and a directory cannot replace a
 * non-directory (`ENOTDIR`) nor the other way round (`EISDIR`).
 *
 * @example
 * ```ts
 * import { copy, FileStorage, MemoryBackend } from "@anyfs/anyfs";
 *
 * const fs = new FileStorage(new MemoryBackend());
 * await fs.mkdir("/site/css", { recursive: true });
 * await fs.writeTextFile("/site/css/a.css", "body{}");
 * await copy(fs, "/site", "/backup");
 * console.log(await fs.readTextFile("/backup/css/a.css")); // "body{}"
 * ```
 */
export async function copy(
  fs: CopyFs,
  src: string | URL,
  dest: string | URL,
  options: CopyOptions = {},
): Promise<void> {
  const op = "copy";
  const s = toPathString(src, op);
  const d = toPathString(dest, op);
  const info = await fs.lstat(s);
  const from = await entryLocation(fs, s);
  const to = await entryLocation(fs, d);
  if (from === to) {
    throw fsError("EINVAL", op, s, { dest: d, reason: "source and destination are the same" });
  }
  if (info.isDirectory && isWithin(to, from)) {
    throw fsError("EINVAL", op, s, {
      dest: d,
      reason: "cannot copy a directory into itself",
    });
  }
  await copyEntry(fs, s, d, info, options);
}

async function copyEntry(
  fs: CopyFs,
  src: string,
  dest: string,
  info: Deno.FileInfo,
  options: CopyOptions,
): Promise<void> {
  const op = "copy";
  const existing = await lstatOrNull(fs, dest);
  if (existing !== null) {
    if (!options.overwrite) {
      throw fsError("EEXIST", op, src, { dest, reason: `'${dest}' already exists` });
    }
    if (info.isDirectory && !existing.isDirectory) {
      throw fsError("ENOTDIR", op, src, {
        dest,
        reason: "cannot overwrite a non-directory with a directory",
      });
    }
    if (!info.isDirectory && existing.isDirectory) {
      throw fsError("EISDIR", op, src, {
        dest,
        reason: "cannot overwrite a directory with a non-directory",
      });
    }
    // Writing through a link at the destination would change its target.
    if (existing.isSymlink || info.isSymlink) await fs.remove(dest);
  }
  if (info.isDirectory) {
    if (existing === null) await fs.mkdir(dest, { mode: (info.mode ?? 0o777) & 0o7777 });
    const names: string[] = [];
    for await (const entry of fs.readDir(src)) names.push(entry.name);
    for (const name of names) {
      const child = joinPath(src, name);
      await copyEntry(fs, child, joinPath(dest, name), await fs.lstat(child), options);
    }
  } else if (info.isSymlink) {
    await fs.symlink(await fs.readLink(src), dest);
    // Times are not copied to links: utime would follow the new link.
    return;
  } else {
    await fs.copyFile(src, dest);
  }
  if (options.preserveTimestamps && info.atime && info.mtime) {
    await fs.utime(dest, info.atime, info.mtime);
  }
}
