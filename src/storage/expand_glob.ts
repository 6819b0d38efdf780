/**
 * `expandGlob`: the entries whose paths match a glob, as `@std/fs`'s, over
 * any Deno-shaped file API.
 *
 * @module
 */

// @ts-types="npm:@types/picomatch@^4"
import picomatch from "picomatch";
import { normalize } from "../core/path.ts";
import { codeOf, lastComponent, toPathString } from "./paths.ts";
import { walk, type WalkEntry, type WalkFs } from "./walk.ts";

/** Options of {@linkcode expandGlob} (those of `@std/fs`'s `expandGlob`). */
export interface ExpandGlobOptions {
  /** The directory a relative glob starts from (default: the file API's working directory). */
  root?: string;
  /** Globs (relative to `root`) of paths to leave out; an excluded directory is not entered. */
  exclude?: string[];
  /** Yield matching directories too. Default `true`. */
  includeDirs?: boolean;
  /** Extended syntax: `{a,b}` braces and extglobs such as `@(a|b)`, `!(x)`. Default `true`. */
  extended?: boolean;
  /** `**` matches any number of directories. Default `true`. */
  globstar?: boolean;
  /** Match names regardless of case. Default `false`. */
  caseInsensitive?: boolean;
  /** Follow symbolic links to directories while matching. Default `false`. */
  followSymlinks?: boolean;
  /** With `followSymlinks`, yield canonical paths for followed links. Default `true`. */
  canonicalize?: boolean;
}

/** The part of the file API {@linkcode expandGlob} needs (`cwd` is optional). */
export type GlobFs = WalkFs & { cwd?(): string };

function byPath(a: WalkEntry, b: WalkEntry): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

async function entryFor(fs: WalkFs, path: string): Promise<WalkEntry> {
  const info = await fs.stat(path);
  return {
    path,
    name: lastComponent(path),
    isFile: info.isFile,
    isDirectory: info.isDirectory,
    isSymlink: info.isSymlink,
  };
}

/**
 * Yield the entries matching `glob`, sorted by path within each step, with
 * absolute paths. Components are matched one directory at a time, so only
 * the directories a pattern can reach are listed. `*` and `?` stay within
 * one name and match names starting with a dot (as `@std/fs`); `**` matches
 * any depth. A glob whose fixed prefix does not exist yields nothing.
 *
 * @example
 * ```ts
 * import { expandGlob, FileStorage, MemoryBackend } from "@anyfs/anyfs";
 *
 * const fs = new FileStorage(new MemoryBackend());
 * await fs.mkdir("/p/a", { recursive: true });
 * await fs.writeTextFile("/p/a/x.md", "");
 * await fs.writeTextFile("/p/y.md", "");
 * const found = await Array.fromAsync(expandGlob(fs, "**\/*.md", { root: "/p" }));
 * console.log(found.map((e) => e.path)); // ["/p/a/x.md", "/p/y.md"]
 * ```
 */
export async function* expandGlob(
  fs: GlobFs,
  glob: string | URL,
  options: ExpandGlobOptions = {},
): AsyncIterableIterator<WalkEntry> {
  const {
    exclude = [],
    includeDirs = true,
    extended = true,
    globstar = true,
    caseInsensitive = false,
    followSymlinks = false,
    canonicalize = true,
  } = options;
  const pattern = toPathString(glob, "expandglob");
  const cwd = typeof fs.cwd === "function" ? fs.cwd() : "/";
  const root = normalize(options.root ?? cwd, cwd);
  const matchOptions: picomatch.PicomatchOptions = {
    dot: true,
    nocase: caseInsensitive,
    noextglob: !extended,
    nobrace: !extended,
    noglobstar: !globstar,
  };
  const skip = exclude.map((e) => picomatch.makeRe(normalize(e, root), matchOptions));
  const excluded = (path: string) => skip.some((re) => re.test(path));

  const segments = pattern.split("/").filter((s) => s !== "");
  const trailingSlash = pattern.endsWith("/");
  let fixed = pattern.startsWith("/") ? "/" : root;
  while (segments.length > 0 && !picomatch.scan(segments[0], matchOptions).isGlob) {
    fixed = normalize(segments.shift()!, fixed);
  }
  let current: WalkEntry[];
  try {
    current = [await entryFor(fs, fixed)];
  } catch (e) {
    if (codeOf(e) === "ENOENT" || codeOf(e) === "ENOTDIR") return;
    throw e;
  }

  for (const segment of segments) {
    const next = new Map<string, WalkEntry>();
    const globstarSegment = globstar && segment === "**";
    const re = globstarSegment || segment === ".." || segment === "."
      ? null
      : picomatch.makeRe(segment, matchOptions);
    for (const match of current) {
      if (!match.isDirectory) continue;
      if (segment === ".") {
        next.set(match.path, match);
      } else if (segment === "..") {
        const parent = normalize("..", match.path);
        if (!excluded(parent)) next.set(parent, await entryFor(fs, parent));
      } else if (globstarSegment) {
        for await (const e of walk(fs, match.path, { skip, followSymlinks, canonicalize })) {
          next.set(e.path, e);
        }
      } else {
        const walker = walk(fs, match.path, { maxDepth: 1, skip, followSymlinks, canonicalize });
        for await (const e of walker) {
          if (e.path !== match.path && re!.test(e.name)) next.set(e.path, e);
        }
      }
    }
    current = [...next.values()].sort(byPath);
  }
  if (trailingSlash) current = current.filter((e) => e.isDirectory);
  if (!includeDirs) current = current.filter((e) => !e.isDirectory);
  yield* current;
}
