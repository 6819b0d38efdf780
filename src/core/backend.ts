/**
 * The backend contract: a small required core plus optional capabilities
 * that callers detect at run time.
 *
 * ## Paths
 * Every path a backend receives is absolute, normalized and canonical:
 * it starts with `/`, has no empty, `.` or `..` components and no trailing
 * slash (the root is `/`), and **no directory component is a symbolic
 * link** — the caller (a {@linkcode FileStorage}'s resolver, or the kernel
 * behind a mount) has already followed them. A backend therefore never
 * follows symlinks itself: every operation applies to the named entry, and
 * the metadata of a symlink describes the link. If a directory component is
 * nevertheless not a directory, the backend fails with `ENOTDIR`; an
 * operation on file content (`readFile`, `writeFile`, `open`, `read`, …)
 * whose path names a symlink fails with `ELOOP`, as `O_NOFOLLOW` does.
 * Callers rely on both to resolve links lazily.
 *
 * ## Errors
 * Backends throw members of the {@linkcode FsError} family
 * ({@linkcode fsError}) with POSIX codes and the semantics of Linux: e.g.
 * `rename` onto a non-empty directory is `ENOTEMPTY`, into its own subtree
 * `EINVAL`; `rmdir` of a file is `ENOTDIR`; `unlink` of a directory `EISDIR`.
 * Anything else a backend throws reaches callers as `EIO`.
 *
 * ## Capabilities
 * The required core is {@linkcode Backend}. Everything else is an optional
 * capability ({@linkcode Capability}); {@linkcode supports} tells whether a
 * backend has one. A backend that declares no `capabilities` set has the
 * capabilities whose methods it implements; wrappers (middleware) declare
 * the set explicitly so they never claim more than what they wrap.
 *
 * @module
 */

import type { DirEntry, Metadata, StatFs } from "./types.ts";

/** Options for creating a node: permission bits and owner. */
export interface CreateOptions {
  /** Permission bits for a new node (type bits are ignored). Default 0o644 for files, 0o755 for directories, 0o777 for symlinks. */
  mode?: number;
  /** Owner of a new node (default: the backend's default owner). */
  uid?: number;
  /** Group of a new node (default: the backend's default group). */
  gid?: number;
}

/** Options of {@linkcode Backend.writeFile}. */
export interface WriteFileOptions extends CreateOptions {
  /** Create the file if it is missing (default `true`); `false` → `ENOENT` when missing. */
  create?: boolean;
  /** Fail with `EEXIST` when the file already exists (default `false`). */
  createNew?: boolean;
}

/** The required core every backend implements. */
export interface Backend {
  /**
   * The capabilities this backend offers. Optional for backends, which are
   * then inferred from the methods present; wrappers must declare it.
   */
  readonly capabilities?: ReadonlySet<Capability>;

  /** Metadata of the entry at `path`, never following a final symlink. */
  lstat(path: string): Promise<Metadata>;
  /**
   * Optional fast path of {@linkcode Backend.lstat}: the same result, but
   * `null` instead of an `ENOENT` rejection when nothing is at `path` (every
   * other failure rejects as `lstat` does). Callers probe names that are
   * about to be created, and an Error costs V8 microseconds to build; use
   * {@linkcode tryLstat} rather than calling this directly.
   */
  tryLstat?(path: string): Promise<Metadata | null>;
  /** The entries of the directory at `path`, without `.` and `..`, in a stable order. */
  readDir(path: string): Promise<DirEntry[]>;
  /** The whole content of the regular file at `path`. */
  readFile(path: string): Promise<Uint8Array>;
  /**
   * Replace the content of the regular file at `path` with `data`, creating
   * it (with `options.mode`, default 0o644) when missing. `data` is copied.
   */
  writeFile(
    path: string,
    data: Uint8Array,
    options?: WriteFileOptions,
  ): Promise<void>;
  /** Create the directory `path` (not its parents); `EEXIST` if anything is there. */
  mkdir(path: string, options?: CreateOptions): Promise<void>;
  /** Remove a non-directory entry (file, symlink, special file); `EISDIR` for a directory. */
  unlink(path: string): Promise<void>;
  /** Remove an empty directory; `ENOTEMPTY`, `ENOTDIR`, `EBUSY` for the root. */
  rmdir(path: string): Promise<void>;
  /**
   * Rename `from` to `to` with POSIX `rename(2)` semantics: an existing file
   * or empty directory at `to` is replaced atomically, a non-empty directory
   * gives `ENOTEMPTY`, a directory into its own subtree `EINVAL`, a
   * directory over a file `ENOTDIR`, a file over a directory `EISDIR`, and
   * renaming an entry onto another link of the same inode does nothing.
   */
  rename(from: string, to: string): Promise<void>;
}

/** The names of the optional capabilities. */
export type Capability =
  | "ranges"
  | "truncate"
  | "append"
  | "copy"
  | "symlinks"
  | "hardlinks"
  | "permissions"
  | "ownership"
  | "times"
  | "sync"
  | "statfs"
  | "inodes"
  | "handles"
  | "locks"
  | "xattrs"
  | "special";

/** `ranges`: read part of a file without reading all of it. */
export interface FsRanges {
  /** Up to `length` bytes from `offset`; fewer (or none) at end of file. */
  read(path: string, offset: number, length: number): Promise<Uint8Array>;
}

/** `truncate`: change a file's size in place (grow with zeros, or shrink). */
export interface FsTruncate {
  /** Set the size of the regular file at `path` to `length`. */
  truncate(path: string, length: number): Promise<void>;
}

/** `append`: append to a file without rewriting it. */
export interface FsAppend {
  /** Append `data` to `path`, creating it (with `options`) when missing. */
  appendFile(
    path: string,
    data: Uint8Array,
    options?: CreateOptions,
  ): Promise<void>;
}

/** `copy`: copy a file inside the backend without passing its bytes through the caller. */
export interface FsCopy {
  /** Copy the regular file `from` over `to` (content and permission bits). */
  copyFile(from: string, to: string): Promise<void>;
}

/** `symlinks`: symbolic links. */
export interface FsSymlinks {
  /** Create a symlink at `path` whose content is `target` (stored verbatim, never resolved). */
  symlink(
    target: string,
    path: string,
    options?: Omit<CreateOptions, "mode">,
  ): Promise<void>;
  /** The target stored in the symlink at `path`; `EINVAL` if it is not a symlink. */
  readLink(path: string): Promise<string>;
}

/** `hardlinks`: several names for one inode. */
export interface FsHardlinks {
  /** Add the name `newPath` for the non-directory at `existing` (`EPERM` for a directory). */
  link(existing: string, newPath: string): Promise<void>;
}

/** `permissions`: change permission bits. */
export interface FsPermissions {
  /** Set the permission bits (`mode & 0o7777`) of the entry at `path`. */
  chmod(path: string, mode: number): Promise<void>;
}

/** `ownership`: change owner and group. */
export interface FsOwnership {
  /** Set owner and/or group of the entry at `path`; `null` leaves one unchanged. */
  chown(path: string, uid: number | null, gid: number | null): Promise<void>;
}

/** `times`: set access and modification times. */
export interface FsTimes {
  /** Set atime and/or mtime (ms since epoch) of the entry at `path`; `null` leaves one unchanged. */
  utime(
    path: string,
    atimeMs: number | null,
    mtimeMs: number | null,
  ): Promise<void>;
}

/** `sync`: durability. */
export interface FsSync {
  /** Make every completed write durable. */
  sync(): Promise<void>;
  /** Make completed writes to `path` durable. */
  fsync(path: string): Promise<void>;
}

/** `statfs`: capacity figures. */
export interface FsStats {
  /** Capacity and usage of the whole backend. */
  statfs(): Promise<StatFs>;
}

/**
 * `inodes`: access by inode number, for backends whose inode numbers are
 * their own (stable, reused only after the inode is gone).
 */
export interface FsInodes {
  /** Metadata by inode number, also for an unlinked inode still held open. */
  statIno(ino: number): Promise<Metadata>;
  /** One current path of inode `ino`; `ENOENT` when it has no name any more. */
  inodePath(ino: number): Promise<string>;
}

/** How a file is opened by {@linkcode FsHandles.open}. */
export interface OpenOptions extends CreateOptions {
  /** Open for reading (default `true` unless `write` or `append` is set). */
  read?: boolean;
  /** Open for writing. */
  write?: boolean;
  /** Every write goes to the end of the file, whatever its position (implies `write`). */
  append?: boolean;
  /** Create the file when missing. */
  create?: boolean;
  /** Fail with `EEXIST` when the file exists (implies `create`). */
  createNew?: boolean;
  /** Truncate to length 0 on open (needs `write` or `append`). */
  truncate?: boolean;
}

/** The kind of a whole-file advisory lock. */
export type LockMode = "shared" | "exclusive";

/**
 * An open file. It keeps referring to the same inode when the file is
 * renamed or unlinked: an unlinked file's data lives until the last handle
 * is closed.
 */
export interface FileHandle {
  /** The path the file was opened at (for error messages). */
  readonly path: string;
  /**
   * Up to `length` bytes from `position`; an empty array at or past the end.
   * The result may be a view of the backend's storage: treat it as read-only
   * and copy it before the next write if you keep it.
   */
  read(position: number, length: number): Promise<Uint8Array>;
  /** Write all of `data` at `position` (at the end when opened with `append`); returns bytes written. `data` is copied. */
  write(data: Uint8Array, position: number): Promise<number>;
  /** Set the file's size (grow with zeros or shrink). */
  truncate(length: number): Promise<void>;
  /** The file's metadata. */
  stat(): Promise<Metadata>;
  /** Make this file's completed writes durable. */
  sync(): Promise<void>;
  /** Release the handle; later calls fail with `EBADF`. */
  close(): Promise<void>;
  /**
   * Take a whole-file advisory lock held by this handle (`locks` capability).
   * With `wait` false a conflicting lock gives `EAGAIN`; with `wait` true it
   * waits until the lock can be taken. Converting a held lock is allowed.
   */
  lock?(mode: LockMode, wait: boolean): Promise<void>;
  /** Release this handle's lock (no-op when none is held). */
  unlock?(): Promise<void>;
}

/** `handles`: open files with positional I/O. */
export interface FsHandles {
  /**
   * Open the regular file at `path`. Opening a directory gives `EISDIR`
   * when writing is asked for; a symlink is never followed (`ELOOP` is not
   * used: the caller resolves links).
   */
  open(path: string, options: OpenOptions): Promise<FileHandle>;
}

/** Flags of {@linkcode FsXattrs.setXattr}. */
export interface SetXattrOptions {
  /** Fail with `EEXIST` when the attribute exists. */
  create?: boolean;
  /** Fail with `ENODATA` when the attribute is missing. */
  replace?: boolean;
}

/** `xattrs`: extended attributes. */
export interface FsXattrs {
  /** The value of attribute `name`; `ENODATA` when it is not set. */
  getXattr(path: string, name: string): Promise<Uint8Array>;
  /** Set attribute `name` to `value` (copied). */
  setXattr(
    path: string,
    name: string,
    value: Uint8Array,
    options?: SetXattrOptions,
  ): Promise<void>;
  /** The names of all attributes of the entry, in a stable order. */
  listXattr(path: string): Promise<string[]>;
  /** Remove attribute `name`; `ENODATA` when it is not set. */
  removeXattr(path: string, name: string): Promise<void>;
}

/** `special`: named pipes, sockets and device nodes. */
export interface FsSpecial {
  /** Create a node whose type comes from the `S_IFMT` bits of `mode` (a regular file for `S_IFREG`). */
  mknod(
    path: string,
    mode: number,
    rdev: number,
    options?: Omit<CreateOptions, "mode">,
  ): Promise<void>;
}

/** The interface each capability name stands for. */
export interface CapabilityMap {
  /** Range reads. */
  ranges: FsRanges;
  /** In-place truncation. */
  truncate: FsTruncate;
  /** Appending. */
  append: FsAppend;
  /** Backend-side copies. */
  copy: FsCopy;
  /** Symbolic links. */
  symlinks: FsSymlinks;
  /** Hard links. */
  hardlinks: FsHardlinks;
  /** chmod. */
  permissions: FsPermissions;
  /** chown. */
  ownership: FsOwnership;
  /** utime. */
  times: FsTimes;
  /** sync/fsync. */
  sync: FsSync;
  /** statfs. */
  statfs: FsStats;
  /** Inode access. */
  inodes: FsInodes;
  /** Open handles. */
  handles: FsHandles;
  /** Locks on handles (implies `handles`). */
  locks: FsHandles;
  /** Extended attributes. */
  xattrs: FsXattrs;
  /** Special files. */
  special: FsSpecial;
}

/** The name of every backend method: the required core and every capability's. */
export type BackendOperation =
  | "lstat"
  | "readDir"
  | "readFile"
  | "writeFile"
  | "mkdir"
  | "unlink"
  | "rmdir"
  | "rename"
  | "read"
  | "truncate"
  | "appendFile"
  | "copyFile"
  | "symlink"
  | "readLink"
  | "link"
  | "chmod"
  | "chown"
  | "utime"
  | "sync"
  | "fsync"
  | "statfs"
  | "statIno"
  | "inodePath"
  | "open"
  | "getXattr"
  | "setXattr"
  | "listXattr"
  | "removeXattr"
  | "mknod";

/** A {@linkcode FileHandle} method, named as middleware report it. */
export type HandleOperation =
  | "handle.read"
  | "handle.write"
  | "handle.truncate"
  | "handle.stat"
  | "handle.sync"
  | "handle.lock"
  | "handle.unlock"
  | "handle.close";

/** Every capability name, in a fixed order. */
export const ALL_CAPABILITIES: readonly Capability[] = [
  "ranges",
  "truncate",
  "append",
  "copy",
  "symlinks",
  "hardlinks",
  "permissions",
  "ownership",
  "times",
  "sync",
  "statfs",
  "inodes",
  "handles",
  "locks",
  "xattrs",
  "special",
];

/** The methods whose presence implies a capability, for backends that declare none. */
const METHODS: Readonly<Record<Capability, readonly string[]>> = {
  ranges: ["read"],
  truncate: ["truncate"],
  append: ["appendFile"],
  copy: ["copyFile"],
  symlinks: ["symlink", "readLink"],
  hardlinks: ["link"],
  permissions: ["chmod"],
  ownership: ["chown"],
  times: ["utime"],
  sync: ["sync", "fsync"],
  statfs: ["statfs"],
  inodes: ["statIno", "inodePath"],
  handles: ["open"],
  // Locks live on handles, which cannot be inspected without opening one:
  // a backend offering them must say so in `capabilities`.
  locks: [],
  xattrs: ["getXattr", "setXattr", "listXattr", "removeXattr"],
  special: ["mknod"],
};

const inferred = new WeakMap<Backend, ReadonlySet<Capability>>();

/**
 * The capabilities of `backend`: its declared `capabilities`, or else those
 * whose methods it implements.
 *
 * @example
 * ```ts
 * import { capabilitiesOf, MemoryBackend } from "@anyfs/anyfs";
 * console.log(capabilitiesOf(new MemoryBackend()).has("hardlinks")); // true
 * ```
 */
export function capabilitiesOf(backend: Backend): ReadonlySet<Capability> {
  if (backend.capabilities) return backend.capabilities;
  let caps = inferred.get(backend);
  if (!caps) {
    const found = new Set<Capability>();
    const b = backend as unknown as Record<string, unknown>;
    for (const cap of ALL_CAPABILITIES) {
      const methods = METHODS[cap];
      if (methods.length && methods.every((m) => typeof b[m] === "function")) {
        found.add(cap);
      }
    }
    caps = found;
    inferred.set(backend, caps);
  }
  return caps;
}

/**
 * Whether `backend` offers capability `cap`; narrows its type.
 *
 * @example Use hard links only where the backend has them
 * ```ts
 * import { MemoryBackend, supports } from "@anyfs/anyfs";
 * const backend = new MemoryBackend();
 * await backend.writeFile("/a", new Uint8Array([1]));
 * if (supports(backend, "hardlinks")) await backend.link("/a", "/b");
 * ```
 */
export function supports<C extends Capability>(
  backend: Backend,
  cap: C,
): backend is Backend & CapabilityMap[C] {
  return capabilitiesOf(backend).has(cap);
}

/**
 * Something that wraps a backend in another — a middleware's factory.
 * Layers compose with `.layer()`, inner first, reading top to bottom.
 */
export interface Layer<In = Backend, Out extends Backend = Backend> {
  /** Wrap `inner`. */
  layer(inner: In): Out;
}

/**
 * The `.layer()` method every built-in backend and middleware has. Extend it
 * in your own backend to get the same fluent composition.
 *
 * @example
 * ```ts
 * import { type Backend, type Layer, MemoryBackend } from "@anyfs/anyfs";
 * const logging: Layer<Backend, Backend> = { layer: (inner) => inner };
 * const stack = new MemoryBackend().layer(logging);
 * ```
 */
export abstract class Layerable {
  /** Wrap this backend in `layer`, returning the wrapped backend. */
  layer<Out extends Backend>(layer: Layer<this, Out>): Out {
    return layer.layer(this);
  }
}
