/**
 * Open files of {@linkcode SqliteBackend}, and the whole-file advisory locks
 * they can take.
 *
 * @module
 */

import type { FileHandle, LockMode } from "../core/backend.ts";
import { fsError } from "../core/errors.ts";
import type { Metadata } from "../core/types.ts";

/**
 * What a handle needs from its backend. The backend builds it from its
 * private methods, so handles reach the database only through operations
 * that run in the backend's transactions.
 */
export interface HandleHost {
  /** Up to `length` bytes of inode `ino` from `position`. */
  read(ino: number, position: number, length: number, path: string): Uint8Array;
  /** Write `data` at `position`, or at the end when `position` is `"end"`; returns the count. */
  write(ino: number, data: Uint8Array, position: number | "end", path: string): number;
  /** Set the size of inode `ino`. */
  truncate(ino: number, length: number, path: string): void;
  /** Metadata of inode `ino`, even when it has no name left. */
  stat(ino: number, path: string): Metadata;
  /** Make every completed write durable. */
  sync(path: string): void;
  /** The handle is gone: drop its hold on `ino` (and the inode, if unlinked and unheld). */
  release(ino: number): void;
  /** The lock table shared by every handle on the same database in this process. */
  readonly locks: LockTable;
}

/** How a handle was opened, after defaults were applied. */
export interface HandleAccess {
  /** Reads are allowed. */
  readonly read: boolean;
  /** Writes are allowed. */
  readonly write: boolean;
  /** Every write goes to the end of the file. */
  readonly append: boolean;
}

/**
 * An open file of a {@linkcode SqliteBackend}. It refers to the inode, not
 * the path: renaming or unlinking the file does not disturb it, and an
 * unlinked file's data stays until the last handle closes. Every `write` and
 * `truncate` is one transaction.
 */
export class SqliteFileHandle implements FileHandle {
  /** The path the file was opened at (for error messages). */
  readonly path: string;
  /** The inode this handle refers to. */
  readonly ino: number;
  #host: HandleHost;
  #access: HandleAccess;
  #closed = false;

  /** Made by {@linkcode SqliteBackend.open}; not for direct use. */
  constructor(host: HandleHost, ino: number, path: string, access: HandleAccess) {
    this.#host = host;
    this.ino = ino;
    this.path = path;
    this.#access = access;
  }

  #check(operation: string, allowed: boolean): void {
    if (this.#closed) throw fsError("EBADF", operation, this.path, { reason: "handle is closed" });
    if (!allowed) {
      throw fsError("EBADF", operation, this.path, {
        reason: `file not opened for ${operation === "read" ? "reading" : "writing"}`,
      });
    }
  }

  /** Up to `length` bytes from `position`; empty at or past the end. */
  read(position: number, length: number): Promise<Uint8Array> {
    try {
      this.#check("read", this.#access.read);
      checkRange("read", this.path, position, length);
      return Promise.resolve(this.#host.read(this.ino, position, length, this.path));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Write all of `data` at `position` (at the end in append mode). */
  write(data: Uint8Array, position: number): Promise<number> {
    try {
      this.#check("write", this.#access.write);
      checkRange("write", this.path, position, data.length);
      const at = this.#access.append ? "end" : position;
      return Promise.resolve(this.#host.write(this.ino, data, at, this.path));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Set the file's size, growing with zeros or shrinking; `EINVAL` unless open for writing (as `ftruncate`). */
  truncate(length: number): Promise<void> {
    try {
      this.#check("ftruncate", true);
      if (!this.#access.write) {
        throw fsError("EINVAL", "ftruncate", this.path, {
          reason: "the file is not open for writing",
        });
      }
      checkRange("ftruncate", this.path, length, 0);
      this.#host.truncate(this.ino, length, this.path);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The file's metadata (also after it was unlinked). */
  stat(): Promise<Metadata> {
    try {
      this.#check("fstat", true);
      return Promise.resolve(this.#host.stat(this.ino, this.path));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Make this file's completed writes durable (a durable commit of the database). */
  sync(): Promise<void> {
    try {
      this.#check("fsync", true);
      this.#host.sync(this.path);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Release the handle and its lock; later calls fail with `EBADF`. */
  close(): Promise<void> {
    try {
      this.#check("close", true);
      this.closeNow();
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Close without the `EBADF` check (idempotent); the backend uses it to
   * close every handle when it is closed itself.
   */
  closeNow(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#host.locks.releaseAll(this);
    this.#host.release(this.ino);
  }

  /**
   * Take a whole-file advisory lock, with `flock(2)` semantics between the
   * handles of this process on the same database: any number of shared
   * locks or one exclusive lock. Other processes do not see these locks.
   */
  lock(mode: LockMode, wait: boolean): Promise<void> {
    try {
      this.#check("flock", true);
      return this.#host.locks.lock(this, this.ino, mode, wait, this.path);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Release this handle's lock (no-op when it holds none). */
  unlock(): Promise<void> {
    try {
      this.#check("flock", true);
      this.#host.locks.unlock(this);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

/** Reject positions and lengths that are not non-negative safe integers. */
function checkRange(operation: string, path: string, position: number, length: number): void {
  if (!Number.isSafeInteger(position) || position < 0) {
    throw fsError("EINVAL", operation, path, { reason: `bad position ${position}` });
  }
  if (!Number.isSafeInteger(length) || length < 0) {
    throw fsError("EINVAL", operation, path, { reason: `bad length ${length}` });
  }
  if (!Number.isSafeInteger(position + length)) {
    throw fsError("EFBIG", operation, path);
  }
}

interface Waiter {
  owner: object;
  mode: LockMode;
  resolve: () => void;
  reject: (e: unknown) => void;
  path: string;
}

interface InodeLocks {
  holders: Map<object, LockMode>;
  waiters: Waiter[];
}

/**
 * Whole-file advisory locks of one database in this process, keyed by
 * inode, with the semantics of Linux `flock(2)` (the same as
 * {@linkcode MemoryBackend}'s): a lock belongs to the handle that took it,
 * several shared locks or one exclusive lock may be held at once, and
 * closing the handle releases it. Upgrading a shared lock first releases
 * it, as Linux does: an upgrade that cannot be granted at once fails with
 * `EAGAIN` (or waits) without the shared lock, and requests that were
 * already waiting go first — so two holders upgrading at once cannot
 * deadlock. A downgrade always succeeds at once.
 */
export class LockTable {
  #inodes = new Map<number, InodeLocks>();
  #owners = new Map<object, number>();

  static #conflicts(entry: InodeLocks, owner: object, mode: LockMode): boolean {
    for (const [holder, held] of entry.holders) {
      if (holder !== owner && (mode === "exclusive" || held === "exclusive")) return true;
    }
    return false;
  }

  /** Take (or convert) `owner`'s lock on `ino`. */
  lock(owner: object, ino: number, mode: LockMode, wait: boolean, path = ""): Promise<void> {
    if (mode !== "shared" && mode !== "exclusive") {
      return Promise.reject(fsError("EINVAL", "flock", path, { reason: `bad lock mode ${mode}` }));
    }
    let entry = this.#inodes.get(ino);
    if (!entry) {
      entry = { holders: new Map(), waiters: [] };
      this.#inodes.set(ino, entry);
    }
    this.#owners.set(owner, ino);
    const held = entry.holders.get(owner);
    if (held === mode) return Promise.resolve();
    if (held === "exclusive") {
      // A downgrade cannot conflict: grant it at once, then let shared
      // waiters join.
      entry.holders.set(owner, mode);
      this.#wake(entry);
      return Promise.resolve();
    }
    if (held !== undefined) {
      // An upgrade releases the shared lock first and lets older waiters in
      // before it is tried, so two holders upgrading at once cannot
      // deadlock: one of them gets the lock, the other waits (or fails).
      entry.holders.delete(owner);
      this.#wake(entry);
    }
    if (!LockTable.#conflicts(entry, owner, mode)) {
      entry.holders.set(owner, mode);
      return Promise.resolve();
    }
    if (!wait) {
      this.#forget(ino, entry);
      return Promise.reject(
        fsError("EAGAIN", "flock", path, { reason: "the file is locked by another handle" }),
      );
    }
    const waiting = entry;
    return new Promise((resolve, reject) => {
      waiting.waiters.push({ owner, mode, resolve, reject, path });
    });
  }

  /** Release `owner`'s lock, if any, and grant what waiters now can have. */
  unlock(owner: object): void {
    const ino = this.#owners.get(owner);
    if (ino === undefined) return;
    const entry = this.#inodes.get(ino);
    if (entry !== undefined && entry.holders.delete(owner)) {
      this.#wake(entry);
      this.#forget(ino, entry);
    }
  }

  /** Release `owner`'s lock and fail its pending waits with `EBADF` (the handle closed). */
  releaseAll(owner: object): void {
    const ino = this.#owners.get(owner);
    if (ino === undefined) return;
    this.#owners.delete(owner);
    const entry = this.#inodes.get(ino);
    if (entry === undefined) return;
    for (let i = entry.waiters.length - 1; i >= 0; i--) {
      const w = entry.waiters[i];
      if (w.owner !== owner) continue;
      entry.waiters.splice(i, 1);
      w.reject(fsError("EBADF", "flock", w.path, { reason: "handle closed while waiting" }));
    }
    entry.holders.delete(owner);
    this.#wake(entry);
    this.#forget(ino, entry);
  }

  /**
   * Grant every waiting request that no longer conflicts, oldest first;
   * a later compatible request is not held back by an older blocked one,
   * as on Linux.
   */
  #wake(entry: InodeLocks): void {
    for (let i = 0; i < entry.waiters.length;) {
      const w = entry.waiters[i];
      if (LockTable.#conflicts(entry, w.owner, w.mode)) {
        i++;
        continue;
      }
      entry.waiters.splice(i, 1);
      entry.holders.set(w.owner, w.mode);
      w.resolve();
    }
  }

  /** Drop an inode's entry once nobody holds or waits (never in the middle of a request). */
  #forget(ino: number, entry: InodeLocks): void {
    if (entry.holders.size === 0 && entry.waiters.length === 0) this.#inodes.delete(ino);
  }
}
