/**
 * `walk`: a depth-first traversal of a directory tree, as `@std/fs`'s, over
 * any Deno-shaped file API (a {@linkcode FileStorage} or `Deno` itself).
 *
 * @module
 */

import { normalize } from "../core/path.ts";
import type { FsApi } from "./api.ts";
import { joinPath, lastComponent, toPathString } from "./paths.ts";

/** Options of {@linkcode walk} (those of `@std/fs`'s `walk`). */
export interface WalkOptions {
  /** How deep to go below the root (0: the root only). Default: no limit. */
  maxDepth?: number;
  /** Yield regular files (and other non-directories). Default `true`. */
  includeFiles?: boolean;
  /** Yield directories, the root included. Default `true`. */
  includeDirs?: boolean;
  /** Yield symbolic links (when not following them). Default `true`. */
  includeSymlinks?: boolean;
  /**
   * Follow symbolic links: a link to a directory is walked into, a link to
   * a file is yielded as a file. A link back to a directory being walked is
   * not entered again (no infinite loops). Default `false`.
   */
  followSymlinks?: boolean;
  /**
   * With `followSymlinks`, yield the canonical path of a followed link
   * instead of the path through the link. Default `true`.
   */
  canonicalize?: boolean;
  /** Only yield paths ending with one of these extensions (`".ts"` or `"ts"`). */
  exts?: string[];
  /** Only yield paths matching one of these patterns. */
  match?: RegExp[];
  /** Skip paths matching any of these patterns (a skipped directory is not entered). */
  skip?: RegExp[];
}

/** One entry {@linkcode walk} yields: a `Deno.DirEntry` plus its path. */
export interface WalkEntry extends Deno.DirEntry {
  /** The entry's path: the root's path joined with the names below it. */
  path: string;
}

/** The part of the file API {@linkcode walk} needs. */
export type WalkFs = Pick<FsApi, "readDir" | "stat" | "lstat" | "realPath">;

interface Settings {
  includeFiles: boolean;
  includeDirs: boolean;
  includeSymlinks: boolean;
  followSymlinks: boolean;
  canonicalize: boolean;
  exts: string[] | undefined;
  match: RegExp[] | undefined;
  skip: RegExp[] | undefined;
}

function include(path: string, s: Settings, filter: boolean): boolean {
  if (filter && s.exts && !s.exts.some((ext) => path.endsWith(ext))) return false;
  if (filter && s.match && !s.match.some((re) => re.test(path))) return false;
  if (s.skip && s.skip.some((re) => re.test(path))) return false;
  return true;
}

/** A lexically cleaned path that keeps a relative path relative. */
export function cleanPath(path: string): string {
  if (path.startsWith("/")) return normalize(path);
  const abs = normalize(path, "/");
  return abs === "/" ? "." : abs.slice(1);
}

/**
 * Walk the tree under `root` depth first, yielding `root` itself and then,
 * for each directory in listing order, its entries (a directory before its
 * contents). Paths are `root` joined with the names below it (relative stays
 * relative). Errors (e.g. a missing root) are thrown as the file API throws
 * them.
 *
 * @example Every TypeScript file, over a FileStorage or Deno itself
 * ```ts
 * import { FileStorage, MemoryBackend, walk } from "@anyfs/anyfs";
 *
 * const fs = new FileStorage(new MemoryBackend());
 * await fs.mkdir("/src");
 * await fs.writeTextFile("/src/main.ts", "");
 * for await (const entry of walk(fs, "/", { exts: ["ts"], includeDirs: false })) {
 *   console.log(entry.path); // "/src/main.ts"
 * }
 * ```
 */
export async function* walk(
  fs: WalkFs,
  root: string | URL,
  options: WalkOptions = {},
): AsyncIterableIterator<WalkEntry> {
  const maxDepth = options.maxDepth ?? Infinity;
  if (!(maxDepth >= 0)) return;
  const s: Settings = {
    includeFiles: options.includeFiles ?? true,
    includeDirs: options.includeDirs ?? true,
    includeSymlinks: options.includeSymlinks ?? true,
    followSymlinks: options.followSymlinks ?? false,
    canonicalize: options.canonicalize ?? true,
    exts: options.exts?.map((ext) => ext.startsWith(".") ? ext : `.${ext}`),
    match: options.match,
    skip: options.skip,
  };
  const path = cleanPath(toPathString(root, "walk"));
  if (s.includeDirs && include(path, s, true)) {
    const info = await fs.stat(path);
    yield {
      path,
      name: lastComponent(path),
      isFile: info.isFile,
      isDirectory: info.isDirectory,
      isSymlink: info.isSymlink,
    };
  }
  if (maxDepth < 1 || !include(path, s, false)) return;
  const ancestors = s.followSymlinks ? [await fs.realPath(path)] : null;
  yield* walkBelow(fs, path, maxDepth, s, ancestors);
}

async function* walkBelow(
  fs: WalkFs,
  dir: string,
  depthLeft: number,
  s: Settings,
  ancestors: string[] | null,
): AsyncIterableIterator<WalkEntry> {
  const entries: Deno.DirEntry[] = [];
  for await (const entry of fs.readDir(dir)) entries.push(entry);
  for (const entry of entries) {
    let path = joinPath(dir, entry.name);
    let { isFile, isSymlink, isDirectory } = entry;
    let real: string | undefined;
    if (isSymlink) {
      if (!s.followSymlinks) {
        if (s.includeSymlinks && include(path, s, true)) yield { path, ...entry };
        continue;
      }
      real = await fs.realPath(path);
      if (s.canonicalize) path = real;
      ({ isFile, isSymlink, isDirectory } = await fs.lstat(real));
    }
    if (isDirectory || isSymlink) {
      if (ancestors !== null) {
        real ??= joinPath(ancestors[ancestors.length - 1], entry.name);
        // A link back up the tree would be walked forever.
        if (ancestors.includes(real)) continue;
      }
      if (s.includeDirs && include(path, s, true)) {
        yield {
          path,
          name: lastComponent(path),
          isFile: false,
          isDirectory: true,
          isSymlink: false,
        };
      }
      if (depthLeft - 1 < 1 || !include(path, s, false)) continue;
      if (ancestors !== null) ancestors.push(real!);
      yield* walkBelow(fs, path, depthLeft - 1, s, ancestors);
      if (ancestors !== null) ancestors.pop();
    } else if (s.includeFiles && include(path, s, true)) {
      // A followed link is described by its target.
      yield { path, name: lastComponent(path), isFile, isDirectory: false, isSymlink: false };
    }
  }
}
