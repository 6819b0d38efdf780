/**
 * The storage model behind {@linkcode MemoryBackend}: inodes, the inode
 * table with its usage accounting and limits, and the clock.
 *
 * Internal to the memory backend; nothing here is exported from `mod.ts`.
 *
 * @module
 */

import { fsError } from "../core/errors.ts";
import type { FileType, Metadata } from "../core/types.ts";
import type { FileLock } from "./memory_handle.ts";

const EMPTY = new Uint8Array(0);
const DAY_MS = 24 * 60 * 60 * 1000;
/** Size of a directory entry as tmpfs counts it in a directory's `size`. */
const DIRENT_SIZE = 20;

// Sub-millisecond times keep successive changes in order (make-like tools
// compare mtimes), but `performance.now()` costs three times `Date.now()`
// in Deno and drifts from the wall clock. So the wall clock gives the
// millisecond and a counter orders the operations within it, in steps of a
// microsecond that never reach the next millisecond.
let clockMs = 0;
let clockStep = 0;

/**
 * Now, in milliseconds since the epoch: the wall clock's millisecond plus
 * a fraction that grows with each call inside the same millisecond.
 */
export function now(): number {
  const ms = Date.now();
  if (ms !== clockMs) {
    clockMs = ms;
    clockStep = 0;
    return ms;
  }
  if (clockStep < 999) clockStep++;
  return ms + clockStep / 1000;
}

/** One name of an inode: the directory holding it and the name in it. */
export interface Link {
  /** The directory. */
  dir: Inode;
  /** The name inside `dir`. */
  name: string;
}

/**
 * One file system node. Every node has every field (unused ones hold empty
 * values) so that the engine sees one object shape on the hot paths.
 */
export class Inode {
  /** Inode number, never reused during the volume's life. */
  readonly ino: number;
  /** Node type; agrees with the type bits of `mode`. */
  readonly type: FileType;
  /** Full mode, type bits included. */
  mode: number;
  /** Owner. */
  uid: number;
  /** Group. */
  gid: number;
  /** Names of a non-directory; 2 + subdirectories for a directory; 0 once removed. */
  nlink: number;
  /** Device number (character and block devices). */
  rdev = 0;
  /** Access time. */
  atimeMs: number;
  /** Modification time. */
  mtimeMs: number;
  /** Status change time. */
  ctimeMs: number;
  /** Creation time. */
  birthtimeMs: number;
  /**
   * File bytes; `data.length` is the capacity, `size` the length. Bytes
   * past `size` are unspecified and zeroed whenever the file grows over them.
   */
  data: Uint8Array = EMPTY;
  /** File length, or the UTF-8 length of a symlink's target. */
  size = 0;
  /** `data` may be shared with another inode (clone, copy): copy before mutating. */
  shared = false;
  /** Directory entries in insertion order (directories only). */
  entries: Map<string, Inode> | null;
  /** Symlink target, verbatim. */
  target = "";
  /** Extended attributes in insertion order; values are never mutated in place. */
  xattrs: Map<string, Uint8Array> | null = null;
  /** Bytes the xattrs take (UTF-8 names plus values), for usage accounting. */
  xattrBytes = 0;
  /** The first name: its directory (null once the node has no name). */
  parent: Inode | null = null;
  /** The first name inside `parent`. */
  name = "";
  /** Further names (hard links), rarely present. */
  moreLinks: Link[] | null = null;
  /** Open handles on this inode. */
  opens = 0;
  /** Whole-file advisory lock state, created on first use. */
  lock: FileLock | null = null;

  /** A new node with all times set to `time`. */
  constructor(
    ino: number,
    type: FileType,
    mode: number,
    uid: number,
    gid: number,
    time: number,
  ) {
    this.ino = ino;
    this.type = type;
    this.mode = mode;
    this.uid = uid;
    this.gid = gid;
    this.nlink = type === "dir" ? 2 : 1;
    this.atimeMs = time;
    this.mtimeMs = time;
    this.ctimeMs = time;
    this.birthtimeMs = time;
    this.entries = type === "dir" ? new Map() : null;
  }

  /** The bytes this node is charged for in the volume's usage. */
  get chargedBytes(): number {
    return (this.type === "file" || this.type === "symlink" ? this.size : 0) +
      this.xattrBytes;
  }

  /** A fresh metadata record. */
  metadata(): Metadata {
    const size = this.entries !== null ? (2 + this.entries.size) * DIRENT_SIZE : this.size;
    return {
      type: this.type,
      ino: this.ino,
      mode: this.mode,
      nlink: this.nlink,
      uid: this.uid,
      gid: this.gid,
      size,
      // Only file data takes blocks; directories and symlink targets live
      // in the inode, as tmpfs and ext4 report them.
      blocks: this.type === "file" ? Math.ceil(size / 512) : 0,
      rdev: this.rdev,
      atimeMs: this.atimeMs,
      mtimeMs: this.mtimeMs,
      ctimeMs: this.ctimeMs,
      birthtimeMs: this.birthtimeMs,
    };
  }

  /**
   * Update the access time as Linux's default `relatime` does: only when it
   * is not newer than the last modification or status change, or a day old.
   */
  touchAtime(): void {
    if (this.atimeMs <= this.mtimeMs || this.atimeMs <= this.ctimeMs) {
      this.atimeMs = now();
    } else if (Date.now() - this.atimeMs >= DAY_MS) {
      this.atimeMs = now();
    }
  }

  /** Record that content changed. */
  touchModified(time: number): void {
    this.mtimeMs = time;
    this.ctimeMs = time;
  }

  /**
   * Make `data` private and at least `capacity` long, keeping the first
   * `size` bytes. Returns whether the bytes past `size` are known to be
   * zero (a new buffer was allocated); otherwise the caller zeroes what it
   * exposes.
   *
   * Small files grow by doubling into a new buffer, so many small appends
   * cost O(n). Large ones move into a resizable `ArrayBuffer`, which V8
   * grows in place inside a reserved address range: growing a 256 MiB
   * file in 1 MiB writes then costs no copies at all, where doubling
   * copied it twice over and touched twice its size in fresh pages (a
   * third of the time of a sequential write went there).
   */
  reserve(capacity: number): boolean {
    const old = this.data;
    if (capacity <= old.length && !this.shared) return false;
    if (!this.shared) {
      const buffer = old.buffer as ArrayBuffer;
      if (buffer.resizable && capacity <= buffer.maxByteLength) {
        // Grow with some slack, so that small appends do not resize each time.
        const slack = Math.min(old.length >> 1, 1 << 26);
        buffer.resize(Math.min(buffer.maxByteLength, Math.max(capacity, old.length + slack)));
        return false;
      }
    }
    // A shared buffer is copied at its content's size; a private one that
    // is too small grows from its capacity. Slack is bounded for huge files.
    const base = this.shared ? this.size : old.length;
    const next = capacity <= base
      ? Math.max(capacity, this.size)
      : Math.max(capacity, Math.min(base * 2, base + (1 << 28)), 64);
    const bytes = next >= RESIZABLE_FROM ? allocateResizable(next) : allocate(next);
    bytes.set(old.subarray(0, this.size));
    this.data = bytes;
    this.shared = false;
    return true;
  }

  /** Replace the content with a copy of `bytes` (the caller checked space). */
  replace(bytes: Uint8Array): void {
    const len = bytes.length;
    // Reuse the buffer unless it is shared or far too large for the new content.
    if (this.shared || len > this.data.length || this.data.length > 2 * len + 4096) {
      this.data = len === 0 ? EMPTY : bytes.slice();
      this.shared = false;
    } else {
      this.data.set(bytes);
    }
    this.size = len;
  }

  /** Write `bytes` at `position`, zero-filling any gap (the caller checked space). */
  writeAt(bytes: Uint8Array, position: number): void {
    const end = position + bytes.length;
    const fresh = this.reserve(end);
    // A fresh buffer is already zero past the old size; filling it would
    // only touch memory the engine may not have committed yet.
    if (position > this.size && !fresh) this.data.fill(0, this.size, position);
    this.data.set(bytes, position);
    if (end > this.size) this.size = end;
  }

  /** Set the length: growing reads as zeros, shrinking drops the tail. */
  resize(length: number): void {
    if (length > this.size) {
      if (!this.reserve(length)) this.data.fill(0, this.size, length);
    } else if (this.data.length > 4096 && length < this.data.length / 4) {
      // Give memory back after a large shrink.
      const bytes = length === 0 ? EMPTY : allocate(length);
      if (length) bytes.set(this.data.subarray(0, length));
      this.data = bytes;
      this.shared = false;
    }
    this.size = length;
  }

  /** Add a name (the caller updates `nlink`). */
  addLink(dir: Inode, name: string): void {
    if (this.parent === null) {
      this.parent = dir;
      this.name = name;
    } else {
      (this.moreLinks ??= []).push({ dir, name });
    }
  }

  /** Forget the name `name` in `dir` (the caller updates `nlink`). */
  removeLink(dir: Inode, name: string): void {
    if (this.parent === dir && this.name === name) {
      const next = this.moreLinks?.pop();
      this.parent = next ? next.dir : null;
      this.name = next ? next.name : "";
      return;
    }
    const links = this.moreLinks;
    if (!links) return;
    for (let i = 0; i < links.length; i++) {
      if (links[i].dir === dir && links[i].name === name) {
        links.splice(i, 1);
        return;
      }
    }
  }

  /** Change the name `fromName` in `fromDir` into `toName` in `toDir`. */
  moveLink(fromDir: Inode, fromName: string, toDir: Inode, toName: string): void {
    if (this.parent === fromDir && this.name === fromName) {
      this.parent = toDir;
      this.name = toName;
      return;
    }
    for (const link of this.moreLinks ?? []) {
      if (link.dir === fromDir && link.name === fromName) {
        link.dir = toDir;
        link.name = toName;
        return;
      }
    }
  }
}

/** Files from this size on are kept in a resizable buffer (see `Inode.reserve`). */
const RESIZABLE_FROM = 1 << 20;
/**
 * The address range reserved for a resizable buffer of `length` bytes:
 * room to grow eightfold before it must move (address space is plentiful
 * on 64-bit systems; only the bytes in use are committed).
 */
function reservationFor(length: number): number {
  return Math.min(Number.MAX_SAFE_INTEGER, Math.max(length * 8, 1 << 28));
}
const canResize = typeof ArrayBuffer.prototype.resize === "function";

/**
 * A zeroed, length-tracking view of a resizable buffer of `length` bytes
 * (a plain buffer where the engine has none); `ENOMEM` when refused.
 */
function allocateResizable(length: number): Uint8Array {
  if (!canResize) return allocate(length);
  try {
    return new Uint8Array(new ArrayBuffer(length, { maxByteLength: reservationFor(length) }));
  } catch {
    // The address range could not be reserved: a plain buffer still works.
    return allocate(length);
  }
}

/** A zeroed buffer of `length` bytes; `ENOMEM` when the engine refuses it. */
function allocate(length: number): Uint8Array {
  try {
    return new Uint8Array(length);
  } catch (cause) {
    throw fsError("ENOMEM", "write", "", {
      reason: `cannot allocate ${length} bytes`,
      cause,
    });
  }
}

/** Limits and default owner of a {@linkcode Volume}. */
export interface VolumeLimits {
  /** Byte capacity; 0 = unlimited. */
  capacity: number;
  /** Inode limit; 0 = unlimited. */
  maxInodes: number;
  /** Default owner of new nodes. */
  uid: number;
  /** Default group of new nodes. */
  gid: number;
}

/**
 * The inode table of one memory backend with its usage figures. Every
 * creating operation asks it for room first (`ENOSPC`) and only then
 * changes anything, so a refused operation leaves no trace.
 */
export class Volume {
  /** The root directory (inode 1). */
  readonly root: Inode;
  /** Every live inode, including unlinked ones that are still open. */
  readonly table: Map<number, Inode> = new Map();
  /** Limits and default owner. */
  readonly limits: VolumeLimits;
  /** Bytes in use: file data, symlink targets and xattrs. */
  usedBytes = 0;
  #nextIno = 2;

  /** An empty volume whose root has mode 0o755 and the default owner. */
  constructor(limits: VolumeLimits, root?: Inode) {
    this.limits = limits;
    this.root = root ??
      new Inode(1, "dir", 0o040755, limits.uid, limits.gid, now());
    this.table.set(1, this.root);
  }

  /** `ENOSPC` unless one more inode fits. */
  checkInode(operation: string, path: string): void {
    const max = this.limits.maxInodes;
    if (max !== 0 && this.table.size >= max) {
      throw fsError("ENOSPC", operation, path, {
        reason: `the inode limit of ${max} is reached`,
        limit: max,
        usage: this.table.size,
      });
    }
  }

  /** `ENOSPC` unless `delta` more bytes fit. */
  checkBytes(delta: number, operation: string, path: string): void {
    const cap = this.limits.capacity;
    if (cap !== 0 && delta > 0 && this.usedBytes + delta > cap) {
      throw fsError("ENOSPC", operation, path, {
        reason: `the capacity of ${cap} bytes would be exceeded`,
        limit: cap,
        requested: delta,
        usage: this.usedBytes,
      });
    }
  }

  /** Add a new inode to the table (after {@linkcode Volume.checkInode}). */
  create(
    type: FileType,
    mode: number,
    uid: number,
    gid: number,
    time: number,
  ): Inode {
    const node = new Inode(this.#nextIno++, type, mode, uid, gid, time);
    this.table.set(node.ino, node);
    return node;
  }

  /** Free `node` once it has neither names nor open handles. */
  release(node: Inode): void {
    if (node.nlink !== 0 || node.opens !== 0) return;
    if (this.table.delete(node.ino)) {
      this.usedBytes -= node.chargedBytes;
      node.data = EMPTY;
      node.xattrs = null;
    }
  }

  /**
   * A copy of this volume. Metadata is copied; file bytes are shared and
   * marked so that either side copies them before its first change.
   * Unlinked inodes that only open handles keep alive stay behind: the copy
   * has no handles.
   */
  clone(): Volume {
    const copies = new Map<Inode, Inode>();
    for (const node of this.table.values()) {
      if (node.nlink === 0) continue;
      const copy = new Inode(
        node.ino,
        node.type,
        node.mode,
        node.uid,
        node.gid,
        node.birthtimeMs,
      );
      copy.nlink = node.nlink;
      copy.rdev = node.rdev;
      copy.atimeMs = node.atimeMs;
      copy.mtimeMs = node.mtimeMs;
      copy.ctimeMs = node.ctimeMs;
      if (node.data.length !== 0) {
        copy.data = node.data;
        copy.shared = true;
        node.shared = true;
      }
      copy.size = node.size;
      copy.target = node.target;
      if (node.xattrs !== null) copy.xattrs = new Map(node.xattrs);
      copy.xattrBytes = node.xattrBytes;
      copy.name = node.name;
      copies.set(node, copy);
    }
    const volume = new Volume(this.limits, copies.get(this.root)!);
    for (const [node, copy] of copies) {
      if (node.entries !== null) {
        const entries = copy.entries!;
        for (const [name, child] of node.entries) entries.set(name, copies.get(child)!);
      }
      copy.parent = node.parent === null ? null : copies.get(node.parent)!;
      if (node.moreLinks !== null) {
        copy.moreLinks = node.moreLinks.map((l) => ({ dir: copies.get(l.dir)!, name: l.name }));
      }
      volume.table.set(copy.ino, copy);
      volume.usedBytes += copy.chargedBytes;
    }
    volume.#nextIno = this.#nextIno;
    return volume;
  }
}
