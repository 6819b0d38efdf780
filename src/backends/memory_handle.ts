/**
 * Open files of {@linkcode MemoryBackend}: positional I/O on an inode and
 * whole-file advisory locks with the semantics of Linux `flock(2)`.
 *
 * Internal to the memory backend; nothing here is exported from `mod.ts`.
 *
 * @module
 */

import type { FileHandle, LockMode } from "../core/backend.ts";
import { fsError } from "../core/errors.ts";
import type { Metadata } from "../core/types.ts";
import { type Inode, now, type Volume } from "./memory_inode.ts";

/** A lock request waiting for conflicting holders to let go. */
interface LockWaiter {
  handle: MemoryFileHandle;
  mode: LockMode;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * The advisory lock state of one inode: who holds it in which mode, and who
 * waits. Locks belong to handles (open file descriptions), as with `flock`.
 */
export class FileLock {
  /** Current holders and their modes. */
  readonly holders: Map<MemoryFileHandle, LockMode> = new Map();
  /** Blocked requests, oldest first. */
  readonly waiters: LockWaiter[] = [];

  /** Whether `handle` asking for `mode` conflicts with another holder. */
  conflicts(handle: MemoryFileHandle, mode: LockMode): boolean {
    for (const [holder, held] of this.holders) {
      if (holder !== handle && (mode === "exclusive" || held === "exclusive")) {
        return true;
      }
    }
    return false;
  }

  /**
   * Grant every waiting request that no longer conflicts, oldest first.
   * Later compatible requests are not held back by an older blocked one,
   * as on Linux.
   */
  wake(): void {
    for (let i = 0; i < this.waiters.length;) {
      const w = this.waiters[i];
      if (this.conflicts(w.handle, w.mode)) {
        i++;
        continue;
      }
      this.waiters.splice(i, 1);
      this.holders.set(w.handle, w.mode);
      w.resolve();
    }
  }

  /** Drop `handle`'s lock and its pending requests (rejected with `error`). */
  drop(handle: MemoryFileHandle, error?: unknown): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i].handle === handle) {
        const [w] = this.waiters.splice(i, 1);
        w.reject(error);
      }
    }
    if (this.holders.delete(handle)) this.wake();
  }
}

function checkRange(value: number, what: string, operation: string, path: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw fsError("EINVAL", operation, path, { reason: `bad ${what} ${value}` });
  }
}

/**
 * An open file of a memory backend. It refers to the inode, not the name:
 * renaming or unlinking the file does not affect it, and an unlinked file's
 * bytes live until the last handle on it is closed.
 */
export class MemoryFileHandle implements FileHandle {
  /** The path the file was opened at. */
  readonly path: string;
  readonly #volume: Volume;
  readonly #node: Inode;
  readonly #readable: boolean;
  readonly #writable: boolean;
  readonly #append: boolean;
  #closed = false;

  /** Open `node` (the backend checked type and mode; this counts the handle). */
  constructor(
    volume: Volume,
    node: Inode,
    path: string,
    readable: boolean,
    writable: boolean,
    append: boolean,
  ) {
    this.path = path;
    this.#volume = volume;
    this.#node = node;
    this.#readable = readable;
    this.#writable = writable;
    this.#append = append;
    node.opens++;
  }

  #check(operation: string): Inode {
    if (this.#closed) throw fsError("EBADF", operation, this.path);
    return this.#node;
  }

  /**
   * Up to `length` bytes from `position`. The result is a view of the
   * backend's storage: valid until the next change to the file.
   */
  // deno-lint-ignore require-await
  async read(position: number, length: number): Promise<Uint8Array> {
    const node = this.#check("read");
    if (!this.#readable) throw fsError("EBADF", "read", this.path);
    if (node.entries !== null) throw fsError("EISDIR", "read", this.path);
    checkRange(position, "position", "read", this.path);
    checkRange(length, "length", "read", this.path);
    if (length === 0) return node.data.subarray(0, 0);
    node.touchAtime();
    const start = Math.min(position, node.size);
    return node.data.subarray(start, Math.min(node.size, start + length));
  }

  /** Write all of `data` at `position` (at the end in append mode). */
  // deno-lint-ignore require-await
  async write(data: Uint8Array, position: number): Promise<number> {
    const node = this.#check("write");
    if (!this.#writable) throw fsError("EBADF", "write", this.path);
    if (!(data instanceof Uint8Array)) {
      throw fsError("EINVAL", "write", this.path, { reason: "data must be a Uint8Array" });
    }
    const at = this.#append ? node.size : position;
    checkRange(at, "position", "write", this.path);
    const length = data.length;
    if (length === 0) return 0;
    const end = at + length;
    if (!Number.isSafeInteger(end)) throw fsError("EFBIG", "write", this.path);
    if (end > node.size) this.#volume.checkBytes(end - node.size, "write", this.path);
    const before = node.size;
    node.writeAt(data, at);
    this.#volume.usedBytes += node.size - before;
    node.touchModified(now());
    return length;
  }

  /** Set the file's size; growing reads as zeros. */
  // deno-lint-ignore require-await
  async truncate(length: number): Promise<void> {
    const node = this.#check("ftruncate");
    // Linux's ftruncate: EINVAL for a descriptor not open for writing.
    if (!this.#writable || node.type !== "file") {
      throw fsError("EINVAL", "ftruncate", this.path, {
        reason: "the file is not open for writing",
      });
    }
    checkRange(length, "length", "ftruncate", this.path);
    const before = node.size;
    if (length === before) return;
    this.#volume.checkBytes(length - before, "ftruncate", this.path);
    node.resize(length);
    this.#volume.usedBytes += length - before;
    node.touchModified(now());
  }

  /** The file's metadata (also after it was unlinked). */
  // deno-lint-ignore require-await
  async stat(): Promise<Metadata> {
    return this.#check("fstat").metadata();
  }

  /** Nothing to flush in memory; fails only on a closed handle. */
  // deno-lint-ignore require-await
  async sync(): Promise<void> {
    this.#check("fsync");
  }

  /** Release the handle and its lock; frees an unlinked file's bytes on the last close. */
  // deno-lint-ignore require-await
  async close(): Promise<void> {
    const node = this.#check("close");
    this.#closed = true;
    const lock = node.lock;
    if (lock !== null) lock.drop(this, fsError("EBADF", "flock", this.path));
    node.opens--;
    this.#volume.release(node);
  }

  /**
   * Take a whole-file advisory lock. As with Linux `flock`, upgrading a
   * shared lock first releases it: an upgrade that cannot be granted at
   * once fails with `EAGAIN` (or waits) *without* the shared lock, and
   * requests that were already waiting go first. A downgrade always
   * succeeds at once.
   */
  lock(mode: LockMode, wait: boolean): Promise<void> {
    let node: Inode;
    try {
      node = this.#check("flock");
      if (mode !== "shared" && mode !== "exclusive") {
        throw fsError("EINVAL", "flock", this.path, { reason: `bad lock mode ${mode}` });
      }
    } catch (e) {
      return Promise.reject(e);
    }
    const lock = node.lock ??= new FileLock();
    const held = lock.holders.get(this);
    if (held === mode) return Promise.resolve();
    if (held === "exclusive") {
      // A downgrade cannot conflict: grant it at once, then let shared
      // waiters join.
      lock.holders.set(this, mode);
      lock.wake();
      return Promise.resolve();
    }
    if (held !== undefined) {
      // An upgrade releases the shared lock first and lets older waiters
      // in before it is tried, so two holders upgrading at once cannot
      // deadlock: one of them gets the lock, the other waits (or fails).
      lock.holders.delete(this);
      lock.wake();
    }
    if (!lock.conflicts(this, mode)) {
      lock.holders.set(this, mode);
      return Promise.resolve();
    }
    if (!wait) return Promise.reject(fsError("EAGAIN", "flock", this.path));
    return new Promise((resolve, reject) => {
      lock.waiters.push({ handle: this, mode, resolve, reject });
    });
  }

  /** Release this handle's lock (nothing happens when none is held). */
  // deno-lint-ignore require-await
  async unlock(): Promise<void> {
    const node = this.#check("flock");
    const lock = node.lock;
    if (lock !== null && lock.holders.delete(this)) lock.wake();
  }
}
