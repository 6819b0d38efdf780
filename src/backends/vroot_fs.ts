/**
 * {@linkcode VRootFsBackend}: a host directory as the root of a backend,
 * with containment that a caller of the backend cannot escape.
 *
 * @module
 */

import fsp from "node:fs/promises";
import {
  type Backend,
  type Capability,
  type CreateOptions,
  type FileHandle,
  type FsAppend,
  type FsCopy,
  type FsHandles,
  type FsHardlinks,
  type FsOwnership,
  type FsPermissions,
  type FsRanges,
  type FsStats,
  type FsSymlinks,
  type FsSync,
  type FsTimes,
  type FsTruncate,
  Layerable,
  type OpenOptions,
  type WriteFileOptions,
} from "../core/backend.ts";
import { type FsError, fsError, isFsError } from "../core/errors.ts";
import { checkPath, isNormalized, normalize, PATH_MAX, utf8Length } from "../core/path.ts";
import type { DirEntry, Metadata, StatFs } from "../core/types.ts";
import {
  ChangedPaths,
  checkLength,
  forEachLimited,
  hostError,
  type HostPermission,
  isId,
  metadataOf,
  notPermitted,
  permitted,
  statFsOf,
  typeOfInfo,
} from "./host_common.ts";
import { HostFileHandle, type HostHandleAccess } from "./host_handle.ts";
import { RwLock } from "./rw_lock.ts";
import { OwnerStore, RESERVED_NAME, STORE_FILE } from "./vroot_owners.ts";
import {
  type Containment,
  type EntryIdentity,
  type HeldDir,
  HostRoot,
  sameInode,
} from "./vroot_resolve.ts";

export type { Containment } from "./vroot_resolve.ts";

/** Options of {@linkcode VRootFsBackend}. */
export interface VRootFsBackendOptions {
  /**
   * How paths are kept inside the root (see {@linkcode VRootFsBackend}):
   * `"anchored"` (descriptor-relative walks through `/proc/self/fd`; Linux
   * with `--allow-all`), `"checked"` (path checks before and after each
   * operation; works with `--allow-read=<root> --allow-write=<root>`), or
   * `"auto"` (default): anchored when available, else checked.
   */
  containment?: Containment | "auto";
  /**
   * Keep the mode, owner and group that callers see in a sidecar database
   * instead of on the host files (default `false`). A process that is not
   * root can then present full POSIX ownership — `chown` to any id,
   * `chmod` to any mode — without touching the host's permissions: host
   * files are created 0o644 and directories 0o755, and keep those. Entries
   * without a record (made on the host directly) show the host's values.
   *
   * The database lives in the directory `.anyfs-vroot` at the top of the
   * root, which the backend reserves: it is never listed, looking it up is
   * `ENOENT` and creating or changing it is `EACCES`. See
   * {@linkcode VRootFsBackend} for what survives a crash.
   */
  virtualOwnership?: boolean;
  /**
   * With `virtualOwnership`: the owner of new entries when an operation
   * names none. Default: the process's user id when Deno may read it
   * without prompting (`--allow-sys=uid`), else 0.
   */
  uid?: number;
  /** With `virtualOwnership`: the group of new entries (`--allow-sys=gid`, else 0). */
  gid?: number;
}

const CAPABILITIES: ReadonlySet<Capability> = Object.freeze(
  new Set<Capability>([
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
    "handles",
    "locks",
  ]),
);

/** Entries whose type and inode a `readDir` looks up at once. */
const LISTING_CONCURRENCY = 8;
/** Bytes a `copyFile` moves per read. */
const COPY_CHUNK = 1 << 20;
/** How often an open retries when the entry changes between identifying and opening it. */
const OPEN_ATTEMPTS = 8;

/** What an internal open asks for. */
interface OpenSpec {
  read: boolean;
  write: boolean;
  append: boolean;
  truncate: boolean;
  create: boolean;
  createNew: boolean;
  /** Permission bits of a new file. */
  mode: number;
  /** A directory may be opened (for reading: `fsync`). */
  allowDir: boolean;
}

const READ: OpenSpec = {
  read: true,
  write: false,
  append: false,
  truncate: false,
  create: false,
  createNew: false,
  mode: 0,
  allowDir: false,
};

function defaultId(kind: "uid" | "gid"): number {
  // Ask first: Deno.uid() without --allow-sys would prompt or throw.
  try {
    if (Deno.permissions.querySync({ name: "sys", kind }).state !== "granted") return 0;
    return (kind === "uid" ? Deno.uid() : Deno.gid()) ?? 0;
  } catch {
    return 0;
  }
}

function codeOf(e: unknown): unknown {
  return (e as { code?: unknown } | null)?.code;
}

/** The parent and last name of a canonical path (`name` is `""` for the root). */
function split(path: string): { parent: string; name: string } {
  const cut = path.lastIndexOf("/");
  return { parent: cut === 0 ? "/" : path.slice(0, cut), name: path.slice(cut + 1) };
}

/**
 * Fail for what an open must not reach: a symbolic link (`ELOOP`, as
 * `O_NOFOLLOW`: backends never follow links), a directory when writing or
 * creating (`EISDIR`), and special files (`ENXIO`: a FIFO would block, a
 * device would be opened).
 */
function refuseToOpen(
  entry: EntryIdentity,
  spec: OpenSpec,
  operation: string,
  path: string,
): void {
  if (entry.type === "symlink") {
    throw fsError("ELOOP", operation, path, {
      reason: "the path names a symbolic link, which a backend does not follow",
    });
  }
  if (entry.type === "dir") {
    if (!spec.allowDir || spec.write || spec.create) throw fsError("EISDIR", operation, path);
  } else if (entry.type !== "file") {
    throw fsError("ENXIO", operation, path, {
      reason: `a ${entry.type} is never opened by this backend`,
    });
  }
}

/** Read a whole file from its start, however its size changes meanwhile. */
async function readAll(file: Deno.FsFile): Promise<Uint8Array> {
  let buf = new Uint8Array((await file.stat()).size);
  let got = 0;
  for (;;) {
    if (got === buf.length) {
      // Probe for more (the file grew, or the size was unknown).
      const probe = new Uint8Array(64 * 1024);
      const n = await file.read(probe);
      if (n === null) break;
      const bigger = new Uint8Array(Math.max(buf.length * 2, got + n));
      bigger.set(buf.subarray(0, got));
      bigger.set(probe.subarray(0, n), got);
      buf = bigger;
      got += n;
      continue;
    }
    const n = await file.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return got === buf.length ? buf : buf.slice(0, got);
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await file.write(bytes.subarray(done));
}

/**
 * A directory of the host as the root of a backend, with containment:
 * no backend path, symbolic link or `..` can make this backend read,
 * write, list or stat anything outside the root.
 *
 * How: every path must be canonical (absolute, no `.`, `..` or empty
 * components — anything else is `EINVAL`), and the backend never lets the
 * host follow a symbolic link. Directory components are walked so that a
 * component that is a link (or not a directory) fails with `ENOTDIR`, the
 * final component is only ever used with no-follow calls (`lstat`,
 * `readlink`, `lchown`, `lutimes`, `rename`, `link`, `unlink`) or opened
 * after an `O_PATH | O_NOFOLLOW` descriptor showed it is a regular file,
 * and a new file is created with `O_EXCL`, which never follows a link.
 * Symbolic links are stored and returned verbatim — `/etc/passwd` is a
 * fine target — and resolved by the caller (a {@linkcode FileStorage}, or
 * the kernel behind a mount) through this backend, so an absolute target
 * means a path inside the root, and links that stay inside work.
 *
 * Two containment strategies (option `containment`):
 *
 * - **anchored** (default on Linux when Deno has every permission, e.g.
 *   `-A`): each directory is opened relative to its parent's descriptor
 *   through `/proc/self/fd`, the way `openat(O_NOFOLLOW)` would. Another
 *   process swapping a directory for a symbolic link at any moment cannot
 *   redirect an operation: there is no check-then-use window for directory
 *   components.
 * - **checked** (the fallback, with only `--allow-read=<root>
 *   --allow-write=<root>`, since Deno allows `/proc/self/fd` to nothing
 *   less than `--allow-all`): before and after each operation `realPath`
 *   of its directory must be exactly inside the root, and opened files are
 *   compared (device and inode) with what `O_PATH | O_NOFOLLOW` saw. Calls
 *   through this backend cannot race each other into an escape: operations
 *   that can put a symbolic link where a directory was (`symlink`,
 *   `rename`, `link`) wait for every operation in flight, and vice versa.
 *   **The remaining window:** another process with write access inside the
 *   root that replaces a directory by a symbolic link after the first
 *   check and restores it before the second can make that one operation
 *   act at the link's target. A change still in place at the second check
 *   is reported (`EIO`), but the operation may already have happened. Use
 *   anchored containment where other processes write into the root.
 *
 * Also worth knowing:
 * - A hard link inside the root is inside the root: if someone links a
 *   file from elsewhere into the root (Linux's `protected_hardlinks` only
 *   lets them link files they own or may write), reading and writing that
 *   name reads and writes the shared inode. Containment is by name.
 * - Deno's own `--allow-read=<root>` does not stop the host from following
 *   a symbolic link out of the root (its check is on the path text); this
 *   backend does.
 * - The root itself is trusted: it is resolved once, and (anchored) held
 *   open, so moving it does not redirect the backend.
 * - Special files (FIFOs, sockets, devices) can be listed, stat'ed,
 *   renamed and removed, but never opened: `ENXIO`.
 * - Mount points inside the root are crossed like directories; inode
 *   numbers are the host's and can repeat across file systems.
 *
 * Capabilities as {@linkcode StdFsBackend} (no extended attributes, special
 * files or inode lookup: Deno has no call for them). Times and link counts
 * are the host's. Mode, owner and group are the host's too — `chown` then
 * needs root (or `CAP_CHOWN`) — unless the option `virtualOwnership` keeps
 * them in a sidecar database (after microsandbox's PassthroughFs, which
 * uses an extended attribute Deno cannot reach): then any process can
 * `chown` and `chmod` freely, the host files keep workable permissions,
 * and the records follow renames and hard links. The database is SQLite in
 * WAL mode inside the reserved directory `.anyfs-vroot` at the top of the
 * root (never listed, `ENOENT` to look up, `EACCES` to change): a crash
 * loses at most the records of the last moments before it, never the
 * database; records are durable after `sync()`.
 *
 * **Mounting:** a host backend does its I/O on Deno's blocking thread pool,
 * which the mounting process's own async file calls also use while they
 * wait for the mount. Driving the mount from the process that serves it
 * with hundreds of calls in flight (e.g. `Promise.all` over 500
 * `Deno.writeFile`s into the mount point) can therefore take every thread
 * and deadlock; serve the mount from one process and use it from others
 * (shell tools, a child process), or keep few calls in flight.
 *
 * Needs `--allow-read=<root>` (and `--allow-write=<root>` to change
 * anything); a missing flag fails with `EACCES` naming it. `statfs` also
 * needs `--allow-sys=statfs`. Call {@linkcode VRootFsBackend.close} when
 * done (it releases the root's descriptor).
 *
 * @example A sandbox directory for an agent (needs `--allow-read=<dir> --allow-write=<dir>`)
 * ```ts
 * import { FileStorage, VRootFsBackend } from "@anyfs/anyfs";
 *
 * const dir = await Deno.makeTempDir();
 * await using backend = await VRootFsBackend.open(dir);
 * const fs = new FileStorage(backend);
 * await fs.symlink("/etc/passwd", "/passwd"); // stored verbatim…
 * await fs.writeTextFile("/notes.txt", "hello");
 * try {
 *   await fs.readTextFile("/passwd"); // …and resolved inside the root
 * } catch (e) {
 *   console.log((e as Deno.errors.NotFound).name); // NotFound: there is no /etc in the root
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class VRootFsBackend extends Layerable
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
    AsyncDisposable {
  /** What this backend offers (see the class documentation). */
  readonly capabilities: ReadonlySet<Capability> = CAPABILITIES;
  /** The host directory backend path `/` stands for, as given (absolute, normalized). */
  readonly root: string;
  #want: Containment | "auto";
  #host: Promise<HostRoot> | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  // Operations between their start and their end: close() waits for them.
  #running = 0;
  #drained: (() => void) | undefined;
  // Checked containment only: symlink/rename/link exclusive, the rest shared.
  #lock = new RwLock();
  #changed = new ChangedPaths();
  #writers = new Set<HostFileHandle>();
  #virtual: boolean;
  #owners: OwnerStore | undefined;
  #uid = 0;
  #gid = 0;

  /**
   * A backend over the existing host directory `root`. The root is looked
   * up on the first operation; use {@linkcode VRootFsBackend.open} to fail
   * at once when it is missing.
   */
  constructor(root: string, options: VRootFsBackendOptions = {}) {
    super();
    if (typeof root !== "string" || !root.startsWith("/")) {
      throw fsError("EINVAL", "VRootFsBackend", String(root), {
        reason: "root must be an absolute path",
      });
    }
    checkPath(root, "VRootFsBackend");
    if (Deno.build.os === "windows") {
      throw fsError("ENOTSUP", "VRootFsBackend", root, {
        reason: "VRootFsBackend needs a POSIX host",
      });
    }
    const want = options.containment ?? "auto";
    if (want !== "auto" && want !== "anchored" && want !== "checked") {
      throw fsError("EINVAL", "VRootFsBackend", root, { reason: `bad containment ${want}` });
    }
    this.root = normalize(root);
    this.#want = want;
    this.#virtual = options.virtualOwnership === true;
    if (this.#virtual) {
      for (const key of ["uid", "gid"] as const) {
        if (options[key] !== undefined && !isId(options[key])) {
          throw fsError("EINVAL", "VRootFsBackend", root, {
            reason: `${key} must be an integer from 0 to ${0xfffffffe}, got ${options[key]}`,
          });
        }
      }
      this.#uid = options.uid ?? defaultId("uid");
      this.#gid = options.gid ?? defaultId("gid");
    }
  }

  /**
   * A backend over `root`, checked at once: the root must exist and be a
   * directory, and `options.containment` must be available.
   */
  static async open(root: string, options: VRootFsBackendOptions = {}): Promise<VRootFsBackend> {
    const backend = new VRootFsBackend(root, options);
    await backend.containment();
    return backend;
  }

  /** The containment strategy in use (finding the root if that has not happened yet). */
  async containment(): Promise<Containment> {
    return (await this.#root("VRootFsBackend", "/")).containment;
  }

  /**
   * Release the root's descriptor once the operations already started have
   * finished. Later operations fail with `EBADF`.
   */
  close(): Promise<void> {
    return this.#closing ??= this.#close();
  }

  async #close(): Promise<void> {
    this.#closed = true;
    // An operation in flight still walks from the root's descriptor: closed
    // under it, the number could be reused by another open and name a
    // directory outside the root.
    if (this.#running > 0) await new Promise<void>((resolve) => this.#drained = resolve);
    const host = this.#host;
    if (host) await (await host.catch(() => undefined))?.close();
    this.#owners?.close();
    this.#owners = undefined;
  }

  /** One operation ended (see {@linkcode VRootFsBackend.close}). */
  #finished(): void {
    if (--this.#running === 0 && this.#drained) {
      const drained = this.#drained;
      this.#drained = undefined;
      drained();
    }
  }

  /** Same as {@linkcode VRootFsBackend.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---------------------------------------------------------------- plumbing

  async #root(operation: string, path: string): Promise<HostRoot> {
    if (this.#closed) throw fsError("EBADF", operation, path, { reason: "backend is closed" });
    if (!permitted("read", this.root)) throw notPermitted("read", operation, path, this.root);
    this.#host ??= this.#start();
    try {
      return await this.#host;
    } catch (e) {
      this.#host = undefined;
      throw e;
    }
  }

  async #start(): Promise<HostRoot> {
    const root = await HostRoot.open(this.root, this.#want);
    if (this.#virtual) {
      try {
        if (!permitted("write", this.root)) {
          throw notPermitted("write", "VRootFsBackend", "/", this.root);
        }
        const dir = await root.privateDir(RESERVED_NAME);
        this.#owners = OwnerStore.open(`${dir}/${STORE_FILE}`);
      } catch (e) {
        await root.close();
        throw e;
      }
    }
    return root;
  }

  /** Metadata for what the host reports, with the virtual mode, owner and group when there are any. */
  #describe(info: Deno.FileInfo): Metadata {
    const meta = metadataOf(info);
    const owner = this.#owners?.get(info);
    if (owner !== undefined) {
      meta.mode = (meta.mode & ~0o7777) | owner.mode;
      meta.uid = owner.uid;
      meta.gid = owner.gid;
    }
    return meta;
  }

  /** The host mode of a new node: the caller's, or with virtual ownership a fixed one that keeps it usable. */
  #hostMode(requested: number, fixed: number): number {
    return this.#virtual ? fixed : requested;
  }

  /**
   * A node was created at host path `host` with permission bits `mode`:
   * record its virtual owner, or give it the owner a caller asked for when
   * the host lets this process (root; EPERM is ignored otherwise).
   */
  async #created(
    host: string,
    options: CreateOptions | undefined,
    info: Deno.FileInfo,
    mode: number,
  ): Promise<void> {
    const uid = options?.uid;
    const gid = options?.gid;
    if (this.#owners) {
      this.#owners.set(info, {
        mode,
        uid: uid !== undefined && isId(uid) ? uid : this.#uid,
        gid: gid !== undefined && isId(gid) ? gid : this.#gid,
      });
      return;
    }
    if ((uid === undefined || uid === info.uid) && (gid === undefined || gid === info.gid)) return;
    if ((uid !== undefined && !isId(uid)) || (gid !== undefined && !isId(gid))) return;
    try {
      await fsp.lchown(host, uid ?? -1, gid ?? -1);
    } catch (e) {
      if (codeOf(e) !== "EPERM") throw e;
    }
  }

  /** The inode at `info` lost a name: forget its virtual owner when that was the last one. */
  #removed(info: Deno.FileInfo): void {
    if (this.#owners && (info.isDirectory || (info.nlink ?? 1) <= 1)) this.#owners.delete(info);
  }

  /** The error for `e`, addressed to the backend path and operation. */
  #fail(e: unknown, operation: string, path: string, dest?: string): FsError {
    if (isFsError(e)) {
      if (e.operation === operation && e.path === path) return e;
      return fsError(e.code, operation, path, { dest, reason: e.reason, cause: e });
    }
    return hostError(e, operation, path, this.root, dest);
  }

  /** Reject anything but a canonical path (containment starts with never interpreting `..`). */
  #check(path: string, operation: string, kind: HostPermission, dest?: string): void {
    if (typeof path !== "string" || !isNormalized(path)) {
      throw fsError("EINVAL", operation, typeof path === "string" ? path : String(path), {
        dest,
        reason: "backend paths are absolute and canonical (no '.', '..' or empty components)",
      });
    }
    checkPath(path, operation);
    if (
      this.#virtual && path.startsWith(RESERVED_NAME, 1) &&
      (path.length === RESERVED_NAME.length + 1 || path[RESERVED_NAME.length + 1] === "/")
    ) {
      // The ownership database's directory: invisible, and not to be touched.
      throw kind === "read" ? fsError("ENOENT", operation, path, { dest }) : fsError(
        "EACCES",
        operation,
        path,
        { dest, reason: `${RESERVED_NAME} is reserved for the backend's ownership records` },
      );
    }
  }

  /**
   * Run `task` on the entry `path`, inside its held parent directory: the
   * one frame every single-path operation goes through. `exclusive` marks
   * operations that can put a symbolic link where a directory was.
   */
  async #at<T>(
    operation: string,
    path: string,
    kind: HostPermission,
    exclusive: boolean,
    task: (root: HostRoot, dir: HeldDir, name: string) => Promise<T>,
    holdSelf = false,
  ): Promise<T> {
    this.#running++;
    try {
      this.#check(path, operation, kind);
      const root = await this.#root(operation, path);
      if (kind === "write" && !permitted("write", this.root)) {
        throw notPermitted("write", operation, path, this.root);
      }
      const { parent, name } = holdSelf ? { parent: path, name: "" } : split(path);
      const run = async () => {
        const dir = await root.hold(parent);
        try {
          const result = await task(root, dir, name);
          await dir.verify();
          return result;
        } finally {
          await dir.release();
        }
      };
      return root.containment === "checked" ? await this.#lock.with(exclusive, run) : await run();
    } catch (e) {
      throw this.#fail(e, operation, path);
    } finally {
      this.#finished();
    }
  }

  /** Like {@linkcode VRootFsBackend.#at} for two paths (rename, link). */
  async #at2<T>(
    operation: string,
    from: string,
    to: string,
    task: (root: HostRoot, a: HeldDir, aName: string, b: HeldDir, bName: string) => Promise<T>,
  ): Promise<T> {
    this.#running++;
    try {
      this.#check(from, operation, "write", to);
      this.#check(to, operation, "write", to);
      const root = await this.#root(operation, from);
      if (!permitted("write", this.root)) {
        throw notPermitted("write", operation, from, this.root, to);
      }
      const x = split(from);
      const y = split(to);
      const run = async () => {
        const a = await root.hold(x.parent);
        try {
          const b = await root.hold(y.parent);
          try {
            const result = await task(root, a, x.name, b, y.name);
            await a.verify();
            await b.verify();
            return result;
          } finally {
            await b.release();
          }
        } finally {
          await a.release();
        }
      };
      return root.containment === "checked" ? await this.#lock.with(true, run) : await run();
    } catch (e) {
      throw this.#fail(e, operation, from, to);
    } finally {
      this.#finished();
    }
  }

  /**
   * Open the entry `name` of `dir` as a `Deno.FsFile` without ever
   * following a symbolic link: identify it with `O_PATH | O_NOFOLLOW`,
   * check its type, then reopen exactly that inode (anchored) or open its
   * path and compare device and inode (checked). A missing file is created
   * with `O_EXCL`, which does not follow a link either.
   */
  async #openAt(
    root: HostRoot,
    dir: HeldDir,
    name: string,
    path: string,
    operation: string,
    spec: OpenSpec,
  ): Promise<{ file: Deno.FsFile; created: boolean }> {
    for (let attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
      let entry;
      try {
        entry = await root.identify(dir, name);
      } catch (e) {
        if (codeOf(e) !== "ENOENT") throw e;
      }
      if (entry === undefined) {
        if (!spec.create) throw fsError("ENOENT", operation, path);
        let file: Deno.FsFile;
        try {
          file = await Deno.open(dir.child(name), {
            read: spec.read,
            write: spec.write,
            append: spec.append,
            createNew: true,
            mode: spec.mode & 0o777,
          });
        } catch (e) {
          if (e instanceof Deno.errors.AlreadyExists) continue; // created meanwhile
          throw e;
        }
        try {
          const info = await file.stat();
          if (((info.mode ?? 0) & 0o7777) !== spec.mode) {
            // The host's umask took bits away (or the mode has special bits).
            await this.#chmodAt(root, dir, name, spec.mode, info);
          }
        } catch (e) {
          file.close();
          throw e;
        }
        return { file, created: true };
      }
      try {
        if (spec.createNew) throw fsError("EEXIST", operation, path);
        refuseToOpen(entry, spec, operation, path);
        const checked = root.reopenNeedsCheck;
        const file = await Deno.open(root.reopenPath(dir, name, entry), {
          read: spec.read || (!spec.write && !spec.append),
          write: spec.write,
          append: spec.append,
          // Checked: truncate only once the inode is known to be the right one.
          truncate: spec.truncate && !checked,
        });
        if (checked) {
          let ok = false;
          try {
            ok = sameInode(await file.stat(), entry);
            if (ok && spec.truncate) await file.truncate(0);
          } finally {
            if (!ok) file.close();
          }
          if (!ok) continue; // replaced between identifying and opening
        }
        return { file, created: false };
      } finally {
        await root.closeEntry(entry);
      }
    }
    throw fsError("EIO", operation, path, {
      reason: "the entry keeps being replaced while it is opened (another process is changing it)",
    });
  }

  /**
   * Set the permission bits of the entry `name` of `dir` without following
   * a symbolic link: anchored through the identifying descriptor's magic
   * link (the very inode), checked through a no-follow descriptor's
   * `fchmod`, or the path when the entry cannot be opened for reading.
   * `expect` (from a file just created) must still be the inode there.
   */
  async #chmodAt(
    root: HostRoot,
    dir: HeldDir,
    name: string,
    mode: number,
    expect?: Deno.FileInfo,
  ): Promise<void> {
    const entry = await root.identify(dir, name);
    try {
      if (entry.type === "symlink") {
        throw fsError("ENOTSUP", "chmod", "", {
          reason: "the mode of a symbolic link cannot be changed",
        });
      }
      if (expect && !sameInode(expect, entry)) {
        throw fsError("EIO", "chmod", "", { reason: "the new file was replaced meanwhile" });
      }
      if (!root.reopenNeedsCheck) {
        await Deno.chmod(root.reopenPath(dir, name, entry), mode);
        return;
      }
      if (entry.type === "file" || entry.type === "dir") {
        try {
          const fh = await fsp.open(
            dir.child(name),
            fsp.constants.O_RDONLY | fsp.constants.O_NOFOLLOW | fsp.constants.O_NONBLOCK,
          );
          try {
            const st = await fh.stat();
            if (st.dev !== entry.dev || st.ino !== entry.ino) {
              throw fsError("EIO", "chmod", "", { reason: "the entry was replaced meanwhile" });
            }
            await fh.chmod(mode);
            return;
          } finally {
            await fh.close();
          }
        } catch (e) {
          if (codeOf(e) !== "EACCES") throw e;
          // Not readable by this process: fall back to the path below.
        }
      }
      await Deno.chmod(dir.child(name), mode);
    } finally {
      await root.closeEntry(entry);
    }
  }

  #handle(file: Deno.FsFile, path: string, access: HostHandleAccess): HostFileHandle {
    return new HostFileHandle(file, path, access, {
      fail: (e, op) => this.#fail(e, op, path),
      describe: (info) => this.#describe(info),
      wrote: (h) => this.#writers.add(h),
      closed: (h) => this.#writers.delete(h),
    });
  }

  // ---------------------------------------------------------------- core

  /** Metadata of the entry at `path` (a final symlink describes itself). */
  lstat(path: string): Promise<Metadata> {
    return this.#at("lstat", path, "read", false, async (root, dir, name) => {
      if (name === "") return this.#describe(await root.statRoot());
      return this.#describe(await Deno.lstat(dir.child(name)));
    });
  }

  /** The entries of the directory at `path`, in the host's order, with their types and inode numbers. */
  readDir(path: string): Promise<DirEntry[]> {
    // The directory itself is held: its listing comes from the held inode.
    return this.#at("readdir", path, "read", false, async (_root, dir) => {
      const names: string[] = [];
      const hide = this.#virtual && path === "/" ? RESERVED_NAME : undefined;
      for await (const e of Deno.readDir(dir.self)) if (e.name !== hide) names.push(e.name);
      const found: (DirEntry | undefined)[] = new Array(names.length);
      await forEachLimited(names, LISTING_CONCURRENCY, async (entry, i) => {
        try {
          const info = await Deno.lstat(dir.child(entry));
          found[i] = { name: entry, type: typeOfInfo(info), ino: info.ino ?? 0 };
        } catch (e) {
          // Removed since the listing was read: not an entry any more.
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        }
      });
      return found.filter((e): e is DirEntry => e !== undefined);
    }, true);
  }

  /** The whole content of the regular file at `path`. */
  readFile(path: string): Promise<Uint8Array> {
    const op = "readfile";
    return this.#at(op, path, "read", false, async (root, dir, name) => {
      if (name === "") throw fsError("EISDIR", op, path);
      if (!root.reopenNeedsCheck) {
        // Anchored: the descriptor's magic link reopens exactly the
        // identified inode, so Deno can open, read and close in one call.
        const entry = await root.identify(dir, name);
        try {
          refuseToOpen(entry, READ, op, path);
          return await Deno.readFile(root.reopenPath(dir, name, entry));
        } finally {
          await root.closeEntry(entry);
        }
      }
      const { file } = await this.#openAt(root, dir, name, path, op, READ);
      try {
        return await readAll(file);
      } finally {
        file.close();
      }
    });
  }

  /**
   * Replace the content of the file at `path`, creating it (with exactly
   * `options.mode`, default 0o644) when missing.
   */
  writeFile(path: string, data: Uint8Array, options?: WriteFileOptions): Promise<void> {
    const createNew = options?.createNew === true;
    return this.#writeData("writefile", path, data, options, {
      append: false,
      create: createNew || options?.create !== false,
      createNew,
    });
  }

  /**
   * The body of `writeFile` and `appendFile`: open the entry (never
   * following a link), give a file it creates exactly the requested mode
   * and owner, and write all of `data` (a copy, taken before the first
   * await).
   */
  #writeData(
    op: string,
    path: string,
    data: Uint8Array,
    options: CreateOptions | undefined,
    how: { append: boolean; create: boolean; createNew: boolean },
  ): Promise<void> {
    return this.#at(op, path, "write", false, async (root, dir, name) => {
      if (!(data instanceof Uint8Array)) {
        throw fsError("EINVAL", op, path, { reason: "data must be a Uint8Array" });
      }
      if (name === "") throw fsError("EISDIR", op, path);
      const bytes = data.slice();
      const mode = (options?.mode ?? 0o644) & 0o7777;
      const { file, created } = await this.#openAt(root, dir, name, path, op, {
        read: false,
        write: true,
        append: how.append,
        truncate: !how.append,
        create: how.create,
        createNew: how.createNew,
        mode: this.#hostMode(mode, 0o644),
        allowDir: false,
      });
      try {
        if (created) await this.#created(dir.child(name), options, await file.stat(), mode);
        await writeAll(file, bytes);
      } finally {
        file.close();
      }
      if (created) this.#changed.markEntry(path, split(path).parent);
      else this.#changed.mark(path);
    });
  }

  /** Create the directory `path` with exactly `options.mode` (default 0o755; a set-group-ID bit the host inherits stays). */
  mkdir(path: string, options?: CreateOptions): Promise<void> {
    const op = "mkdir";
    return this.#at(op, path, "write", false, async (root, dir, name) => {
      if (name === "") throw fsError("EEXIST", op, path);
      const mode = (options?.mode ?? 0o755) & 0o1777;
      const hostMode = this.#hostMode(mode, 0o755);
      const host = dir.child(name);
      await Deno.mkdir(host, { mode: hostMode & 0o777 });
      this.#changed.markEntry(path, split(path).parent);
      const info = await Deno.lstat(host);
      const wanted = hostMode | ((info.mode ?? 0) & 0o2000);
      if (((info.mode ?? 0) & 0o7777) !== wanted) {
        await this.#chmodAt(root, dir, name, wanted, info);
      }
      await this.#created(host, options, info, mode);
    });
  }

  /** Remove the non-directory at `path` (a symlink itself, never its target). */
  unlink(path: string): Promise<void> {
    const op = "unlink";
    return this.#at(op, path, "write", false, async (_root, dir, name) => {
      if (name === "") throw fsError("EISDIR", op, path);
      const host = dir.child(name);
      // Deno.remove would rmdir an empty directory; unlink(2) must not.
      const info = await Deno.lstat(host);
      if (info.isDirectory) throw fsError("EISDIR", op, path);
      await Deno.remove(host);
      this.#removed(info);
      this.#changed.mark(split(path).parent);
    });
  }

  /** Remove the empty directory at `path`; the root is `EBUSY`. */
  rmdir(path: string): Promise<void> {
    const op = "rmdir";
    return this.#at(op, path, "write", false, async (_root, dir, name) => {
      if (name === "") throw fsError("EBUSY", op, path);
      const host = dir.child(name);
      const info = await Deno.lstat(host);
      if (!info.isDirectory) throw fsError("ENOTDIR", op, path);
      await Deno.remove(host);
      this.#removed(info);
      this.#changed.mark(split(path).parent);
    });
  }

  /** Rename with `rename(2)` semantics, applied by the host inside the root. */
  rename(from: string, to: string): Promise<void> {
    return this.#at2("rename", from, to, async (_root, a, aName, b, bName) => {
      if (aName === "" || bName === "") throw fsError("EBUSY", "rename", from, { dest: to });
      let replaced: Deno.FileInfo | undefined;
      if (this.#owners) {
        try {
          replaced = await Deno.lstat(b.child(bName));
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        }
      }
      await Deno.rename(a.child(aName), b.child(bName));
      if (replaced) {
        const moved = await Deno.lstat(b.child(bName));
        if (moved.ino !== replaced.ino || moved.dev !== replaced.dev) this.#removed(replaced);
      }
      this.#changed.moved(from, to);
      this.#changed.mark(split(from).parent);
      this.#changed.mark(split(to).parent);
    });
  }

  // ---------------------------------------------------------------- content

  /** Up to `length` bytes of the file at `path` from `offset`. */
  read(path: string, offset: number, length: number): Promise<Uint8Array> {
    const op = "read";
    return this.#at(op, path, "read", false, async (root, dir, name) => {
      checkLength(offset, "offset", op, path);
      checkLength(length, "length", op, path);
      if (name === "") throw fsError("EISDIR", op, path);
      const { file } = await this.#openAt(root, dir, name, path, op, READ);
      const handle = this.#handle(file, path, { read: true, write: false, append: false });
      try {
        return await handle.read(offset, length);
      } finally {
        await handle.close();
      }
    });
  }

  /** Set the size of the file at `path`. */
  truncate(path: string, length: number): Promise<void> {
    const op = "truncate";
    return this.#at(op, path, "write", false, async (root, dir, name) => {
      checkLength(length, "length", op, path);
      if (name === "") throw fsError("EISDIR", op, path);
      const { file } = await this.#openAt(root, dir, name, path, op, {
        ...READ,
        read: false,
        write: true,
      });
      try {
        await file.truncate(length);
      } finally {
        file.close();
      }
      this.#changed.mark(path);
    });
  }

  /** Append `data` to `path`, creating it with exactly `options.mode` (default 0o644) when missing. */
  appendFile(path: string, data: Uint8Array, options?: CreateOptions): Promise<void> {
    return this.#writeData("appendfile", path, data, options, {
      append: true,
      create: true,
      createNew: false,
    });
  }

  /** Copy the regular file `from` over `to` (content and permission bits), inside the root. */
  copyFile(from: string, to: string): Promise<void> {
    const op = "copyfile";
    return this.#at2(op, from, to, async (root, a, aName, b, bName) => {
      if (aName === "") throw fsError("EISDIR", op, from, { dest: to });
      if (bName === "") throw fsError("EISDIR", op, from, { dest: to });
      const { file: source } = await this.#openAt(root, a, aName, from, op, READ);
      try {
        const info = await source.stat();
        const perms = (info.mode ?? 0o644) & 0o7777;
        try {
          const target = await Deno.lstat(b.child(bName));
          if (target.dev === info.dev && target.ino === info.ino) return; // the same file
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        }
        const { file: target, created } = await this.#openAt(root, b, bName, to, op, {
          read: false,
          write: true,
          append: false,
          truncate: true,
          create: true,
          createNew: false,
          mode: this.#hostMode(perms, 0o644),
          allowDir: false,
        });
        try {
          const buf = new Uint8Array(COPY_CHUNK);
          for (;;) {
            const n = await source.read(buf);
            if (n === null) break;
            await writeAll(target, buf.subarray(0, n));
          }
          const written = await target.stat();
          if (this.#owners) {
            const before = this.#owners.get(written);
            this.#owners.set(written, {
              mode: this.#describe(info).mode & 0o7777,
              uid: before?.uid ?? (created ? this.#uid : written.uid ?? 0),
              gid: before?.gid ?? (created ? this.#gid : written.gid ?? 0),
            });
          } else if (((written.mode ?? 0) & 0o7777) !== perms) {
            await this.#chmodAt(root, b, bName, perms);
          }
        } finally {
          target.close();
        }
      } finally {
        source.close();
      }
      this.#changed.markEntry(to, split(to).parent);
    });
  }

  // ---------------------------------------------------------------- links

  /** Create a symlink at `path` holding `target` verbatim (never resolved by this backend). */
  symlink(target: string, path: string, options?: Omit<CreateOptions, "mode">): Promise<void> {
    const op = "symlink";
    if (typeof target !== "string") {
      return Promise.reject(
        fsError("EINVAL", op, String(path), { reason: "target must be a string" }),
      );
    }
    if (target === "") return Promise.reject(fsError("ENOENT", op, target, { dest: path }));
    if (target.includes("\0")) {
      return Promise.reject(
        fsError("EINVAL", op, target.replaceAll("\0", "\\0"), {
          dest: path,
          reason: "target contains a NUL byte",
        }),
      );
    }
    if (utf8Length(target) >= PATH_MAX) {
      return Promise.reject(fsError("ENAMETOOLONG", op, target, { dest: path }));
    }
    return this.#at(op, path, "write", true, async (_root, dir, name) => {
      if (name === "") throw fsError("EEXIST", op, target, { dest: path });
      const host = dir.child(name);
      await Deno.symlink(target, host);
      this.#changed.mark(split(path).parent);
      await this.#created(host, options, await Deno.lstat(host), 0o777);
    });
  }

  /** The target stored in the symlink at `path`, verbatim; `EINVAL` for anything else. */
  readLink(path: string): Promise<string> {
    return this.#at("readlink", path, "read", false, async (_root, dir, name) => {
      if (name === "") throw fsError("EINVAL", "readlink", path);
      return await Deno.readLink(dir.child(name));
    });
  }

  /** Add the name `newPath` for the non-directory at `existing` (a symlink itself is linked). */
  link(existing: string, newPath: string): Promise<void> {
    return this.#at2("link", existing, newPath, async (_root, a, aName, b, bName) => {
      if (aName === "") throw fsError("EPERM", "link", existing, { dest: newPath });
      if (bName === "") throw fsError("EEXIST", "link", existing, { dest: newPath });
      await Deno.link(a.child(aName), b.child(bName));
      this.#changed.markEntry(newPath, split(newPath).parent);
    });
  }

  // ---------------------------------------------------------------- attributes

  /** Set the permission bits of the entry at `path`; `ENOTSUP` for a symlink (Linux has no `lchmod`). */
  chmod(path: string, mode: number): Promise<void> {
    return this.#at("chmod", path, "write", false, async (root, dir, name) => {
      if (!Number.isInteger(mode)) {
        throw fsError("EINVAL", "chmod", path, { reason: `bad mode ${mode}` });
      }
      const owners = this.#owners;
      if (owners) {
        const info = name === "" ? await root.statRoot() : await Deno.lstat(dir.child(name));
        if (info.isSymlink) {
          throw fsError("ENOTSUP", "chmod", path, {
            reason: "the mode of a symbolic link cannot be changed",
          });
        }
        const now = this.#describe(info);
        owners.set(info, { mode: mode & 0o7777, uid: now.uid, gid: now.gid });
        return;
      }
      if (name === "") await Deno.chmod(root.top, mode & 0o7777);
      else await this.#chmodAt(root, dir, name, mode & 0o7777);
      this.#changed.mark(path);
    });
  }

  /**
   * Set owner and/or group of the entry itself (`lchown`; needs root or
   * `CAP_CHOWN` on the host, except with virtual ownership). As on Linux,
   * this clears the set-user-ID bit of a non-directory, and its
   * set-group-ID bit when it is group-executable.
   */
  chown(path: string, uid: number | null, gid: number | null): Promise<void> {
    return this.#at("chown", path, "write", false, async (root, dir, name) => {
      if ((uid !== null && !isId(uid)) || (gid !== null && !isId(gid))) {
        throw fsError("EINVAL", "chown", path, { reason: `bad owner ${uid}:${gid}` });
      }
      // The root is named through a magic link (anchored): follow it for
      // the root, and never follow anything else.
      const top = name === "";
      const host = top ? root.top : dir.child(name);
      const owners = this.#owners;
      if (owners) {
        const info = top ? await root.statRoot() : await Deno.lstat(host);
        const now = this.#describe(info);
        let perms = now.mode & 0o7777;
        if (!info.isDirectory) {
          perms &= ~0o4000;
          if (perms & 0o010) perms &= ~0o2000;
        }
        owners.set(info, { mode: perms, uid: uid ?? now.uid, gid: gid ?? now.gid });
        return;
      }
      if (top) await fsp.chown(host, uid ?? -1, gid ?? -1);
      else await fsp.lchown(host, uid ?? -1, gid ?? -1);
      this.#changed.mark(path);
    });
  }

  /** Set atime and/or mtime of the entry itself (`lutimes`: a symlink's own times). */
  utime(path: string, atimeMs: number | null, mtimeMs: number | null): Promise<void> {
    return this.#at("utime", path, "write", false, async (root, dir, name) => {
      if (
        (atimeMs !== null && !Number.isFinite(atimeMs)) ||
        (mtimeMs !== null && !Number.isFinite(mtimeMs))
      ) {
        throw fsError("EINVAL", "utime", path, { reason: `bad times ${atimeMs}, ${mtimeMs}` });
      }
      const top = name === "";
      const host = top ? root.top : dir.child(name);
      if (atimeMs === null || mtimeMs === null) {
        const now = metadataOf(top ? await root.statRoot() : await Deno.lstat(host));
        atimeMs ??= now.atimeMs;
        mtimeMs ??= now.mtimeMs;
      }
      if (top) await fsp.utimes(host, atimeMs / 1000, mtimeMs / 1000);
      else await fsp.lutimes(host, atimeMs / 1000, mtimeMs / 1000);
      this.#changed.mark(path);
    });
  }

  // ---------------------------------------------------------------- whole fs

  /**
   * `fsync` every file and directory this instance changed since the last
   * `sync()`, and every handle it has open for writing (Deno has no
   * `syncfs`; changes by other processes are not covered).
   */
  async sync(): Promise<void> {
    for (const handle of this.#writers) await handle.sync();
    this.#owners?.checkpoint();
    await forEachLimited(this.#changed.take(), LISTING_CONCURRENCY, async (p) => {
      try {
        await this.fsync(p);
      } catch (e) {
        // Gone (or replaced by a link) since it changed: nothing to flush.
        const code = codeOf(e);
        if (code !== "ENOENT" && code !== "ENOTDIR" && code !== "ELOOP" && code !== "ENXIO") {
          throw e;
        }
      }
    });
  }

  /** `fsync` the file or directory at `path`. */
  fsync(path: string): Promise<void> {
    const op = "fsync";
    return this.#at(op, path, "read", false, async (root, dir, name) => {
      let file: Deno.FsFile;
      if (name === "") file = await Deno.open(root.top, { read: true });
      else file = (await this.#openAt(root, dir, name, path, op, { ...READ, allowDir: true })).file;
      try {
        await file.sync();
      } finally {
        file.close();
      }
    });
  }

  /** Capacity of the host file system holding the root (needs `--allow-sys=statfs`). */
  statfs(): Promise<StatFs> {
    return this.#at("statfs", "/", "read", false, async (root) => {
      if (Deno.permissions.querySync({ name: "sys", kind: "statfs" }).state !== "granted") {
        throw fsError("EACCES", "statfs", "/", {
          reason: "Deno's permissions refuse it: run again with --allow-sys=statfs",
        });
      }
      return statFsOf(await fsp.statfs(root.top));
    });
  }

  // ---------------------------------------------------------------- handles

  /**
   * Open the regular file at `path` (never following a symbolic link:
   * `ELOOP`). A directory may be opened for reading only (its reads fail
   * with `EISDIR`); special files give `ENXIO`.
   */
  open(path: string, options: OpenOptions = {}): Promise<FileHandle> {
    const op = "open";
    const append = options.append === true;
    const write = append || options.write === true;
    const read = options.read ?? !write;
    const create = options.create === true || options.createNew === true;
    return this.#at(op, path, write ? "write" : "read", false, async (root, dir, name) => {
      if (!read && !write) {
        throw fsError("EINVAL", op, path, { reason: "open needs read, write or append" });
      }
      if (options.truncate && !write) {
        throw fsError("EINVAL", op, path, { reason: "truncate needs write or append" });
      }
      const mode = (options.mode ?? 0o644) & 0o7777;
      let opened: { file: Deno.FsFile; created: boolean };
      if (name === "") {
        if (options.createNew) throw fsError("EEXIST", op, path);
        if (write || create) throw fsError("EISDIR", op, path);
        opened = { file: await Deno.open(root.top, { read: true }), created: false };
      } else {
        opened = await this.#openAt(root, dir, name, path, op, {
          read,
          write,
          append,
          truncate: options.truncate === true,
          create,
          createNew: options.createNew === true,
          mode: this.#hostMode(mode, 0o644),
          allowDir: true,
        });
      }
      if (opened.created) {
        await this.#created(dir.child(name), options, await opened.file.stat(), mode);
        this.#changed.markEntry(path, split(path).parent);
      } else if (options.truncate) {
        this.#changed.mark(path);
      }
      return this.#handle(opened.file, path, { read, write, append });
    });
  }
}
