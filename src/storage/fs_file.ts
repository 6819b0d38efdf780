/**
 * The open-file object {@linkcode FileStorage.open} returns: a cursor over a
 * backend {@linkcode FileHandle}, shaped like `Deno.FsFile`.
 *
 * @module
 */

import type { FileHandle } from "../core/backend.ts";
import { type FsError, fsError, toFsError } from "../core/errors.ts";
import type { Metadata } from "../core/types.ts";
import type { FsFileLike } from "./api.ts";
import { toFileInfo } from "./file_info.ts";

/** Bytes a `readable` stream reads per chunk (Deno's own chunk size). */
export const STREAM_CHUNK_SIZE = 64 * 1024;

/** How an {@linkcode FsFile} was opened. */
export interface FsFileMode {
  /** Reads are allowed. */
  readonly read: boolean;
  /** Writes (and `truncate`) are allowed. */
  readonly write: boolean;
  /** Every write goes to the end of the file. */
  readonly append: boolean;
}

/** What an {@linkcode FsFile} works on: a backend handle, or a directory opened for reading. */
export type FsFileTarget =
  | { readonly handle: FileHandle }
  | { readonly directory: () => Promise<Metadata> };

const SEEK_START = 0;
const SEEK_CURRENT = 1;
const SEEK_END = 2;

/**
 * An open file with a cursor, shaped like `Deno.FsFile`: `read`/`write` move
 * the cursor, `seek` sets it, `readable`/`writable` are Web streams that
 * close the file when they finish, and `await using` closes it at the end of
 * the scope.
 *
 * Operations on one `FsFile` run one after another in the order they were
 * called, so concurrent `read`s never see the same cursor. Handles opened
 * separately on the same file see each other's writes when the backend has
 * open handles (`handles` capability); on a backend without them each handle
 * works on its own copy, written back on `sync` and `close`.
 *
 * Create it with {@linkcode FileStorage.open}.
 *
 * @example
 * ```ts
 * import { FileStorage, MemoryBackend } from "@anyfs/anyfs";
 *
 * const fs = new FileStorage(new MemoryBackend());
 * await using file = await fs.open("/log.txt", { write: true, create: true, read: true });
 * await file.write(new TextEncoder().encode("hello world"));
 * await file.seek(6, Deno.SeekMode.Start);
 * const buf = new Uint8Array(5);
 * await file.read(buf);
 * console.log(new TextDecoder().decode(buf)); // "world"
 * ```
 */
export class FsFile implements FsFileLike {
  /** The path the file was opened with, as the caller wrote it (for messages). */
  readonly path: string;
  #handle: FileHandle | null;
  #directory: (() => Promise<Metadata>) | null;
  #mode: FsFileMode;
  #dev: number;
  #pos = 0;
  #closed = false;
  #tail: Promise<unknown> = Promise.resolve();
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
  #writable: WritableStream<Uint8Array<ArrayBufferLike>> | undefined;

  /**
   * Wrap a backend handle (or a directory opened for reading). Called by
   * {@linkcode FileStorage.open}; `path` is the caller's path, for messages.
   */
  constructor(target: FsFileTarget, path: string, mode: FsFileMode, dev = 0) {
    this.#handle = "handle" in target ? target.handle : null;
    this.#directory = "directory" in target ? target.directory : null;
    this.path = path;
    this.#mode = mode;
    this.#dev = dev;
  }

  /** Whether {@linkcode FsFile.close} has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  #serial<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    // Checked at call time: an operation started before `close` still runs.
    if (this.#closed) return Promise.reject(fsError("EBADF", operation, this.path));
    const run = this.#tail.then(async () => {
      try {
        return await fn();
      } catch (e) {
        throw this.#fail(e, operation);
      }
    });
    this.#tail = run.catch(() => {});
    return run;
  }

  #fail(e: unknown, operation: string): FsError {
    const err = toFsError(e, operation, this.path);
    if (err.path === this.path) return err;
    return fsError(err.code, operation, this.path, { reason: err.reason, cause: err });
  }

  /**
   * Read up to `p.length` bytes at the cursor into `p`. Resolves to the
   * number of bytes read, or `null` at end of file (0 for an empty `p`).
   */
  read(p: Uint8Array): Promise<number | null> {
    return this.#serial("read", async () => {
      if (!this.#mode.read) throw fsError("EBADF", "read", this.path);
      if (p.length === 0) return 0;
      const handle = this.#handle;
      if (handle === null) throw fsError("EISDIR", "read", this.path);
      const data = await handle.read(this.#pos, p.length);
      if (data.length === 0) return null;
      p.set(data);
      this.#pos += data.length;
      return data.length;
    });
  }

  /**
   * Write all of `p` at the cursor (at the end of the file in append mode)
   * and move the cursor past it. Resolves to the number of bytes written.
   */
  write(p: Uint8Array): Promise<number> {
    return this.#serial("write", async () => {
      const handle = this.#handle;
      if (!this.#mode.write || handle === null) throw fsError("EBADF", "write", this.path);
      // write(2) of nothing moves nothing, not even an O_APPEND cursor.
      if (p.length === 0) return 0;
      if (this.#mode.append) {
        const n = await handle.write(p, 0);
        // O_APPEND leaves the cursor at the end as it was right after this
        // write; a later truncate does not move it.
        this.#pos = (await handle.stat()).size;
        return n;
      }
      const n = await handle.write(p, this.#pos);
      this.#pos += n;
      return n;
    });
  }

  /**
   * Move the cursor to `offset` from the start, the current position or the
   * end (`Deno.SeekMode`); resolves to the new position. A position before
   * the start is `EINVAL`; past the end is allowed (a later write leaves a
   * zero-filled gap).
   */
  seek(offset: number | bigint, whence: Deno.SeekMode): Promise<number> {
    return this.#serial("seek", async () => {
      const delta = typeof offset === "bigint" ? Number(offset) : offset;
      if (typeof delta !== "number" || !Number.isFinite(delta)) {
        throw fsError("EINVAL", "seek", this.path, { reason: `bad offset ${String(offset)}` });
      }
      let base: number;
      if (whence === SEEK_START) base = 0;
      else if (whence === SEEK_CURRENT) base = this.#pos;
      else if (whence === SEEK_END) base = (await this.#metadata()).size;
      else throw fsError("EINVAL", "seek", this.path, { reason: `Invalid seek mode: ${whence}` });
      const next = base + Math.trunc(delta);
      if (next < 0 || !Number.isSafeInteger(next)) {
        throw fsError("EINVAL", "seek", this.path, { reason: `position ${next} is out of range` });
      }
      this.#pos = next;
      return next;
    });
  }

  /**
   * Set the file's length to `len` (default 0; negative counts as 0, as in
   * Deno), growing with zeros or shrinking; the cursor does not move. The
   * file must be open for writing (`EINVAL` otherwise, as Linux says).
   */
  truncate(len?: number): Promise<void> {
    return this.#serial("ftruncate", async () => {
      const length = !len || len < 0 ? 0 : Math.trunc(len);
      if (!this.#mode.write || this.#handle === null) {
        throw fsError("EINVAL", "ftruncate", this.path, {
          reason: "the file is not open for writing",
        });
      }
      await this.#handle.truncate(length);
    });
  }

  #metadata(): Promise<Metadata> {
    return this.#handle ? this.#handle.stat() : this.#directory!();
  }

  /** The file's metadata (it keeps describing the open file after a rename). */
  stat(): Promise<Deno.FileInfo> {
    return this.#serial("fstat", async () => toFileInfo(await this.#metadata(), this.#dev));
  }

  /** Make this file's completed writes durable (`fsync`). */
  sync(): Promise<void> {
    return this.#serial("fsync", async () => {
      if (this.#handle) await this.#handle.sync();
    });
  }

  /** Make this file's completed writes durable (`fdatasync`; same as `sync` here). */
  syncData(): Promise<void> {
    return this.#serial("fdatasync", async () => {
      if (this.#handle) await this.#handle.sync();
    });
  }

  /**
   * Take an advisory whole-file lock, waiting until it can be had: shared by
   * default, exclusive with `exclusive: true`. `ENOTSUP` when the backend
   * has no locks.
   */
  lock(exclusive = false): Promise<void> {
    return this.#serial("flock", async () => {
      const handle = this.#handle;
      if (handle === null || typeof handle.lock !== "function") {
        throw fsError("ENOTSUP", "flock", this.path, { reason: "the backend has no file locks" });
      }
      await handle.lock(exclusive ? "exclusive" : "shared", true);
    });
  }

  /** Release this file's lock (nothing happens when it holds none). */
  unlock(): Promise<void> {
    return this.#serial("funlock", async () => {
      const handle = this.#handle;
      if (handle !== null && typeof handle.unlock === "function") await handle.unlock();
    });
  }

  /**
   * Close the file once the operations already started on it have finished.
   * Later calls fail with `EBADF` (`Deno.errors.BadResource`), as does
   * closing twice. Await it: on a backend without open handles closing is
   * when the data is written back, and a failure there is reported here.
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.reject(fsError("EBADF", "close", this.path));
    this.#closed = true;
    const handle = this.#handle;
    const done = this.#tail.then(async () => {
      if (handle === null) return;
      try {
        await handle.close();
      } catch (e) {
        throw this.#fail(e, "close");
      }
    });
    this.#tail = done.catch(() => {});
    return done;
  }

  /** Close the file unless it is already closed (what `await using` calls). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.#closed ? Promise.resolve() : this.close();
  }

  /**
   * The rest of the file from the cursor as a stream of chunks; the file is
   * closed when the stream ends, fails or is cancelled.
   */
  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    if (this.#readable) return this.#readable;
    const closeQuietly = () => this.#closed ? undefined : this.close().catch(() => {});
    this.#readable = new ReadableStream<Uint8Array<ArrayBuffer>>({
      pull: async (controller) => {
        let chunk: Uint8Array<ArrayBuffer> | null;
        try {
          chunk = await this.#readChunk();
        } catch (e) {
          await closeQuietly();
          controller.error(e);
          return;
        }
        if (chunk === null) {
          await closeQuietly();
          controller.close();
        } else {
          controller.enqueue(chunk);
        }
      },
      cancel: closeQuietly,
    }, { highWaterMark: 0 });
    return this.#readable;
  }

  #readChunk(): Promise<Uint8Array<ArrayBuffer> | null> {
    return this.#serial("read", async () => {
      if (!this.#mode.read) throw fsError("EBADF", "read", this.path);
      const handle = this.#handle;
      if (handle === null) throw fsError("EISDIR", "read", this.path);
      const data = await handle.read(this.#pos, STREAM_CHUNK_SIZE);
      if (data.length === 0) return null;
      this.#pos += data.length;
      // The backend may hand out a view of its own storage: copy it.
      return data.slice();
    });
  }

  /**
   * A stream writing each chunk at the cursor; closing (or aborting) the
   * stream closes the file.
   */
  get writable(): WritableStream<Uint8Array<ArrayBufferLike>> {
    if (this.#writable) return this.#writable;
    this.#writable = new WritableStream<Uint8Array<ArrayBufferLike>>({
      write: async (chunk) => {
        let done = 0;
        while (done < chunk.length) {
          const n = await this.write(done === 0 ? chunk : chunk.subarray(done));
          if (n <= 0) throw fsError("EIO", "write", this.path, { reason: "no progress" });
          done += n;
        }
      },
      close: () => this.#closed ? undefined : this.close(),
      abort: () => this.#closed ? undefined : this.close().catch(() => {}),
    });
    return this.#writable;
  }
}
