/**
 * {@linkcode MemoryBackend}: the default backend, an inode-based file system
 * in memory with every optional capability of the backend contract.
 *
 * @module
 */

import {
  ALL_CAPABILITIES,
  type Backend,
  type Capability,
  type CreateOptions,
  type FileHandle,
  type FsAppend,
  type FsCopy,
  type FsHandles,
  type FsHardlinks,
  type FsInodes,
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
  type WriteFileOptions,
} from "../core/backend.ts";
import { fsError } from "../core/errors.ts";
import { checkName, checkPath, isWithin, NAME_MAX, PATH_MAX, utf8Length } from "../core/path.ts";
import {
  type DirEntry,
  type FileType,
  type Metadata,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  type StatFs,
} from "../core/types.ts";
import { MemoryFileHandle } from "./memory_handle.ts";
import { type Inode, now, Volume } from "./memory_inode.ts";

/** Options of {@linkcode MemoryBackend}. */
export interface MemoryBackendOptions {
  /**
   * Most bytes the backend may hold: file contents, symlink targets and
   * extended attributes (names and values). 0 or absent = unlimited.
   * Beyond it, writes fail with `ENOSPC` and change nothing.
   */
  capacity?: number;
  /** Most inodes (files, directories, links, special files; the root counts). 0 or absent = unlimited. */
  maxInodes?: number;
  /**
   * Owner of new nodes and of the root. Default: the process's user id when
   * Deno may read it without prompting (`--allow-sys=uid`), else 0.
   */
  uid?: number;
  /** Group of new nodes and of the root. Default: the process's group id when readable (`--allow-sys=gid`), else 0. */
  gid?: number;
}

/** Longest symlink target in bytes (Linux: `PATH_MAX` - 1). */
const MAX_TARGET = PATH_MAX - 1;
/** Longest xattr name in bytes (Linux `XATTR_NAME_MAX`). */
const XATTR_NAME_MAX = 255;
/** Largest xattr value in bytes (Linux `XATTR_SIZE_MAX`). */
const XATTR_SIZE_MAX = 65536;
/** What `statfs` reports as available when there is no limit. */
const UNLIMITED = Number.MAX_SAFE_INTEGER;
/**
 * Bytes of memory the system has available, or `undefined` when Deno's
 * permissions do not allow asking (`--allow-sys=systemMemoryInfo`): never a
 * prompt, so the memory backend keeps needing no flag.
 */
function systemAvailableMemory(): number | undefined {
  try {
    if (Deno.permissions.querySync({ name: "sys", kind: "systemMemoryInfo" }).state !== "granted") {
      return undefined;
    }
    return Deno.systemMemoryInfo().available;
  } catch {
    // A runtime without the call (or that refuses it): no figure rather than a failed df.
    return undefined;
  }
}

/** Largest valid uid/gid (`(uid_t)-1` means "unchanged" in C, so it is not an id). */
const MAX_ID = 0xfffffffe;
const SLASH = 47;
const S_ISGID = 0o2000;
/** `end` for {@linkcode MemoryBackend.#walk}: the whole path. */
const WHOLE = Infinity;

/**
 * The capability set, shared by every instance. `Object.freeze` alone does
 * not stop `Set#add`, and a cast-away `ReadonlySet` would otherwise let one
 * caller change what every memory backend claims.
 */
const CAPABILITIES: ReadonlySet<Capability> = (() => {
  const set = new Set<Capability>(ALL_CAPABILITIES);
  const refuse = (): never => {
    throw new TypeError("MemoryBackend.capabilities is read-only");
  };
  Object.defineProperties(set, {
    add: { value: refuse },
    delete: { value: refuse },
    clear: { value: refuse },
  });
  return Object.freeze(set);
})();

function defaultId(kind: "uid" | "gid"): number {
  // Ask first: calling Deno.uid() without --allow-sys would prompt or throw.
  try {
    if (Deno.permissions.querySync({ name: "sys", kind }).state !== "granted") return 0;
    return (kind === "uid" ? Deno.uid() : Deno.gid()) ?? 0;
  } catch {
    return 0;
  }
}

function optionLimit(value: number | undefined, what: string): number {
  if (value === undefined) return 0;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw fsError("EINVAL", "MemoryBackend", "", {
      reason: `${what} must be a non-negative integer, got ${value}`,
    });
  }
  return value;
}

function isId(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= MAX_ID;
}

/** Where the last component of `path` starts, minus one; -1 for a non-string (rejected by the walk). */
function lastSlash(path: string): number {
  return typeof path === "string" ? path.lastIndexOf("/") : -1;
}

function badLength(value: number): boolean {
  return !Number.isSafeInteger(value) || value < 0;
}

/** The error for looking up a name that is not there. */
/** Whether `name` is one no entry can have (so its absence is EINVAL/ENAMETOOLONG, not ENOENT). */
function isBadName(name: string): boolean {
  return name.includes("\0") || (name.length > NAME_MAX / 4 && utf8Length(name) > NAME_MAX);
}

function missing(name: string, operation: string, path: string, dest?: string) {
  if (name.includes("\0")) {
    return fsError("EINVAL", operation, path.replaceAll("\0", "\\0"), {
      dest,
      reason: "path contains a NUL byte",
    });
  }
  if (name.length > NAME_MAX / 4 && utf8Length(name) > NAME_MAX) {
    return fsError("ENAMETOOLONG", operation, path, { dest });
  }
  return fsError("ENOENT", operation, path, { dest });
}

/**
 * Reject what `open` cannot apply to: a directory (`EISDIR`), a symlink
 * (`ELOOP`, as `open` with `O_NOFOLLOW`: backends never follow links) and
 * special files (`ENXIO`: there is no device or peer behind them in memory).
 */
function requireFile(node: Inode, operation: string, path: string, dest?: string): void {
  if (node.type === "file") return;
  if (node.type === "dir") throw fsError("EISDIR", operation, path, { dest });
  if (node.type === "symlink") {
    throw fsError("ELOOP", operation, path, {
      dest,
      reason: "the path names a symbolic link, which a backend does not follow",
    });
  }
  throw fsError("ENXIO", operation, path, {
    dest,
    reason: `a ${node.type} has no content in a memory backend`,
  });
}

function xattrNameBytes(name: string, operation: string, path: string): number {
  if (typeof name !== "string") {
    throw fsError("EINVAL", operation, path, { reason: "attribute name must be a string" });
  }
  if (name.includes("\0")) {
    throw fsError("EINVAL", operation, path, { reason: "attribute name contains a NUL byte" });
  }
  const bytes = utf8Length(name);
  if (bytes === 0 || bytes > XATTR_NAME_MAX) {
    throw fsError("ERANGE", operation, path, {
      reason: `attribute names are 1 to ${XATTR_NAME_MAX} bytes`,
    });
  }
  return bytes;
}

/**
 * An inode-based file system in memory — the default backend. Needs no
 * permissions.
 *
 * It has every optional capability: range reads, truncate, append, copy,
 * symlinks, hard links, permissions, ownership, times, sync (a no-op),
 * statfs, inode access, open handles with `flock`-style locks, extended
 * attributes and special files.
 *
 * Behaviour follows Linux (tmpfs) closely:
 * - hard links share an inode and `nlink` is exact (directories: 2 + number
 *   of subdirectories); inode numbers are never reused; the root is inode 1;
 * - times change when Linux changes them: creating sets the new node's
 *   times and the parent's mtime/ctime; writing and truncating set
 *   mtime/ctime; chmod, chown, utime, xattr changes, link and unlink set
 *   ctime; rename sets the moved node's ctime and both parents'
 *   mtime/ctime; reads update atime under `relatime` rules;
 * - an unlinked file that is still open keeps its bytes until the last
 *   handle closes;
 * - directory listings come in insertion order (a rename within a
 *   directory moves the name to the end; replacing a name keeps its place);
 * - a directory's `size` is counted as tmpfs counts it (20 bytes per entry,
 *   plus 40).
 *
 * Limits: `capacity` (bytes of file data, symlink targets and xattrs) and
 * `maxInodes`; an operation that would exceed either fails with `ENOSPC`
 * and changes nothing. {@linkcode MemoryBackend.clone} takes a cheap
 * copy-on-write snapshot.
 *
 * @example A sandbox with limits
 * ```ts
 * import { FileStorage, MemoryBackend } from "@anyfs/anyfs";
 *
 * const backend = new MemoryBackend({ capacity: 64 * 1024 * 1024, maxInodes: 10_000 });
 * const fs = new FileStorage(backend);
 * await fs.writeTextFile("/notes.txt", "hello");
 * console.log((await backend.statfs()).usedBytes); // 5
 * ```
 *
 * @example Snapshot a prepared tree for each test
 * ```ts
 * import { MemoryBackend } from "@anyfs/anyfs";
 *
 * const template = new MemoryBackend();
 * await template.mkdir("/data");
 * await template.writeFile("/data/seed.bin", new Uint8Array(1024));
 * const scratch = template.clone(); // O(inodes); file bytes shared until written
 * await scratch.writeFile("/data/seed.bin", new Uint8Array([1]));
 * console.log((await template.lstat("/data/seed.bin")).size); // 1024
 * ```
 */
export class MemoryBackend extends Layerable
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
    FsInodes,
    FsHandles,
    FsXattrs,
    FsSpecial {
  /** Every capability, `locks` included (a read-only set shared by all instances). */
  readonly capabilities: ReadonlySet<Capability> = CAPABILITIES;
  #volume: Volume;

  /**
   * An empty file system: a root directory (mode 0o755) and nothing else.
   *
   * @param options Capacity and inode limits, default owner.
   */
  constructor(options: MemoryBackendOptions = {}) {
    super();
    const capacity = optionLimit(options.capacity, "capacity");
    const maxInodes = optionLimit(options.maxInodes, "maxInodes");
    for (const key of ["uid", "gid"] as const) {
      if (options[key] !== undefined && !isId(options[key])) {
        throw fsError("EINVAL", "MemoryBackend", "", {
          reason: `${key} must be an integer from 0 to ${MAX_ID}, got ${options[key]}`,
        });
      }
    }
    this.#volume = new Volume({
      capacity,
      maxInodes,
      uid: options.uid ?? defaultId("uid"),
      gid: options.gid ?? defaultId("gid"),
    });
  }

  /**
   * A snapshot of this file system, with the same limits. Metadata is
   * copied (O(number of inodes)); file contents are shared until either
   * side changes them, so later writes to one never show in the other.
   * Files that are unlinked but still open here are not part of the copy.
   *
   * @example
   * ```ts
   * import { MemoryBackend } from "@anyfs/anyfs";
   * const a = new MemoryBackend();
   * await a.writeFile("/f", new TextEncoder().encode("one"));
   * const b = a.clone();
   * await b.writeFile("/f", new TextEncoder().encode("two"));
   * console.log(new TextDecoder().decode(await a.readFile("/f"))); // "one"
   * ```
   */
  clone(): MemoryBackend {
    const { capacity, maxInodes, uid, gid } = this.#volume.limits;
    const copy = new MemoryBackend({ capacity, maxInodes, uid, gid });
    copy.#volume = this.#volume.clone();
    return copy;
  }

  // ---------------------------------------------------------------- lookup

  /**
   * The node at `path[0, end)` (`end` is {@linkcode WHOLE} for all of it).
   * Components are sliced one at a time rather than split into an array:
   * lookups are the hot path of every operation.
   */
  #walk(path: string, end: number, operation: string, errorPath: string, dest?: string): Inode {
    return this.#descend(path, end, operation, errorPath, dest, false)!;
  }

  /**
   * The walk itself. With `missingOk`, a missing entry gives `null` instead
   * of an ENOENT error: building an Error costs microseconds in V8, a
   * thousand times the lookup, and a probe for a name about to be created
   * misses by design.
   */
  #descend(
    path: string,
    end: number,
    operation: string,
    errorPath: string,
    dest: string | undefined,
    missingOk: boolean,
  ): Inode | null {
    if (typeof path !== "string" || path.charCodeAt(0) !== SLASH) {
      throw fsError("EINVAL", operation, errorPath, {
        dest,
        reason: "backend paths are absolute and canonical",
      });
    }
    if (path.length >= PATH_MAX / 4) checkPath(path, operation);
    if (end > path.length) end = path.length;
    let node = this.#volume.root;
    if (end <= 1) return node;
    let start = 1;
    for (;;) {
      let stop = path.indexOf("/", start);
      if (stop < 0 || stop > end) stop = end;
      const entries = node.entries;
      if (entries === null) throw fsError("ENOTDIR", operation, errorPath, { dest });
      const name = path.slice(start, stop);
      const child = entries.get(name);
      if (child === undefined) {
        if (missingOk && !isBadName(name)) return null;
        throw missing(name, operation, errorPath, dest);
      }
      if (stop >= end) return child;
      node = child;
      start = stop + 1;
    }
  }

  #lookup(path: string, operation: string): Inode {
    return this.#walk(path, WHOLE, operation, path);
  }

  /** The directory that holds the last component of `path`, which starts at `cut + 1`. */
  #parent(path: string, cut: number, operation: string, errorPath = path, dest?: string): Inode {
    const dir = this.#walk(path, cut, operation, errorPath, dest);
    if (dir.entries === null) throw fsError("ENOTDIR", operation, errorPath, { dest });
    return dir;
  }

  #owner(value: number | undefined, fallback: number, operation: string, path: string): number {
    if (value === undefined) return fallback;
    if (!isId(value)) {
      throw fsError("EINVAL", operation, path, { reason: `bad owner id ${value}` });
    }
    return value;
  }

  /**
   * Create a node named `name` in `dir` (the caller checked the name and
   * asked the volume for room) and link it in.
   */
  #create(
    dir: Inode,
    name: string,
    type: FileType,
    mode: number,
    options: CreateOptions | undefined,
    operation: string,
    path: string,
  ): Inode {
    const limits = this.#volume.limits;
    const uid = this.#owner(options?.uid, limits.uid, operation, path);
    // In a set-group-ID directory new nodes take the directory's group, as
    // on Linux (BSD group semantics).
    const group = dir.mode & S_ISGID ? dir.gid : limits.gid;
    const gid = this.#owner(options?.gid, group, operation, path);
    const time = now();
    const node = this.#volume.create(type, mode, uid, gid, time);
    dir.entries!.set(name, node);
    node.addLink(dir, name);
    if (type === "dir") dir.nlink++;
    dir.touchModified(time);
    return node;
  }

  // ---------------------------------------------------------------- core

  /** Metadata of the node at `path` (a symlink describes itself). */
  // deno-lint-ignore require-await
  async lstat(path: string): Promise<Metadata> {
    return this.#lookup(path, "lstat").metadata();
  }

  /** Like {@linkcode MemoryBackend.lstat}, but `null` when nothing is at `path`. */
  // deno-lint-ignore require-await
  async tryLstat(path: string): Promise<Metadata | null> {
    return this.#descend(path, WHOLE, "lstat", path, undefined, true)?.metadata() ?? null;
  }

  /** The entries of the directory at `path`, in insertion order. */
  // deno-lint-ignore require-await
  async readDir(path: string): Promise<DirEntry[]> {
    const dir = this.#lookup(path, "readdir");
    const entries = dir.entries;
    if (entries === null) throw fsError("ENOTDIR", "readdir", path);
    const list: DirEntry[] = new Array(entries.size);
    let i = 0;
    for (const [name, node] of entries) list[i++] = { name, type: node.type, ino: node.ino };
    dir.touchAtime();
    return list;
  }

  /** A copy of the whole content of the file at `path`. */
  // deno-lint-ignore require-await
  async readFile(path: string): Promise<Uint8Array> {
    const node = this.#lookup(path, "readfile");
    requireFile(node, "readfile", path);
    node.touchAtime();
    return node.data.slice(0, node.size);
  }

  /** Replace the content of the file at `path` with a copy of `data`, creating it when missing. */
  // deno-lint-ignore require-await
  async writeFile(path: string, data: Uint8Array, options?: WriteFileOptions): Promise<void> {
    const op = "writefile";
    if (!(data instanceof Uint8Array)) {
      throw fsError("EINVAL", op, path, { reason: "data must be a Uint8Array" });
    }
    if (path === "/") throw fsError("EISDIR", op, path);
    const volume = this.#volume;
    const cut = lastSlash(path);
    const dir = this.#parent(path, cut, op);
    const name = path.slice(cut + 1);
    const node = dir.entries!.get(name);
    if (node !== undefined) {
      if (options?.createNew) throw fsError("EEXIST", op, path);
      requireFile(node, op, path);
      const before = node.size;
      volume.checkBytes(data.length - before, op, path);
      node.replace(data);
      volume.usedBytes += data.length - before;
      node.touchModified(now());
      return;
    }
    if (options?.create === false && !options.createNew) throw missing(name, op, path);
    checkName(name, op, path);
    volume.checkInode(op, path);
    volume.checkBytes(data.length, op, path);
    const mode = S_IFREG | ((options?.mode ?? 0o644) & 0o7777);
    const created = this.#create(dir, name, "file", mode, options, op, path);
    created.replace(data);
    volume.usedBytes += data.length;
  }

  /** Create the directory `path` (mode default 0o755). */
  // deno-lint-ignore require-await
  async mkdir(path: string, options?: CreateOptions): Promise<void> {
    const op = "mkdir";
    if (path === "/") throw fsError("EEXIST", op, path);
    const cut = lastSlash(path);
    const dir = this.#parent(path, cut, op);
    const name = path.slice(cut + 1);
    checkName(name, op, path);
    if (dir.entries!.has(name)) throw fsError("EEXIST", op, path);
    this.#volume.checkInode(op, path);
    // As mkdir(2): set-user-ID and set-group-ID are not taken from `mode`;
    // set-group-ID comes from a set-group-ID parent (see #create).
    const mode = S_IFDIR | ((options?.mode ?? 0o755) & 0o1777) | (dir.mode & S_ISGID);
    this.#create(dir, name, "dir", mode, options, op, path);
  }

  /** Remove the non-directory at `path`; its bytes go when no name and no handle is left. */
  // deno-lint-ignore require-await
  async unlink(path: string): Promise<void> {
    const op = "unlink";
    if (path === "/") throw fsError("EISDIR", op, path);
    const cut = lastSlash(path);
    const dir = this.#parent(path, cut, op);
    const name = path.slice(cut + 1);
    const node = dir.entries!.get(name);
    if (node === undefined) throw missing(name, op, path);
    if (node.entries !== null) throw fsError("EISDIR", op, path);
    const time = now();
    dir.entries!.delete(name);
    node.removeLink(dir, name);
    node.nlink--;
    node.ctimeMs = time;
    dir.touchModified(time);
    this.#volume.release(node);
  }

  /** Remove the empty directory at `path`. */
  // deno-lint-ignore require-await
  async rmdir(path: string): Promise<void> {
    const op = "rmdir";
    if (path === "/") throw fsError("EBUSY", op, path);
    const cut = lastSlash(path);
    const dir = this.#parent(path, cut, op);
    const name = path.slice(cut + 1);
    const node = dir.entries!.get(name);
    if (node === undefined) throw missing(name, op, path);
    if (node.entries === null) throw fsError("ENOTDIR", op, path);
    if (node.entries.size !== 0) throw fsError("ENOTEMPTY", op, path);
    const time = now();
    dir.entries!.delete(name);
    node.removeLink(dir, name);
    node.nlink = 0;
    dir.nlink--;
    node.ctimeMs = time;
    dir.touchModified(time);
    this.#volume.release(node);
  }

  /** Rename with `rename(2)` semantics (see {@linkcode Backend.rename}). */
  // deno-lint-ignore require-await
  async rename(from: string, to: string): Promise<void> {
    const op = "rename";
    // Checks in the order Linux makes them, so that each case reports the
    // same code: both parents, the root, the source, the subtree rules,
    // then the target.
    const fromCut = lastSlash(from);
    const toCut = lastSlash(to);
    const fromDir = this.#parent(from, fromCut, op, from, to);
    const toDir = this.#parent(to, toCut, op, from, to);
    if (from === "/" || to === "/") throw fsError("EBUSY", op, from, { dest: to });
    const fromName = from.slice(fromCut + 1);
    const toName = to.slice(toCut + 1);
    const node = fromDir.entries!.get(fromName);
    if (node === undefined) throw missing(fromName, op, from, to);
    if (from === to) return;
    checkName(toName, op, to);
    if (node.entries !== null && isWithin(to, from)) {
      throw fsError("EINVAL", op, from, {
        dest: to,
        reason: "cannot move a directory into itself",
      });
    }
    if (isWithin(from, to)) throw fsError("ENOTEMPTY", op, from, { dest: to });
    const target = toDir.entries!.get(toName);
    if (target === node) return; // another name of the same inode: POSIX says do nothing
    if (target !== undefined) {
      if (node.entries !== null && target.entries === null) {
        throw fsError("ENOTDIR", op, from, { dest: to });
      }
      if (node.entries === null && target.entries !== null) {
        throw fsError("EISDIR", op, from, { dest: to });
      }
      if (target.entries !== null && target.entries.size !== 0) {
        throw fsError("ENOTEMPTY", op, from, { dest: to });
      }
    }
    const time = now();
    if (target !== undefined) {
      target.removeLink(toDir, toName);
      if (target.entries !== null) {
        target.nlink = 0;
        toDir.nlink--;
      } else {
        target.nlink--;
      }
      target.ctimeMs = time;
    }
    fromDir.entries!.delete(fromName);
    toDir.entries!.set(toName, node);
    node.moveLink(fromDir, fromName, toDir, toName);
    if (node.entries !== null) {
      fromDir.nlink--;
      toDir.nlink++;
    }
    node.ctimeMs = time;
    fromDir.touchModified(time);
    toDir.touchModified(time);
    if (target !== undefined) this.#volume.release(target);
  }

  // ---------------------------------------------------------------- content

  /** A copy of up to `length` bytes of the file at `path` from `offset`. */
  // deno-lint-ignore require-await
  async read(path: string, offset: number, length: number): Promise<Uint8Array> {
    const op = "read";
    if (badLength(offset) || badLength(length)) {
      throw fsError("EINVAL", op, path, { reason: `bad range ${offset}+${length}` });
    }
    const node = this.#lookup(path, op);
    requireFile(node, op, path);
    if (length !== 0) node.touchAtime();
    const start = Math.min(offset, node.size);
    return node.data.slice(start, Math.min(node.size, start + length));
  }

  /** Set the size of the file at `path`: grow with zeros or shrink. */
  // deno-lint-ignore require-await
  async truncate(path: string, length: number): Promise<void> {
    const op = "truncate";
    if (badLength(length)) throw fsError("EINVAL", op, path, { reason: `bad length ${length}` });
    const node = this.#lookup(path, op);
    if (node.entries !== null) throw fsError("EISDIR", op, path);
    if (node.type !== "file") throw fsError("EINVAL", op, path, { reason: "not a regular file" });
    const before = node.size;
    if (length === before) return;
    this.#volume.checkBytes(length - before, op, path);
    node.resize(length);
    this.#volume.usedBytes += length - before;
    node.touchModified(now());
  }

  /** Append a copy of `data` to the file at `path`, creating it when missing. */
  // deno-lint-ignore require-await
  async appendFile(path: string, data: Uint8Array, options?: CreateOptions): Promise<void> {
    const op = "appendfile";
    if (!(data instanceof Uint8Array)) {
      throw fsError("EINVAL", op, path, { reason: "data must be a Uint8Array" });
    }
    if (path === "/") throw fsError("EISDIR", op, path);
    const volume = this.#volume;
    const cut = lastSlash(path);
    const dir = this.#parent(path, cut, op);
    const name = path.slice(cut + 1);
    let node = dir.entries!.get(name);
    if (node !== undefined) {
      requireFile(node, op, path);
      if (data.length === 0) return;
      if (!Number.isSafeInteger(node.size + data.length)) throw fsError("EFBIG", op, path);
      volume.checkBytes(data.length, op, path);
    } else {
      checkName(name, op, path);
      volume.checkInode(op, path);
      volume.checkBytes(data.length, op, path);
      const mode = S_IFREG | ((options?.mode ?? 0o644) & 0o7777);
      node = this.#create(dir, name, "file", mode, options, op, path);
      if (data.length === 0) return;
    }
    node.writeAt(data, node.size);
    volume.usedBytes += data.length;
    node.touchModified(now());
  }

  /**
   * Copy the file `from` over `to` (content and permission bits). The copy
   * shares the bytes until either file changes. Copying a file onto itself
   * (or onto another of its names) changes nothing.
   */
  // deno-lint-ignore require-await
  async copyFile(from: string, to: string): Promise<void> {
    const op = "copyfile";
    const volume = this.#volume;
    const source = this.#walk(from, WHOLE, op, from, to);
    requireFile(source, op, from, to);
    if (to === "/") throw fsError("EISDIR", op, from, { dest: to });
    const cut = lastSlash(to);
    const dir = this.#parent(to, cut, op, from, to);
    const name = to.slice(cut + 1);
    let target = dir.entries!.get(name);
    if (target === source) return;
    const perms = source.mode & 0o7777;
    if (target !== undefined) {
      requireFile(target, op, from, to);
      volume.checkBytes(source.size - target.size, op, from);
      volume.usedBytes += source.size - target.size;
      target.mode = S_IFREG | perms;
      target.touchModified(now());
    } else {
      checkName(name, op, to);
      volume.checkInode(op, to);
      volume.checkBytes(source.size, op, from);
      target = this.#create(dir, name, "file", S_IFREG | perms, undefined, op, to);
      volume.usedBytes += source.size;
    }
    target.data = source.data;
    target.size = source.size;
    target.shared = source.data.length !== 0;
    if (target.shared) source.shared = true;
    source.touchAtime();
  }

  // ---------------------------------------------------------------- links

  /** Create a symlink at `path` holding `target` verbatim. */
  // deno-lint-ignore require-await
  async symlink(
    target: string,
    path: string,
    options?: Omit<CreateOptions, "mode">,
  ): Promise<void> {
    const op = "symlink";
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
    const bytes = utf8Length(target);
    if (bytes > MAX_TARGET) throw fsError("ENAMETOOLONG", op, target, { dest: path });
    if (path === "/") throw fsError("EEXIST", op, target, { dest: path });
    const volume = this.#volume;
    const cut = lastSlash(path);
    const dir = this.#parent(path, cut, op, target, path);
    const name = path.slice(cut + 1);
    checkName(name, op, path);
    if (dir.entries!.has(name)) throw fsError("EEXIST", op, target, { dest: path });
    volume.checkInode(op, path);
    volume.checkBytes(bytes, op, path);
    const node = this.#create(dir, name, "symlink", S_IFLNK | 0o777, options, op, path);
    node.target = target;
    node.size = bytes;
    volume.usedBytes += bytes;
  }

  /** The target of the symlink at `path`; `EINVAL` for anything else. */
  // deno-lint-ignore require-await
  async readLink(path: string): Promise<string> {
    const node = this.#lookup(path, "readlink");
    if (node.type !== "symlink") throw fsError("EINVAL", "readlink", path);
    node.touchAtime();
    return node.target;
  }

  /** Add the name `newPath` for the non-directory at `existing`. */
  // deno-lint-ignore require-await
  async link(existing: string, newPath: string): Promise<void> {
    const op = "link";
    const node = this.#walk(existing, WHOLE, op, existing, newPath);
    if (newPath === "/") throw fsError("EEXIST", op, existing, { dest: newPath });
    const cut = lastSlash(newPath);
    const dir = this.#parent(newPath, cut, op, existing, newPath);
    const name = newPath.slice(cut + 1);
    checkName(name, op, newPath);
    if (dir.entries!.has(name)) throw fsError("EEXIST", op, existing, { dest: newPath });
    if (node.entries !== null) {
      throw fsError("EPERM", op, existing, {
        dest: newPath,
        reason: "directories cannot be hard-linked",
      });
    }
    const time = now();
    dir.entries!.set(name, node);
    node.addLink(dir, name);
    node.nlink++;
    node.ctimeMs = time;
    dir.touchModified(time);
  }

  // ---------------------------------------------------------------- attributes

  /** Set the permission bits of the node at `path`. */
  // deno-lint-ignore require-await
  async chmod(path: string, mode: number): Promise<void> {
    if (!Number.isInteger(mode)) {
      throw fsError("EINVAL", "chmod", path, { reason: `bad mode ${mode}` });
    }
    const node = this.#lookup(path, "chmod");
    if (node.type === "symlink") {
      // Linux has no lchmod: a symlink's mode is always 0777.
      throw fsError("ENOTSUP", "chmod", path, {
        reason: "the mode of a symbolic link cannot be changed",
      });
    }
    node.mode = (node.mode & S_IFMT) | (mode & 0o7777);
    node.ctimeMs = now();
  }

  /**
   * Set owner and/or group (`null` keeps one). As on Linux, this clears the
   * set-user-ID bit of a non-directory, and its set-group-ID bit when it is
   * group-executable.
   */
  // deno-lint-ignore require-await
  async chown(path: string, uid: number | null, gid: number | null): Promise<void> {
    if ((uid !== null && !isId(uid)) || (gid !== null && !isId(gid))) {
      throw fsError("EINVAL", "chown", path, { reason: `bad owner ${uid}:${gid}` });
    }
    const node = this.#lookup(path, "chown");
    if (uid !== null) node.uid = uid;
    if (gid !== null) node.gid = gid;
    if (node.entries === null) {
      let mode = node.mode & ~0o4000;
      if (mode & 0o010) mode &= ~0o2000;
      node.mode = mode;
    }
    node.ctimeMs = now();
  }

  /** Set atime and/or mtime (`null` keeps one); ctime becomes now. */
  // deno-lint-ignore require-await
  async utime(path: string, atimeMs: number | null, mtimeMs: number | null): Promise<void> {
    if (
      (atimeMs !== null && !Number.isFinite(atimeMs)) ||
      (mtimeMs !== null && !Number.isFinite(mtimeMs))
    ) {
      throw fsError("EINVAL", "utime", path, { reason: `bad times ${atimeMs}, ${mtimeMs}` });
    }
    const node = this.#lookup(path, "utime");
    if (atimeMs !== null) node.atimeMs = atimeMs;
    if (mtimeMs !== null) node.mtimeMs = mtimeMs;
    node.ctimeMs = now();
  }

  // ---------------------------------------------------------------- whole fs

  /** Nothing to flush: memory is the storage. */
  sync(): Promise<void> {
    return Promise.resolve();
  }

  /** Nothing to flush; fails only when `path` does not exist. */
  // deno-lint-ignore require-await
  async fsync(path: string): Promise<void> {
    this.#lookup(path, "fsync");
  }

  /**
   * Capacity and usage; a total of 0 means unlimited. Without a `capacity`
   * the content lives in the process's memory, so when Deno allows asking
   * (`--allow-sys=systemMemoryInfo`, checked without a prompt) the available
   * bytes are the memory the system has available and the total is used +
   * available — what `df` on a mounted `mem:` drive then shows, as for
   * tmpfs — instead of a figure that invites writing until the process runs
   * out of memory.
   */
  // deno-lint-ignore require-await
  async statfs(): Promise<StatFs> {
    const volume = this.#volume;
    const { capacity, maxInodes } = volume.limits;
    const inodes = volume.table.size;
    const memory = capacity === 0 ? systemAvailableMemory() : undefined;
    return {
      totalBytes: capacity !== 0 ? capacity : memory === undefined ? 0 : volume.usedBytes + memory,
      usedBytes: volume.usedBytes,
      availableBytes: capacity !== 0
        ? Math.max(0, capacity - volume.usedBytes)
        : memory ?? UNLIMITED,
      totalInodes: maxInodes,
      usedInodes: inodes,
      availableInodes: maxInodes === 0 ? UNLIMITED : Math.max(0, maxInodes - inodes),
      blockSize: 4096,
      maxNameLength: NAME_MAX,
    };
  }

  #inode(ino: number, operation: string): Inode {
    const node = this.#volume.table.get(ino);
    if (node === undefined) throw fsError("ENOENT", operation, `#${ino}`);
    return node;
  }

  /** Metadata of inode `ino`, also while it is unlinked but open. */
  // deno-lint-ignore require-await
  async statIno(ino: number): Promise<Metadata> {
    return this.#inode(ino, "stat").metadata();
  }

  /** One current path of inode `ino`; `ENOENT` once it has no name. */
  // deno-lint-ignore require-await
  async inodePath(ino: number): Promise<string> {
    const node = this.#inode(ino, "stat");
    const root = this.#volume.root;
    if (node === root) return "/";
    if (node.parent === null) throw fsError("ENOENT", "stat", `#${ino}`);
    const names: string[] = [];
    for (let n = node; n !== root; n = n.parent!) names.push(n.name);
    return "/" + names.reverse().join("/");
  }

  // ---------------------------------------------------------------- handles

  /**
   * Open the file at `path`. A directory can be opened for reading only
   * (its reads fail with `EISDIR`). `truncate` needs `write` or `append`
   * and at least one access mode is needed (`EINVAL` otherwise).
   */
  // deno-lint-ignore require-await
  async open(path: string, options: OpenOptions = {}): Promise<FileHandle> {
    const op = "open";
    const append = options.append === true;
    const writable = append || options.write === true;
    const readable = options.read ?? !writable;
    if (!readable && !writable) {
      throw fsError("EINVAL", op, path, { reason: "open needs read, write or append" });
    }
    if (options.truncate && !writable) {
      throw fsError("EINVAL", op, path, { reason: "truncate needs write or append" });
    }
    const createNew = options.createNew === true;
    const volume = this.#volume;
    let node: Inode | undefined;
    if (path === "/") {
      node = volume.root;
    } else {
      const cut = lastSlash(path);
      const dir = this.#parent(path, cut, op);
      const name = path.slice(cut + 1);
      node = dir.entries!.get(name);
      if (node === undefined) {
        if (!createNew && options.create !== true) throw missing(name, op, path);
        checkName(name, op, path);
        volume.checkInode(op, path);
        const mode = S_IFREG | ((options.mode ?? 0o644) & 0o7777);
        node = this.#create(dir, name, "file", mode, options, op, path);
        return new MemoryFileHandle(volume, node, path, readable, writable, append);
      }
    }
    if (createNew) throw fsError("EEXIST", op, path);
    if (node.entries !== null) {
      // Linux: O_CREAT on an existing directory is EISDIR too.
      if (writable || options.create) throw fsError("EISDIR", op, path);
      return new MemoryFileHandle(volume, node, path, true, false, false);
    }
    requireFile(node, op, path);
    if (options.truncate) {
      // O_TRUNC marks the times even when the file is already empty.
      volume.usedBytes -= node.size;
      node.resize(0);
      node.touchModified(now());
    }
    return new MemoryFileHandle(volume, node, path, readable, writable, append);
  }

  // ---------------------------------------------------------------- xattrs

  /** A copy of the value of attribute `name`; `ENODATA` when it is not set. */
  // deno-lint-ignore require-await
  async getXattr(path: string, name: string): Promise<Uint8Array> {
    const op = "getxattr";
    xattrNameBytes(name, op, path);
    const node = this.#lookup(path, op);
    const value = node.xattrs?.get(name);
    if (value === undefined) throw fsError("ENODATA", op, path, { reason: name });
    return value.slice();
  }

  /**
   * Set attribute `name` to a copy of `value`. Any name of 1 to 255 bytes
   * is accepted (no namespace prefix is required); values are at most 64 KiB
   * (`E2BIG`). Symlinks and special files can carry attributes too.
   */
  // deno-lint-ignore require-await
  async setXattr(
    path: string,
    name: string,
    value: Uint8Array,
    options?: SetXattrOptions,
  ): Promise<void> {
    const op = "setxattr";
    const nameBytes = xattrNameBytes(name, op, path);
    if (!(value instanceof Uint8Array)) {
      throw fsError("EINVAL", op, path, { reason: "value must be a Uint8Array" });
    }
    if (value.length > XATTR_SIZE_MAX) {
      throw fsError("E2BIG", op, path, {
        reason: `attribute values are at most ${XATTR_SIZE_MAX} bytes`,
        limit: XATTR_SIZE_MAX,
        requested: value.length,
      });
    }
    const node = this.#lookup(path, op);
    const old = node.xattrs?.get(name);
    if (old !== undefined && options?.create) throw fsError("EEXIST", op, path, { reason: name });
    if (old === undefined && options?.replace) throw fsError("ENODATA", op, path, { reason: name });
    const delta = old === undefined ? nameBytes + value.length : value.length - old.length;
    const volume = this.#volume;
    volume.checkBytes(delta, op, path);
    (node.xattrs ??= new Map()).set(name, value.slice());
    node.xattrBytes += delta;
    volume.usedBytes += delta;
    node.ctimeMs = now();
  }

  /** The attribute names of the node at `path`, in the order they were first set. */
  // deno-lint-ignore require-await
  async listXattr(path: string): Promise<string[]> {
    const node = this.#lookup(path, "listxattr");
    return node.xattrs === null ? [] : [...node.xattrs.keys()];
  }

  /** Remove attribute `name`; `ENODATA` when it is not set. */
  // deno-lint-ignore require-await
  async removeXattr(path: string, name: string): Promise<void> {
    const op = "removexattr";
    const nameBytes = xattrNameBytes(name, op, path);
    const node = this.#lookup(path, op);
    const old = node.xattrs?.get(name);
    if (old === undefined) throw fsError("ENODATA", op, path, { reason: name });
    node.xattrs!.delete(name);
    const bytes = nameBytes + old.length;
    node.xattrBytes -= bytes;
    this.#volume.usedBytes -= bytes;
    node.ctimeMs = now();
  }

  // ---------------------------------------------------------------- special

  /**
   * Create a node whose type is given by the `S_IFMT` bits of `mode`: a
   * FIFO, socket, character or block device (with `rdev`), or a regular
   * file (`S_IFREG` or no type bits). `S_IFDIR` gives `EPERM`, any other
   * type `EINVAL`, as `mknod(2)` does.
   */
  // deno-lint-ignore require-await
  async mknod(
    path: string,
    mode: number,
    rdev: number,
    options?: Omit<CreateOptions, "mode">,
  ): Promise<void> {
    const op = "mknod";
    if (!Number.isInteger(mode) || badLength(rdev)) {
      throw fsError("EINVAL", op, path, { reason: `bad mode ${mode} or rdev ${rdev}` });
    }
    let type: FileType;
    let bits: number;
    switch (mode & S_IFMT) {
      case 0:
      case S_IFREG:
        type = "file";
        bits = S_IFREG;
        break;
      case S_IFIFO:
        type = "fifo";
        bits = S_IFIFO;
        break;
      case S_IFSOCK:
        type = "socket";
        bits = S_IFSOCK;
        break;
      case S_IFCHR:
        type = "chardev";
        bits = S_IFCHR;
        break;
      case S_IFBLK:
        type = "blockdev";
        bits = S_IFBLK;
        break;
      case S_IFDIR:
        throw fsError("EPERM", op, path, { reason: "use mkdir to create directories" });
      default:
        throw fsError("EINVAL", op, path, { reason: `bad file type in mode ${mode.toString(8)}` });
    }
    if (path === "/") throw fsError("EEXIST", op, path);
    const cut = lastSlash(path);
    const dir = this.#parent(path, cut, op);
    const name = path.slice(cut + 1);
    checkName(name, op, path);
    if (dir.entries!.has(name)) throw fsError("EEXIST", op, path);
    this.#volume.checkInode(op, path);
    const node = this.#create(dir, name, type, bits | (mode & 0o7777), options, op, path);
    if (type === "chardev" || type === "blockdev") node.rdev = rdev;
  }
}
