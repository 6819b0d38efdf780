/**
 * Restrictions: switch off features an application does not want its users
 * (or agents) to have — creating symlinks or hard links, changing
 * permissions, owners or times, writing extended attributes, creating
 * special files. A denied operation fails with `EPERM` ("Operation not
 * permitted") and a reason naming the feature.
 *
 * Only the operations that *use* a feature are denied: existing symlinks
 * can still be read and followed, existing hard links still work, and
 * `stat` still reports modes and owners. The wrapped backend's capabilities
 * are unchanged, so callers see the operation and get `EPERM` for it, as
 * `ln -s` on a mount does. Restrictions can sit anywhere in a stack.
 *
 * @module
 */

import type {
  Backend,
  CreateOptions,
  Layer,
  SetXattrOptions,
  WriteFileOptions,
} from "../core/backend.ts";
import { tryLstat } from "../core/derive.ts";
import { fsError } from "../core/errors.ts";
import type { DirEntry, Metadata } from "../core/types.ts";
import { Middleware } from "./middleware.ts";

/** Which features a {@linkcode Restrictions} middleware switches off; all are allowed by default. */
export interface RestrictionsOptions {
  /** Deny creating symbolic links (`symlink`). */
  denySymlinks?: boolean;
  /** Deny creating hard links (`link`). */
  denyHardLinks?: boolean;
  /** Deny changing permission bits (`chmod`). */
  denyPermissions?: boolean;
  /** Deny changing owner or group (`chown`). */
  denyOwnership?: boolean;
  /** Deny setting access and modification times (`utime`; note that `touch` of an existing file uses it). */
  denyTimes?: boolean;
  /** Deny setting and removing extended attributes (reading them still works). */
  denyXattrWrites?: boolean;
  /** Deny creating special files: named pipes, sockets, devices (`mknod`). */
  denySpecialFiles?: boolean;
}

/**
 * A middleware that denies the features named in its
 * {@linkcode RestrictionsOptions} with `EPERM`.
 *
 * @example Deny links and permission changes
 * ```ts
 * import { MemoryBackend, Restrictions } from "@anyfs/anyfs";
 *
 * const backend = new Restrictions(new MemoryBackend(), {
 *   denySymlinks: true,
 *   denyHardLinks: true,
 *   denyPermissions: true,
 * });
 * await backend.writeFile("/a", new Uint8Array([1]));
 * try {
 *   await backend.symlink("/a", "/b");
 * } catch (e) {
 *   console.log((e as { code: string }).code); // "EPERM"
 * }
 * ```
 */
export class Restrictions<B extends Backend = Backend> extends Middleware<B> {
  /** The features this middleware denies. */
  readonly options: Readonly<RestrictionsOptions>;

  /** Wrap `inner`, denying the features set in `options`. */
  constructor(inner: B, options: RestrictionsOptions = {}) {
    super(inner);
    this.options = { ...options };
  }

  /**
   * A layer that wraps a backend in {@linkcode Restrictions}.
   *
   * @example
   * ```ts
   * import { MemoryBackend, Restrictions } from "@anyfs/anyfs";
   * const backend = new MemoryBackend().layer(Restrictions.layer({ denyPermissions: true }));
   * ```
   */
  static layer(options: RestrictionsOptions = {}): RestrictionsLayer {
    return new RestrictionsLayer(options);
  }

  // The core operations restrict nothing; they are forwarded from this
  // class's own call sites rather than inherited (see Middleware on why
  // that matters in deep stacks).

  /** Forwarded. */
  override lstat(path: string): Promise<Metadata> {
    return this.inner.lstat(path);
  }
  /** Forwarded, as a probe. */
  override tryLstat(path: string): Promise<Metadata | null> {
    const inner = this.inner;
    return inner.tryLstat !== undefined ? inner.tryLstat(path) : tryLstat(inner, path);
  }
  /** Forwarded. */
  override readDir(path: string): Promise<DirEntry[]> {
    return this.inner.readDir(path);
  }
  /** Forwarded. */
  override readFile(path: string): Promise<Uint8Array> {
    return this.inner.readFile(path);
  }
  /** Forwarded. */
  override writeFile(path: string, data: Uint8Array, options?: WriteFileOptions): Promise<void> {
    return this.inner.writeFile(path, data, options);
  }
  /** Forwarded. */
  override mkdir(path: string, options?: CreateOptions): Promise<void> {
    return this.inner.mkdir(path, options);
  }
  /** Forwarded. */
  override unlink(path: string): Promise<void> {
    return this.inner.unlink(path);
  }
  /** Forwarded. */
  override rmdir(path: string): Promise<void> {
    return this.inner.rmdir(path);
  }
  /** Forwarded. */
  override rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }

  #deny(feature: string, operation: string, path: string, dest?: string): Promise<never> {
    return Promise.reject(fsError("EPERM", operation, path, {
      dest,
      reason: `${feature} are not enabled in this storage`,
    }));
  }

  /** Fails with `EPERM` when this feature is denied; forwards otherwise. */
  override symlink(
    target: string,
    path: string,
    options?: Omit<CreateOptions, "mode">,
  ): Promise<void> {
    if (this.options.denySymlinks) return this.#deny("symbolic links", "symlink", path);
    return super.symlink(target, path, options);
  }

  /** Fails with `EPERM` when this feature is denied; forwards otherwise. */
  override link(existing: string, newPath: string): Promise<void> {
    if (this.options.denyHardLinks) return this.#deny("hard links", "link", existing, newPath);
    return super.link(existing, newPath);
  }

  /** Fails with `EPERM` when this feature is denied; forwards otherwise. */
  override chmod(path: string, mode: number): Promise<void> {
    if (this.options.denyPermissions) return this.#deny("permission changes", "chmod", path);
    return super.chmod(path, mode);
  }

  /** Fails with `EPERM` when this feature is denied; forwards otherwise. */
  override chown(path: string, uid: number | null, gid: number | null): Promise<void> {
    if (this.options.denyOwnership) return this.#deny("ownership changes", "chown", path);
    return super.chown(path, uid, gid);
  }

  /** Fails with `EPERM` when this feature is denied; forwards otherwise. */
  override utime(path: string, atimeMs: number | null, mtimeMs: number | null): Promise<void> {
    if (this.options.denyTimes) return this.#deny("time changes", "utime", path);
    return super.utime(path, atimeMs, mtimeMs);
  }

  /** Fails with `EPERM` when this feature is denied; forwards otherwise. */
  override setXattr(
    path: string,
    name: string,
    value: Uint8Array,
    options?: SetXattrOptions,
  ): Promise<void> {
    if (this.options.denyXattrWrites) {
      return this.#deny("extended attribute changes", "setxattr", path);
    }
    return super.setXattr(path, name, value, options);
  }

  /** Fails with `EPERM` when this feature is denied; forwards otherwise. */
  override removeXattr(path: string, name: string): Promise<void> {
    if (this.options.denyXattrWrites) {
      return this.#deny("extended attribute changes", "removexattr", path);
    }
    return super.removeXattr(path, name);
  }

  /** Fails with `EPERM` when this feature is denied; forwards otherwise. */
  override mknod(
    path: string,
    mode: number,
    rdev: number,
    options?: Omit<CreateOptions, "mode">,
  ): Promise<void> {
    if (this.options.denySpecialFiles) return this.#deny("special files", "mknod", path);
    return super.mknod(path, mode, rdev, options);
  }
}

/** The layer of {@linkcode Restrictions}. */
export class RestrictionsLayer implements Layer<Backend, Restrictions> {
  /** The features each wrapped backend denies. */
  readonly options: Readonly<RestrictionsOptions>;

  /** A layer denying the features set in `options`. */
  constructor(options: RestrictionsOptions = {}) {
    this.options = { ...options };
  }

  /** Wrap `inner` in {@linkcode Restrictions}. */
  layer<B extends Backend>(inner: B): Restrictions<B> {
    return new Restrictions(inner, this.options);
  }
}
