/**
 * The base of the observability middleware ({@linkcode Tracing},
 * {@linkcode Metrics}): a forwarding middleware that runs every backend
 * operation, and every operation on the handles it opens, through one
 * method, {@linkcode Instrumented.observe}. A subclass implements that
 * method once — start a timer, run, look at the result or the error — and
 * sees everything that passes through it.
 *
 * @module
 */

import type {
  Backend,
  BackendOperation,
  CreateOptions,
  FileHandle,
  HandleOperation,
  LockMode,
  OpenOptions,
  SetXattrOptions,
  WriteFileOptions,
} from "../core/backend.ts";
import { tryLstat } from "../core/derive.ts";
import type { DirEntry, Metadata, StatFs } from "../core/types.ts";
import { HandleWrapper, Middleware } from "./middleware.ts";

/**
 * The name of one observed operation: the backend method's name, or
 * `handle.<method>` for an operation on an open handle.
 */
export type InstrumentedOperation = BackendOperation | HandleOperation;

/**
 * Operations whose result is file data read (a `Uint8Array`): for these the
 * bytes are the length of the result.
 */
export const READ_OPERATIONS: ReadonlySet<InstrumentedOperation> = new Set<
  InstrumentedOperation
>(["readFile", "read", "getXattr", "handle.read"]);

/** Operations that write file data: for these the bytes are the data passed in. */
export const WRITE_OPERATIONS: ReadonlySet<InstrumentedOperation> = new Set<
  InstrumentedOperation
>(["writeFile", "appendFile", "setXattr", "handle.write"]);

/**
 * What a `tryLstat` probe that found nothing is reported as: an `lstat`
 * failing with `ENOENT` (no Error is built for it).
 */
export const PROBE_MISSED: { readonly code: "ENOENT"; readonly message: string } = {
  code: "ENOENT",
  message: "No such file or directory",
};

/** The `code` of an error (`"EIO"` for an error without one). */
export function errorCodeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "EIO";
}

/** Runs one handle operation through the middleware that opened the handle. */
export type ObserveHandle = <T>(
  operation: InstrumentedOperation,
  bytes: number,
  run: () => Promise<T>,
) => Promise<T>;

/**
 * A middleware that routes every operation through
 * {@linkcode Instrumented.observe}. Capabilities, results and errors are
 * exactly the inner backend's.
 *
 * @example Log slow operations
 * ```ts
 * import { Instrumented, type InstrumentedOperation, MemoryBackend } from "@anyfs/anyfs";
 *
 * class SlowLog extends Instrumented {
 *   protected override async observe<T>(
 *     operation: InstrumentedOperation,
 *     path: string,
 *     _dest: string | undefined,
 *     _bytes: number,
 *     run: () => Promise<T>,
 *   ): Promise<T> {
 *     const t0 = performance.now();
 *     try {
 *       return await run();
 *     } finally {
 *       const ms = performance.now() - t0;
 *       if (ms > 100) console.warn(`${operation} ${path} took ${ms.toFixed(0)} ms`);
 *     }
 *   }
 * }
 * const backend = new SlowLog(new MemoryBackend());
 * ```
 */
export abstract class Instrumented<B extends Backend = Backend> extends Middleware<B> {
  /**
   * Run one operation. `path` is the backend path (`""` for `sync` and
   * `statfs`, `#<ino>` for inode operations), `dest` the second path of
   * `rename`, `link` and `copyFile` (and the target of `symlink`), `bytes`
   * the data written ({@linkcode WRITE_OPERATIONS}) or the length asked
   * for (`read`, `handle.read`), else 0. Must return what `run()` returns
   * and throw what it throws. An `lstat` resolving to `null` was a
   * `tryLstat` probe that found nothing.
   */
  protected abstract observe<T>(
    operation: InstrumentedOperation,
    path: string,
    dest: string | undefined,
    bytes: number,
    run: () => Promise<T>,
  ): Promise<T>;

  /**
   * Whether operations are observed now. When this says no, operations are
   * forwarded without calling {@linkcode Instrumented.observe} at all (no
   * closure is built for them). The default is always; {@linkcode Tracing}
   * says no while nothing would record its spans.
   */
  protected isObserving(): boolean {
    return true;
  }

  /**
   * Wrap a handle this middleware opened. The default routes every handle
   * operation through {@linkcode Instrumented.observe}; a subclass may
   * summarize handle I/O instead.
   */
  protected wrapHandle(handle: FileHandle): FileHandle {
    return new InstrumentedHandle(
      handle,
      (operation, bytes, run) => this.observe(operation, handle.path, undefined, bytes, run),
    );
  }

  /** The inner backend's `tryLstat` (its `lstat` with a miss as `null` when it has none). */
  #tryLstatInner(path: string): Promise<Metadata | null> {
    // From this class's own call site, not the base's: see Middleware.
    const inner = this.inner;
    return inner.tryLstat !== undefined ? inner.tryLstat(path) : tryLstat(inner, path);
  }

  /** Observed, then forwarded. */
  override lstat(path: string): Promise<Metadata> {
    if (!this.isObserving()) return this.inner.lstat(path);
    return this.observe("lstat", path, undefined, 0, () => this.inner.lstat(path));
  }
  /**
   * Observed as an `lstat` (whose result is `null` when nothing is there:
   * subclasses report that as `ENOENT`, see {@linkcode PROBE_MISSED}), then
   * forwarded as a probe, so no Error is built for a missing name.
   */
  override tryLstat(path: string): Promise<Metadata | null> {
    if (!this.isObserving()) return this.#tryLstatInner(path);
    return this.observe("lstat", path, undefined, 0, () => this.#tryLstatInner(path));
  }
  /** Observed, then forwarded. */
  override readDir(path: string): Promise<DirEntry[]> {
    if (!this.isObserving()) return this.inner.readDir(path);
    return this.observe("readDir", path, undefined, 0, () => this.inner.readDir(path));
  }
  /** Observed, then forwarded. */
  override readFile(path: string): Promise<Uint8Array> {
    if (!this.isObserving()) return this.inner.readFile(path);
    return this.observe("readFile", path, undefined, 0, () => this.inner.readFile(path));
  }
  /** Observed, then forwarded. */
  override writeFile(path: string, data: Uint8Array, options?: WriteFileOptions): Promise<void> {
    if (!this.isObserving()) return this.inner.writeFile(path, data, options);
    return this.observe(
      "writeFile",
      path,
      undefined,
      data.length,
      () => this.inner.writeFile(path, data, options),
    );
  }
  /** Observed, then forwarded. */
  override mkdir(path: string, options?: CreateOptions): Promise<void> {
    if (!this.isObserving()) return this.inner.mkdir(path, options);
    return this.observe("mkdir", path, undefined, 0, () => this.inner.mkdir(path, options));
  }
  /** Observed, then forwarded. */
  override unlink(path: string): Promise<void> {
    if (!this.isObserving()) return this.inner.unlink(path);
    return this.observe("unlink", path, undefined, 0, () => this.inner.unlink(path));
  }
  /** Observed, then forwarded. */
  override rmdir(path: string): Promise<void> {
    if (!this.isObserving()) return this.inner.rmdir(path);
    return this.observe("rmdir", path, undefined, 0, () => this.inner.rmdir(path));
  }
  /** Observed, then forwarded. */
  override rename(from: string, to: string): Promise<void> {
    if (!this.isObserving()) return this.inner.rename(from, to);
    return this.observe("rename", from, to, 0, () => this.inner.rename(from, to));
  }
  /** Observed, then forwarded. */
  override read(path: string, offset: number, length: number): Promise<Uint8Array> {
    if (!this.isObserving()) return super.read(path, offset, length);
    return this.observe("read", path, undefined, length, () => super.read(path, offset, length));
  }
  /** Observed, then forwarded. */
  override truncate(path: string, length: number): Promise<void> {
    if (!this.isObserving()) return super.truncate(path, length);
    return this.observe("truncate", path, undefined, 0, () => super.truncate(path, length));
  }
  /** Observed, then forwarded. */
  override appendFile(path: string, data: Uint8Array, options?: CreateOptions): Promise<void> {
    if (!this.isObserving()) return super.appendFile(path, data, options);
    return this.observe(
      "appendFile",
      path,
      undefined,
      data.length,
      () => super.appendFile(path, data, options),
    );
  }
  /** Observed, then forwarded. */
  override copyFile(from: string, to: string): Promise<void> {
    if (!this.isObserving()) return super.copyFile(from, to);
    return this.observe("copyFile", from, to, 0, () => super.copyFile(from, to));
  }
  /** Observed, then forwarded; the link's target is reported as `dest`. */
  override symlink(
    target: string,
    path: string,
    options?: Omit<CreateOptions, "mode">,
  ): Promise<void> {
    if (!this.isObserving()) return super.symlink(target, path, options);
    return this.observe("symlink", path, target, 0, () => super.symlink(target, path, options));
  }
  /** Observed, then forwarded. */
  override readLink(path: string): Promise<string> {
    if (!this.isObserving()) return super.readLink(path);
    return this.observe("readLink", path, undefined, 0, () => super.readLink(path));
  }
  /** Observed, then forwarded. */
  override link(existing: string, newPath: string): Promise<void> {
    if (!this.isObserving()) return super.link(existing, newPath);
    return this.observe("link", existing, newPath, 0, () => super.link(existing, newPath));
  }
  /** Observed, then forwarded. */
  override chmod(path: string, mode: number): Promise<void> {
    if (!this.isObserving()) return super.chmod(path, mode);
    return this.observe("chmod", path, undefined, 0, () => super.chmod(path, mode));
  }
  /** Observed, then forwarded. */
  override chown(path: string, uid: number | null, gid: number | null): Promise<void> {
    if (!this.isObserving()) return super.chown(path, uid, gid);
    return this.observe("chown", path, undefined, 0, () => super.chown(path, uid, gid));
  }
  /** Observed, then forwarded. */
  override utime(path: string, atimeMs: number | null, mtimeMs: number | null): Promise<void> {
    if (!this.isObserving()) return super.utime(path, atimeMs, mtimeMs);
    return this.observe("utime", path, undefined, 0, () => super.utime(path, atimeMs, mtimeMs));
  }
  /** Observed, then forwarded. */
  override sync(): Promise<void> {
    if (!this.isObserving()) return super.sync();
    return this.observe("sync", "", undefined, 0, () => super.sync());
  }
  /** Observed, then forwarded. */
  override fsync(path: string): Promise<void> {
    if (!this.isObserving()) return super.fsync(path);
    return this.observe("fsync", path, undefined, 0, () => super.fsync(path));
  }
  /** Observed, then forwarded. */
  override statfs(): Promise<StatFs> {
    if (!this.isObserving()) return super.statfs();
    return this.observe("statfs", "", undefined, 0, () => super.statfs());
  }
  /** Observed, then forwarded. */
  override statIno(ino: number): Promise<Metadata> {
    if (!this.isObserving()) return super.statIno(ino);
    return this.observe("statIno", `#${ino}`, undefined, 0, () => super.statIno(ino));
  }
  /** Observed, then forwarded. */
  override inodePath(ino: number): Promise<string> {
    if (!this.isObserving()) return super.inodePath(ino);
    return this.observe("inodePath", `#${ino}`, undefined, 0, () => super.inodePath(ino));
  }
  /** Observed, then forwarded. */
  override getXattr(path: string, name: string): Promise<Uint8Array> {
    if (!this.isObserving()) return super.getXattr(path, name);
    return this.observe("getXattr", path, undefined, 0, () => super.getXattr(path, name));
  }
  /** Observed, then forwarded. */
  override setXattr(
    path: string,
    name: string,
    value: Uint8Array,
    options?: SetXattrOptions,
  ): Promise<void> {
    if (!this.isObserving()) return super.setXattr(path, name, value, options);
    return this.observe(
      "setXattr",
      path,
      undefined,
      value.length,
      () => super.setXattr(path, name, value, options),
    );
  }
  /** Observed, then forwarded. */
  override listXattr(path: string): Promise<string[]> {
    if (!this.isObserving()) return super.listXattr(path);
    return this.observe("listXattr", path, undefined, 0, () => super.listXattr(path));
  }
  /** Observed, then forwarded. */
  override removeXattr(path: string, name: string): Promise<void> {
    if (!this.isObserving()) return super.removeXattr(path, name);
    return this.observe("removeXattr", path, undefined, 0, () => super.removeXattr(path, name));
  }
  /** Observed, then forwarded. */
  override mknod(
    path: string,
    mode: number,
    rdev: number,
    options?: Omit<CreateOptions, "mode">,
  ): Promise<void> {
    if (!this.isObserving()) return super.mknod(path, mode, rdev, options);
    return this.observe("mknod", path, undefined, 0, () => super.mknod(path, mode, rdev, options));
  }
  /** Observed, then forwarded; the handle's own operations are observed too. */
  override open(path: string, options: OpenOptions): Promise<FileHandle> {
    if (!this.isObserving()) return super.open(path, options);
    return this.observe(
      "open",
      path,
      undefined,
      0,
      async () => this.wrapHandle(await super.open(path, options)),
    );
  }
}

/**
 * A handle whose every operation runs through an {@linkcode ObserveHandle}
 * callback.
 */
export class InstrumentedHandle extends HandleWrapper {
  /** Runs each operation. */
  protected readonly observeHandle: ObserveHandle;

  /** Wrap `inner`, running its operations through `observe`. */
  constructor(inner: FileHandle, observe: ObserveHandle) {
    super(inner);
    this.observeHandle = observe;
    if (inner.lock) {
      this.lock = (mode: LockMode, wait: boolean) =>
        observe("handle.lock", 0, () => inner.lock!(mode, wait));
    }
    if (inner.unlock) this.unlock = () => observe("handle.unlock", 0, () => inner.unlock!());
  }

  /** Observed, then forwarded. */
  override read(position: number, length: number): Promise<Uint8Array> {
    return this.observeHandle("handle.read", length, () => super.read(position, length));
  }
  /** Observed, then forwarded. */
  override write(data: Uint8Array, position: number): Promise<number> {
    return this.observeHandle("handle.write", data.length, () => super.write(data, position));
  }
  /** Observed, then forwarded. */
  override truncate(length: number): Promise<void> {
    return this.observeHandle("handle.truncate", 0, () => super.truncate(length));
  }
  /** Observed, then forwarded. */
  override stat(): Promise<Metadata> {
    return this.observeHandle("handle.stat", 0, () => super.stat());
  }
  /** Observed, then forwarded. */
  override sync(): Promise<void> {
    return this.observeHandle("handle.sync", 0, () => super.sync());
  }
  /** Observed, then forwarded. */
  override close(): Promise<void> {
    return this.observeHandle("handle.close", 0, () => super.close());
  }
}
