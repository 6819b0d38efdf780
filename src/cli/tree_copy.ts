/**
 * Copying a whole tree from one backend to another with its metadata — the
 * engine of `anyfs import` (host → drive) and `anyfs export` (drive → host),
 * where the host side is a {@linkcode StdFsBackend} rooted at the host
 * directory.
 *
 * Working on backends, not on `FileStorage`, is what keeps every detail:
 * a backend never follows links, so a symbolic link's own times can be set
 * (`lutimes` on the host), and dangling links are copied like any other.
 *
 * It works in two passes. {@linkcode planTree} lists the source (so the
 * progress bar knows the total, and conflicts are found before anything is
 * written); {@linkcode copyTree} then creates everything in pre-order and
 * finally gives directories their modes and times children-first — adding
 * an entry changes a directory's mtime, and a read-only directory would
 * refuse its children.
 *
 * What is kept: content, permission bits (including setuid, setgid and
 * sticky), access and modification times (also of links and directories),
 * symbolic links with their targets verbatim, and with `owners` the owner
 * and group. Hard links become separate files. FIFOs, sockets and devices
 * are skipped and reported.
 *
 * @module
 */

import { type Backend, supports } from "../core/backend.ts";
import { tryLstat } from "../core/derive.ts";
import { fsError, isFsError } from "../core/errors.ts";
import { childPath } from "../core/path.ts";
import type { Metadata } from "../core/types.ts";

/** One entry of a {@linkcode TreePlan}. */
export interface PlannedEntry {
  /** The path below the tree's root, `""` for the root itself, e.g. `"docs/a.txt"`. */
  relative: string;
  /** The source's metadata (a link's own). */
  meta: Metadata;
}

/** What {@linkcode planTree} found. */
export interface TreePlan {
  /** Every entry, the root first, each directory before its contents (see {@linkcode planTree}). */
  entries: PlannedEntry[];
  /** Sum of the sizes of the regular files. */
  totalBytes: number;
}

/** How far a copy has got, for a progress display. */
export interface TreeCopyProgress {
  /** Entries done. */
  entriesDone: number;
  /** Entries in the plan. */
  entriesTotal: number;
  /** File bytes copied. */
  bytesDone: number;
  /** File bytes in the plan. */
  bytesTotal: number;
}

/** What {@linkcode copyTree} did. */
export interface TreeCopySummary {
  /** Regular files copied. */
  files: number;
  /** Directories created or merged into (the root included). */
  dirs: number;
  /** Symbolic links copied. */
  symlinks: number;
  /** Bytes of file content copied. */
  bytes: number;
  /** Entries skipped (special files, excluded paths), with why. */
  skipped: { path: string; reason: string }[];
  /** Metadata the destination cannot store (e.g. times on a backend without them). */
  notKept: string[];
}

/** Options of {@linkcode copyTree}. */
export interface TreeCopyOptions {
  /** Replace files and links at the destination (directories are always merged). */
  overwrite?: boolean;
  /** Copy owner and group too. */
  owners?: boolean;
  /** Called as the copy advances (often: throttle what you draw). */
  onProgress?: (progress: TreeCopyProgress) => void;
  /**
   * How to name a source and a destination path in error messages
   * (default: the backend path), e.g. as the host path it stands for.
   */
  names?: { source(path: string): string; dest(path: string): string };
}

/** Files up to this size are copied in one read and one write; larger ones in chunks. */
const WHOLE_FILE_LIMIT = 8 << 20;
const CHUNK = 1 << 20;
/** Files and links copied at once. */
const PARALLEL_FILES = 8;

/**
 * List the tree at `root` in `source`: the root first, then each
 * directory's entries (names in byte order) before anything below them, so
 * every directory comes before its contents. `exclude` drops a path (and, for a
 * directory, everything under it) from the plan. `onEntry` is told the
 * running count, for a "scanning…" display.
 */
export async function planTree(
  source: Backend,
  root: string,
  exclude: (path: string) => boolean = () => false,
  onEntry?: (count: number) => void,
): Promise<TreePlan> {
  const rootMeta = await source.lstat(root);
  if (rootMeta.type !== "dir") {
    throw fsError("ENOTDIR", "copy", root, { reason: "only a directory tree can be copied" });
  }
  const entries: PlannedEntry[] = [{ relative: "", meta: rootMeta }];
  let totalBytes = 0;
  // An explicit stack: deep trees must not exhaust the call stack.
  const pending: string[] = [""];
  while (pending.length) {
    const relative = pending.pop()!;
    const dir = relative === "" ? root : childPath(root, relative);
    const names = (await source.readDir(dir)).map((e) => e.name)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const subdirs: string[] = [];
    for (const name of names) {
      const path = childPath(dir, name);
      if (exclude(path)) continue;
      const rel = relative === "" ? name : `${relative}/${name}`;
      const meta = await source.lstat(path);
      entries.push({ relative: rel, meta });
      if (meta.type === "file") totalBytes += meta.size;
      if (meta.type === "dir") subdirs.push(rel);
      onEntry?.(entries.length);
    }
    // Reversed so the first subdirectory is visited next: a stable order.
    for (let i = subdirs.length - 1; i >= 0; i--) pending.push(subdirs[i]);
  }
  return { entries, totalBytes };
}

function at(root: string, relative: string): string {
  return relative === "" ? root : childPath(root, relative);
}

/**
 * Find what would be in the way at the destination: a file or link where
 * the plan has one, without `overwrite`, or a type clash (a directory
 * against anything else) in any case. Fails with the first, before anything
 * is written.
 */
async function checkConflicts(
  plan: TreePlan,
  dest: Backend,
  destRoot: string,
  overwrite: boolean,
  name: (path: string) => string,
): Promise<Set<string>> {
  const existing = new Set<string>();
  for (const { relative, meta } of plan.entries) {
    const found = await tryLstat(dest, at(destRoot, relative));
    if (found === null) continue;
    const path = name(at(destRoot, relative));
    existing.add(relative);
    if (meta.type === "dir" && found.type === "dir") continue;
    if (meta.type === "dir") {
      throw fsError("ENOTDIR", "copy", path, {
        reason: "a directory is to be copied where a non-directory exists; nothing was copied",
      });
    }
    if (found.type === "dir") {
      throw fsError("EISDIR", "copy", path, {
        reason: `a ${meta.type} is to be copied where a directory exists; nothing was copied`,
      });
    }
    if (!overwrite) {
      throw fsError("EEXIST", "copy", path, {
        reason: "it already exists; use --overwrite to replace it (nothing was copied)",
      });
    }
  }
  return existing;
}

async function copyContent(
  source: Backend,
  from: string,
  dest: Backend,
  to: string,
  size: number,
  advance: (bytes: number) => void,
): Promise<void> {
  if (size <= WHOLE_FILE_LIMIT || !supports(source, "handles") || !supports(dest, "handles")) {
    const data = await source.readFile(from);
    await dest.writeFile(to, data, { mode: 0o600 });
    advance(data.length);
    return;
  }
  const input = await source.open(from, { read: true });
  try {
    const output = await dest.open(to, { write: true, create: true, truncate: true, mode: 0o600 });
    try {
      for (let position = 0;;) {
        const chunk = await input.read(position, CHUNK);
        if (chunk.length === 0) break;
        await output.write(chunk, position);
        position += chunk.length;
        advance(chunk.length);
      }
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}

/**
 * Copy the tree `plan` describes from `sourceRoot` in `source` to
 * `destRoot` in `dest` (which must exist as a directory). See the module
 * documentation for what is kept.
 *
 * @example Copy a memory backend's tree into another
 * ```ts ignore
 * const plan = await planTree(a, "/");
 * const summary = await copyTree(plan, a, "/", b, "/backup");
 * console.log(summary.files, summary.bytes);
 * ```
 */
export async function copyTree(
  plan: TreePlan,
  source: Backend,
  sourceRoot: string,
  dest: Backend,
  destRoot: string,
  options: TreeCopyOptions = {},
): Promise<TreeCopySummary> {
  const overwrite = options.overwrite === true;
  const names = options.names ?? { source: (p: string) => p, dest: (p: string) => p };
  const existing = await checkConflicts(plan, dest, destRoot, overwrite, names.dest);
  const canChmod = supports(dest, "permissions");
  const canTime = supports(dest, "times");
  const canChown = options.owners === true && supports(dest, "ownership");
  const canLink = supports(dest, "symlinks") && supports(source, "symlinks");
  const summary: TreeCopySummary = {
    files: 0,
    dirs: 0,
    symlinks: 0,
    bytes: 0,
    skipped: [],
    notKept: [],
  };
  if (!canChmod) summary.notKept.push("permission bits");
  if (!canTime) summary.notKept.push("times");
  if (options.owners && !canChown) summary.notKept.push("owners");
  const progress: TreeCopyProgress = {
    entriesDone: 0,
    entriesTotal: plan.entries.length,
    bytesDone: 0,
    bytesTotal: plan.totalBytes,
  };
  const advance = (bytes: number) => {
    progress.bytesDone += bytes;
    summary.bytes += bytes;
    options.onProgress?.(progress);
  };
  const finish = async (path: string, meta: Metadata) => {
    if (canChown) await dest.chown(path, meta.uid, meta.gid);
    // After chown: changing the owner clears setuid/setgid bits on Linux.
    if (canChmod && meta.type !== "symlink") await dest.chmod(path, meta.mode & 0o7777);
    if (canTime) await dest.utime(path, meta.atimeMs, meta.mtimeMs);
  };
  const dirs: PlannedEntry[] = [];
  const copyEntry = async (entry: PlannedEntry, from: string, to: string) => {
    const { relative, meta } = entry;
    switch (meta.type) {
      case "dir":
        // Writable by us until the end, whatever its mode will be.
        if (!existing.has(relative)) await dest.mkdir(to, { mode: (meta.mode & 0o777) | 0o700 });
        else if (canChmod) await dest.chmod(to, (meta.mode & 0o7777) | 0o700);
        dirs.push(entry);
        summary.dirs++;
        return;
      case "file":
        if (existing.has(relative) && (await dest.lstat(to)).type !== "file") {
          await dest.unlink(to);
        }
        await copyContent(source, from, dest, to, meta.size, advance);
        await finish(to, meta);
        summary.files++;
        return;
      case "symlink":
        if (!canLink) {
          summary.skipped.push({
            path: names.source(from),
            reason: "the destination cannot store links",
          });
          return;
        }
        if (existing.has(relative)) await dest.unlink(to);
        await dest.symlink(await source.readLink(from), to);
        await finish(to, meta);
        summary.symlinks++;
        return;
      default:
        summary.skipped.push({
          path: names.source(from),
          reason: `a ${meta.type} cannot be copied`,
        });
    }
  };
  const copyNamed = async (entry: PlannedEntry) => {
    const from = at(sourceRoot, entry.relative);
    const to = at(destRoot, entry.relative);
    try {
      await copyEntry(entry, from, to);
    } catch (e) {
      // Name both ends as the user knows them (host paths, the drive's paths).
      if (!isFsError(e)) throw e;
      throw fsError(e.code, "copy", names.source(from), {
        dest: names.dest(to),
        reason: e.message,
        cause: e,
      });
    }
    progress.entriesDone++;
    options.onProgress?.(progress);
  };
  // Directories are made one by one, in plan order, so every parent exists
  // before anything goes into it; files and links, which depend on nothing
  // but their directory, are copied a few at a time (a host file system
  // answers each call on its own thread).
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  for (const entry of plan.entries) {
    if (failure !== undefined) break;
    if (entry.meta.type === "dir") {
      await copyNamed(entry);
      continue;
    }
    const task: Promise<void> = copyNamed(entry).catch((e) => {
      failure ??= e;
    }).finally(() => inFlight.delete(task));
    inFlight.add(task);
    if (inFlight.size >= PARALLEL_FILES) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure;
  // Children before parents: adding entries changed the directories' times.
  for (let i = dirs.length - 1; i >= 0; i--) {
    await finish(at(destRoot, dirs[i].relative), dirs[i].meta);
  }
  return summary;
}
