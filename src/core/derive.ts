/**
 * Operations every backend gets, from its own capability when it has one
 * and derived from the required core when it does not. Callers (the
 * {@linkcode FileStorage}, the mount adapter, middleware) use these instead
 * of checking capabilities themselves.
 *
 * The derivations are honest about their cost: a range read of a core-only
 * backend reads the whole file; an append rewrites it.
 *
 * @module
 */

import {
  type Backend,
  type CreateOptions,
  type FileHandle,
  type OpenOptions,
  supports,
} from "./backend.ts";
import { fsError } from "./errors.ts";
import type { Metadata } from "./types.ts";

/**
 * Metadata of `path`, or `null` when nothing is there (`ENOENT`); other
 * failures reject. Uses the backend's non-throwing `tryLstat` when it has
 * one, so probing a missing name does not pay for building an Error.
 *
 * @example
 * ```ts
 * import { MemoryBackend, tryLstat } from "@anyfs/anyfs";
 * console.log(await tryLstat(new MemoryBackend(), "/missing")); // null
 * ```
 */
export async function tryLstat(backend: Backend, path: string): Promise<Metadata | null> {
  if (backend.tryLstat) return backend.tryLstat(path);
  try {
    return await backend.lstat(path);
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return null;
    throw e;
  }
}

/**
 * Up to `length` bytes of `path` from `offset`.
 *
 * @example
 * ```ts
 * import { MemoryBackend, readRange } from "@anyfs/anyfs";
 * const b = new MemoryBackend();
 * await b.writeFile("/f", new TextEncoder().encode("hello"));
 * console.log(new TextDecoder().decode(await readRange(b, "/f", 1, 3))); // "ell"
 * ```
 */
export async function readRange(
  backend: Backend,
  path: string,
  offset: number,
  length: number,
): Promise<Uint8Array> {
  if (supports(backend, "ranges")) return backend.read(path, offset, length);
  const all = await backend.readFile(path);
  return all.subarray(Math.min(offset, all.length), Math.min(offset + length, all.length));
}

/** Append `data` to `path`, creating it with `options` when missing. */
export async function appendFile(
  backend: Backend,
  path: string,
  data: Uint8Array,
  options?: CreateOptions,
): Promise<void> {
  if (supports(backend, "append")) return backend.appendFile(path, data, options);
  let old: Uint8Array;
  try {
    old = await backend.readFile(path);
  } catch (e) {
    if ((e as { code?: string }).code !== "ENOENT") throw e;
    return backend.writeFile(path, data, { ...options, createNew: true });
  }
  const joined = new Uint8Array(old.length + data.length);
  joined.set(old);
  joined.set(data, old.length);
  await backend.writeFile(path, joined, { create: false });
}

/** Set the size of `path` to `length`, growing with zeros or shrinking. */
export async function truncateFile(
  backend: Backend,
  path: string,
  length: number,
): Promise<void> {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw fsError("EINVAL", "truncate", path, { reason: `bad length ${length}` });
  }
  if (supports(backend, "truncate")) return backend.truncate(path, length);
  const old = await backend.readFile(path);
  if (old.length === length) return backend.writeFile(path, old, { create: false });
  const next = new Uint8Array(length);
  next.set(old.subarray(0, Math.min(length, old.length)));
  await backend.writeFile(path, next, { create: false });
}

/**
 * Copy the regular file `from` to `to` (content and permission bits),
 * replacing a file at `to`.
 */
export async function copyFile(
  backend: Backend,
  from: string,
  to: string,
): Promise<void> {
  if (supports(backend, "copy")) return backend.copyFile(from, to);
  const meta = await backend.lstat(from);
  if (meta.type === "dir") throw fsError("EISDIR", "copyfile", from, { dest: to });
  const data = await backend.readFile(from);
  await backend.writeFile(to, data, { mode: meta.mode & 0o7777 });
  if (supports(backend, "permissions")) {
    await backend.chmod(to, meta.mode & 0o7777);
  }
}

/**
 * Open `path` as a {@linkcode FileHandle}: the backend's own handle when it
 * has the `handles` capability, otherwise a buffered handle that reads the
 * file on open and writes it back on `sync` and `close`.
 */
export function openFile(
  backend: Backend,
  path: string,
  options: OpenOptions,
): Promise<FileHandle> {
  if (supports(backend, "handles")) return backend.open(path, options);
  return BufferedHandle.open(backend, path, options);
}

/**
 * A handle over a core-only backend: the content is read at open and kept in
 * memory; writes are applied to the copy and written back with one
 * `writeFile` on `sync` and `close`. Good for small files and backends that
 * can only replace whole files; an unlinked file's handle keeps its copy.
 */
export class BufferedHandle implements FileHandle {
  readonly path: string;
  #backend: Backend;
  #data: Uint8Array;
  #size: number;
  #dirty = false;
  #closed = false;
  #readable: boolean;
  #writable: boolean;
  #append: boolean;

  private constructor(
    backend: Backend,
    path: string,
    data: Uint8Array,
    options: OpenOptions,
  ) {
    this.#backend = backend;
    this.path = path;
    this.#data = data;
    this.#size = data.length;
    this.#append = options.append === true;
    this.#writable = options.write === true || this.#append;
    this.#readable = options.read ?? !this.#writable;
  }

  /** Open `path` on a core-only backend (see {@linkcode openFile}). */
  static async open(
    backend: Backend,
    path: string,
    options: OpenOptions,
  ): Promise<BufferedHandle> {
    const writable = options.write === true || options.append === true;
    let meta: Metadata | undefined;
    try {
      meta = await backend.lstat(path);
    } catch (e) {
      if ((e as { code?: string }).code !== "ENOENT") throw e;
    }
    if (meta) {
      if (options.createNew) throw fsError("EEXIST", "open", path);
      if (meta.type === "dir") {
        if (writable) throw fsError("EISDIR", "open", path);
        return new BufferedHandle(backend, path, new Uint8Array(), options);
      }
    } else {
      if (!options.create && !options.createNew) {
        throw fsError("ENOENT", "open", path);
      }
      await backend.writeFile(path, new Uint8Array(), {
        mode: options.mode,
        uid: options.uid,
        gid: options.gid,
        createNew: true,
      });
    }
    let data = meta ? (await backend.readFile(path)).slice() : new Uint8Array();
    const handle = new BufferedHandle(backend, path, data, options);
    if (options.truncate && writable && data.length) {
      data = new Uint8Array();
      handle.#data = data;
      handle.#size = 0;
      handle.#dirty = true;
      await handle.sync();
    }
    return handle;
  }

  #check(op: string): void {
    if (this.#closed) throw fsError("EBADF", op, this.path);
  }

  // deno-lint-ignore require-await -- async so that checks reject, never throw
  async read(position: number, length: number): Promise<Uint8Array> {
    this.#check("read");
    if (!this.#readable) throw fsError("EBADF", "read", this.path);
    const start = Math.min(position, this.#size);
    return this.#data.subarray(start, Math.min(start + length, this.#size));
  }

  // deno-lint-ignore require-await -- async so that checks reject, never throw
  async write(data: Uint8Array, position: number): Promise<number> {
    this.#check("write");
    if (!this.#writable) throw fsError("EBADF", "write", this.path);
    const at = this.#append ? this.#size : position;
    this.#ensure(at + data.length);
    this.#data.set(data, at);
    this.#size = Math.max(this.#size, at + data.length);
    this.#dirty = true;
    return data.length;
  }

  #ensure(capacity: number): void {
    if (capacity <= this.#data.length) return;
    const next = new Uint8Array(Math.max(capacity, this.#data.length * 2));
    next.set(this.#data.subarray(0, this.#size));
    this.#data = next;
  }

  // deno-lint-ignore require-await -- async so that checks reject, never throw
  async truncate(length: number): Promise<void> {
    this.#check("truncate");
    // ftruncate(2) on a descriptor not open for writing is EINVAL, not EBADF.
    if (!this.#writable) throw fsError("EINVAL", "truncate", this.path);
    if (!Number.isSafeInteger(length) || length < 0) {
      throw fsError("EINVAL", "truncate", this.path, { reason: `bad length ${length}` });
    }
    if (length > this.#size) this.#ensure(length);
    else this.#data.fill(0, length, this.#size);
    this.#size = length;
    this.#dirty = true;
  }

  async stat(): Promise<Metadata> {
    this.#check("fstat");
    const meta = await this.#backend.lstat(this.path);
    return { ...meta, size: this.#size, blocks: Math.ceil(this.#size / 512) };
  }

  async sync(): Promise<void> {
    this.#check("fsync");
    if (!this.#dirty) return;
    this.#dirty = false;
    try {
      await this.#backend.writeFile(this.path, this.#data.subarray(0, this.#size), {
        create: false,
      });
    } catch (e) {
      // Still unwritten: a later sync or the close must try again, or the
      // changes would be dropped without a word.
      this.#dirty = true;
      throw e;
    }
  }

  async close(): Promise<void> {
    this.#check("close");
    try {
      await this.sync();
    } catch (e) {
      // The file was unlinked while open: its data lives only in this
      // handle, as on a POSIX file system, and goes away with it.
      if ((e as { code?: string }).code !== "ENOENT") throw e;
    } finally {
      this.#closed = true;
    }
  }
}
