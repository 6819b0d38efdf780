/**
 * {@linkcode StdFsBackend}: Deno's own file API behind the backend
 * contract, with a path prefix and **no containment**.
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
import { fsError } from "../core/errors.ts";
import { checkPath, normalize, parentPath } from "../core/path.ts";
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

/** Options of {@linkcode StdFsBackend}. */
export interface StdFsBackendOptions {
  /**
   * The host directory that backend path `/` stands for (default `/`, the
   * whole host). Every backend path is appended to it as text.
   */
  root?: string;
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

/**
 * Deno's own file API as a backend: every backend path is the host path
 * `root + path`, and every operation is the matching `Deno.*` call (or
 * `node:fs` where Deno has none: `lchown`, `lutimes`, `statfs`).
 *
 * **No containment.** This backend is a thin passthrough, not a sandbox:
 * the host resolves every path it is given, so a symbolic link in a
 * directory position is followed wherever it points (an absolute target
 * `/etc` means the host's `/etc`, not `root/etc`), and a path that is not
 * canonical (`/a/../../x`) climbs above `root`. Content operations
 * (`readFile`, `writeFile`, `read`, `truncate`, `copyFile`, `open`,
 * `appendFile`) also follow a symbolic link in the final position. With
 * the default root `/` this is exactly the host's behaviour; with another
 * root, absolute link targets and `..` mean different things to the host
 * than to a {@linkcode FileStorage} resolving paths inside the backend.
 * Use {@linkcode VRootFsBackend} to keep a caller inside a directory.
 *
 * Operations on the final component that Deno can apply without following
 * a link do not follow it: `lstat`, `readLink`, `unlink`, `rename`,
 * `link`, `symlink`, `chown` (`lchown`) and `utime` (`lutimes`). `chmod`
 * of a symbolic link fails with `ENOTSUP` (Linux has no `lchmod`).
 *
 * Inode numbers, link counts, owners and times are the host's. Open
 * handles are `Deno.FsFile`s (positional I/O is a seek and a read or write,
 * serialised per handle); locks are `flock(2)` locks. `sync()` `fsync`s
 * every file and directory this instance changed since the last `sync()`
 * (Deno has no `syncfs`). `statfs` needs `--allow-sys=statfs`. Not
 * offered: extended attributes and special files (Deno has no call for
 * them) and inode lookup.
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
 * anything); a missing flag fails the operation with `EACCES` whose message
 * names the flag, without prompting.
 *
 * @example A project directory behind the Deno-shaped API (needs `--allow-read --allow-write`)
 * ```ts
 * import { FileStorage, StdFsBackend } from "@anyfs/anyfs";
 *
 * const dir = await Deno.makeTempDir();
 * const fs = new FileStorage(new StdFsBackend({ root: dir }));
 * await fs.writeTextFile("/hello.txt", "hi");
 * console.log(await Deno.readTextFile(`${dir}/hello.txt`)); // "hi"
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class StdFsBackend extends Layerable
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
    FsHandles {
  /** Everything Deno's API can do on a host directory (see the class documentation). */
  readonly capabilities: ReadonlySet<Capability> = CAPABILITIES;
  /** The host directory backend path `/` stands for. */
  readonly root: string;
  #changed = new ChangedPaths();
  #writers = new Set<HostFileHandle>();

  /**
   * A backend over the host directory `options.root` (default `/`). Nothing
   * is checked until the first operation.
   */
  constructor(options: StdFsBackendOptions = {}) {
    super();
    const root = options.root ?? "/";
    if (typeof root !== "string" || !root.startsWith("/")) {
      throw fsError("EINVAL", "StdFsBackend", String(root), {
        reason: "root must be an absolute path",
      });
    }
    checkPath(root, "StdFsBackend");
    this.root = normalize(root);
  }

  // ---------------------------------------------------------------- plumbing

  /** The host path for `path`, after checking it and Deno's permission `kind`. */
  #host(path: string, operation: string, kind: HostPermission, dest?: string): string {
    if (typeof path !== "string" || !path.startsWith("/")) {
      throw fsError("EINVAL", operation, String(path), {
        dest,
        reason: "backend paths are absolute",
      });
    }
    checkPath(path, operation);
    const host = this.root === "/" ? path : path === "/" ? this.root : this.root + path;
    if (!permitted(kind, host)) throw notPermitted(kind, operation, path, this.root, dest);
    return host;
  }

  async #run<T>(
    operation: string,
    path: string,
    task: () => Promise<T>,
    dest?: string,
  ): Promise<T> {
    try {
      return await task();
    } catch (e) {
      throw hostError(e, operation, path, this.root, dest);
    }
  }

  /** Make a new file's permission bits exactly `mode`: the host's umask may have cleared some. */
  async #exactMode(host: string, mode: number, actual: number): Promise<void> {
    if ((actual & 0o7777) !== mode) await Deno.chmod(host, mode);
  }

  /** Give a new node the owner a caller asked for, when the process may (root may; others get EPERM, ignored). */
  async #owner(host: string, options: CreateOptions | undefined, meta: Metadata): Promise<void> {
    const uid = options?.uid;
    const gid = options?.gid;
    if ((uid === undefined || uid === meta.uid) && (gid === undefined || gid === meta.gid)) return;
    if ((uid !== undefined && !isId(uid)) || (gid !== undefined && !isId(gid))) return;
    try {
      await fsp.lchown(host, uid ?? -1, gid ?? -1);
    } catch (e) {
      if ((e as { code?: unknown }).code !== "EPERM") throw e;
    }
  }

  /**
   * Write to a name that exists. When it is a dangling symbolic link the
   * host says ENOENT, which a caller would take as final; the contract's
   * answer for a link the backend did not follow is ELOOP, after which a
   * {@linkcode FileStorage} resolves the link and writes its target.
   */
  async #overwrite(
    host: string,
    bytes: Uint8Array,
    options: Deno.WriteFileOptions,
    operation: string,
    path: string,
  ): Promise<void> {
    try {
      await Deno.writeFile(host, bytes, options);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound && (await isSymlink(host))) {
        throw fsError("ELOOP", operation, path, {
          reason: "the path names a dangling symbolic link, which a backend does not follow",
        });
      }
      throw e;
    }
  }

  // ---------------------------------------------------------------- core

  /** Metadata of the entry at `path` (a final symlink describes itself). */
  lstat(path: string): Promise<Metadata> {
    return this.#run("lstat", path, async () => {
      return metadataOf(await Deno.lstat(this.#host(path, "lstat", "read")));
    });
  }

  /** The entries of the directory at `path`, in the host's order, with their types and inode numbers. */
  readDir(path: string): Promise<DirEntry[]> {
    return this.#run("readdir", path, async () => {
      const host = this.#host(path, "readdir", "read");
      const names: string[] = [];
      for await (const e of Deno.readDir(host)) names.push(e.name);
      const found: (DirEntry | undefined)[] = new Array(names.length);
      const base = host === "/" ? "" : host;
      await forEachLimited(names, LISTING_CONCURRENCY, async (name, i) => {
        try {
          const info = await Deno.lstat(`${base}/${name}`);
          found[i] = { name, type: typeOfInfo(info), ino: info.ino ?? 0 };
        } catch (e) {
          // Removed since the directory was read: not an entry any more.
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        }
      });
      return found.filter((e): e is DirEntry => e !== undefined);
    });
  }

  /** The whole content of the file at `path` (the host follows a final symlink). */
  readFile(path: string): Promise<Uint8Array> {
    return this.#run("readfile", path, () => Deno.readFile(this.#host(path, "readfile", "read")));
  }

  /**
   * Replace the content of the file at `path`. A new file gets exactly
   * `options.mode` (default 0o644) whatever the process's umask; an
   * existing file keeps its mode.
   */
  writeFile(path: string, data: Uint8Array, options?: WriteFileOptions): Promise<void> {
    const op = "writefile";
    return this.#run(op, path, async () => {
      if (!(data instanceof Uint8Array)) {
        throw fsError("EINVAL", op, path, { reason: "data must be a Uint8Array" });
      }
      const host = this.#host(path, op, "write");
      const mode = (options?.mode ?? 0o644) & 0o7777;
      const bytes = data.slice();
      if (options?.create !== false || options?.createNew) {
        try {
          // Deno applies an explicit mode to a new file exactly (fchmod).
          await Deno.writeFile(host, bytes, { createNew: true, mode });
          this.#changed.markEntry(path, parentPath(path));
          await this.#owner(host, options, metadataOf(await Deno.lstat(host)));
          return;
        } catch (e) {
          if (options?.createNew || !(e instanceof Deno.errors.AlreadyExists)) throw e;
        }
      }
      // Existing: no mode, so Deno does not chmod it.
      await this.#overwrite(host, bytes, { create: false }, op, path);
      this.#changed.mark(path);
    });
  }

  /** Create the directory `path` with exactly `mode` (default 0o755), keeping a set-group-ID bit the host inherited. */
  mkdir(path: string, options?: CreateOptions): Promise<void> {
    return this.#run("mkdir", path, async () => {
      const host = this.#host(path, "mkdir", "write");
      const mode = (options?.mode ?? 0o755) & 0o1777;
      await Deno.mkdir(host, { mode });
      this.#changed.markEntry(path, parentPath(path));
      const meta = metadataOf(await Deno.lstat(host));
      await this.#exactMode(host, mode | (meta.mode & 0o2000), meta.mode);
      await this.#owner(host, options, meta);
    });
  }

  /** Remove the non-directory at `path` (a symlink itself, never its target). */
  unlink(path: string): Promise<void> {
    return this.#run("unlink", path, async () => {
      const host = this.#host(path, "unlink", "write");
      // Deno.remove would rmdir an empty directory; unlink(2) must not.
      if ((await Deno.lstat(host)).isDirectory) throw fsError("EISDIR", "unlink", path);
      await Deno.remove(host);
      this.#changed.mark(parentPath(path));
    });
  }

  /** Remove the empty directory at `path`. */
  rmdir(path: string): Promise<void> {
    return this.#run("rmdir", path, async () => {
      const host = this.#host(path, "rmdir", "write");
      if (path === "/") throw fsError("EBUSY", "rmdir", path);
      if (!(await Deno.lstat(host)).isDirectory) throw fsError("ENOTDIR", "rmdir", path);
      await Deno.remove(host);
      this.#changed.mark(parentPath(path));
    });
  }

  /** Rename with `rename(2)` semantics, as the host applies them. */
  rename(from: string, to: string): Promise<void> {
    return this.#run("rename", from, async () => {
      const a = this.#host(from, "rename", "write", to);
      const b = this.#host(to, "rename", "write", to);
      if (from === "/" || to === "/") throw fsError("EBUSY", "rename", from, { dest: to });
      await Deno.rename(a, b);
      this.#changed.moved(from, to);
      this.#changed.mark(parentPath(from));
      this.#changed.mark(parentPath(to));
    }, to);
  }

  // ---------------------------------------------------------------- content

  /** Up to `length` bytes of the file at `path` from `offset`. */
  read(path: string, offset: number, length: number): Promise<Uint8Array> {
    return this.#run("read", path, async () => {
      checkLength(offset, "offset", "read", path);
      checkLength(length, "length", "read", path);
      const host = this.#host(path, "read", "read");
      const file = await Deno.open(host, { read: true });
      const handle = new HostFileHandle(file, path, { read: true, write: false, append: false }, {
        fail: (e, op) => hostError(e, op, path, this.root),
      });
      try {
        return await handle.read(offset, length);
      } finally {
        await handle.close();
      }
    });
  }

  /** Set the size of the file at `path`. */
  truncate(path: string, length: number): Promise<void> {
    return this.#run("truncate", path, async () => {
      checkLength(length, "length", "truncate", path);
      await Deno.truncate(this.#host(path, "truncate", "write"), length);
      this.#changed.mark(path);
    });
  }

  /** Append `data` to `path`, creating it with exactly `options.mode` (default 0o644) when missing. */
  appendFile(path: string, data: Uint8Array, options?: CreateOptions): Promise<void> {
    const op = "appendfile";
    return this.#run(op, path, async () => {
      if (!(data instanceof Uint8Array)) {
        throw fsError("EINVAL", op, path, { reason: "data must be a Uint8Array" });
      }
      const host = this.#host(path, op, "write");
      const bytes = data.slice();
      try {
        await Deno.writeFile(host, bytes, {
          createNew: true,
          mode: (options?.mode ?? 0o644) & 0o7777,
        });
        this.#changed.markEntry(path, parentPath(path));
        await this.#owner(host, options, metadataOf(await Deno.lstat(host)));
        return;
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      }
      await this.#overwrite(host, bytes, { append: true, create: false }, op, path);
      this.#changed.mark(path);
    });
  }

  /** Copy the file `from` over `to` (content and permission bits), in the host. */
  copyFile(from: string, to: string): Promise<void> {
    return this.#run("copyfile", from, async () => {
      const a = this.#host(from, "copyfile", "read", to);
      const b = this.#host(to, "copyfile", "write", to);
      await Deno.copyFile(a, b);
      this.#changed.markEntry(to, parentPath(to));
    }, to);
  }

  // ---------------------------------------------------------------- links

  /** Create a symlink at `path` holding `target` verbatim. */
  symlink(target: string, path: string, options?: Omit<CreateOptions, "mode">): Promise<void> {
    return this.#run("symlink", target, async () => {
      if (typeof target !== "string") {
        throw fsError("EINVAL", "symlink", path, { reason: "target must be a string" });
      }
      if (target === "") throw fsError("ENOENT", "symlink", target, { dest: path });
      const host = this.#host(path, "symlink", "write", path);
      await Deno.symlink(target, host);
      this.#changed.mark(parentPath(path));
      await this.#owner(host, options, metadataOf(await Deno.lstat(host)));
    }, path);
  }

  /** The target stored in the symlink at `path`; `EINVAL` for anything else. */
  readLink(path: string): Promise<string> {
    return this.#run("readlink", path, () => Deno.readLink(this.#host(path, "readlink", "read")));
  }

  /** Add the name `newPath` for the non-directory at `existing` (a symlink itself is linked). */
  link(existing: string, newPath: string): Promise<void> {
    return this.#run("link", existing, async () => {
      const a = this.#host(existing, "link", "read", newPath);
      const b = this.#host(newPath, "link", "write", newPath);
      await Deno.link(a, b);
      this.#changed.markEntry(newPath, parentPath(newPath));
    }, newPath);
  }

  // ---------------------------------------------------------------- attributes

  /** Set the permission bits of the entry at `path`; `ENOTSUP` for a symlink (Linux has no `lchmod`). */
  chmod(path: string, mode: number): Promise<void> {
    return this.#run("chmod", path, async () => {
      if (!Number.isInteger(mode)) {
        throw fsError("EINVAL", "chmod", path, { reason: `bad mode ${mode}` });
      }
      const host = this.#host(path, "chmod", "write");
      if ((await Deno.lstat(host)).isSymlink) {
        throw fsError("ENOTSUP", "chmod", path, {
          reason: "the mode of a symbolic link cannot be changed",
        });
      }
      await Deno.chmod(host, mode & 0o7777);
      this.#changed.mark(path);
    });
  }

  /**
   * Set owner and/or group of the entry itself (`lchown`). Giving a file
   * away needs root (or `CAP_CHOWN`); others get `EPERM` from the host.
   */
  chown(path: string, uid: number | null, gid: number | null): Promise<void> {
    return this.#run("chown", path, async () => {
      if ((uid !== null && !isId(uid)) || (gid !== null && !isId(gid))) {
        throw fsError("EINVAL", "chown", path, { reason: `bad owner ${uid}:${gid}` });
      }
      await fsp.lchown(this.#host(path, "chown", "write"), uid ?? -1, gid ?? -1);
      this.#changed.mark(path);
    });
  }

  /** Set atime and/or mtime of the entry itself (`lutimes`; a symlink's own times). */
  utime(path: string, atimeMs: number | null, mtimeMs: number | null): Promise<void> {
    return this.#run("utime", path, async () => {
      if (
        (atimeMs !== null && !Number.isFinite(atimeMs)) ||
        (mtimeMs !== null && !Number.isFinite(mtimeMs))
      ) {
        throw fsError("EINVAL", "utime", path, { reason: `bad times ${atimeMs}, ${mtimeMs}` });
      }
      const host = this.#host(path, "utime", "write");
      if (atimeMs === null || mtimeMs === null) {
        // No UTIME_OMIT through node:fs: keep the current value instead.
        const now = metadataOf(await Deno.lstat(host));
        atimeMs ??= now.atimeMs;
        mtimeMs ??= now.mtimeMs;
      }
      await fsp.lutimes(host, atimeMs / 1000, mtimeMs / 1000);
      this.#changed.mark(path);
    });
  }

  // ---------------------------------------------------------------- whole fs

  /**
   * `fsync` every file and directory this instance changed since the last
   * `sync()`, and every handle it has open for writing. Changes made by
   * other processes (or other instances) are not covered: Deno has no
   * `syncfs`.
   */
  async sync(): Promise<void> {
    for (const handle of this.#writers) await handle.sync();
    const paths = this.#changed.take();
    await forEachLimited(paths, LISTING_CONCURRENCY, async (p) => {
      try {
        await this.fsync(p);
      } catch (e) {
        // Gone since it changed: nothing left to make durable.
        if ((e as { code?: unknown }).code !== "ENOENT") throw e;
      }
    });
  }

  /** `fsync` the file or directory at `path`. */
  fsync(path: string): Promise<void> {
    return this.#run("fsync", path, async () => {
      const file = await Deno.open(this.#host(path, "fsync", "read"), { read: true });
      try {
        await file.sync();
      } finally {
        file.close();
      }
    });
  }

  /** Capacity of the host file system holding `root` (needs `--allow-sys=statfs`). */
  statfs(): Promise<StatFs> {
    return this.#run("statfs", "/", async () => {
      const host = this.#host("/", "statfs", "read");
      if (Deno.permissions.querySync({ name: "sys", kind: "statfs" }).state !== "granted") {
        throw fsError("EACCES", "statfs", "/", {
          reason: "Deno's permissions refuse it: run again with --allow-sys=statfs",
        });
      }
      return statFsOf(await fsp.statfs(host));
    });
  }

  // ---------------------------------------------------------------- handles

  /** Open the file at `path` as a `Deno.FsFile` (the host follows a final symlink). */
  open(path: string, options: OpenOptions = {}): Promise<FileHandle> {
    const op = "open";
    return this.#run(op, path, async () => {
      const append = options.append === true;
      const write = append || options.write === true;
      const read = options.read ?? !write;
      if (!read && !write) {
        throw fsError("EINVAL", op, path, { reason: "open needs read, write or append" });
      }
      if (options.truncate && !write) {
        throw fsError("EINVAL", op, path, { reason: "truncate needs write or append" });
      }
      const host = this.#host(path, op, write ? "write" : "read");
      const create = options.create === true || options.createNew === true;
      let file: Deno.FsFile | undefined;
      if (create) {
        try {
          file = await Deno.open(host, { read, write, append, createNew: true, mode: 0o600 });
          // Deno.open leaves the umask applied: set the mode asked for exactly.
          await Deno.chmod(host, (options.mode ?? 0o644) & 0o7777);
          this.#changed.markEntry(path, parentPath(path));
          await this.#owner(host, options, metadataOf(await file.stat()));
        } catch (e) {
          file?.close();
          file = undefined;
          if (options.createNew || !(e instanceof Deno.errors.AlreadyExists)) throw e;
        }
      }
      file ??= await Deno.open(host, { read, write, append, truncate: options.truncate === true });
      if (options.truncate) this.#changed.mark(path);
      return this.#handle(file, path, { read, write, append });
    });
  }

  #handle(file: Deno.FsFile, path: string, access: HostHandleAccess): HostFileHandle {
    const handle = new HostFileHandle(file, path, access, {
      fail: (e, op) => hostError(e, op, path, this.root),
      wrote: (h) => this.#writers.add(h),
      closed: (h) => this.#writers.delete(h),
    });
    return handle;
  }
}

async function isSymlink(host: string): Promise<boolean> {
  try {
    return (await Deno.lstat(host)).isSymlink;
  } catch {
    return false;
  }
}
