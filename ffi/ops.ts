/**
 * The bridge between libfuse's `struct fuse_lowlevel_ops` and JavaScript
 * handlers: one thread-safe callback per kernel operation, each of which
 * copies what it needs out of C memory *before* returning (names, write
 * data, `fuse_file_info`, `struct stat` point into libfuse's receive buffer
 * or stack) and hands plain JavaScript values to a
 * {@linkcode LowLevelHandlers} method, together with a
 * {@linkcode FuseRequest} the handler replies through — later, after it has
 * awaited the backend.
 *
 * Callbacks are `Deno.UnsafeCallback.threadSafe`: libfuse calls them from
 * the thread running `fuse_session_loop`, which then waits until the
 * JavaScript thread has run the callback body (not the handler's async
 * work). Everything here must therefore be quick and must never throw: a
 * throw would return to C with the request unanswered, so each callback
 * replies `EIO` itself if its handler throws synchronously.
 *
 * @module
 */

import {
  buildArgs,
  CONN,
  type ConnInfo,
  connInfoView,
  cString,
  direntPlusSize,
  direntSize,
  type FileInfoIn,
  type FileInfoOut,
  type Forget,
  type LowLevelOpName,
  OPS_OFFSET,
  readConnInfo,
  readContext,
  readFileInfo,
  readForgets,
  readSetattr,
  type RequestContext,
  type SetattrFields,
  SIZEOF,
  type StatFields,
  type StatvfsFields,
  writeEntryParam,
  writeFileInfo,
  writeNegativeEntry,
  writeStat,
  writeStatvfs,
} from "./layout.ts";
import type { LibFuseSymbols } from "./libfuse.ts";

export { buildArgs };
export type {
  ConnInfo,
  FileInfoIn,
  FileInfoOut,
  Forget,
  RequestContext,
  SetattrFields,
  StatFields,
  StatvfsFields,
};

/** The errno numbers the bridge itself needs (Linux), when a handler cannot be reached. */
const EIO = 5;

// Scratch buffers for replies: libfuse copies them into its own reply
// message before `fuse_reply_*` returns, and every reply is made on the
// JavaScript thread, so one of each is enough.
const entryBuf = new Uint8Array(SIZEOF.entryParam);
const entryView = new DataView(entryBuf.buffer);
const statBuf = new Uint8Array(SIZEOF.stat);
const statView = new DataView(statBuf.buffer);
const fiBuf = new Uint8Array(SIZEOF.fileInfoAlloc);
const fiView = new DataView(fiBuf.buffer);
const statvfsBuf = new Uint8Array(SIZEOF.statvfs);
const statvfsView = new DataView(statvfsBuf.buffer);

const ENCODER = new TextEncoder();
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * One kernel request, to be answered exactly once through one of its
 * methods. Every method returns libfuse's result: 0, or a negative errno
 * (`-ENOENT` when the request was interrupted and the reply discarded).
 */
export interface FuseReply {
  /** Whether a reply has been sent. */
  readonly replied: boolean;
  /** The calling process (uid, gid, pid, umask). */
  context(): RequestContext;
  /** Reply with an error (a positive errno), or success without data for `errno` 0. */
  err(errno: number): number;
  /** Reply to a forget: nothing is sent. */
  none(): void;
  /** Reply with a directory entry (lookup, mknod, mkdir, symlink, link). */
  entry(nodeId: number, attr: StatFields, attrTimeout: number, entryTimeout: number): number;
  /** Reply that a name does not exist, letting the kernel cache that for `entryTimeout` s. */
  negativeEntry(entryTimeout: number): number;
  /** Reply to create: the new entry and its open file. */
  create(
    nodeId: number,
    attr: StatFields,
    attrTimeout: number,
    entryTimeout: number,
    fi: FileInfoOut,
  ): number;
  /** Reply with attributes (getattr, setattr). */
  attr(attr: StatFields, timeout: number): number;
  /** Reply with a symlink's target. */
  readlink(target: string): number;
  /** Reply to open/opendir. */
  open(fi: FileInfoOut): number;
  /** Reply to write with the number of bytes written. */
  write(count: number): number;
  /** Reply with data (read, readdir, getxattr, listxattr). */
  buf(data: Uint8Array): number;
  /** Reply to statfs. */
  statfs(s: StatvfsFields): number;
  /** Reply to getxattr/listxattr with size 0: the size needed. */
  xattrSize(size: number): number;
  /** Reply to lseek. */
  lseek(offset: number): number;
  /** A buffer for the reply of a readdir/readdirplus of `size` bytes (send it with `buf`). */
  dirBuffer(size: number): DirBuffer;
}

/** Whether replies may still reach libfuse (false once the session is destroyed). */
export interface ReplyGate {
  /** Replies are sent while true. */
  open: boolean;
}

/**
 * Reusable buffers for the data of write requests. The data must be copied
 * out of libfuse's receive buffer before the callback returns; a fresh
 * allocation per write (up to 1 MiB) costs page faults and garbage
 * collection on every request. A buffer is lent to one request and comes
 * back when that request is answered: by then the backend has copied it,
 * as the `FileHandle.write` contract says.
 */
export class WriteBufferPool {
  readonly #free: Uint8Array<ArrayBuffer>[] = [];
  readonly #keep: number;

  /** A pool that keeps at most `keep` idle buffers. */
  constructor(keep = 8) {
    this.#keep = keep;
  }

  /** A buffer of at least `size` bytes (its first `size` bytes are the caller's). */
  take(size: number): Uint8Array<ArrayBuffer> {
    const free = this.#free;
    for (let i = free.length - 1; i >= 0; i--) {
      if (free[i].length >= size) {
        const buf = free[i];
        free[i] = free[free.length - 1];
        free.pop();
        return buf;
      }
    }
    // Small buffers are rounded up so that later, larger writes reuse them.
    return new Uint8Array(Math.max(size, 64 * 1024));
  }

  /** Return a buffer taken with `take`. */
  give(buf: Uint8Array<ArrayBuffer>): void {
    if (this.#free.length < this.#keep) this.#free.push(buf);
  }
}

/** A {@linkcode FuseReply} over a real `fuse_req_t`. */
export class FuseRequest implements FuseReply {
  #lib: LibFuseSymbols;
  #req: Deno.PointerObject;
  #gate: ReplyGate;
  #replied = false;
  #lease?: { pool: WriteBufferPool; buf: Uint8Array<ArrayBuffer> };

  /** Wrap request `req` of library `lib`; replies go out only while `gate.open`. */
  constructor(lib: LibFuseSymbols, req: Deno.PointerObject, gate: ReplyGate) {
    this.#lib = lib;
    this.#req = req;
    this.#gate = gate;
  }

  get replied(): boolean {
    return this.#replied;
  }

  /** Hold `buf` from `pool` until this request is answered. */
  lease(pool: WriteBufferPool, buf: Uint8Array<ArrayBuffer>): void {
    this.#lease = { pool, buf };
  }

  #claim(): boolean {
    if (this.#replied) {
      // A second reply would hand libfuse a freed request: refuse loudly
      // instead of crashing the process.
      console.error(new Error("anyfs mount: a request was answered twice; ignoring").stack);
      return false;
    }
    this.#replied = true;
    if (this.#lease) {
      this.#lease.pool.give(this.#lease.buf);
      this.#lease = undefined;
    }
    // After fuse_session_destroy the request's session is freed memory: a
    // late reply (a handler that outlived the mount) is dropped.
    return this.#gate.open;
  }

  context(): RequestContext {
    return readContext(this.#lib.fuse_req_ctx(this.#req));
  }
  err(errno: number): number {
    return this.#claim() ? this.#lib.fuse_reply_err(this.#req, errno) : 0;
  }
  none(): void {
    if (this.#claim()) this.#lib.fuse_reply_none(this.#req);
  }
  entry(nodeId: number, attr: StatFields, attrTimeout: number, entryTimeout: number): number {
    if (!this.#claim()) return 0;
    writeEntryParam(entryView, nodeId, attr, attrTimeout, entryTimeout);
    return this.#lib.fuse_reply_entry(this.#req, entryBuf);
  }
  negativeEntry(entryTimeout: number): number {
    if (!this.#claim()) return 0;
    writeNegativeEntry(entryView, entryTimeout);
    return this.#lib.fuse_reply_entry(this.#req, entryBuf);
  }
  create(
    nodeId: number,
    attr: StatFields,
    attrTimeout: number,
    entryTimeout: number,
    fi: FileInfoOut,
  ): number {
    if (!this.#claim()) return 0;
    writeEntryParam(entryView, nodeId, attr, attrTimeout, entryTimeout);
    writeFileInfo(fiView, fi);
    return this.#lib.fuse_reply_create(this.#req, entryBuf, fiBuf);
  }
  attr(attr: StatFields, timeout: number): number {
    if (!this.#claim()) return 0;
    writeStat(statView, 0, attr);
    return this.#lib.fuse_reply_attr(this.#req, statBuf, timeout);
  }
  readlink(target: string): number {
    return this.#claim() ? this.#lib.fuse_reply_readlink(this.#req, cString(target)) : 0;
  }
  open(fi: FileInfoOut): number {
    if (!this.#claim()) return 0;
    writeFileInfo(fiView, fi);
    return this.#lib.fuse_reply_open(this.#req, fiBuf);
  }
  write(count: number): number {
    return this.#claim() ? this.#lib.fuse_reply_write(this.#req, BigInt(count)) : 0;
  }
  buf(data: Uint8Array): number {
    if (!this.#claim()) return 0;
    return this.#lib.fuse_reply_buf(
      this.#req,
      data as Uint8Array<ArrayBuffer>,
      BigInt(data.length),
    );
  }
  statfs(s: StatvfsFields): number {
    if (!this.#claim()) return 0;
    writeStatvfs(statvfsView, s);
    return this.#lib.fuse_reply_statfs(this.#req, statvfsBuf);
  }
  xattrSize(size: number): number {
    return this.#claim() ? this.#lib.fuse_reply_xattr(this.#req, BigInt(size)) : 0;
  }
  lseek(offset: number): number {
    return this.#claim() ? this.#lib.fuse_reply_lseek(this.#req, BigInt(offset)) : 0;
  }
  dirBuffer(size: number): DirBuffer {
    return new LibfuseDirBuffer(this.#lib, size);
  }
}

/**
 * Builds the reply of a readdir or readdirplus request: records are
 * appended until the kernel's buffer size would be exceeded.
 */
export interface DirBuffer {
  /** Whether a record (plain or plus) for `name` still fits. */
  fits(name: string, plus: boolean): boolean;
  /** Append a plain record; `false` (and nothing added) when it does not fit. */
  add(name: string, ino: number, mode: number, nextOffset: number): boolean;
  /** Append a readdirplus record; `false` (and nothing added) when it does not fit. */
  addPlus(
    name: string,
    nodeId: number,
    attr: StatFields,
    attrTimeout: number,
    entryTimeout: number,
    nextOffset: number,
  ): boolean;
  /** The records appended so far. */
  bytes(): Uint8Array;
}

class LibfuseDirBuffer implements DirBuffer {
  #lib: LibFuseSymbols;
  #buf: Uint8Array<ArrayBuffer>;
  #used = 0;

  constructor(lib: LibFuseSymbols, size: number) {
    this.#lib = lib;
    this.#buf = new Uint8Array(size);
  }

  fits(name: string, plus: boolean): boolean {
    const n = ENCODER.encode(name).length;
    const need = plus ? direntPlusSize(n) : direntSize(n);
    return need <= this.#buf.length - this.#used;
  }

  add(name: string, ino: number, mode: number, nextOffset: number): boolean {
    const rest = this.#buf.length - this.#used;
    writeStat(statView, 0, {
      ino,
      mode,
      nlink: 0,
      uid: 0,
      gid: 0,
      rdev: 0,
      size: 0,
      blocks: 0,
      atimeMs: 0,
      mtimeMs: 0,
      ctimeMs: 0,
    });
    const need = Number(
      this.#lib.fuse_add_direntry(
        null,
        this.#buf.subarray(this.#used),
        BigInt(rest),
        cString(name),
        statBuf,
        BigInt(nextOffset),
      ),
    );
    if (need > rest) return false;
    this.#used += need;
    return true;
  }

  addPlus(
    name: string,
    nodeId: number,
    attr: StatFields,
    attrTimeout: number,
    entryTimeout: number,
    nextOffset: number,
  ): boolean {
    const rest = this.#buf.length - this.#used;
    writeEntryParam(entryView, nodeId, attr, attrTimeout, entryTimeout);
    const need = Number(
      this.#lib.fuse_add_direntry_plus(
        null,
        this.#buf.subarray(this.#used),
        BigInt(rest),
        cString(name),
        entryBuf,
        BigInt(nextOffset),
      ),
    );
    if (need > rest) return false;
    this.#used += need;
    return true;
  }

  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.#used);
  }
}

/** Changes an `init` handler asks for in `struct fuse_conn_info`. */
export interface ConnChanges {
  /** The new `want` capability bits. */
  want?: number;
  /** Largest write request. */
  maxWrite?: number;
  /** Largest readahead. */
  maxReadahead?: number;
  /** Most background requests in flight. */
  maxBackground?: number;
  /** When the kernel starts throttling background requests. */
  congestionThreshold?: number;
  /** Timestamp granularity in ns. */
  timeGran?: number;
}

/**
 * The JavaScript side of every kernel operation the adapter implements.
 * Each request handler must answer `req` exactly once, possibly after
 * awaiting; every argument has already been copied out of C memory.
 */
export interface LowLevelHandlers {
  /** The kernel connected; return the capability changes wanted. */
  init(conn: ConnInfo): ConnChanges;
  /** The session ends. */
  destroy(): void;
  /** A name (or a path argument) was not valid UTF-8. */
  badName(req: FuseReply): void;
  /** Look `name` up in directory `parent`. */
  lookup(req: FuseReply, parent: number, name: string): void;
  /** The kernel dropped `nlookup` references to `nodeId`. */
  forget(req: FuseReply, nodeId: number, nlookup: number): void;
  /** Several forgets at once. */
  forgetMulti(req: FuseReply, forgets: Forget[]): void;
  /** Attributes of `nodeId` (`fi` when called through an open file). */
  getattr(req: FuseReply, nodeId: number, fi: FileInfoIn | undefined): void;
  /** Change attributes; `toSet` holds `SET_ATTR` bits. */
  setattr(
    req: FuseReply,
    nodeId: number,
    attr: SetattrFields,
    toSet: number,
    fi: FileInfoIn | undefined,
  ): void;
  /** The target of a symlink. */
  readlink(req: FuseReply, nodeId: number): void;
  /** Create a file or special node. */
  mknod(req: FuseReply, parent: number, name: string, mode: number, rdev: number): void;
  /** Create a directory. */
  mkdir(req: FuseReply, parent: number, name: string, mode: number): void;
  /** Remove a non-directory. */
  unlink(req: FuseReply, parent: number, name: string): void;
  /** Remove an empty directory. */
  rmdir(req: FuseReply, parent: number, name: string): void;
  /** Create a symlink `name` in `parent` pointing at `target`. */
  symlink(req: FuseReply, target: string, parent: number, name: string): void;
  /** Rename (with `RENAME` flags). */
  rename(
    req: FuseReply,
    parent: number,
    name: string,
    newParent: number,
    newName: string,
    flags: number,
  ): void;
  /** Add a hard link to `nodeId`. */
  link(req: FuseReply, nodeId: number, newParent: number, newName: string): void;
  /** Open a file. */
  open(req: FuseReply, nodeId: number, fi: FileInfoIn): void;
  /** Read from an open file. */
  read(req: FuseReply, nodeId: number, size: number, offset: number, fi: FileInfoIn): void;
  /** Write to an open file (`data` is a copy). */
  write(req: FuseReply, nodeId: number, data: Uint8Array, offset: number, fi: FileInfoIn): void;
  /** A file descriptor was closed. */
  flush(req: FuseReply, nodeId: number, fi: FileInfoIn): void;
  /** The last reference to an open file went away. */
  release(req: FuseReply, nodeId: number, fi: FileInfoIn): void;
  /** Make an open file durable. */
  fsync(req: FuseReply, nodeId: number, datasync: boolean, fi: FileInfoIn): void;
  /** Open a directory. */
  opendir(req: FuseReply, nodeId: number, fi: FileInfoIn): void;
  /** Read directory entries from `offset`. */
  readdir(req: FuseReply, nodeId: number, size: number, offset: number, fi: FileInfoIn): void;
  /** Read directory entries with attributes from `offset`. */
  readdirplus(req: FuseReply, nodeId: number, size: number, offset: number, fi: FileInfoIn): void;
  /** Close a directory. */
  releasedir(req: FuseReply, nodeId: number, fi: FileInfoIn): void;
  /** Make a directory durable. */
  fsyncdir(req: FuseReply, nodeId: number, datasync: boolean, fi: FileInfoIn): void;
  /** File system statistics. */
  statfs(req: FuseReply, nodeId: number): void;
  /** Set an extended attribute (`XATTR` flags). */
  setxattr(req: FuseReply, nodeId: number, name: string, value: Uint8Array, flags: number): void;
  /** Get an extended attribute (size 0: just its size). */
  getxattr(req: FuseReply, nodeId: number, name: string, size: number): void;
  /** List extended attributes (size 0: just the size needed). */
  listxattr(req: FuseReply, nodeId: number, size: number): void;
  /** Remove an extended attribute. */
  removexattr(req: FuseReply, nodeId: number, name: string): void;
  /** Check access (`ACCESS` mask). */
  access(req: FuseReply, nodeId: number, mask: number): void;
  /** Create and open a file. */
  create(req: FuseReply, parent: number, name: string, mode: number, fi: FileInfoIn): void;
  /** flock(2) on an open file (`LOCK` operation). */
  flock(req: FuseReply, nodeId: number, fi: FileInfoIn, op: number): void;
  /** fallocate(2) (`FALLOC` mode). */
  fallocate(
    req: FuseReply,
    nodeId: number,
    mode: number,
    offset: number,
    length: number,
    fi: FileInfoIn,
  ): void;
  /** lseek(2) with `SEEK.data` or `SEEK.hole`. */
  lseek(req: FuseReply, nodeId: number, offset: number, whence: number, fi: FileInfoIn): void;
}

/** Which optional operations to register (unregistered ones get libfuse's `ENOSYS`). */
export interface OpsSelection {
  /** Register `flock` (the kernel then forwards flock(2) instead of handling it locally). */
  flock: boolean;
  /** Register `readdirplus`. */
  readdirplus: boolean;
}

/** A built `struct fuse_lowlevel_ops` and the callbacks its pointers refer to. */
export interface LowLevelOps {
  /** The struct to pass to `fuse_session_new`. */
  readonly buffer: Uint8Array<ArrayBuffer>;
  /** Drop every later reply: call right before `fuse_session_destroy`. */
  retire(): void;
  /** Release every callback; only after `fuse_session_destroy`. */
  close(): void;
}

type Ptr = Deno.PointerValue;
const P = "pointer" as const;
const U64 = "u64" as const;
const I64 = "i64" as const;
const I32 = "i32" as const;
const U32 = "u32" as const;
const USIZE = "usize" as const;

function num(v: number | bigint): number {
  return typeof v === "number" ? v : Number(v);
}

/**
 * Build the ops struct whose callbacks forward to `handlers`. Keep the
 * result referenced until after `fuse_session_destroy`, then `close()` it.
 */
export function buildLowLevelOps(
  lib: LibFuseSymbols,
  handlers: LowLevelHandlers,
  select: OpsSelection,
): LowLevelOps {
  const buffer = new Uint8Array(SIZEOF.lowlevelOps);
  const view = new DataView(buffer.buffer);
  const callbacks: Deno.UnsafeCallback[] = [];
  const gate: ReplyGate = { open: true };
  const writeBuffers = new WriteBufferPool();

  const install = (
    op: LowLevelOpName,
    parameters: Deno.NativeType[],
    fn: (...args: never[]) => void,
  ) => {
    const cb = Deno.UnsafeCallback.threadSafe(
      { parameters, result: "void" } as const,
      fn as unknown as Deno.UnsafeCallbackFunction<Deno.NativeType[], "void">,
    );
    callbacks.push(cb);
    view.setBigUint64(OPS_OFFSET[op], BigInt(Deno.UnsafePointer.value(cb.pointer)), true);
  };

  // Runs a request callback body; a synchronous throw must still produce a
  // reply, or the caller in the kernel would wait forever.
  const guard = (req: Ptr, body: (r: FuseRequest) => void) => {
    const r = new FuseRequest(lib, req as Deno.PointerObject, gate);
    try {
      body(r);
    } catch (e) {
      console.error("anyfs mount: handler threw synchronously:", e);
      if (!r.replied) r.err(EIO);
    }
  };

  const name = (p: Ptr): string | null => {
    const s = Deno.UnsafePointerView.getCString(p as Deno.PointerObject);
    if (!s.includes("\uFFFD")) return s;
    // Decoding replaced something: check whether the bytes really were
    // U+FFFD or invalid UTF-8, which a string path cannot carry.
    const view = new Deno.UnsafePointerView(p as Deno.PointerObject);
    let len = 0;
    while (view.getUint8(len) !== 0) len++;
    const bytes = new Uint8Array(len);
    view.copyInto(bytes);
    try {
      return STRICT_UTF8.decode(bytes);
    } catch {
      return null;
    }
  };

  const withName = (req: FuseRequest, p: Ptr, body: (n: string) => void) => {
    const n = name(p);
    if (n === null) handlers.badName(req);
    else body(n);
  };

  install("init", [P, P], (_userdata: Ptr, conn: Ptr) => {
    try {
      const v = connInfoView(conn as Deno.PointerObject);
      const changes = handlers.init(readConnInfo(v));
      const set = (at: number, value: number | undefined) => {
        if (value !== undefined) v.setUint32(at, value >>> 0, true);
      };
      set(CONN.want, changes.want);
      set(CONN.maxWrite, changes.maxWrite);
      set(CONN.maxReadahead, changes.maxReadahead);
      set(CONN.maxBackground, changes.maxBackground);
      set(CONN.congestionThreshold, changes.congestionThreshold);
      set(CONN.timeGran, changes.timeGran);
    } catch (e) {
      console.error("anyfs mount: init failed:", e);
    }
  });
  install("destroy", [P], () => {
    try {
      handlers.destroy();
    } catch (e) {
      console.error("anyfs mount: destroy failed:", e);
    }
  });
  install(
    "lookup",
    [P, U64, P],
    (req: Ptr, parent: number | bigint, n: Ptr) =>
      guard(req, (r) => withName(r, n, (s) => handlers.lookup(r, num(parent), s))),
  );
  install(
    "forget",
    [P, U64, U64],
    (req: Ptr, ino: number | bigint, nlookup: number | bigint) =>
      guard(req, (r) => handlers.forget(r, num(ino), num(nlookup))),
  );
  install(
    "forget_multi",
    [P, USIZE, P],
    (req: Ptr, count: number | bigint, list: Ptr) =>
      guard(req, (r) => handlers.forgetMulti(r, readForgets(list, num(count)))),
  );
  install(
    "getattr",
    [P, U64, P],
    (req: Ptr, ino: number | bigint, fi: Ptr) =>
      guard(req, (r) => handlers.getattr(r, num(ino), readFileInfo(fi))),
  );
  install(
    "setattr",
    [P, U64, P, I32, P],
    (req: Ptr, ino: number | bigint, attr: Ptr, toSet: number, fi: Ptr) =>
      guard(req, (r) =>
        handlers.setattr(
          r,
          num(ino),
          readSetattr(attr as Deno.PointerObject),
          toSet,
          readFileInfo(fi),
        )),
  );
  install(
    "readlink",
    [P, U64],
    (req: Ptr, ino: number | bigint) => guard(req, (r) => handlers.readlink(r, num(ino))),
  );
  install(
    "mknod",
    [P, U64, P, U32, U64],
    (req: Ptr, parent: number | bigint, n: Ptr, mode: number, rdev: number | bigint) =>
      guard(req, (r) => withName(r, n, (s) => handlers.mknod(r, num(parent), s, mode, num(rdev)))),
  );
  install(
    "mkdir",
    [P, U64, P, U32],
    (req: Ptr, parent: number | bigint, n: Ptr, mode: number) =>
      guard(req, (r) => withName(r, n, (s) => handlers.mkdir(r, num(parent), s, mode))),
  );
  install(
    "unlink",
    [P, U64, P],
    (req: Ptr, parent: number | bigint, n: Ptr) =>
      guard(req, (r) => withName(r, n, (s) => handlers.unlink(r, num(parent), s))),
  );
  install(
    "rmdir",
    [P, U64, P],
    (req: Ptr, parent: number | bigint, n: Ptr) =>
      guard(req, (r) => withName(r, n, (s) => handlers.rmdir(r, num(parent), s))),
  );
  install(
    "symlink",
    [P, P, U64, P],
    (req: Ptr, target: Ptr, parent: number | bigint, n: Ptr) =>
      guard(
        req,
        (r) =>
          withName(r, target, (t) => withName(r, n, (s) => handlers.symlink(r, t, num(parent), s))),
      ),
  );
  install(
    "rename",
    [P, U64, P, U64, P, U32],
    (
      req: Ptr,
      parent: number | bigint,
      n: Ptr,
      newParent: number | bigint,
      newN: Ptr,
      flags: number,
    ) =>
      guard(req, (r) =>
        withName(r, n, (s) =>
          withName(
            r,
            newN,
            (t) => handlers.rename(r, num(parent), s, num(newParent), t, flags),
          ))),
  );
  install(
    "link",
    [P, U64, U64, P],
    (req: Ptr, ino: number | bigint, newParent: number | bigint, n: Ptr) =>
      guard(req, (r) => withName(r, n, (s) => handlers.link(r, num(ino), num(newParent), s))),
  );
  install(
    "open",
    [P, U64, P],
    (req: Ptr, ino: number | bigint, fi: Ptr) =>
      guard(req, (r) => handlers.open(r, num(ino), readFileInfo(fi)!)),
  );
  install(
    "read",
    [P, U64, USIZE, I64, P],
    (req: Ptr, ino: number | bigint, size: number | bigint, off: number | bigint, fi: Ptr) =>
      guard(req, (r) => handlers.read(r, num(ino), num(size), num(off), readFileInfo(fi)!)),
  );
  install(
    "write",
    [P, U64, P, USIZE, I64, P],
    (
      req: Ptr,
      ino: number | bigint,
      data: Ptr,
      size: number | bigint,
      off: number | bigint,
      fi: Ptr,
    ) =>
      guard(req, (r) => {
        // The data lives in libfuse's receive buffer, reused for the next
        // request as soon as this callback returns: copy it now.
        const length = num(size);
        const buf = writeBuffers.take(length);
        r.lease(writeBuffers, buf);
        const bytes = buf.subarray(0, length);
        if (length && data) Deno.UnsafePointerView.copyInto(data, bytes);
        handlers.write(r, num(ino), bytes, num(off), readFileInfo(fi)!);
      }),
  );
  install(
    "flush",
    [P, U64, P],
    (req: Ptr, ino: number | bigint, fi: Ptr) =>
      guard(req, (r) => handlers.flush(r, num(ino), readFileInfo(fi)!)),
  );
  install(
    "release",
    [P, U64, P],
    (req: Ptr, ino: number | bigint, fi: Ptr) =>
      guard(req, (r) => handlers.release(r, num(ino), readFileInfo(fi)!)),
  );
  install(
    "fsync",
    [P, U64, I32, P],
    (req: Ptr, ino: number | bigint, ds: number, fi: Ptr) =>
      guard(req, (r) => handlers.fsync(r, num(ino), ds !== 0, readFileInfo(fi)!)),
  );
  install(
    "opendir",
    [P, U64, P],
    (req: Ptr, ino: number | bigint, fi: Ptr) =>
      guard(req, (r) => handlers.opendir(r, num(ino), readFileInfo(fi)!)),
  );
  install(
    "readdir",
    [P, U64, USIZE, I64, P],
    (req: Ptr, ino: number | bigint, size: number | bigint, off: number | bigint, fi: Ptr) =>
      guard(req, (r) => handlers.readdir(r, num(ino), num(size), num(off), readFileInfo(fi)!)),
  );
  if (select.readdirplus) {
    install(
      "readdirplus",
      [P, U64, USIZE, I64, P],
      (req: Ptr, ino: number | bigint, size: number | bigint, off: number | bigint, fi: Ptr) =>
        guard(
          req,
          (r) => handlers.readdirplus(r, num(ino), num(size), num(off), readFileInfo(fi)!),
        ),
    );
  }
  install(
    "releasedir",
    [P, U64, P],
    (req: Ptr, ino: number | bigint, fi: Ptr) =>
      guard(req, (r) => handlers.releasedir(r, num(ino), readFileInfo(fi)!)),
  );
  install(
    "fsyncdir",
    [P, U64, I32, P],
    (req: Ptr, ino: number | bigint, ds: number, fi: Ptr) =>
      guard(req, (r) => handlers.fsyncdir(r, num(ino), ds !== 0, readFileInfo(fi)!)),
  );
  install(
    "statfs",
    [P, U64],
    (req: Ptr, ino: number | bigint) => guard(req, (r) => handlers.statfs(r, num(ino))),
  );
  install(
    "setxattr",
    [P, U64, P, P, USIZE, I32],
    (req: Ptr, ino: number | bigint, n: Ptr, value: Ptr, size: number | bigint, flags: number) =>
      guard(req, (r) =>
        withName(r, n, (s) => {
          const bytes = new Uint8Array(num(size));
          if (bytes.length && value) Deno.UnsafePointerView.copyInto(value, bytes);
          handlers.setxattr(r, num(ino), s, bytes, flags);
        })),
  );
  install(
    "getxattr",
    [P, U64, P, USIZE],
    (req: Ptr, ino: number | bigint, n: Ptr, size: number | bigint) =>
      guard(req, (r) => withName(r, n, (s) => handlers.getxattr(r, num(ino), s, num(size)))),
  );
  install(
    "listxattr",
    [P, U64, USIZE],
    (req: Ptr, ino: number | bigint, size: number | bigint) =>
      guard(req, (r) => handlers.listxattr(r, num(ino), num(size))),
  );
  install(
    "removexattr",
    [P, U64, P],
    (req: Ptr, ino: number | bigint, n: Ptr) =>
      guard(req, (r) => withName(r, n, (s) => handlers.removexattr(r, num(ino), s))),
  );
  install(
    "access",
    [P, U64, I32],
    (req: Ptr, ino: number | bigint, mask: number) =>
      guard(req, (r) => handlers.access(r, num(ino), mask)),
  );
  install(
    "create",
    [P, U64, P, U32, P],
    (req: Ptr, parent: number | bigint, n: Ptr, mode: number, fi: Ptr) =>
      guard(
        req,
        (r) => withName(r, n, (s) => handlers.create(r, num(parent), s, mode, readFileInfo(fi)!)),
      ),
  );
  if (select.flock) {
    install(
      "flock",
      [P, U64, P, I32],
      (req: Ptr, ino: number | bigint, fi: Ptr, op: number) =>
        guard(req, (r) => handlers.flock(r, num(ino), readFileInfo(fi)!, op)),
    );
  }
  install(
    "fallocate",
    [P, U64, I32, I64, I64, P],
    (
      req: Ptr,
      ino: number | bigint,
      mode: number,
      off: number | bigint,
      len: number | bigint,
      fi: Ptr,
    ) =>
      guard(
        req,
        (r) => handlers.fallocate(r, num(ino), mode, num(off), num(len), readFileInfo(fi)!),
      ),
  );
  install(
    "lseek",
    [P, U64, I64, I32, P],
    (req: Ptr, ino: number | bigint, off: number | bigint, whence: number, fi: Ptr) =>
      guard(req, (r) => handlers.lseek(r, num(ino), num(off), whence, readFileInfo(fi)!)),
  );

  return {
    buffer,
    retire() {
      gate.open = false;
    },
    close() {
      for (const cb of callbacks) cb.close();
      callbacks.length = 0;
    },
  };
}
