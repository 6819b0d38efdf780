/**
 * {@linkcode OverlayFileHandle}: an open file of an {@linkcode Overlay},
 * which may move from the lower layer to the upper one while it is open.
 *
 * @module
 */

import type { FileHandle, LockMode } from "../core/backend.ts";
import { fsError } from "../core/errors.ts";
import type { Metadata } from "../core/types.ts";
import type { LockTable } from "./sqlite_handle.ts";

/** What a handle needs from the overlay that opened it. */
export interface OverlayHandleHost {
  /** The overlay's lock table (locks are the overlay's own, keyed by its inode numbers). */
  readonly locks: LockTable;
  /** The handle was closed: stop tracking it. */
  release(handle: OverlayFileHandle): void;
}

/**
 * An open file of an overlay. It wraps a handle of the layer that holds
 * the file and reports the overlay's inode number.
 *
 * A file opened for reading while only the lower layer has it follows the
 * file when it is copied up (because it was written, through another
 * handle or by path): later reads see the upper copy, as on Linux since
 * overlayfs 4.19 — a descriptor names a file, not a layer. A file whose
 * lower entry is deleted or replaced while open keeps reading the lower
 * bytes, as an unlinked file does.
 */
export class OverlayFileHandle implements FileHandle {
  /** The path the file was opened at. */
  readonly path: string;
  #host: OverlayHandleHost;
  #inner: FileHandle;
  #retired: FileHandle[] = [];
  #ino: number;
  #detached = false;
  #closed = false;

  /** Wrap `inner`, a handle on the file the overlay numbers `ino`. */
  constructor(host: OverlayHandleHost, inner: FileHandle, path: string, ino: number) {
    this.#host = host;
    this.#inner = inner;
    this.path = path;
    this.#ino = ino;
  }

  /** The overlay's inode number of the open file. */
  get ino(): number {
    return this.#ino;
  }

  /**
   * Continue on `inner`, a handle on the upper copy of this file (made by a
   * copy-up), whose overlay inode number is `ino`. The lower handle stays
   * open until this one closes: a read may still be running on it.
   */
  moveTo(inner: FileHandle, ino: number): void {
    this.#retired.push(this.#inner);
    this.#inner = inner;
    this.#ino = ino;
  }

  /** The lower entry this handle reads was removed from the overlay's view. */
  detach(): void {
    this.#detached = true;
  }

  #check(op: string): void {
    if (this.#closed) throw fsError("EBADF", op, this.path);
  }

  // deno-lint-ignore require-await -- async so that a closed handle rejects
  async read(position: number, length: number): Promise<Uint8Array> {
    this.#check("read");
    return this.#inner.read(position, length);
  }

  // deno-lint-ignore require-await -- async so that a closed handle rejects
  async write(data: Uint8Array, position: number): Promise<number> {
    this.#check("write");
    return this.#inner.write(data, position);
  }

  // deno-lint-ignore require-await -- async so that a closed handle rejects
  async truncate(length: number): Promise<void> {
    this.#check("truncate");
    return this.#inner.truncate(length);
  }

  async stat(): Promise<Metadata> {
    this.#check("fstat");
    const meta = await this.#inner.stat();
    // A lower file hidden by a whiteout still has its lower link; the
    // overlay's view has one name fewer.
    const nlink = this.#detached ? Math.max(0, meta.nlink - 1) : meta.nlink;
    return { ...meta, ino: this.#ino, nlink };
  }

  // deno-lint-ignore require-await -- async so that a closed handle rejects
  async sync(): Promise<void> {
    this.#check("fsync");
    return this.#inner.sync();
  }

  async close(): Promise<void> {
    this.#check("close");
    this.#closed = true;
    this.#host.locks.releaseAll(this);
    this.#host.release(this);
    const all = [this.#inner, ...this.#retired];
    const results = await Promise.allSettled(all.map((h) => h.close()));
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  // deno-lint-ignore require-await -- async so that a closed handle rejects
  async lock(mode: LockMode, wait: boolean): Promise<void> {
    this.#check("flock");
    return this.#host.locks.lock(this, this.#ino, mode, wait, this.path);
  }

  // deno-lint-ignore require-await -- async so that a closed handle rejects
  async unlock(): Promise<void> {
    this.#check("flock");
    this.#host.locks.unlock(this);
  }
}
