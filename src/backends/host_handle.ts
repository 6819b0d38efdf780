/**
 * Open files of the host-directory backends: a {@linkcode FileHandle} over a
 * `Deno.FsFile`, with positional I/O and `flock(2)` locks.
 *
 * Internal to the host backends; nothing here is exported from `mod.ts`.
 *
 * @module
 */

import type { FileHandle, LockMode } from "../core/backend.ts";
import { type FsError, fsError } from "../core/errors.ts";
import type { Metadata } from "../core/types.ts";
import { checkLength, metadataOf } from "./host_common.ts";

/** How a {@linkcode HostFileHandle} was opened. */
export interface HostHandleAccess {
  /** Reads are allowed. */
  readonly read: boolean;
  /** Writes and truncation are allowed. */
  readonly write: boolean;
  /** The file was opened with `O_APPEND`: every write goes to the end. */
  readonly append: boolean;
}

/** What a handle tells its backend. */
export interface HostHandleHooks {
  /** Turn a host failure into the backend's error for `operation`. */
  fail(e: unknown, operation: string): FsError;
  /** The handle wrote (so a later whole-backend `sync()` must flush it). */
  wrote?(handle: HostFileHandle): void;
  /** The handle closed. */
  closed?(handle: HostFileHandle): void;
  /** Metadata for what the host reports (default: {@linkcode metadataOf}). */
  describe?(info: Deno.FileInfo): Metadata;
}

/** Reads longer than this ask for the file's size first, so a huge `length` never allocates a huge buffer. */
const LARGE_READ = 1 << 20;

/**
 * An open host file. It refers to the open file description, not the name:
 * renames and unlinks do not disturb it, as on any POSIX file system.
 *
 * Deno's `FsFile` has one cursor and no positional `pread`/`pwrite`, so a
 * positional read or write is a seek followed by reads or writes. Every
 * operation on one handle therefore runs after the previous one finished —
 * two reads at different positions can never interleave their seeks.
 * Locks are `flock(2)` locks of the open file description (Deno's
 * `FsFile.lock`): they conflict with other handles, also in other
 * processes, and go away on `close`.
 */
export class HostFileHandle implements FileHandle {
  /** The backend path the file was opened at (for error messages). */
  readonly path: string;
  #file: Deno.FsFile;
  #access: HostHandleAccess;
  #hooks: HostHandleHooks;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;

  /** Wrap `file`, opened by the backend with `access`. */
  constructor(file: Deno.FsFile, path: string, access: HostHandleAccess, hooks: HostHandleHooks) {
    this.#file = file;
    this.path = path;
    this.#access = access;
    this.#hooks = hooks;
  }

  /** Run `task` after every earlier operation on this handle, mapping its failures. */
  #serial<T>(operation: string, task: (file: Deno.FsFile) => Promise<T>): Promise<T> {
    const run = async () => {
      if (this.#closed) {
        throw fsError("EBADF", operation, this.path, { reason: "handle is closed" });
      }
      try {
        return await task(this.#file);
      } catch (e) {
        throw this.#hooks.fail(e, operation);
      }
    };
    const result = this.#tail.then(run, run);
    this.#tail = result.catch(() => {});
    return result;
  }

  /** Up to `length` bytes from `position`; an empty array at or past the end. */
  read(position: number, length: number): Promise<Uint8Array> {
    try {
      if (!this.#access.read) {
        throw fsError("EBADF", "read", this.path, { reason: "file not opened for reading" });
      }
      checkLength(position, "position", "read", this.path);
      checkLength(length, "length", "read", this.path);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#serial("read", async (file) => {
      let want = length;
      if (want > LARGE_READ) {
        const size = (await file.stat()).size;
        want = Math.max(0, Math.min(want, size - position));
      }
      const buf = new Uint8Array(want);
      await file.seek(position, Deno.SeekMode.Start);
      let got = 0;
      while (got < want) {
        const n = await file.read(buf.subarray(got));
        if (n === null) break;
        got += n;
      }
      return got === want ? buf : buf.subarray(0, got);
    });
  }

  /** Write all of `data` at `position` (at the end when opened with `append`). */
  write(data: Uint8Array, position: number): Promise<number> {
    try {
      if (!this.#access.write) {
        throw fsError("EBADF", "write", this.path, { reason: "file not opened for writing" });
      }
      if (!(data instanceof Uint8Array)) {
        throw fsError("EINVAL", "write", this.path, { reason: "data must be a Uint8Array" });
      }
      if (!this.#access.append) checkLength(position, "position", "write", this.path);
    } catch (e) {
      return Promise.reject(e);
    }
    // Deno reads the buffer on another thread: a copy keeps a caller who
    // reuses it right after the call from changing what gets written.
    const bytes = data.slice();
    return this.#serial("write", async (file) => {
      // With O_APPEND the kernel moves every write to the end by itself.
      if (!this.#access.append) await file.seek(position, Deno.SeekMode.Start);
      let done = 0;
      while (done < bytes.length) done += await file.write(bytes.subarray(done));
      this.#hooks.wrote?.(this);
      return bytes.length;
    });
  }

  /** Set the file's size (grow with zeros or shrink). */
  truncate(length: number): Promise<void> {
    try {
      // ftruncate(2) on a descriptor not open for writing is EINVAL.
      if (!this.#access.write) {
        throw fsError("EINVAL", "ftruncate", this.path, {
          reason: "the file is not open for writing",
        });
      }
      checkLength(length, "length", "ftruncate", this.path);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#serial("ftruncate", async (file) => {
      await file.truncate(length);
      this.#hooks.wrote?.(this);
    });
  }

  /** The file's metadata, also after it was unlinked. */
  stat(): Promise<Metadata> {
    return this.#serial("fstat", async (file) => {
      const info = await file.stat();
      return this.#hooks.describe ? this.#hooks.describe(info) : metadataOf(info);
    });
  }

  /** Make this file's completed writes durable (`fsync`). */
  sync(): Promise<void> {
    return this.#serial("fsync", (file) => file.sync());
  }

  /** Release the handle (and its lock) once earlier operations finished. */
  close(): Promise<void> {
    return this.#serial("close", (file) => {
      this.#closed = true;
      file.close();
      this.#hooks.closed?.(this);
      return Promise.resolve();
    });
  }

  /**
   * Take a whole-file `flock(2)` lock. Not queued behind reads and writes:
   * a waiting lock must not hold up this handle's own I/O. A waiting lock
   * occupies one of Deno's blocking threads until it is granted.
   */
  async lock(mode: LockMode, wait: boolean): Promise<void> {
    if (this.#closed) throw fsError("EBADF", "flock", this.path, { reason: "handle is closed" });
    if (mode !== "shared" && mode !== "exclusive") {
      throw fsError("EINVAL", "flock", this.path, { reason: `bad lock mode ${mode}` });
    }
    const exclusive = mode === "exclusive";
    try {
      if (wait) {
        await this.#file.lock(exclusive);
      } else if (!(await this.#file.tryLock(exclusive))) {
        throw fsError("EAGAIN", "flock", this.path, {
          reason: "the file is locked by another handle",
        });
      }
    } catch (e) {
      if ((e as { code?: unknown }).code === "EAGAIN") throw e;
      throw this.#hooks.fail(e, "flock");
    }
  }

  /** Release this handle's lock (nothing happens when none is held). */
  async unlock(): Promise<void> {
    if (this.#closed) throw fsError("EBADF", "flock", this.path, { reason: "handle is closed" });
    try {
      await this.#file.unlock();
    } catch (e) {
      throw this.#hooks.fail(e, "flock");
    }
  }
}
