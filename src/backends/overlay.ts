/**
 * {@linkcode Overlay}: a union of a read-only lower backend and a writable
 * upper backend, as container images layer a writable directory over an
 * image.
 *
 * @module
 */

import {
  type Backend,
  type Capability,
  type CapabilityMap,
  type CreateOptions,
  type FileHandle,
  type FsAppend,
  type FsCopy,
  type FsHandles,
  type FsHardlinks,
  type FsOwnership,
  type FsPermissions,
  type FsRanges,
  type FsSpecial,
  type FsStats,
  type FsSymlinks,
  type FsSync,
  type FsTimes,
  type FsTruncate,
  type FsXattrs,
  Layerable,
  type OpenOptions,
  type SetXattrOptions,
  supports,
  type WriteFileOptions,
} from "../core/backend.ts";
import { appendFile, copyFile, openFile, readRange, truncateFile } from "../core/derive.ts";
import { type FsError, fsError, isFsError } from "../core/errors.ts";
import {
  baseName,
  checkName,
  childPath,
  isWithin,
  parentPath,
  PATH_MAX,
  utf8Length,
} from "../core/path.ts";
import {
  type DirEntry,
  type FileType,
  type Metadata,
  S_IFCHR,
  S_IFMT,
  type StatFs,
} from "../core/types.ts";
import { copyAttributes, copyContent, removeTree } from "./overlay_copy_up.ts";
import { indexLowerLinks } from "./overlay_links.ts";
import {
  isPrivateXattr,
  isWhiteout,
  isWorkPath,
  OPAQUE_VALUE,
  OPAQUE_XATTR,
  ORIGIN_XATTR,
  WORK_DIR,
  WORK_DIR_NAME,
} from "./overlay_format.ts";
import { OverlayFileHandle, type OverlayHandleHost } from "./overlay_handle.ts";
import { LockTable } from "./sqlite_handle.ts";

const S_ISGID = 0o2000;
const WHOLE = Number.POSITIVE_INFINITY;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What the upper layer holds at a path. */
type UpperState =
  | { kind: "entry"; meta: Metadata }
  | { kind: "whiteout"; meta: Metadata }
  | { kind: "missing" }
  /** A component before the last one is not a directory in the upper layer. */
  | { kind: "notdir" };

/** The entry a path shows in the union, and the layer it comes from. */
interface Visible {
  layer: "upper" | "lower";
  meta: Metadata;
}

/** What {@linkcode Overlay.#find} learned about a path. */
interface Found {
  upper: UpperState;
  visible?: Visible;
}

/** One name of a merged listing, with the layer and the layer's own inode number. */
interface Listed {
  name: string;
  type: FileType;
  ino: number;
  layer: "upper" | "lower";
}

function codeOf(e: unknown): string | undefined {
  return isFsError(e) ? e.code : undefined;
}

/** `/a`, `/a/b` for `/a/b/c`: every proper ancestor but the root, outermost first. */
function ancestorsOf(path: string): string[] {
  const out: string[] = [];
  for (let i = path.indexOf("/", 1); i > 0; i = path.indexOf("/", i + 1)) {
    out.push(path.slice(0, i));
  }
  return out;
}

/** The error a backend gives for content operations on what is not a regular file. */
function requireFile(meta: Metadata, op: string, path: string, dest?: string): void {
  if (meta.type === "file") return;
  if (meta.type === "dir") throw fsError("EISDIR", op, path, { dest });
  if (meta.type === "symlink") {
    throw fsError("ELOOP", op, path, {
      dest,
      reason: "the path names a symbolic link, which a backend does not follow",
    });
  }
  throw fsError("ENXIO", op, path, { dest, reason: `a ${meta.type} has no content` });
}

function isId(value: unknown): boolean {
  return value === null || (Number.isInteger(value) && (value as number) >= 0);
}

/**
 * A union file system: a read-only **lower** backend under a writable
 * **upper** backend, as Linux overlayfs and container images do. Reads see
 * the upper entry where there is one and the lower entry otherwise; every
 * change lands in the upper layer and **the lower layer is never written**.
 * Works over any pair of backends (memory, SQLite, host directories, other
 * overlays); needs no permissions of its own.
 *
 * | What you do | What happens |
 * | --- | --- |
 * | read, list, stat | upper entry if any, else lower; directories present in both are merged (upper wins a name) |
 * | write, append, truncate, open for writing, chmod, chown, utime, set/remove xattr of a lower entry | **copy-up** first: the entry (data, mode, owner, times, xattrs) and its missing parent directories (with their metadata) are copied to the upper layer, then changed there |
 * | delete a lower entry (unlink, rmdir, rename away) | a **whiteout** in the upper layer hides it |
 * | make a directory where a deleted one was | an **opaque** upper directory: nothing of the old lower one shows through |
 * | rename a lower file | copy-up, then rename in the upper layer, whiteout at the old name |
 * | rename a directory with lower content | its whole lower subtree is copied up first (cost: every byte below it, like `cp -a`), then it moves; overlayfs without `redirect_dir` returns `EXDEV` instead, so `mv` would do the same copy |
 * | hard-link a lower file | it is copied up once; both names are one upper inode and `nlink` counts both |
 * | change a lower file that has several hard links in the lower layer | copy-up brings every other name that still shows it along, as hard links of the copy (overlayfs `index=on`): the names stay one file, with one inode number |
 *
 * **Upper format.** Whiteouts are character devices 0/0, opaque
 * directories carry `trusted.overlay.opaque=y` — the format of Linux
 * overlayfs — so deletions survive closing and reopening the upper layer
 * (e.g. a {@linkcode SqliteBackend} file). Copies are assembled in a hidden
 * work directory, `/.anyfs-overlay-work`, and appear with one atomic
 * rename, so a crash never leaves a half-copied file shadowing the lower
 * one. None of this is visible: whiteouts and the work directory are not
 * listed and stat as missing, `trusted.overlay.*` attributes are hidden and
 * refused (`EPERM`), and creating a 0/0 character device is `EPERM`.
 * Deleting lower entries needs an upper with the `special` capability
 * (whiteouts) and making a directory over a deleted one the `xattrs`
 * capability; without them those operations fail with `ENOTSUP`.
 *
 * **Inode numbers** are unique across both layers: the overlay reports
 * `2 × ino` for upper inodes and `2 × ino + 1` for lower ones. A copied-up
 * entry keeps the number it had (stored in `trusted.overlay.anyfs.ino`,
 * so also after reopening when the upper has xattrs; otherwise until this
 * overlay object goes) — a lower file with several hard links too, whose
 * names all come up together. Only where they cannot (an upper without
 * hard links) does its copy get a number of its own, as does a file's copy
 * under the {@linkcode DualBackend} policies that let the lower file show
 * again (two files must never report one number).
 *
 * **Capabilities** are what can be honoured: those of the upper layer
 * (symlinks, hard links, permissions, ownership, times, sync, statfs,
 * xattrs, special files), plus range reads, truncate, append, copy,
 * handles and locks, which the overlay always provides (derived on the
 * upper layer where it lacks them). `inodes` is not offered. `statfs` is
 * the upper layer's.
 *
 * **Open files.** Opening for writing copies up first. A file opened for
 * reading from the lower layer follows its copy-up (later reads see the
 * new bytes), as on Linux since 4.19; one whose lower entry is deleted or
 * replaced keeps reading the old bytes, as an unlinked file does. Locks
 * are the overlay's own, keyed by its inode numbers.
 *
 * **Limits, honestly.** The lower layer must not change while the overlay
 * uses it, and one overlay at a time should use an upper layer (the work
 * directory is emptied on first use). To find the other names of a lower
 * file with several hard links, the first copy-up of such a file walks the
 * whole lower tree once (a listing per directory, an `lstat` per file) and
 * keeps the names of multi-link files in memory. When the upper layer has
 * no `hardlinks` capability, such a file is copied up alone: its other
 * lower names keep the old bytes (as overlayfs without `index=on`) — and a
 * mount may then send writes meant for one name to the other while the
 * kernel still holds them as one inode. A crash while a multi-link file
 * comes up may leave some of its names on the copy and the others on the
 * lower file, and the copy then holds only what the interrupted change
 * kept of the bytes (none for a whole-file write); the first change
 * through one of the names still on the lower file makes it a link of the
 * copy again (under the {@linkcode DualBackend} policies that let lower
 * files show again, a copy of its own: there the names stay two files). Three
 * multi-step operations are not atomic against a crash — removing a merged
 * directory, making a directory over a deleted entry and renaming an entry
 * away from a lower name each leave a moment in which the old lower entry
 * is visible again, because the backend contract has no
 * `RENAME_EXCHANGE`/`RENAME_WHITEOUT`; a crash right then brings the
 * lower entry back. Changes are serialized (one at a time); reads run
 * concurrently. Reading lower files updates their access time the way
 * reading the lower backend directly would. Copy-up drops extended
 * attributes when the upper has none, and the owner when it cannot chown.
 *
 * @example A writable sandbox over a prepared tree
 * ```ts
 * import { FileStorage, MemoryBackend, Overlay } from "@anyfs/anyfs";
 *
 * const base = new MemoryBackend();
 * await base.mkdir("/etc");
 * await base.writeFile("/etc/motd", new TextEncoder().encode("hello\n"));
 *
 * const fs = new FileStorage(new Overlay(base, new MemoryBackend()));
 * await fs.writeTextFile("/etc/motd", "changed\n"); // copied up, then written
 * await fs.remove("/etc/motd"); // a whiteout hides it
 * console.log(await fs.exists("/etc/motd")); // false
 * console.log(new TextDecoder().decode(await base.readFile("/etc/motd"))); // "hello\n"
 * ```
 *
 * @example Changes kept in a database file, over a base that is never touched (needs `--allow-read --allow-write`)
 * ```ts ignore
 * import { FileStorage, MemoryBackend, Overlay, SqliteBackend } from "@anyfs/anyfs";
 *
 * const base = new MemoryBackend(); // or any backend: a host directory, another database
 * using changes = SqliteBackend.open("./changes.anyfs");
 * const fs = new FileStorage(new Overlay(base, changes));
 * await fs.writeTextFile("/notes.txt", "kept in changes.anyfs, with every deletion");
 * ```
 */
export class Overlay extends Layerable
  implements
    Backend,
    FsRanges,
    FsTruncate,
    FsAppend,
    FsCopy,
    FsSymlinks,
    FsHardlinks,
    FsPermissions,
    FsOwnership,
    FsTimes,
    FsSync,
    FsStats,
    FsHandles,
    FsXattrs,
    FsSpecial {
  /** What the overlay can honour (see the class documentation). */
  readonly capabilities: ReadonlySet<Capability>;
  /** The read-only layer: never written by the overlay. */
  readonly lower: Backend;
  /** The writable layer: every change, copy-up, whiteout and opaque marker lands here. */
  readonly upper: Backend;

  #upperXattrs: boolean;
  #upperTimes: boolean;
  /** Reported inode number per upper inode (copied-up entries keep their lower number). */
  #origins = new Map<number, number>();
  /** Whether an upper directory (by inode) is opaque. */
  #opaque = new Map<number, boolean>();
  /** `nlink` of merged directories by path; dropped whenever a directory is made, removed or moved. */
  #links = new Map<string, number>();
  /**
   * Odd while a change that makes, removes or moves a directory runs: a
   * listing counted then may be stale, so it is not cached.
   */
  #dirEpoch = 0;
  /** The lower layer's multi-link names by lower inode; built on the first copy-up that needs it. */
  #lowerLinks?: Promise<Map<number, string[]>>;
  /** Handles reading lower files, by path, to move on copy-up. */
  #readers = new Map<string, Set<OverlayFileHandle>>();
  #host: OverlayHandleHost;
  #queue: Promise<unknown> = Promise.resolve();
  #workReady = false;
  #session = Math.floor(Math.random() * 2 ** 32).toString(36);
  #temp = 0;

  /**
   * The union of `lower` (read-only) and `upper` (writable). Both are used
   * as they are: the overlay does not own them and never closes them.
   *
   * @param lower The read-only layer.
   * @param upper The writable layer; it may already hold an earlier overlay's changes.
   */
  constructor(lower: Backend, upper: Backend) {
    super();
    this.lower = lower;
    this.upper = upper;
    const caps = new Set<Capability>(["ranges", "truncate", "append", "copy", "handles", "locks"]);
    for (
      const cap of [
        "symlinks",
        "hardlinks",
        "permissions",
        "ownership",
        "times",
        "sync",
        "statfs",
        "xattrs",
        "special",
      ] as const
    ) {
      if (supports(upper, cap)) caps.add(cap);
    }
    this.capabilities = caps;
    this.#upperXattrs = supports(upper, "xattrs");
    this.#upperTimes = supports(upper, "times");
    const locks = new LockTable();
    this.#host = {
      locks,
      release: (handle) => {
        for (const [path, set] of this.#readers) {
          if (set.delete(handle) && set.size === 0) this.#readers.delete(path);
        }
      },
    };
  }

  /**
   * Whether deleting a lower entry hides it with a whiteout (true). The
   * {@linkcode DualBackend} policies that let the lower layer show through
   * turn this off: removing a name then removes only the upper entry.
   */
  protected get hidesDeletedLower(): boolean {
    return true;
  }

  /**
   * Whether a directory present in both layers lists both (true), or only
   * the upper one (false, a {@linkcode DualBackend} policy).
   */
  protected get mergesListings(): boolean {
    return true;
  }

  // ------------------------------------------------------------ plumbing

  /** Run a change alone: copy-ups and whiteouts are several steps each. */
  #exclusive<T>(body: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(body);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Run a change that may make, remove or move a directory: link counts are recounted after it. */
  #exclusiveDirs<T>(body: () => Promise<T>): Promise<T> {
    return this.#exclusive(async () => {
      this.#dirEpoch++;
      this.#links.clear();
      try {
        return await body();
      } finally {
        this.#links.clear();
        this.#dirEpoch++;
      }
    });
  }

  #upperWith<C extends Capability>(
    cap: C,
    op: string,
    path: string,
  ): Backend & CapabilityMap[C] {
    if (!supports(this.upper, cap)) {
      throw fsError("ENOTSUP", op, path, {
        reason: `the overlay's upper layer has no ${cap} capability, which this needs`,
      });
    }
    return this.upper;
  }

  /** The work directory is invisible: missing for lookups, reserved for creation. */
  #guard(path: string, op: string, creating: boolean, dest?: string): void {
    if (!isWorkPath(path)) return;
    if (creating && path === WORK_DIR) {
      throw fsError("EPERM", op, path, {
        dest,
        reason: `${WORK_DIR} is reserved for the overlay's work directory`,
      });
    }
    throw fsError("ENOENT", op, path, { dest });
  }

  #lowerIno(ino: number): number {
    return ino * 2 + 1;
  }

  async #upperState(path: string): Promise<UpperState> {
    let meta: Metadata;
    try {
      meta = await this.upper.lstat(path);
    } catch (e) {
      const code = codeOf(e);
      if (code === "ENOENT") return { kind: "missing" };
      if (code === "ENOTDIR") return { kind: "notdir" };
      throw e;
    }
    if (this.hidesDeletedLower && isWhiteout(meta)) return { kind: "whiteout", meta };
    return { kind: "entry", meta };
  }

  async #isOpaque(path: string, meta: Metadata): Promise<boolean> {
    if (!this.hidesDeletedLower || !this.#upperXattrs) return false;
    const known = this.#opaque.get(meta.ino);
    if (known !== undefined) return known;
    let opaque = false;
    try {
      const value = await (this.upper as Backend & FsXattrs).getXattr(path, OPAQUE_XATTR);
      opaque = value.length === 1 && value[0] === OPAQUE_VALUE[0];
    } catch (e) {
      if (!isFsError(e)) throw e;
    }
    // A change may have marked it meanwhile: what it recorded wins.
    if (!this.#opaque.has(meta.ino)) this.#opaque.set(meta.ino, opaque);
    return opaque;
  }

  /**
   * The lower entry at `path` when the lower layer shows through there: it
   * exists and no upper ancestor hides it (a whiteout, a non-directory, an
   * opaque directory). It may still be shadowed by an upper entry at
   * `path` itself.
   */
  async #lowerAt(path: string): Promise<Metadata | undefined> {
    let meta: Metadata;
    try {
      meta = await this.lower.lstat(path);
    } catch (e) {
      const code = codeOf(e);
      if (code === "ENOENT" || code === "ENOTDIR") return undefined;
      throw e;
    }
    if (path === "/" || isWorkPath(path)) return path === "/" ? meta : undefined;
    for (const prefix of ancestorsOf(path)) {
      const state = await this.#upperState(prefix);
      if (state.kind === "missing") return meta; // nothing of the upper below here
      if (state.kind !== "entry" || state.meta.type !== "dir") return undefined;
      if (await this.#isOpaque(prefix, state.meta)) return undefined;
    }
    return meta;
  }

  /** What `path` shows: the upper entry, else the lower one, else nothing. */
  async #find(path: string): Promise<Found> {
    const upper = await this.#upperState(path);
    if (upper.kind === "entry") return { upper, visible: { layer: "upper", meta: upper.meta } };
    if (upper.kind === "whiteout") return { upper };
    const lower = await this.#lowerAt(path);
    return { upper, visible: lower ? { layer: "lower", meta: lower } : undefined };
  }

  /** The error for `path` showing nothing: `ENOTDIR` when an ancestor shows a non-directory. */
  async #absent(path: string, op: string, dest?: string, errorPath = path): Promise<FsError> {
    // The common case: the upper layer has the parent as a directory, which
    // wins over anything the lower layer has on the way.
    const parent = await this.#upperState(parentPath(path));
    if (parent.kind === "entry" && parent.meta.type === "dir") {
      return fsError("ENOENT", op, errorPath, { dest });
    }
    for (const prefix of ancestorsOf(path)) {
      const found = await this.#find(prefix);
      if (!found.visible) break;
      if (found.visible.meta.type !== "dir") return fsError("ENOTDIR", op, errorPath, { dest });
    }
    return fsError("ENOENT", op, errorPath, { dest });
  }

  /** What `path` shows, or its error. */
  async #visible(path: string, op: string, dest?: string): Promise<Visible> {
    const found = await this.#find(path);
    if (!found.visible) throw await this.#absent(path, op, dest);
    return found.visible;
  }

  /**
   * Check that a new entry may be made at `path`, which shows nothing: its
   * parent shows a directory and the name is valid. Then make sure the
   * parent exists in the upper layer.
   */
  async #prepareCreate(path: string, op: string, dest?: string, errorPath = path): Promise<void> {
    const parent = parentPath(path);
    const found = await this.#find(parent);
    if (!found.visible) throw await this.#absent(path, op, dest, errorPath);
    if (found.visible.meta.type !== "dir") throw fsError("ENOTDIR", op, errorPath, { dest });
    checkName(baseName(path), op, path);
    if (found.visible.layer === "lower") await this.#ensureUpperDir(parent);
  }

  /**
   * Whether a copied-up entry of `type` keeps the lower entry's number.
   * Where removing the upper name shows the lower entry again (the
   * {@linkcode DualBackend} policies without whiteouts), a file's copy
   * must not: hard-linked in the upper layer, or open, it outlives the
   * name, and the lower file would then come back under the number the
   * copy still has — two files with one number, which a mount's kernel
   * takes for one inode. A directory keeps it: it has one name, which
   * cannot move away while the lower one is under it (`EXDEV`), so the
   * copy is gone whenever the lower directory shows again.
   */
  #keepsLowerNumber(type: FileType): boolean {
    return this.hidesDeletedLower || type === "dir";
  }

  /** The overlay's inode number of an upper inode of `type` (its origin when it was copied up). */
  async #upperIno(ino: number, path: string, type: FileType): Promise<number> {
    const known = this.#origins.get(ino);
    if (known !== undefined) return known;
    let reported = ino * 2;
    // An upper layer written before, or under the overlay policy, may hold
    // origins this policy must not report (see #keepsLowerNumber).
    if (this.#upperXattrs && this.#keepsLowerNumber(type)) {
      try {
        const raw = await (this.upper as Backend & FsXattrs).getXattr(path, ORIGIN_XATTR);
        const origin = Number(decoder.decode(raw));
        if (Number.isSafeInteger(origin) && origin % 2 === 1) reported = origin;
      } catch (e) {
        if (!isFsError(e)) throw e; // ENODATA: made in the upper layer, never copied
      }
    }
    if (!this.#origins.has(ino)) this.#origins.set(ino, reported);
    return this.#origins.get(ino)!;
  }

  /** The upper inode `ino` may be gone: forget what was cached about it. */
  #forget(meta: Metadata | undefined): void {
    if (meta === undefined) return;
    if (meta.type === "dir" || meta.nlink <= 1) {
      this.#origins.delete(meta.ino);
      this.#opaque.delete(meta.ino);
    }
  }

  /** The lower directory merged under the upper directory at `path`, if any. */
  async #mergedLower(path: string, upper: Metadata): Promise<Metadata | undefined> {
    if (!this.mergesListings) return undefined;
    const lower = await this.#lowerAt(path);
    if (lower === undefined || lower.type !== "dir") return undefined;
    if (await this.#isOpaque(path, upper)) return undefined;
    return lower;
  }

  /**
   * The union listing of `path`: the lower entries in the lower order (an
   * upper entry of the same name in their place), then the upper-only
   * ones; whiteouts and the work directory left out.
   */
  async #list(path: string, upperDir?: Metadata, lowerDir?: Metadata): Promise<Listed[]> {
    const atRoot = path === "/";
    const mine = new Map<string, Listed>();
    const whiteouts = new Set<string>();
    if (upperDir) {
      for (const e of await this.upper.readDir(path)) {
        if (atRoot && e.name === WORK_DIR_NAME) continue;
        if (e.type === "chardev" && this.hidesDeletedLower) {
          const state = await this.#upperState(childPath(path, e.name));
          if (state.kind === "whiteout") whiteouts.add(e.name);
          if (state.kind !== "entry") continue;
        }
        mine.set(e.name, { name: e.name, type: e.type, ino: e.ino, layer: "upper" });
      }
    }
    if (!lowerDir) return [...mine.values()];
    const out: Listed[] = [];
    for (const e of await this.lower.readDir(path)) {
      if ((atRoot && e.name === WORK_DIR_NAME) || whiteouts.has(e.name)) continue;
      const shadow = mine.get(e.name);
      if (shadow) {
        out.push(shadow);
        mine.delete(e.name);
      } else {
        out.push({ name: e.name, type: e.type, ino: e.ino, layer: "lower" });
      }
    }
    for (const e of mine.values()) out.push(e);
    return out;
  }

  /** The listing of the visible directory `v` at `path`. */
  async #listVisible(path: string, v: Visible): Promise<Listed[]> {
    if (v.layer === "lower") return this.#list(path, undefined, v.meta);
    return this.#list(path, v.meta, await this.#mergedLower(path, v.meta));
  }

  /** `nlink` of the upper directory at `path`: 2 + its subdirectories in the union. */
  async #dirLinks(path: string, meta: Metadata): Promise<number> {
    const known = this.#links.get(path);
    if (known !== undefined) return known;
    const epoch = this.#dirEpoch;
    const lower = await this.#mergedLower(path, meta);
    let links = meta.nlink;
    // Only the root holds the work directory, and only a lower directory
    // with subdirectories can add any.
    if (path === "/" || (lower !== undefined && lower.nlink > 2)) {
      const listed = await this.#list(path, meta, lower);
      links = 2 + listed.filter((e) => e.type === "dir").length;
    }
    if (epoch === this.#dirEpoch && epoch % 2 === 0) this.#links.set(path, links);
    return links;
  }

  /** The metadata the overlay reports for `v` at `path`. */
  async #present(v: Visible, path: string): Promise<Metadata> {
    if (v.layer === "lower") return { ...v.meta, ino: this.#lowerIno(v.meta.ino) };
    const ino = await this.#upperIno(v.meta.ino, path, v.meta.type);
    if (v.meta.type !== "dir") return { ...v.meta, ino };
    return { ...v.meta, ino, nlink: await this.#dirLinks(path, v.meta) };
  }

  // ------------------------------------------------------------ copy-up

  /** A fresh name in the work directory (made, and emptied of leftovers, on first use). */
  async #tempPath(): Promise<string> {
    if (!this.#workReady) {
      const state = await this.#upperState(WORK_DIR);
      if (state.kind === "entry" && state.meta.type === "dir") {
        // Left by an overlay that stopped half-way through a copy.
        for (const e of await this.upper.readDir(WORK_DIR)) {
          await removeTree(this.upper, `${WORK_DIR}/${e.name}`);
        }
      } else {
        if (state.kind !== "missing") await removeTree(this.upper, WORK_DIR);
        const root = this.#upperTimes ? await this.upper.lstat("/") : undefined;
        await this.upper.mkdir(WORK_DIR, { mode: 0o700 });
        if (root) await this.#restoreTimes("/", root);
      }
      this.#workReady = true;
    }
    return `${WORK_DIR}/${this.#session}.${++this.#temp}`;
  }

  async #restoreTimes(path: string, before: Metadata): Promise<void> {
    await (this.upper as Backend & FsTimes).utime(path, before.atimeMs, before.mtimeMs);
  }

  /** Remove a work entry after a failure; a failure to clean up must not hide the first one. */
  async #discard(tmp: string): Promise<void> {
    try {
      await removeTree(this.upper, tmp);
    } catch {
      // Emptied on the next first use of the work directory.
    }
  }

  /**
   * Move the finished work entry `tmp` to `path` in one rename, keeping the
   * parent's times: a copy-up is not a change of the directory.
   */
  async #publish(tmp: string, path: string): Promise<void> {
    const parent = parentPath(path);
    const before = this.#upperTimes ? await this.upper.lstat(parent) : undefined;
    await this.upper.rename(tmp, path);
    if (before) await this.#restoreTimes(parent, before);
  }

  /**
   * The other names of the lower non-directory `meta` at `path` (a hard
   * link in the lower layer): in `lower`, those the overlay still shows as
   * it, which its copy-up must bring along; in `copy`, one that already
   * shows an upper copy of it (left so by a crash during an earlier
   * copy-up), which the copy-up must join instead of making a second
   * file with the same number. `undefined` when the names cannot come
   * along: the upper layer has no hard links.
   *
   * Where the lower file can show again (see #keepsLowerNumber) the names
   * come along all the same — a mount's kernel holds them as one inode,
   * and a name left on the lower file would get the writes meant for the
   * copy — but `copy` is never found: the copy has a number of its own,
   * and an upper file that shares a name with the lower one is another
   * file there (the lower file came back under a removed name).
   */
  async #aliases(
    path: string,
    meta: Metadata,
  ): Promise<{ lower: string[]; copy?: string } | undefined> {
    if (!supports(this.upper, "hardlinks")) return undefined;
    if (this.#lowerLinks === undefined) {
      const building = indexLowerLinks(this.lower);
      this.#lowerLinks = building;
      // A failed walk is tried again by the next copy-up, not remembered.
      building.catch(() => {
        if (this.#lowerLinks === building) this.#lowerLinks = undefined;
      });
    }
    const names: string[] = [];
    let copy: string | undefined;
    for (const name of (await this.#lowerLinks).get(meta.ino) ?? []) {
      if (name === path) continue;
      // Only a name that still shows this lower inode: not one whited
      // out, replaced in the upper layer, or under a directory that hides
      // the lower layer (opaque, whited out, replaced, renamed away).
      const v = (await this.#find(name)).visible;
      if (v?.layer === "lower" && v.meta.ino === meta.ino) names.push(name);
      else if (
        v?.layer === "upper" && v.meta.type === meta.type && copy === undefined &&
        await this.#upperIno(v.meta.ino, name, v.meta.type) === this.#lowerIno(meta.ino)
      ) {
        copy = name;
      }
    }
    return { lower: names, copy };
  }

  /**
   * Give the upper file `tmp` the other lower names `names` as hard links,
   * making their missing parent directories first, and keeping each
   * parent's times (bringing up a name is not a change of the directory).
   * Returns the names linked; on a failure the ones already linked are
   * removed again, so that they show the lower file as before.
   */
  async #linkNames(tmp: string, names: string[]): Promise<string[]> {
    const upper = this.upper as Backend & FsHardlinks;
    const linked: string[] = [];
    try {
      for (const name of names) {
        const parent = parentPath(name);
        await this.#ensureUpperDir(parent);
        const before = this.#upperTimes ? await upper.lstat(parent) : undefined;
        await upper.link(tmp, name);
        linked.push(name);
        if (before) await this.#restoreTimes(parent, before);
      }
    } catch (e) {
      await this.#unlinkNames(linked);
      throw e;
    }
    return linked;
  }

  async #unlinkNames(names: string[]): Promise<void> {
    for (const name of names) {
      try {
        await this.upper.unlink(name);
      } catch {
        // It keeps showing the copy; the failure that got us here matters more.
      }
    }
  }

  /**
   * Copy the lower entry `meta` at `path` to the same path in the upper
   * layer, whose parent must exist there: with the first `dataLimit` bytes
   * of a file, its mode, owner, xattrs and times, and its inode number.
   *
   * A non-directory with several lower names comes up with every other
   * name the overlay still shows as it, all hard links of the one copy
   * (overlayfs `index=on`): they are one file before the copy-up, so they
   * stay one file after it, and the copy keeps the lower number. The
   * other names are linked before the copy is renamed into `path`, so a
   * crash in between leaves names that show the finished copy, never a
   * half-copied one; and a later copy-up of a name still on the lower file
   * joins that copy (one more link) instead of making a second file with
   * the same number.
   */
  async #copyUpNode(path: string, meta: Metadata, dataLimit: number): Promise<Metadata> {
    const upper = this.upper;
    const aliases = meta.type !== "dir" && meta.nlink > 1
      ? await this.#aliases(path, meta)
      : { lower: [] };
    // Without its other names (no hard links in the upper layer), a copy
    // cannot keep the number: another lower name still shows the lower
    // inode under it. Nor where the lower entry can show again.
    const origin = aliases !== undefined && this.#keepsLowerNumber(meta.type)
      ? this.#lowerIno(meta.ino)
      : undefined;
    const others = aliases?.lower ?? [];
    const existing = aliases?.copy;
    const tmp = await this.#tempPath();
    let made: number | undefined;
    let linked: string[] = [];
    try {
      if (existing !== undefined) {
        // The file already has its copy: this name becomes one more link.
        await (upper as Backend & FsHardlinks).link(existing, tmp);
      } else {
        await this.#fillCopy(path, meta, dataLimit, tmp, origin);
        made = (await upper.lstat(tmp)).ino;
      }
      if (others.length > 0) {
        // Known before the names appear, so a concurrent lookup of one of
        // them already reports the copy's number (the origin attribute
        // says so too, but not on an upper without xattrs).
        const ino = (await upper.lstat(tmp)).ino;
        this.#origins.set(ino, origin ?? ino * 2);
        linked = await this.#linkNames(tmp, others);
      }
      // Last: linking may touch the times of the file.
      if (this.#upperTimes && existing === undefined) {
        await (upper as Backend & FsTimes).utime(tmp, meta.atimeMs, meta.mtimeMs);
      }
      await this.#publish(tmp, path);
    } catch (e) {
      await this.#unlinkNames(linked);
      await this.#discard(tmp);
      if (made !== undefined) this.#origins.delete(made);
      throw e;
    }
    const placed = await upper.lstat(path);
    this.#origins.set(placed.ino, origin ?? placed.ino * 2);
    if (meta.type === "file") {
      for (const name of [path, ...linked]) await this.#moveReaders(name, placed);
    }
    return placed;
  }

  /**
   * Make `tmp` in the upper layer a copy of the lower entry `meta` at
   * `path`: its type, the first `dataLimit` bytes of a file, owner, mode,
   * xattrs and, when it keeps one, the reported number `origin`.
   */
  async #fillCopy(
    path: string,
    meta: Metadata,
    dataLimit: number,
    tmp: string,
    origin: number | undefined,
  ): Promise<void> {
    const upper = this.upper;
    const op = "copyup";
    switch (meta.type) {
      case "file":
        await copyContent(this.lower, path, Math.min(meta.size, dataLimit), upper, tmp, {
          mode: meta.mode & 0o7777,
        });
        break;
      case "dir":
        await upper.mkdir(tmp, { mode: meta.mode & 0o7777 });
        break;
      case "symlink": {
        const target = await (this.lower as Backend & FsSymlinks).readLink(path);
        await this.#upperWith("symlinks", op, path).symlink(target, tmp);
        break;
      }
      default:
        await this.#upperWith("special", op, path).mknod(tmp, meta.mode, meta.rdev);
    }
    await copyAttributes(this.lower, path, meta, upper, tmp);
    if (origin !== undefined && this.#upperXattrs) {
      await (upper as Backend & FsXattrs).setXattr(
        tmp,
        ORIGIN_XATTR,
        encoder.encode(String(origin)),
      );
    }
  }

  /** Copy up the lower entry at `path`, and first every directory above it. */
  async #copyUp(path: string, meta: Metadata, dataLimit: number): Promise<Metadata> {
    await this.#ensureUpperDir(parentPath(path));
    return this.#copyUpNode(path, meta, dataLimit);
  }

  /** Make sure the directory `dir`, which shows a directory, exists in the upper layer. */
  async #ensureUpperDir(dir: string): Promise<void> {
    if (dir === "/") return;
    const here = await this.#upperState(dir);
    if (here.kind === "entry" && here.meta.type === "dir") return;
    for (const prefix of [...ancestorsOf(dir), dir]) {
      const state = await this.#upperState(prefix);
      if (state.kind === "entry") {
        if (state.meta.type === "dir") continue;
        throw fsError("ENOTDIR", "copyup", prefix);
      }
      if (state.kind !== "missing") throw fsError("ENOENT", "copyup", prefix);
      const meta = await this.lower.lstat(prefix);
      if (meta.type !== "dir") throw fsError("ENOTDIR", "copyup", prefix);
      await this.#copyUpNode(prefix, meta, 0);
    }
  }

  /** Handles reading the lower file at `path` continue on its new upper copy. */
  async #moveReaders(path: string, placed: Metadata): Promise<void> {
    const readers = this.#readers.get(path);
    if (readers === undefined) return;
    this.#readers.delete(path);
    const ino = this.#origins.get(placed.ino) ?? placed.ino * 2;
    for (const handle of readers) {
      try {
        handle.moveTo(await openFile(this.upper, path, { read: true }), ino);
      } catch {
        // Out of handles in the upper layer: this one keeps reading the
        // lower bytes rather than failing the write that copied it up.
      }
    }
  }

  /** Handles reading the lower file at `path` lost it from view (deleted or replaced). */
  #detachReaders(path: string): void {
    const readers = this.#readers.get(path);
    if (readers === undefined) return;
    this.#readers.delete(path);
    for (const handle of readers) handle.detach();
  }

  /**
   * Copy up the directory at `path` with everything the lower layer has
   * below it, then mark it opaque: it no longer needs the lower layer, so
   * it can move anywhere.
   */
  async #copyUpTree(path: string, op: string): Promise<void> {
    await this.#copyUpChildren(path);
    await this.#setOpaque(path, op);
  }

  async #copyUpChildren(path: string): Promise<void> {
    let state = await this.#upperState(path);
    if (state.kind === "missing") {
      await this.#copyUp(path, await this.lower.lstat(path), 0);
      state = await this.#upperState(path);
    }
    if (state.kind !== "entry") throw fsError("ENOENT", "copyup", path);
    // An upper non-directory shadows whatever the lower layer has there.
    if (state.meta.type !== "dir") return;
    const lower = await this.#mergedLower(path, state.meta);
    if (lower === undefined) return;
    const upperNames = new Set<string>();
    const whiteouts = new Set<string>();
    for (const e of await this.upper.readDir(path)) {
      if (
        e.type === "chardev" &&
        (await this.#upperState(childPath(path, e.name))).kind === "whiteout"
      ) {
        whiteouts.add(e.name);
      } else {
        upperNames.add(e.name);
      }
    }
    for (const e of await this.lower.readDir(path)) {
      if ((path === "/" && e.name === WORK_DIR_NAME) || whiteouts.has(e.name)) continue;
      const child = childPath(path, e.name);
      // A name may have come up since the listing above: a hard link of a
      // file copied up a moment ago, or a parent directory of one.
      if (upperNames.has(e.name) || (await this.#upperState(child)).kind !== "missing") {
        if (e.type === "dir") await this.#copyUpChildren(child);
        continue;
      }
      const meta = await this.lower.lstat(child);
      await this.#copyUpNode(child, meta, WHOLE);
      if (meta.type === "dir") await this.#copyUpChildren(child);
    }
  }

  async #setOpaque(path: string, op: string): Promise<void> {
    const upper = this.#upperWith("xattrs", op, path);
    await upper.setXattr(path, OPAQUE_XATTR, OPAQUE_VALUE);
    this.#opaque.set((await upper.lstat(path)).ino, true);
  }

  /** Remove the whiteouts in the upper directory `path` (all it holds when it shows empty). */
  async #clearWhiteouts(path: string): Promise<void> {
    for (const e of await this.upper.readDir(path)) {
      if (e.type !== "chardev") continue;
      const child = childPath(path, e.name);
      if ((await this.#upperState(child)).kind === "whiteout") await this.upper.unlink(child);
    }
  }

  /** Hide the lower entry at `path`, where the upper layer has nothing. */
  async #whiteout(path: string, op: string): Promise<void> {
    await this.#upperWith("special", op, path).mknod(path, S_IFCHR, 0);
  }

  /** Replace the upper non-directory at `path` with a whiteout in one rename. */
  async #whiteoutOver(path: string, op: string): Promise<void> {
    const upper = this.#upperWith("special", op, path);
    const tmp = await this.#tempPath();
    try {
      await upper.mknod(tmp, S_IFCHR, 0);
      await upper.rename(tmp, path);
    } catch (e) {
      await this.#discard(tmp);
      throw e;
    }
  }

  /**
   * Make a non-directory at `path`, which holds a whiteout, without a moment
   * in which the deleted lower entry shows: `make` creates it in the work
   * directory, then it is renamed over the whiteout.
   */
  async #replaceWhiteout(path: string, make: (tmp: string) => Promise<void>): Promise<void> {
    const tmp = await this.#tempPath();
    try {
      await make(tmp);
      await this.upper.rename(tmp, path);
    } catch (e) {
      await this.#discard(tmp);
      throw e;
    }
  }

  /** Creation options for a node made in the work directory for `path`: the group its parent would give. */
  async #inherited<T extends CreateOptions>(path: string, options: T | undefined): Promise<T> {
    const parent = await this.upper.lstat(parentPath(path));
    const out = { ...options } as T;
    if ((parent.mode & S_ISGID) !== 0 && out.gid === undefined) out.gid = parent.gid;
    return out;
  }

  // ------------------------------------------------------------ core

  /** Metadata of what `path` shows (the overlay's inode number; merged `nlink` for directories). */
  async lstat(path: string): Promise<Metadata> {
    this.#guard(path, "lstat", false);
    return this.#present(await this.#visible(path, "lstat"), path);
  }

  /** The union listing: lower order first, upper-only names after; whiteouts hide lower names. */
  async readDir(path: string): Promise<DirEntry[]> {
    const op = "readdir";
    this.#guard(path, op, false);
    const v = await this.#visible(path, op);
    if (v.meta.type !== "dir") throw fsError("ENOTDIR", op, path);
    const out: DirEntry[] = [];
    for (const e of await this.#listVisible(path, v)) {
      const ino = e.layer === "lower"
        ? this.#lowerIno(e.ino)
        : await this.#upperIno(e.ino, childPath(path, e.name), e.type);
      out.push({ name: e.name, type: e.type, ino });
    }
    return out;
  }

  /** The content of the file `path` shows. */
  async readFile(path: string): Promise<Uint8Array> {
    this.#guard(path, "readfile", false);
    const v = await this.#visible(path, "readfile");
    return (v.layer === "upper" ? this.upper : this.lower).readFile(path);
  }

  /** Replace the content of `path`; a lower file is copied up (without its old bytes) first. */
  writeFile(path: string, data: Uint8Array, options?: WriteFileOptions): Promise<void> {
    const op = "writefile";
    return this.#exclusive(async () => {
      if (!(data instanceof Uint8Array)) {
        throw fsError("EINVAL", op, path, { reason: "data must be a Uint8Array" });
      }
      this.#guard(path, op, true);
      const found = await this.#find(path);
      const v = found.visible;
      if (v?.layer === "upper") return this.upper.writeFile(path, data, options);
      const mayCreate = options?.create !== false || options?.createNew === true;
      if (v) {
        if (options?.createNew) throw fsError("EEXIST", op, path);
        requireFile(v.meta, op, path);
        await this.#copyUp(path, v.meta, 0);
        return this.upper.writeFile(path, data, { create: false });
      }
      if (!mayCreate) throw await this.#absent(path, op);
      if (found.upper.kind === "whiteout") {
        const create = await this.#inherited(path, options);
        return this.#replaceWhiteout(path, (tmp) =>
          this.upper.writeFile(tmp, data, {
            mode: create.mode,
            uid: create.uid,
            gid: create.gid,
            createNew: true,
          }));
      }
      await this.#prepareCreate(path, op);
      return this.upper.writeFile(path, data, options);
    });
  }

  /** Make the directory `path`; over a deleted lower entry it is opaque. */
  mkdir(path: string, options?: CreateOptions): Promise<void> {
    const op = "mkdir";
    return this.#exclusiveDirs(async () => {
      this.#guard(path, op, true);
      if (path === "/") throw fsError("EEXIST", op, path);
      const found = await this.#find(path);
      if (found.visible) throw fsError("EEXIST", op, path);
      if (found.upper.kind !== "whiteout") {
        await this.#prepareCreate(path, op);
        return this.upper.mkdir(path, options);
      }
      const upper = this.#upperWith("xattrs", op, path);
      const parent = await upper.lstat(parentPath(path));
      const inherit = (parent.mode & S_ISGID) !== 0;
      const mode = ((options?.mode ?? 0o755) & 0o1777) | (inherit ? S_ISGID : 0);
      const tmp = await this.#tempPath();
      try {
        await upper.mkdir(tmp, {
          mode,
          uid: options?.uid,
          gid: options?.gid ?? (inherit ? parent.gid : undefined),
        });
        if (inherit && supports(upper, "permissions")) await upper.chmod(tmp, mode);
        await upper.setXattr(tmp, OPAQUE_XATTR, OPAQUE_VALUE);
      } catch (e) {
        await this.#discard(tmp);
        throw e;
      }
      // A directory cannot be renamed over the whiteout (a non-directory):
      // the whiteout goes first, and until the rename the lower entry shows.
      await upper.unlink(path);
      try {
        await upper.rename(tmp, path);
      } catch (e) {
        await this.#whiteout(path, op).catch(() => {});
        await this.#discard(tmp);
        throw e;
      }
      this.#opaque.set((await upper.lstat(path)).ino, true);
    });
  }

  /** Remove the non-directory `path`; a lower one is hidden by a whiteout. */
  unlink(path: string): Promise<void> {
    const op = "unlink";
    return this.#exclusive(async () => {
      this.#guard(path, op, false);
      const v = await this.#visible(path, op);
      if (v.meta.type === "dir") throw fsError("EISDIR", op, path);
      if (v.layer === "upper") {
        const lower = this.hidesDeletedLower ? await this.#lowerAt(path) : undefined;
        if (lower) await this.#whiteoutOver(path, op);
        else await this.upper.unlink(path);
        this.#forget(v.meta);
        return;
      }
      if (!this.hidesDeletedLower) throw this.#lowerOnly(op, path);
      await this.#ensureUpperDir(parentPath(path));
      await this.#whiteout(path, op);
      this.#detachReaders(path);
    });
  }

  #lowerOnly(op: string, path: string, dest?: string): FsError {
    return fsError("EROFS", op, path, {
      dest,
      reason: "the entry is in the read-only layer, which this policy never hides",
    });
  }

  /** Remove the directory `path`, empty in the union; a lower one is hidden by a whiteout. */
  rmdir(path: string): Promise<void> {
    const op = "rmdir";
    return this.#exclusiveDirs(async () => {
      this.#guard(path, op, false);
      if (path === "/") throw fsError("EBUSY", op, path);
      const v = await this.#visible(path, op);
      if (v.meta.type !== "dir") throw fsError("ENOTDIR", op, path);
      if ((await this.#listVisible(path, v)).length !== 0) throw fsError("ENOTEMPTY", op, path);
      if (v.layer === "lower") {
        if (!this.hidesDeletedLower) throw this.#lowerOnly(op, path);
        await this.#ensureUpperDir(parentPath(path));
        return this.#whiteout(path, op);
      }
      const lower = this.hidesDeletedLower ? await this.#lowerAt(path) : undefined;
      if (lower && this.#upperXattrs && lower.type === "dir") {
        // Opaque first, so that clearing its whiteouts shows nothing.
        await this.#setOpaque(path, op);
      }
      await this.#clearWhiteouts(path);
      await this.upper.rmdir(path);
      this.#forget(v.meta);
      if (lower) await this.#whiteout(path, op);
    });
  }

  /**
   * Rename with `rename(2)` semantics in the union. A lower file is copied
   * up first; a directory with lower content is copied up whole (every
   * byte below it). The old name is hidden by a whiteout when the lower
   * layer has it.
   */
  rename(from: string, to: string): Promise<void> {
    const op = "rename";
    return this.#exclusiveDirs(async () => {
      this.#guard(from, op, false, to);
      this.#guard(to, op, true, to);
      for (const path of [from, to]) {
        if (path === "/") continue;
        const parent = await this.#find(parentPath(path));
        if (!parent.visible) throw await this.#absent(path, op, to, from);
        if (parent.visible.meta.type !== "dir") throw fsError("ENOTDIR", op, from, { dest: to });
      }
      if (from === "/" || to === "/") throw fsError("EBUSY", op, from, { dest: to });
      const src = await this.#find(from);
      if (!src.visible) throw await this.#absent(from, op, to);
      if (from === to) return;
      checkName(baseName(to), op, to);
      const isDir = src.visible.meta.type === "dir";
      if (isDir && isWithin(to, from)) {
        throw fsError("EINVAL", op, from, {
          dest: to,
          reason: "cannot move a directory into itself",
        });
      }
      if (isWithin(from, to)) throw fsError("ENOTEMPTY", op, from, { dest: to });
      const dst = await this.#find(to);
      const target = dst.visible;
      if (target) {
        if (target.layer === src.visible.layer && target.meta.ino === src.visible.meta.ino) {
          return; // another name of the same inode: POSIX says do nothing
        }
        if (isDir && target.meta.type !== "dir") throw fsError("ENOTDIR", op, from, { dest: to });
        if (!isDir && target.meta.type === "dir") throw fsError("EISDIR", op, from, { dest: to });
        if (target.meta.type === "dir" && (await this.#listVisible(to, target)).length !== 0) {
          throw fsError("ENOTEMPTY", op, from, { dest: to });
        }
      }
      const lowerFrom = src.visible.layer === "lower"
        ? src.visible.meta
        : await this.#lowerAt(from);
      const lowerTo = target?.layer === "lower"
        ? target.meta
        : target || dst.upper.kind === "whiteout"
        ? await this.#lowerAt(to)
        : undefined;
      if (lowerFrom && !this.hidesDeletedLower) {
        throw fsError("EXDEV", op, from, {
          dest: to,
          reason: "the entry is in the read-only layer, which this policy never hides",
        });
      }
      // The source, whole, in the upper layer.
      if (lowerFrom) {
        if (isDir) await this.#copyUpTree(from, op);
        else if (src.visible.layer === "lower") await this.#copyUp(from, src.visible.meta, WHOLE);
      }
      // A directory landing where the lower layer has an entry must hide it.
      if (isDir && lowerTo && this.hidesDeletedLower && !lowerFrom) await this.#setOpaque(from, op);
      await this.#ensureUpperDir(parentPath(to));
      if (dst.upper.kind === "whiteout" && isDir) {
        // A directory cannot replace the whiteout (a non-directory) in one
        // rename: until the rename below, the deleted lower entry shows.
        await this.upper.unlink(to);
      } else if (
        target?.layer === "upper" && target.meta.type === "dir" && this.hidesDeletedLower
      ) {
        // Its whiteouts would make the rename fail; opaque first, so that
        // clearing them shows nothing of the lower directory meanwhile.
        if (lowerTo?.type === "dir") await this.#setOpaque(to, op);
        await this.#clearWhiteouts(to);
      }
      await this.upper.rename(from, to);
      if (target?.layer === "upper") this.#forget(target.meta);
      this.#detachReaders(to);
      if (lowerFrom) await this.#whiteout(from, op);
    });
  }

  // ------------------------------------------------------------ content

  /** Up to `length` bytes of `path` from `offset`. */
  async read(path: string, offset: number, length: number): Promise<Uint8Array> {
    this.#guard(path, "read", false);
    const v = await this.#visible(path, "read");
    return readRange(v.layer === "upper" ? this.upper : this.lower, path, offset, length);
  }

  /** Set the size of `path`; a lower file is copied up (only the bytes that stay) first. */
  truncate(path: string, length: number): Promise<void> {
    const op = "truncate";
    return this.#exclusive(async () => {
      if (!Number.isSafeInteger(length) || length < 0) {
        throw fsError("EINVAL", op, path, { reason: `bad length ${length}` });
      }
      this.#guard(path, op, false);
      const v = await this.#visible(path, op);
      if (v.layer === "lower") {
        requireFile(v.meta, op, path);
        await this.#copyUp(path, v.meta, length);
      }
      return truncateFile(this.upper, path, length);
    });
  }

  /** Append to `path` (made when missing); a lower file is copied up first. */
  appendFile(path: string, data: Uint8Array, options?: CreateOptions): Promise<void> {
    const op = "appendfile";
    return this.#exclusive(async () => {
      if (!(data instanceof Uint8Array)) {
        throw fsError("EINVAL", op, path, { reason: "data must be a Uint8Array" });
      }
      this.#guard(path, op, true);
      const found = await this.#find(path);
      const v = found.visible;
      if (v?.layer === "lower") {
        requireFile(v.meta, op, path);
        await this.#copyUp(path, v.meta, WHOLE);
      } else if (!v && found.upper.kind === "whiteout") {
        const create = await this.#inherited(path, options);
        return this.#replaceWhiteout(
          path,
          (tmp) => this.upper.writeFile(tmp, data, { ...create, createNew: true }),
        );
      } else if (!v) {
        await this.#prepareCreate(path, op);
      }
      return appendFile(this.upper, path, data, options);
    });
  }

  /**
   * Copy the file `from` over `to` (content and permission bits). An
   * existing lower `to` is copied up without its bytes first, so it keeps
   * its inode number and owner, as a copy into an existing file does.
   */
  copyFile(from: string, to: string): Promise<void> {
    const op = "copyfile";
    return this.#exclusive(async () => {
      this.#guard(from, op, false, to);
      this.#guard(to, op, true, to);
      const src = await this.#visible(from, op, to);
      requireFile(src.meta, op, from, to);
      if (to === "/") throw fsError("EISDIR", op, from, { dest: to });
      const dst = await this.#find(to);
      const target = dst.visible;
      const perms = src.meta.mode & 0o7777;
      const fill = async (path: string, replace: boolean): Promise<void> => {
        if (src.layer === "upper") return copyFile(this.upper, from, path);
        await copyContent(this.lower, from, src.meta.size, this.upper, path, {
          mode: perms,
          replace,
        });
        if (replace && supports(this.upper, "permissions")) await this.upper.chmod(path, perms);
      };
      if (target) {
        if (target.layer === src.layer && target.meta.ino === src.meta.ino) return;
        requireFile(target.meta, op, from, to);
        if (target.layer === "lower") await this.#copyUp(to, target.meta, 0);
        return fill(to, true);
      }
      if (dst.upper.kind === "whiteout") {
        return this.#replaceWhiteout(to, (tmp) => fill(tmp, false));
      }
      await this.#prepareCreate(to, op, to, from);
      return fill(to, false);
    });
  }

  // ------------------------------------------------------------ links

  /** Make a symlink at `path` holding `target`. */
  symlink(
    target: string,
    path: string,
    options?: Omit<CreateOptions, "mode">,
  ): Promise<void> {
    const op = "symlink";
    return this.#exclusive(async () => {
      const upper = this.#upperWith("symlinks", op, path);
      if (typeof target !== "string") {
        throw fsError("EINVAL", op, path, { reason: "target must be a string" });
      }
      if (target === "") throw fsError("ENOENT", op, target, { dest: path });
      if (target.includes("\0")) {
        throw fsError("EINVAL", op, target.replaceAll("\0", "\\0"), {
          dest: path,
          reason: "target contains a NUL byte",
        });
      }
      if (utf8Length(target) > PATH_MAX - 1) {
        throw fsError("ENAMETOOLONG", op, target, { dest: path });
      }
      this.#guard(path, op, true);
      if (path === "/") throw fsError("EEXIST", op, target, { dest: path });
      const found = await this.#find(path);
      if (found.visible) throw fsError("EEXIST", op, target, { dest: path });
      if (found.upper.kind === "whiteout") {
        const create = await this.#inherited(path, options);
        return this.#replaceWhiteout(path, (tmp) => upper.symlink(target, tmp, create));
      }
      await this.#prepareCreate(path, op, path, target);
      return upper.symlink(target, path, options);
    });
  }

  /** The target of the symlink `path` shows. */
  async readLink(path: string): Promise<string> {
    this.#guard(path, "readlink", false);
    const v = await this.#visible(path, "readlink");
    const layer = v.layer === "upper" ? this.upper : this.lower;
    if (v.meta.type !== "symlink" || !supports(layer, "symlinks")) {
      throw fsError("EINVAL", "readlink", path);
    }
    return layer.readLink(path);
  }

  /**
   * Add the name `newPath` for the non-directory `existing`. A lower file is
   * copied up once; then both names are one upper inode.
   */
  link(existing: string, newPath: string): Promise<void> {
    const op = "link";
    return this.#exclusive(async () => {
      const upper = this.#upperWith("hardlinks", op, existing);
      this.#guard(existing, op, false, newPath);
      this.#guard(newPath, op, true, newPath);
      const src = await this.#visible(existing, op, newPath);
      if (newPath === "/") throw fsError("EEXIST", op, existing, { dest: newPath });
      const dst = await this.#find(newPath);
      if (!dst.visible) {
        const parent = await this.#find(parentPath(newPath));
        if (!parent.visible) throw await this.#absent(newPath, op, newPath);
        if (parent.visible.meta.type !== "dir") {
          throw fsError("ENOTDIR", op, existing, { dest: newPath });
        }
        checkName(baseName(newPath), op, newPath);
      }
      if (dst.visible) throw fsError("EEXIST", op, existing, { dest: newPath });
      if (src.meta.type === "dir") {
        throw fsError("EPERM", op, existing, {
          dest: newPath,
          reason: "directories cannot be hard-linked",
        });
      }
      if (src.layer === "lower") await this.#copyUp(existing, src.meta, WHOLE);
      if (dst.upper.kind === "whiteout") {
        return this.#replaceWhiteout(newPath, (tmp) => upper.link(existing, tmp));
      }
      await this.#ensureUpperDir(parentPath(newPath));
      return upper.link(existing, newPath);
    });
  }

  // ------------------------------------------------------------ attributes

  /** The upper entry at `path`, copying a lower one up first (data too: it is the same file). */
  async #writable(path: string, op: string): Promise<void> {
    this.#guard(path, op, false);
    const v = await this.#visible(path, op);
    if (v.layer === "lower") await this.#copyUp(path, v.meta, WHOLE);
  }

  /** Set the permission bits of `path`; a lower entry is copied up first. */
  chmod(path: string, mode: number): Promise<void> {
    return this.#exclusive(async () => {
      const upper = this.#upperWith("permissions", "chmod", path);
      if (!Number.isInteger(mode)) {
        throw fsError("EINVAL", "chmod", path, { reason: `bad mode ${mode}` });
      }
      await this.#writable(path, "chmod");
      return upper.chmod(path, mode);
    });
  }

  /** Set owner and/or group of `path`; a lower entry is copied up first. */
  chown(path: string, uid: number | null, gid: number | null): Promise<void> {
    return this.#exclusive(async () => {
      const upper = this.#upperWith("ownership", "chown", path);
      if (!isId(uid) || !isId(gid)) {
        throw fsError("EINVAL", "chown", path, { reason: `bad owner ${uid}:${gid}` });
      }
      await this.#writable(path, "chown");
      return upper.chown(path, uid, gid);
    });
  }

  /** Set atime and/or mtime of `path`; a lower entry is copied up first. */
  utime(path: string, atimeMs: number | null, mtimeMs: number | null): Promise<void> {
    return this.#exclusive(async () => {
      const upper = this.#upperWith("times", "utime", path);
      if (
        (atimeMs !== null && !Number.isFinite(atimeMs)) ||
        (mtimeMs !== null && !Number.isFinite(mtimeMs))
      ) {
        throw fsError("EINVAL", "utime", path, { reason: `bad times ${atimeMs}, ${mtimeMs}` });
      }
      await this.#writable(path, "utime");
      return upper.utime(path, atimeMs, mtimeMs);
    });
  }

  // ------------------------------------------------------------ whole fs

  /** Make every completed change durable (the upper layer's `sync`). */
  async sync(): Promise<void> {
    await this.#upperWith("sync", "sync", "").sync();
  }

  /** Make completed changes to `path` durable; a lower entry has none. */
  async fsync(path: string): Promise<void> {
    this.#guard(path, "fsync", false);
    const v = await this.#visible(path, "fsync");
    if (v.layer === "upper") await this.#upperWith("sync", "fsync", path).fsync(path);
  }

  /** The upper layer's capacity and usage: that is where new bytes go. */
  async statfs(): Promise<StatFs> {
    return await this.#upperWith("statfs", "statfs", "").statfs();
  }

  // ------------------------------------------------------------ handles

  /**
   * Open the file `path` shows. Opening for writing (or truncating) copies
   * a lower file up first; opening for reading reads the lower file in
   * place and follows it if it is copied up later.
   */
  open(path: string, options: OpenOptions = {}): Promise<FileHandle> {
    const op = "open";
    const append = options.append === true;
    const writable = append || options.write === true;
    const readable = options.read ?? !writable;
    if (!readable && !writable) {
      return Promise.reject(
        fsError("EINVAL", op, path, { reason: "open needs read, write or append" }),
      );
    }
    if (options.truncate && !writable) {
      return Promise.reject(
        fsError("EINVAL", op, path, { reason: "truncate needs write or append" }),
      );
    }
    const create = options.create === true || options.createNew === true;
    if (!writable && !create) return this.#openExisting(path, options);
    return this.#exclusive(() => this.#openForChange(path, options, writable, create));
  }

  async #openExisting(path: string, options: OpenOptions): Promise<FileHandle> {
    this.#guard(path, "open", false);
    const v = await this.#visible(path, "open");
    if (v.layer === "upper") return this.#wrapUpper(path, options, v.meta);
    return this.#wrapLower(path, v.meta);
  }

  async #openForChange(
    path: string,
    options: OpenOptions,
    writable: boolean,
    create: boolean,
  ): Promise<FileHandle> {
    const op = "open";
    this.#guard(path, op, true);
    const found = await this.#find(path);
    const v = found.visible;
    if (v?.layer === "upper") return this.#wrapUpper(path, options, v.meta);
    if (v) {
      if (options.createNew) throw fsError("EEXIST", op, path);
      if (v.meta.type === "dir") {
        // Linux: O_CREAT on an existing directory is EISDIR too.
        if (writable || create) throw fsError("EISDIR", op, path);
      }
      if (!writable) return this.#wrapLower(path, v.meta);
      requireFile(v.meta, op, path);
      await this.#copyUp(path, v.meta, options.truncate ? 0 : WHOLE);
      return this.#wrapUpper(path, { ...options, create: false, createNew: false });
    }
    if (!create) throw await this.#absent(path, op);
    if (found.upper.kind === "whiteout") {
      const made = await this.#inherited(path, options);
      await this.#replaceWhiteout(path, (tmp) =>
        this.upper.writeFile(tmp, new Uint8Array(), {
          mode: made.mode,
          uid: made.uid,
          gid: made.gid,
          createNew: true,
        }));
      return this.#wrapUpper(path, {
        read: options.read,
        write: options.write,
        append: options.append,
      });
    }
    await this.#prepareCreate(path, op);
    return this.#wrapUpper(path, options);
  }

  async #wrapUpper(path: string, options: OpenOptions, meta?: Metadata): Promise<FileHandle> {
    const inner = await openFile(this.upper, path, options);
    try {
      const known = meta ?? await inner.stat();
      const ino = await this.#upperIno(known.ino, path, known.type);
      return new OverlayFileHandle(this.#host, inner, path, ino);
    } catch (e) {
      await inner.close().catch(() => {});
      throw e;
    }
  }

  async #wrapLower(path: string, meta: Metadata): Promise<FileHandle> {
    const inner = await openFile(this.lower, path, { read: true });
    const ino = this.#lowerIno(meta.ino);
    const handle = new OverlayFileHandle(this.#host, inner, path, ino);
    if (meta.type !== "file") return handle;
    let set = this.#readers.get(path);
    if (set === undefined) this.#readers.set(path, set = new Set());
    set.add(handle);
    // Opening is not serialized with changes: the file may have been
    // copied up between the lookup and the registration above, and then
    // nothing would move this handle. Its copy carries its number —
    // except under a policy where copies of files get their own (see
    // #keepsLowerNumber): there the handle keeps the lower bytes, since
    // the upper file may as well be another one renamed over the name.
    const now = await this.#upperState(path);
    if (
      now.kind !== "entry" || await this.#upperIno(now.meta.ino, path, now.meta.type) !== ino
    ) return handle;
    const current = this.#readers.get(path);
    if (current?.has(handle)) {
      current.delete(handle);
      if (current.size === 0) this.#readers.delete(path);
      try {
        handle.moveTo(await openFile(this.upper, path, { read: true }), ino);
      } catch {
        // Out of upper handles: it keeps the lower bytes, as in #moveReaders.
      }
    }
    return handle;
  }

  // ------------------------------------------------------------ xattrs

  /** The value of attribute `name` of `path` (the overlay's own attributes are hidden: `ENODATA`). */
  async getXattr(path: string, name: string): Promise<Uint8Array> {
    const op = "getxattr";
    this.#guard(path, op, false);
    const v = await this.#visible(path, op);
    if (isPrivateXattr(name)) throw fsError("ENODATA", op, path, { reason: name });
    if (v.layer === "upper") return this.#upperWith("xattrs", op, path).getXattr(path, name);
    if (!supports(this.lower, "xattrs")) throw fsError("ENODATA", op, path, { reason: name });
    return this.lower.getXattr(path, name);
  }

  /** Set attribute `name` of `path`; a lower entry is copied up first. `trusted.overlay.*` is `EPERM`. */
  setXattr(
    path: string,
    name: string,
    value: Uint8Array,
    options?: SetXattrOptions,
  ): Promise<void> {
    const op = "setxattr";
    return this.#exclusive(async () => {
      const upper = this.#upperWith("xattrs", op, path);
      this.#guard(path, op, false);
      const v = await this.#visible(path, op);
      this.#refusePrivate(name, op, path);
      if (v.layer === "lower" && (options?.create || options?.replace)) {
        // Decide the flags on the lower attributes, so that a refused call
        // copies nothing up.
        const has = (await this.#lowerXattrs(path)).includes(name);
        if (has && options.create) throw fsError("EEXIST", op, path, { reason: name });
        if (!has && options.replace) throw fsError("ENODATA", op, path, { reason: name });
      }
      if (v.layer === "lower") await this.#copyUp(path, v.meta, WHOLE);
      return upper.setXattr(path, name, value, options);
    });
  }

  /** The attribute names of `path`, without the overlay's own. */
  async listXattr(path: string): Promise<string[]> {
    const op = "listxattr";
    this.#guard(path, op, false);
    const v = await this.#visible(path, op);
    const names = v.layer === "upper"
      ? await this.#upperWith("xattrs", op, path).listXattr(path)
      : await this.#lowerXattrs(path);
    return names.filter((n) => !isPrivateXattr(n));
  }

  /** Remove attribute `name` of `path`; a lower entry is copied up first. */
  removeXattr(path: string, name: string): Promise<void> {
    const op = "removexattr";
    return this.#exclusive(async () => {
      const upper = this.#upperWith("xattrs", op, path);
      this.#guard(path, op, false);
      const v = await this.#visible(path, op);
      this.#refusePrivate(name, op, path);
      if (v.layer === "lower") {
        if (!(await this.#lowerXattrs(path)).includes(name)) {
          throw fsError("ENODATA", op, path, { reason: name });
        }
        await this.#copyUp(path, v.meta, WHOLE);
      }
      return upper.removeXattr(path, name);
    });
  }

  async #lowerXattrs(path: string): Promise<string[]> {
    return supports(this.lower, "xattrs") ? await this.lower.listXattr(path) : [];
  }

  #refusePrivate(name: string, op: string, path: string): void {
    if (isPrivateXattr(name)) {
      throw fsError("EPERM", op, path, {
        reason: `${name}: trusted.overlay.* attributes belong to the overlay`,
      });
    }
  }

  // ------------------------------------------------------------ special

  /** Make a special file at `path`. A 0/0 character device is a whiteout, so it is `EPERM`. */
  mknod(
    path: string,
    mode: number,
    rdev: number,
    options?: Omit<CreateOptions, "mode">,
  ): Promise<void> {
    const op = "mknod";
    return this.#exclusive(async () => {
      const upper = this.#upperWith("special", op, path);
      if (this.hidesDeletedLower && (mode & S_IFMT) === S_IFCHR && rdev === 0) {
        throw fsError("EPERM", op, path, {
          reason: "a 0/0 character device is an overlay whiteout",
        });
      }
      this.#guard(path, op, true);
      if (path === "/") throw fsError("EEXIST", op, path);
      const found = await this.#find(path);
      if (found.visible) throw fsError("EEXIST", op, path);
      if (found.upper.kind === "whiteout") {
        const create = await this.#inherited(path, options);
        return this.#replaceWhiteout(path, (tmp) => upper.mknod(tmp, mode, rdev, create));
      }
      await this.#prepareCreate(path, op);
      return upper.mknod(path, mode, rdev, options);
    });
  }
}
