/**
 * ReadOnly: every operation that would change the backend fails with
 * `EROFS` ("Read-only file system"); reads, `stat`, listings, `statfs` and
 * `sync` pass through untouched.
 *
 * Opening follows Linux on a read-only mount: opening for writing,
 * appending or truncating fails with `EROFS`, and so does creating a
 * missing file; `create` on a file that already exists opens it for
 * reading, and `createNew` on one gives `EEXIST`. Handles it returns refuse
 * writes and truncation with `EROFS` whatever the inner backend would do.
 *
 * A ReadOnly can sit anywhere in a stack; it only decides which error a
 * denied write sees first (`EROFS` above a {@linkcode PathFilter}, `EACCES`
 * below it).
 *
 * @module
 */

import type {
  Backend,
  CreateOptions,
  FileHandle,
  Layer,
  OpenOptions,
  SetXattrOptions,
  WriteFileOptions,
} from "../core/backend.ts";
import { fsError } from "../core/errors.ts";
import { HandleWrapper, Middleware } from "./middleware.ts";

function readOnly(operation: string, path: string, dest?: string): Promise<never> {
  return Promise.reject(
    fsError("EROFS", operation, path, { dest, reason: "the storage is read-only" }),
  );
}

function codeOf(e: unknown): string | undefined {
  return (e as { code?: string } | null)?.code;
}

/**
 * A middleware that makes its backend read-only.
 *
 * @example
 * ```ts
 * import { MemoryBackend, ReadOnly } from "@anyfs/anyfs";
 *
 * const data = new MemoryBackend();
 * await data.writeFile("/doc.txt", new TextEncoder().encode("published"));
 * const published = new ReadOnly(data);
 * console.log(new TextDecoder().decode(await published.readFile("/doc.txt")));
 * try {
 *   await published.writeFile("/doc.txt", new Uint8Array());
 * } catch (e) {
 *   console.log((e as { code: string }).code); // "EROFS"
 * }
 * ```
 */
export class ReadOnly<B extends Backend = Backend> extends Middleware<B> {
  /**
   * A layer that wraps a backend in {@linkcode ReadOnly}.
   *
   * @example
   * ```ts
   * import { MemoryBackend, ReadOnly } from "@anyfs/anyfs";
   * const backend = new MemoryBackend().layer(ReadOnly.layer());
   * ```
   */
  static layer(): ReadOnlyLayer {
    return new ReadOnlyLayer();
  }

  /** Fails with `EROFS`: the storage is read-only. */
  override writeFile(path: string, _data: Uint8Array, _options?: WriteFileOptions): Promise<void> {
    return readOnly("open", path);
  }
  /** Fails with `EROFS`: the storage is read-only. */
  override mkdir(path: string, _options?: CreateOptions): Promise<void> {
    return readOnly("mkdir", path);
  }
  /** Fails with `EROFS`: the storage is read-only. */
  override unlink(path: string): Promise<void> {
    return readOnly("unlink", path);
  }
  /** Fails with `EROFS`: the storage is read-only. */
  override rmdir(path: string): Promise<void> {
    return readOnly("rmdir", path);
  }
  /** Fails with `EROFS`: the storage is read-only. */
  override rename(from: string, to: string): Promise<void> {
    return readOnly("rename", from, to);
  }
  /** Fails with `EROFS`: the storage is read-only. */
  override truncate(path: string, _length: number): Promise<void> {
    return readOnly("truncate", path);
  }
  /** Fails with `EROFS`: the storage is read-only. */
  override appendFile(path: string, _data: Uint8Array, _options?: CreateOptions): Promise<void> {
    return readOnly("open", path);
  }
  /** Fails with `EROFS`: the storage is read-only. */
  override copyFile(from: string, to: string): Promise<void> {
    return readOnly("copyfile", from, to);
  }
  /** Fails with `EROFS`: the storage is read-only. */
  override symlink(
    _target: string,
    path: string,
    _options?: Omit<CreateOptions, "mode">,
  ): Promise<void> {
    return readOnly("symlink", path);
  }
  /** Fails with `EROFS`: the storage is read-only. */
  override link(existing: string, newPath: string): Promise<void> {
    return readOnly("link", existing, newPath);
  }
  /** Fails with `EROFS`: the storage is read-only. */
  override chmod(path: string, _mode: number): Promise<void> {
    return readOnly("chmod", path);
  }
  /** Fails with `EROFS`: the storage is read-only. */
  override chown(path: string, _uid: number | null, _gid: number | null): Promise<void> {
    return readOnly("chown", path);
  }
  /** Fails with `EROFS`: the storage is read-only. */
  override utime(path: string, _atimeMs: number | null, _mtimeMs: number | null): Promise<void> {
    return readOnly("utime", path);
  }
  /** Fails with `EROFS`: the storage is read-only. */
  override setXattr(
    path: string,
    _name: string,
    _value: Uint8Array,
    _options?: SetXattrOptions,
  ): Promise<void> {
    return readOnly("setxattr", path);
  }
  /** Fails with `EROFS`: the storage is read-only. */
  override removeXattr(path: string, _name: string): Promise<void> {
    return readOnly("removexattr", path);
  }
  /** Fails with `EROFS`: the storage is read-only. */
  override mknod(
    path: string,
    _mode: number,
    _rdev: number,
    _options?: Omit<CreateOptions, "mode">,
  ): Promise<void> {
    return readOnly("mknod", path);
  }

  /** Opens for reading; `EROFS` for writing, appending, truncating or creating. */
  override async open(path: string, options: OpenOptions): Promise<FileHandle> {
    if (options.write || options.append || options.truncate) return readOnly("open", path);
    if (options.create || options.createNew) {
      // Linux opens an existing file with O_CREAT on a read-only mount; only
      // creating is refused.
      try {
        await this.inner.lstat(path);
      } catch (e) {
        if (codeOf(e) === "ENOENT") return readOnly("open", path);
        throw e;
      }
      if (options.createNew) throw fsError("EEXIST", "open", path);
    }
    const handle = await super.open(path, {
      ...options,
      create: false,
      createNew: false,
      read: true,
    });
    return new ReadOnlyHandle(handle);
  }
}

/** A handle that refuses to write, whatever its inner handle allows. */
class ReadOnlyHandle extends HandleWrapper {
  /** Fails with `EROFS`: the storage is read-only. */
  override write(_data: Uint8Array, _position: number): Promise<number> {
    return readOnly("write", this.path);
  }
  /** Fails with `EROFS`: the storage is read-only. */
  override truncate(_length: number): Promise<void> {
    return readOnly("truncate", this.path);
  }
}

/** The layer of {@linkcode ReadOnly}. */
export class ReadOnlyLayer implements Layer<Backend, ReadOnly> {
  /** Wrap `inner` in {@linkcode ReadOnly}. */
  layer<B extends Backend>(inner: B): ReadOnly<B> {
    return new ReadOnly(inner);
  }
}
