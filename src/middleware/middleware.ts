/**
 * The base every middleware extends: a backend that wraps an inner backend
 * and forwards every operation to it unchanged. A middleware overrides only
 * the operations its one responsibility touches.
 *
 * @module
 */

import {
  type Backend,
  capabilitiesOf,
  type Capability,
  type CapabilityMap,
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
  type LockMode,
  type OpenOptions,
  type SetXattrOptions,
  supports,
  type WriteFileOptions,
} from "../core/backend.ts";
import {
  appendFile,
  copyFile,
  openFile,
  readRange,
  truncateFile,
  tryLstat,
} from "../core/derive.ts";
import { fsError } from "../core/errors.ts";
import type { DirEntry, Metadata, StatFs } from "../core/types.ts";

/**
 * A backend that forwards everything to `inner`. Its `capabilities` are
 * exactly the inner backend's, so wrapping never adds or hides a capability;
 * calling a method whose capability the inner backend lacks fails with
 * `ENOTSUP`, except where a derivation exists (range reads, truncate,
 * append, copy, open), which then runs against this wrapper's own core so
 * that the middleware still sees the bytes.
 *
 * ## Speed in deep stacks
 * Every layer that inherits a forwarding method runs the same line of this
 * class, whose call `this.inner.x()` then sees a different backend class
 * per layer; past four, V8 stops specializing it, and each inherited
 * forward costs ~20 ns more than one from the layer's own code. So the
 * built-in middleware forward their hot operations from their own methods;
 * a middleware of yours need not, unless it sits in deep stacks of
 * in-memory backends. A subclass that overrides `lstat` should override
 * `tryLstat` too (see below).
 *
 * @example A middleware that counts reads
 * ```ts
 * import { MemoryBackend, Middleware } from "@anyfs/anyfs";
 *
 * class CountReads extends Middleware {
 *   count = 0;
 *   override readFile(path: string) {
 *     this.count++;
 *     return super.readFile(path);
 *   }
 * }
 * const backend = new CountReads(new MemoryBackend());
 * ```
 */
export class Middleware<B extends Backend = Backend> extends Layerable
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
  /** The wrapped backend. */
  readonly inner: B;
  /** The inner backend's capabilities. */
  readonly capabilities: ReadonlySet<Capability>;

  /** Wrap `inner`. */
  constructor(inner: B) {
    super();
    this.inner = inner;
    this.capabilities = capabilitiesOf(inner);
  }

  /** The inner backend narrowed to capability `cap`, or `ENOTSUP` naming the operation. */
  protected need<C extends Capability>(
    cap: C,
    operation: string,
    path: string,
  ): B & CapabilityMap[C] {
    if (!supports(this.inner, cap)) {
      throw fsError("ENOTSUP", operation, path, {
        reason: `the backend has no '${cap}' capability`,
      });
    }
    return this.inner as B & CapabilityMap[C];
  }

  lstat(path: string): Promise<Metadata> {
    return this.inner.lstat(path);
  }
  /**
   * `lstat` without an Error for a missing entry. When this middleware does
   * not override `lstat`, its `lstat` is the inner one, so the inner fast
   * path is used; a middleware that does override `lstat` (to filter, cache
   * or count) gets a probe through its own `lstat`, so no policy is
   * bypassed — it may override `tryLstat` too for speed.
   */
  tryLstat(path: string): Promise<Metadata | null> {
    if (this.lstat === Middleware.prototype.lstat) return this.tryLstatInner(path);
    return this.lstat(path).catch((e) => {
      if ((e as { code?: string }).code === "ENOENT") return null;
      throw e;
    });
  }
  /**
   * The inner backend's `tryLstat`, or its `lstat` with a miss as `null`
   * when it has none. Hands back the inner promise itself, without an
   * async wrapper, so a stack of forwarding layers costs only calls.
   */
  protected tryLstatInner(path: string): Promise<Metadata | null> {
    const inner = this.inner;
    return inner.tryLstat !== undefined ? inner.tryLstat(path) : tryLstat(inner, path);
  }
  readDir(path: string): Promise<DirEntry[]> {
    return this.inner.readDir(path);
  }
  readFile(path: string): Promise<Uint8Array> {
    return this.inner.readFile(path);
  }
  writeFile(path: string, data: Uint8Array, options?: WriteFileOptions): Promise<void> {
    return this.inner.writeFile(path, data, options);
  }
  mkdir(path: string, options?: CreateOptions): Promise<void> {
    return this.inner.mkdir(path, options);
  }
  unlink(path: string): Promise<void> {
    return this.inner.unlink(path);
  }
  rmdir(path: string): Promise<void> {
    return this.inner.rmdir(path);
  }
  rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }

  read(path: string, offset: number, length: number): Promise<Uint8Array> {
    return supports(this.inner, "ranges")
      ? this.inner.read(path, offset, length)
      : readRange(this.#core(), path, offset, length);
  }
  truncate(path: string, length: number): Promise<void> {
    return supports(this.inner, "truncate")
      ? this.inner.truncate(path, length)
      : truncateFile(this.#core(), path, length);
  }
  appendFile(path: string, data: Uint8Array, options?: CreateOptions): Promise<void> {
    return supports(this.inner, "append")
      ? this.inner.appendFile(path, data, options)
      : appendFile(this.#core(), path, data, options);
  }
  copyFile(from: string, to: string): Promise<void> {
    return supports(this.inner, "copy")
      ? this.inner.copyFile(from, to)
      : copyFile(this.#core(), from, to);
  }
  open(path: string, options: OpenOptions): Promise<FileHandle> {
    return supports(this.inner, "handles")
      ? this.inner.open(path, options)
      : openFile(this.#core(), path, options);
  }

  /**
   * This wrapper seen as a core-only backend, so derivations go through the
   * wrapper's own (possibly overridden) core methods.
   */
  #core(): Backend {
    return {
      lstat: (p) => this.lstat(p),
      readDir: (p) => this.readDir(p),
      readFile: (p) => this.readFile(p),
      writeFile: (p, d, o) => this.writeFile(p, d, o),
      mkdir: (p, o) => this.mkdir(p, o),
      unlink: (p) => this.unlink(p),
      rmdir: (p) => this.rmdir(p),
      rename: (f, t) => this.rename(f, t),
    };
  }

  symlink(target: string, path: string, options?: Omit<CreateOptions, "mode">): Promise<void> {
    return this.need("symlinks", "symlink", path).symlink(target, path, options);
  }
  readLink(path: string): Promise<string> {
    return this.need("symlinks", "readlink", path).readLink(path);
  }
  link(existing: string, newPath: string): Promise<void> {
    return this.need("hardlinks", "link", existing).link(existing, newPath);
  }
  chmod(path: string, mode: number): Promise<void> {
    return this.need("permissions", "chmod", path).chmod(path, mode);
  }
  chown(path: string, uid: number | null, gid: number | null): Promise<void> {
    return this.need("ownership", "chown", path).chown(path, uid, gid);
  }
  utime(path: string, atimeMs: number | null, mtimeMs: number | null): Promise<void> {
    return this.need("times", "utime", path).utime(path, atimeMs, mtimeMs);
  }
  sync(): Promise<void> {
    return this.need("sync", "sync", "").sync();
  }
  fsync(path: string): Promise<void> {
    return this.need("sync", "fsync", path).fsync(path);
  }
  statfs(): Promise<StatFs> {
    return this.need("statfs", "statfs", "").statfs();
  }
  statIno(ino: number): Promise<Metadata> {
    return this.need("inodes", "stat", `#${ino}`).statIno(ino);
  }
  inodePath(ino: number): Promise<string> {
    return this.need("inodes", "stat", `#${ino}`).inodePath(ino);
  }
  getXattr(path: string, name: string): Promise<Uint8Array> {
    return this.need("xattrs", "getxattr", path).getXattr(path, name);
  }
  setXattr(
    path: string,
    name: string,
    value: Uint8Array,
    options?: SetXattrOptions,
  ): Promise<void> {
    return this.need("xattrs", "setxattr", path).setXattr(path, name, value, options);
  }
  listXattr(path: string): Promise<string[]> {
    return this.need("xattrs", "listxattr", path).listXattr(path);
  }
  removeXattr(path: string, name: string): Promise<void> {
    return this.need("xattrs", "removexattr", path).removeXattr(path, name);
  }
  mknod(
    path: string,
    mode: number,
    rdev: number,
    options?: Omit<CreateOptions, "mode">,
  ): Promise<void> {
    return this.need("special", "mknod", path).mknod(path, mode, rdev, options);
  }
}

/**
 * A file handle that forwards everything to an inner handle; middleware that
 * must see handle I/O (quota, tracing, read-only) extends it.
 *
 * @example
 * ```ts
 * import { HandleWrapper } from "@anyfs/anyfs";
 * class CountingHandle extends HandleWrapper {
 *   written = 0;
 *   override async write(data: Uint8Array, position: number) {
 *     const n = await super.write(data, position);
 *     this.written += n;
 *     return n;
 *   }
 * }
 * ```
 */
export class HandleWrapper implements FileHandle {
  /** The wrapped handle. */
  readonly inner: FileHandle;

  /** Wrap `inner`; `lock`/`unlock` exist exactly when the inner handle has them. */
  constructor(inner: FileHandle) {
    this.inner = inner;
    if (!inner.lock) this.lock = undefined;
    if (!inner.unlock) this.unlock = undefined;
  }

  get path(): string {
    return this.inner.path;
  }
  read(position: number, length: number): Promise<Uint8Array> {
    return this.inner.read(position, length);
  }
  write(data: Uint8Array, position: number): Promise<number> {
    return this.inner.write(data, position);
  }
  truncate(length: number): Promise<void> {
    return this.inner.truncate(length);
  }
  stat(): Promise<Metadata> {
    return this.inner.stat();
  }
  sync(): Promise<void> {
    return this.inner.sync();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  lock?(mode: LockMode, wait: boolean): Promise<void> {
    return this.inner.lock!(mode, wait);
  }
  unlock?(): Promise<void> {
    return this.inner.unlock!();
  }
}
