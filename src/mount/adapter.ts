/**
 * The low-level FUSE adapter: one handler per kernel operation, in the
 * manner of libfuse's `passthrough_hp` or go-fuse's `fs` package, over any
 * AnyFS {@linkcode Backend}.
 *
 * Each handler receives plain JavaScript values (the FFI bridge has already
 * copied them out of C memory), starts the backend work, and returns; the
 * reply goes out when the backend's promise settles. So any number of
 * requests are in flight at once and the JavaScript event loop never
 * blocks. {@linkcode FuseAdapter} guarantees one reply per request: a
 * backend that throws or rejects yields the errno of its `FsError` code
 * (from the one table, `errnoOf`), and anything else yields `EIO`.
 *
 * Capabilities decide the answers: no `symlinks`/`hardlinks` → `EPERM` on
 * symlink/link; no `permissions`/`ownership`/`times` → `EPERM` on
 * chmod/chown/explicit times; no `xattrs` → the kernel is told the
 * operation does not exist and answers `EOPNOTSUPP` itself; read-only →
 * `EROFS`.
 *
 * @module
 */

import {
  type Backend,
  type FileHandle,
  type FsXattrs,
  type OpenOptions,
  supports,
} from "../core/backend.ts";
import { BufferedHandle, openFile, truncateFile, tryLstat } from "../core/derive.ts";
import { errnoOf, type ErrorCode } from "../core/errno.ts";
import { fsError, isFsError, toFsError } from "../core/errors.ts";
import {
  type DirEntry,
  type FileType,
  type Metadata,
  S_IFMT,
  S_IFREG,
  typeBits,
} from "../core/types.ts";
import {
  ACCESS,
  CAP,
  CAP_317,
  direntPlusSize,
  FALLOC,
  KERNEL,
  LOCK,
  O,
  RENAME,
  SEEK,
  SET_ATTR,
  XATTR,
} from "../../ffi/layout.ts";
import type { InitReplyPatch } from "../../ffi/init_reply.ts";
import type {
  ConnChanges,
  ConnInfo,
  FileInfoIn,
  FileInfoOut,
  Forget,
  FuseReply,
  LowLevelHandlers,
  SetattrFields,
  StatFields,
} from "../../ffi/ops.ts";
import { type InodeNode, InodeTable } from "./inodes.ts";
import { KeptXattrs } from "./kept_xattrs.ts";
import type { ResolvedMountOptions } from "./options.ts";

/** Live figures of a mount, readable at any time. */
export interface MountStats {
  /** Requests received from the kernel. */
  operations: number;
  /** Requests answered with an error. */
  errors: number;
  /** Bytes returned by reads. */
  bytesRead: number;
  /** Bytes accepted by writes. */
  bytesWritten: number;
  /** Requests whose reply is still pending. */
  inFlight: number;
  /** The most requests that were pending at once. */
  maxInFlight: number;
  /** Nodes in the inode table (the kernel's references). */
  nodes: number;
  /** Open files and directories. */
  openHandles: number;
  /** Requests per kernel operation. */
  byOperation: Record<string, number>;
}

/** The kernel connection parameters negotiated at `init`. */
export interface NegotiatedConnection {
  /** FUSE protocol version, e.g. `7.38`. */
  protocol: string;
  /** Capability bits the kernel offered. */
  capable: number;
  /** Capability bits in effect. */
  want: number;
  /** Largest write request. */
  maxWrite: number;
  /** Whether the writeback cache is on. */
  writebackCache: boolean;
  /**
   * Whether the mount clears set-user-ID/set-group-ID bits itself
   * (`FUSE_HANDLE_KILLPRIV_V2`): the kernel then looks for a
   * `security.capability` attribute once per file instead of before every
   * write through the page cache.
   */
  killPrivV2: boolean;
  /**
   * Whether files opened with direct I/O (`cache: "never"`) may be mapped
   * shared (`FUSE_DIRECT_IO_ALLOW_MMAP`, Linux 6.6+). Without it mmap(2)
   * with `MAP_SHARED` fails with `ENODEV` there, and SQLite's WAL mode
   * with "disk I/O error". Always `false` for the other cache policies,
   * whose files are mapped through the page cache anyway.
   */
  directIoMmap: boolean;
}

interface OpenFile {
  readonly node: InodeNode;
  readonly file: FileHandle;
}

interface OpenDir {
  readonly node: InodeNode;
  entries?: DirEntry[];
}

const ENCODER = new TextEncoder();
const ENOENT = errnoOf("ENOENT");
const ENODATA = errnoOf("ENODATA");
const CAPABILITY_XATTR = "security.capability";
const ENOENT_REPLY = -ENOENT;
const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const S_IXGRP = 0o010;
const ZERO_CHUNK = 1 << 20;
/** Reads a lookup repeats while its directory keeps changing under it. */
const LOOKUP_RETRIES = 8;
const UNLIMITED_BLOCKS = 2 ** 40;
const UNLIMITED_FILES = 2 ** 32;

/** Whether `name` is a POSIX ACL attribute (`system.posix_acl_access`/`_default`). */
function isAclName(name: string): boolean {
  return name.startsWith("system.posix_acl_");
}

/** Throw `code` for operation `op` unless `condition` holds. */
function need(condition: unknown, code: ErrorCode, op: string, path = ""): asserts condition {
  if (!condition) throw fsError(code, op, path);
}

/** The kernel-facing handlers of one mount over one backend. */
export class FuseAdapter implements LowLevelHandlers {
  readonly #backend: Backend;
  readonly #opt: ResolvedMountOptions;
  readonly #table: InodeTable;
  readonly #files = new Map<number, OpenFile>();
  // The same open files by node: getattr asks for a node's handle on every
  // fstat(2), which a scan of all open files would make O(open files).
  readonly #openByNode = new Map<InodeNode, OpenFile[]>();
  readonly #dirs = new Map<number, OpenDir>();
  #nextFh = 1;
  // Directory renames through the mount: a count bumped when one starts and
  // when it ends, and the ones still running (settled once the table has
  // the new names). A lookup reads the backend at the path its directory
  // had when it began; see `lookup`.
  #dirMoves = 0;
  readonly #dirMovesRunning = new Set<Promise<void>>();
  readonly #stats: MountStats = {
    operations: 0,
    errors: 0,
    bytesRead: 0,
    bytesWritten: 0,
    inFlight: 0,
    maxInFlight: 0,
    nodes: 1,
    openHandles: 0,
    byOperation: {},
  };
  #idleWaiters: (() => void)[] = [];
  #writeback = false;
  // Whether we asked for FUSE_HANDLE_KILLPRIV_V2 (and so clear the bits).
  #killPriv = false;
  #initPatch?: InitReplyPatch;
  #invalidateAttrs?: (nodeId: number) => Promise<unknown>;
  #connection?: NegotiatedConnection;
  #initWaiters: (() => void)[] = [];
  readonly #hasInodes: boolean;
  readonly #hasXattrs: boolean;
  // Whether open files are the backend's own handles, which follow their
  // file through renames and unlinks (not buffered copies of a path).
  readonly #hasHandles: boolean;

  /** Handlers for `backend` whose root directory has inode `rootIno`. */
  constructor(backend: Backend, rootIno: number, options: ResolvedMountOptions) {
    this.#backend = backend;
    this.#opt = options;
    this.#table = new InodeTable(rootIno);
    this.#hasInodes = supports(backend, "inodes");
    this.#hasXattrs = options.xattrs && supports(backend, "xattrs");
    this.#hasHandles = supports(backend, "handles");
  }

  /** Whether flock(2) should reach the backend (it has `locks`). */
  get forwardsLocks(): boolean {
    return supports(this.#backend, "locks");
  }

  /** A snapshot of the live figures. */
  get stats(): MountStats {
    return {
      ...this.#stats,
      nodes: this.#table.size,
      openHandles: this.#files.size + this.#dirs.size,
      byOperation: { ...this.#stats.byOperation },
    };
  }

  /** What was negotiated with the kernel, once `init` ran. */
  get connection(): NegotiatedConnection | undefined {
    return this.#connection;
  }

  /**
   * Let `init` ask for kernel features libfuse cannot negotiate, through
   * `patch` (libfuse before 3.17). Call before the session loop starts.
   */
  useInitReplyPatch(patch: InitReplyPatch): void {
    this.#initPatch = patch;
  }

  /**
   * How to tell the kernel that a node's attributes changed without a
   * reply that carries them (`fuse_lowlevel_notify_inval_inode`).
   */
  useAttrInvalidation(invalidate: (nodeId: number) => Promise<unknown>): void {
    this.#invalidateAttrs = invalidate;
  }

  /** Resolves once the kernel has sent `init`. */
  whenInitialized(): Promise<void> {
    if (this.#connection) return Promise.resolve();
    return new Promise((resolve) => this.#initWaiters.push(resolve));
  }

  /** Resolves when no request is pending. */
  whenIdle(): Promise<void> {
    if (this.#stats.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** The kernel node id and path for `path`'s entry, if the kernel knows it (for invalidation). */
  knownEntry(path: string): { parent: number; name: string } | undefined {
    const parts = path.split("/").filter((p) => p !== "");
    if (parts.length === 0) return undefined;
    let at: InodeNode | undefined = this.#table.root;
    for (const part of parts.slice(0, -1)) {
      at = at.entries.get(part);
      if (!at) return undefined;
    }
    return { parent: at.id, name: parts[parts.length - 1] };
  }

  /** The kernel node id of `path`, if the kernel knows it. */
  knownNode(path: string): number | undefined {
    let at: InodeNode | undefined = this.#table.root;
    for (const part of path.split("/").filter((p) => p !== "")) {
      at = at.entries.get(part);
      if (!at) return undefined;
    }
    return at.id;
  }

  /** Close every handle the kernel left open (the session ended without releases). */
  async closeAll(): Promise<void> {
    const files = [...this.#files.values()];
    this.#files.clear();
    this.#openByNode.clear();
    this.#dirs.clear();
    await Promise.allSettled(files.map((f) => f.file.close()));
  }

  // ---------------------------------------------------------------------
  // Plumbing: exactly one reply per request, counters, errno mapping.

  #run(req: FuseReply, op: string, body: () => Promise<void> | void): void {
    const s = this.#stats;
    s.operations++;
    s.byOperation[op] = (s.byOperation[op] ?? 0) + 1;
    s.inFlight++;
    if (s.inFlight > s.maxInFlight) s.maxInFlight = s.inFlight;
    let done: Promise<void> | void;
    try {
      done = body();
    } catch (e) {
      this.#fail(req, op, e);
      this.#settle(req, op);
      return;
    }
    if (done instanceof Promise) {
      done.then(
        () => this.#settle(req, op),
        (e) => {
          this.#fail(req, op, e);
          this.#settle(req, op);
        },
      );
    } else {
      this.#settle(req, op);
    }
  }

  /**
   * Hand an error that is not an `FsError` to the `onBackendError` option.
   * Never throws: a request must still be answered, and a rejection
   * escaping from a reply path would be unhandled (and end the process).
   */
  reportBackendError(error: unknown, operation: string): void {
    try {
      this.#opt.onBackendError(error, operation);
    } catch (callbackError) {
      console.error("anyfs mount: the onBackendError callback threw:", callbackError);
    }
  }

  #fail(req: FuseReply, op: string, e: unknown): void {
    if (!isFsError(e)) this.reportBackendError(e, op);
    const code = toFsError(e, op, "").code;
    this.#stats.errors++;
    if (!req.replied) req.err(errnoOf(code));
  }

  #settle(req: FuseReply, op: string): void {
    if (!req.replied) {
      // A handler that returned without replying is a bug here; the caller
      // in the kernel must not wait forever because of it.
      console.error(`anyfs mount: ${op} finished without a reply; answering EIO`);
      this.#stats.errors++;
      req.err(errnoOf("EIO"));
    }
    if (--this.#stats.inFlight === 0 && this.#idleWaiters.length) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  #node(id: number, op: string): InodeNode {
    const node = this.#table.get(id);
    if (!node) throw fsError("ENOENT", op, `<node ${id}>`, { reason: "unknown node id" });
    return node;
  }

  async #path(node: InodeNode, op: string): Promise<string> {
    const path = this.#table.pathOf(node);
    if (path !== undefined) return path;
    if (this.#hasInodes && node.ino > 0 && supports(this.#backend, "inodes")) {
      return await this.#staleIfGone(node, op, this.#backend.inodePath(node.ino));
    }
    throw this.#stale(node, op);
  }

  /**
   * The error for a request about a node whose file is gone: `ESTALE`,
   * not `ENOENT`. The kernel's dentry for a name can still point to a
   * file that a rename replaced or an unlink removed a moment ago (another
   * process's `mv new target` while `cat target` opens it); on `ESTALE`
   * open(2), stat(2) and the other path calls look the name up once more
   * and reach the file that has it now, as on a local file system.
   */
  #stale(node: InodeNode, op: string): Error {
    return fsError("ESTALE", op, `<node ${node.id}>`, { reason: "the file has no name any more" });
  }

  /**
   * The path to serve a request about `node` whose file is gone by: the
   * file that now has the name it last had, when it is of the same type.
   * That is the file the kernel would reach by looking the name up again
   * after `ESTALE`, which it does only once: with a name replaced over and
   * over (`mv tmp target` in a loop while readers open `target`) the retry
   * can be outrun too. Answering here, in one step, cannot be.
   */
  async #successor(node: InodeNode, op: string): Promise<string> {
    const path = this.#table.lastPathOf(node);
    if (path !== undefined && (await tryLstat(this.#backend, path))?.type === node.type) {
      return path;
    }
    throw this.#stale(node, op);
  }

  /** `#path`, or for a file that is gone, its successor's (see `#successor`). */
  async #pathOrSuccessor(node: InodeNode, op: string): Promise<string> {
    try {
      return await this.#path(node, op);
    } catch (e) {
      if ((e as { code?: string }).code === "ESTALE") return await this.#successor(node, op);
      throw e;
    }
  }

  /**
   * The path an open of `node` opens: its own, or, for a file that is gone,
   * its successor's (see `#successor`) — but only where serving another
   * file is what a later lookup would give and can neither change nor
   * disclose data it should not:
   * - a read-only open: the same request also arrives for a reopen through
   *   `/proc/PID/fd/N` of a file unlinked while open (or through an
   *   `O_PATH` descriptor), where tmpfs opens the unlinked file; writing or
   *   truncating whatever file has its old name now would destroy data;
   * - of a file that is really gone: one still open here, or still in the
   *   backend under its inode number, is alive without a name, not
   *   replaced;
   * - that the caller may read: the kernel checked the permissions of the
   *   old file, not of its successor.
   * Everything else answers `ESTALE`, on which the kernel looks the name up
   * once more (and a reopen through `/proc` fails, rather than reach
   * another file). `successor` says whether the path is a successor's.
   */
  async #openPath(
    req: FuseReply,
    node: InodeNode,
    options: OpenOptions,
  ): Promise<{ path: string; successor: boolean }> {
    try {
      return { path: await this.#path(node, "open"), successor: false };
    } catch (e) {
      if ((e as { code?: string }).code !== "ESTALE") throw e;
      if (options.write || options.truncate || options.append) throw e;
      if (this.#openOf(node) !== undefined) throw e;
      if (this.#hasInodes && node.ino > 0 && supports(this.#backend, "inodes")) {
        const alive = await this.#backend.statIno(node.ino).then(() => true, () => false);
        if (alive) throw e;
      }
      const path = await this.#successor(node, "open");
      if (this.#opt.defaultPermissions) {
        const meta = await tryLstat(this.#backend, path);
        if (meta === null || !this.#permits(req, meta, ACCESS.read)) throw e;
      }
      return { path, successor: true };
    }
  }

  /**
   * Whether the caller of `req` may access a node with `meta` for `mask`
   * (`ACCESS` bits), by its owner, group and mode as the kernel's
   * `default_permissions` checks them (only the primary group is known).
   */
  #permits(req: FuseReply, meta: Metadata, mask: number): boolean {
    const { uid, gid } = req.context();
    const mode = meta.mode;
    const owner = this.#opt.uid ?? meta.uid;
    const group = this.#opt.gid ?? meta.gid;
    if (uid === 0) {
      // root reads and writes anything, and executes what anyone may.
      return !(mask & ACCESS.execute) || meta.type === "dir" || (mode & 0o111) !== 0;
    }
    const bits = uid === owner ? (mode >> 6) & 7 : gid === group ? (mode >> 3) & 7 : mode & 7;
    return (bits & mask) === mask;
  }

  async #staleIfGone<T>(node: InodeNode, op: string, work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (e) {
      if ((e as { code?: string }).code === "ENOENT") throw this.#stale(node, op);
      throw e;
    }
  }

  #childPath(parent: InodeNode, name: string, op: string): string {
    const path = this.#table.childPath(parent, name);
    if (path === undefined) throw fsError("ENOENT", op, name);
    return path;
  }

  #writable(op: string, path = ""): void {
    if (this.#opt.readOnly) throw fsError("EROFS", op, path);
  }

  /** Seconds the kernel may keep a name of this type (see `dirEntryTimeout`). */
  #entryTimeout(type: FileType): number {
    return type === "dir" ? this.#opt.dirEntryTimeout : this.#opt.entryTimeout;
  }

  #attr(node: InodeNode | undefined, meta: Metadata): StatFields {
    if (node) node.lastMetadata = meta;
    const kept = node?.detached;
    return {
      ino: meta.ino > 0 ? meta.ino : node?.id ?? 0,
      mode: kept?.mode === undefined ? meta.mode : (meta.mode & ~0o7777) | kept.mode,
      nlink: meta.nlink,
      uid: this.#opt.uid ?? kept?.uid ?? meta.uid,
      gid: this.#opt.gid ?? kept?.gid ?? meta.gid,
      rdev: meta.rdev,
      size: meta.size,
      blocks: meta.blocks,
      atimeMs: kept?.atimeMs ?? meta.atimeMs,
      mtimeMs: kept?.mtimeMs ?? meta.mtimeMs,
      ctimeMs: meta.ctimeMs,
    };
  }

  /**
   * The metadata of `node`'s file. An open handle of it answers first: a
   * handle follows its file, while the path the table knows may name
   * another file by now (replaced on the host side, or by another user of
   * the backend), and `fstat(2)` must describe the descriptor's file —
   * `tail -F` compares it with `stat(2)` of the name to see a rotation.
   * A buffered handle is a copy of a path's content, not a file: it only
   * answers for a file that has no name any more.
   */
  async #stat(node: InodeNode, op: string): Promise<Metadata> {
    const held = this.#openOf(node);
    if (held && this.#hasHandles) return await held.file.stat();
    if (this.#hasInodes && node.ino > 0 && supports(this.#backend, "inodes")) {
      try {
        return await this.#staleIfGone(node, op, this.#backend.statIno(node.ino));
      } catch (e) {
        if ((e as { code?: string }).code !== "ESTALE") throw e;
        return await this.#goneMetadata(node, op);
      }
    }
    const path = this.#table.pathOf(node);
    if (path !== undefined) return await this.#backend.lstat(path);
    if (held) return await held.file.stat();
    return await this.#goneMetadata(node, op);
  }

  /**
   * The metadata of a node whose file is gone from the backend and open
   * nowhere here: a descriptor without an open file (`O_PATH`), a removed
   * directory still open or a working directory, or a stat(2) that raced
   * the removal. tmpfs shows the removed inode, with no links; so does this,
   * from what was last sent to the kernel. The file that has its name now
   * is another file (another inode number, size and times).
   */
  async #goneMetadata(node: InodeNode, op: string): Promise<Metadata> {
    const last = node.lastMetadata;
    if (last) return { ...last, nlink: 0 };
    return await this.#backend.lstat(await this.#successor(node, op));
  }

  /** An open handle of `node`, the only way to reach a file that has no name any more. */
  #openOf(node: InodeNode): OpenFile | undefined {
    return this.#openByNode.get(node)?.[0];
  }

  /**
   * Before the name `path` of `node` is removed or replaced through the
   * mount, keep what descriptors of its file may still ask for once the
   * backend has no path to it: a symlink's target (`readlinkat` of an
   * `O_PATH` descriptor, or a path walk that reached it just before), and
   * the extended attributes of a file open here. The kernel holds the
   * node's inode lock across the removal, so nothing changes them between
   * this read and the removal. Best effort: what cannot be read is left
   * out, and requests for it answer `ESTALE` as before. Returns what to
   * call once the removal succeeded (a failed one leaves the file named,
   * and the backend keeps answering for it).
   */
  async #keepForDescriptors(node: InodeNode | undefined, path: string): Promise<() => void> {
    const nothing = () => {};
    if (!node || node.links.length !== 1) return nothing;
    const b = this.#backend;
    if (node.type === "symlink") {
      // A symlink's target never changes: read once, right for good.
      if (node.linkTarget !== undefined || !supports(b, "symlinks")) return nothing;
      const target = await b.readLink(path).catch(() => undefined);
      return () => {
        node.linkTarget = target;
      };
    }
    if (!this.#hasXattrs || !supports(b, "xattrs") || !this.#openOf(node)) return nothing;
    let names: string[];
    try {
      names = await b.listXattr(path);
    } catch {
      return nothing;
    }
    const values = new Map<string, Uint8Array>();
    for (const name of names) {
      // Removed meanwhile by another user of the backend: left out.
      const value = await b.getXattr(path, name).catch(() => undefined);
      if (value !== undefined) values.set(name, value.slice());
    }
    return () => {
      (node.detached ??= {}).xattrs = new KeptXattrs(values);
    };
  }

  /**
   * Before entry `name` of `parent` with metadata `meta` joins, as a hard
   * link, the node another name has under the same inode number: check
   * that the node's own path still shows that number. A backend may give
   * a file a new number (DualBackend copies a file of B to A with A's
   * number) while B's other name of it keeps the old one; joining them
   * would make one kernel inode of two files, and writes through one name
   * would land in the other. Costs one lstat, for hard links only.
   */
  async #recheckJoin(parent: InodeNode, name: string, meta: Metadata): Promise<void> {
    const known = this.#table.joinedBy(parent, name, meta);
    if (!known) return;
    const path = this.#table.pathOf(known);
    if (path === undefined) return;
    const now = await tryLstat(this.#backend, path);
    if (now !== null && now.ino !== meta.ino && now.type === known.type) {
      this.#table.renumber(known, now.ino);
    }
  }

  /** Reply with `node` as a new kernel reference (lookup, mknod, mkdir, symlink, link). */
  #replyEntry(req: FuseReply, node: InodeNode, meta: Metadata): void {
    this.#table.ref(node);
    const r = req.entry(
      node.id,
      this.#attr(node, meta),
      this.#opt.attrTimeout,
      this.#entryTimeout(meta.type),
    );
    // An interrupted request's reply is discarded: the kernel took no reference.
    if (r === ENOENT_REPLY) this.#table.forget(node.id, 1);
  }

  async #newEntry(req: FuseReply, parent: InodeNode, name: string, path: string): Promise<void> {
    this.#table.changed(parent);
    const meta = await this.#backend.lstat(path);
    await this.#recheckJoin(parent, name, meta);
    this.#replyEntry(req, this.#table.resolve(parent, name, meta), meta);
  }

  /**
   * What the kernel leaves to us with `FUSE_HANDLE_KILLPRIV_V2`: drop
   * set-user-ID, and set-group-ID when group-executable (or the caller is
   * outside the file's group), as Linux does when a file is written,
   * truncated or chowned. Returns whether the mode changed.
   */
  async #killSuidSgid(
    req: FuseReply,
    node: InodeNode,
    file: FileHandle | undefined,
    op: string,
  ): Promise<boolean> {
    const meta = file ? await file.stat() : await this.#stat(node, op);
    const mode = meta.mode & 0o7777;
    if (!(mode & (S_ISUID | S_ISGID)) || meta.type !== "file") return false;
    let next = mode & ~S_ISUID;
    // Linux keeps set-group-ID without group execute (a locking marker)
    // unless the caller is outside the group and unprivileged. Only the
    // primary group is known here; root stands in for CAP_FSETID.
    const { uid, gid } = req.context();
    const outsider = uid !== 0 && gid !== (this.#opt.gid ?? meta.gid);
    if (mode & S_IXGRP || outsider) next &= ~S_ISGID;
    if (next === mode || !supports(this.#backend, "permissions")) return false;
    const path = this.#table.pathOf(node);
    // An unlinked file open by a writer has no name to chmod: nothing can
    // execute it any more either.
    if (path === undefined) return false;
    await this.#backend.chmod(path, next);
    return true;
  }

  /**
   * Drop the kernel's cached attributes of `node` (after we changed its
   * mode behind a write or open, whose replies carry no attributes).
   */
  async #attrsChanged(node: InodeNode): Promise<void> {
    if (this.#opt.attrTimeout > 0 && this.#invalidateAttrs) {
      await this.#invalidateAttrs(node.id).catch(() => {});
    }
  }

  /**
   * Whether a write or O_TRUNC open must drop setuid/setgid. The kernel
   * flags callers without CAP_FSETID (FUSE_WRITE_KILL_SUIDGID,
   * FUSE_OPEN_KILL_SUIDGID), but libfuse does not pass those flags on:
   * root stands in for CAP_FSETID, as it has it unless dropped.
   */
  #mustKillPriv(req: FuseReply): boolean {
    return this.#killPriv && req.context().uid !== 0;
  }

  #owner(req: FuseReply): { uid: number; gid: number } {
    const ctx = req.context();
    return { uid: ctx.uid, gid: ctx.gid };
  }

  #file(fh: number, op: string): OpenFile {
    const f = this.#files.get(fh);
    if (!f) throw fsError("EBADF", op, `<fh ${fh}>`);
    return f;
  }

  #addFile(node: InodeNode, file: FileHandle): number {
    const fh = this.#nextFh++;
    const open = { node, file };
    this.#files.set(fh, open);
    const ofNode = this.#openByNode.get(node);
    if (ofNode) ofNode.push(open);
    else this.#openByNode.set(node, [open]);
    return fh;
  }

  /** Forget open file `fh`; returns it, if it was open. */
  #removeFile(fh: number): OpenFile | undefined {
    const open = this.#files.get(fh);
    if (!open) return undefined;
    this.#files.delete(fh);
    const ofNode = this.#openByNode.get(open.node);
    if (ofNode) {
      ofNode.splice(ofNode.indexOf(open), 1);
      if (ofNode.length === 0) this.#openByNode.delete(open.node);
    }
    return open;
  }

  #openReply(fh: number, file: FileHandle): FileInfoOut {
    return {
      fh,
      directIo: this.#opt.cache === "never",
      keepCache: this.#opt.cache === "always",
      // A backend handle has nothing to do at close(2) (its writes are
      // already in the backend), so the kernel need not ask. This also keeps
      // the synchronous close(2) of Deno's FsFile.close() from waiting on
      // this very thread when the mounting process closes a file of its own
      // mount. Buffered handles (core-only backends) write back at flush.
      noflush: !(file instanceof BufferedHandle),
    };
  }

  #openOptions(flags: number): OpenOptions {
    const acc = flags & O.accmode;
    // Linux truncates on O_TRUNC whatever the access mode (open(2) asks for
    // write permission instead), so O_RDONLY|O_TRUNC empties the file too;
    // the backend handle must then be writable to do it. The kernel still
    // sends no writes through a read-only descriptor.
    const truncate = (flags & O.trunc) !== 0;
    return {
      // With the writeback cache the kernel reads pages to fill partial
      // writes, even through a write-only descriptor, and applies O_APPEND
      // itself: handles must be readable and positional.
      read: acc !== O.wronly || this.#writeback,
      write: acc !== O.rdonly || truncate,
      append: (flags & O.append) !== 0 && !this.#writeback,
      truncate,
    };
  }

  // ---------------------------------------------------------------------
  // Session.

  init(conn: ConnInfo): ConnChanges {
    let want = conn.want;
    // Version 1 would leave clearing setuid/setgid on write to us without
    // saying when it is due; version 2 (below) flags each request.
    want &= ~CAP.handleKillpriv;
    want &= ~(CAP.spliceRead | CAP.spliceWrite | CAP.spliceMove | CAP.posixAcl);
    if (conn.capable & CAP.parallelDirops) want |= CAP.parallelDirops;
    if (conn.capable & CAP.asyncRead) want |= CAP.asyncRead;
    if (conn.capable & CAP.atomicOTrunc) want |= CAP.atomicOTrunc;
    if (this.#opt.writebackCache && conn.capable & CAP.writebackCache) {
      want |= CAP.writebackCache;
    } else {
      want &= ~CAP.writebackCache;
    }
    if (this.#opt.cache === "never") want &= ~(CAP.readdirplus | CAP.readdirplusAuto);
    // libfuse turns on auto_inval_data by default: every read then asks for
    // the attributes, and a changed mtime drops the file's whole page cache.
    // Without the writeback cache the kernel keeps the mtime it had before
    // our own writes, so each read after a write would throw the cache
    // away. With "always" the mount is the only writer (invalidate() covers
    // the rest), so the cache is only dropped on a size change.
    if (this.#opt.cache === "always") want &= ~CAP.autoInvalData;
    // Clear set-user-ID/set-group-ID here instead of in the kernel, which
    // otherwise asks for security.capability before every cached write.
    const kernelKillPriv = conn.protoMajor > 7 || conn.protoMinor >= KERNEL.killprivV2Minor;
    this.#killPriv = false;
    if (conn.capable & CAP_317.handleKillprivV2) {
      want |= CAP_317.handleKillprivV2;
      this.#killPriv = true;
    } else if (this.#initPatch && kernelKillPriv) {
      this.#initPatch.addFlags |= KERNEL.handleKillprivV2;
      this.#killPriv = true;
    }
    // Direct I/O bypasses the page cache, and without this flag the kernel
    // refuses MAP_SHARED for such files: SQLite's WAL index (-shm), LMDB
    // and anything else that maps a file it writes would fail.
    let directIoMmap = false;
    if (this.#opt.cache === "never") {
      if (conn.capable & CAP_317.directIoAllowMmap) {
        want |= CAP_317.directIoAllowMmap;
        directIoMmap = true;
      } else if (
        this.#initPatch && (conn.protoMajor > 7 || conn.protoMinor >= KERNEL.directIoAllowMmapMinor)
      ) {
        this.#initPatch.addFlags2 |= KERNEL.directIoAllowMmap2;
        directIoMmap = true;
      }
    }
    this.#writeback = (want & CAP.writebackCache) !== 0;
    this.#connection = {
      protocol: `${conn.protoMajor}.${conn.protoMinor}`,
      capable: conn.capable,
      want,
      maxWrite: Math.min(this.#opt.maxWrite, conn.maxWrite || this.#opt.maxWrite),
      writebackCache: this.#writeback,
      killPrivV2: this.#killPriv,
      directIoMmap,
    };
    const waiters = this.#initWaiters;
    this.#initWaiters = [];
    for (const w of waiters) w();
    return {
      want,
      maxWrite: this.#opt.maxWrite,
      maxBackground: 64,
      congestionThreshold: 48,
      timeGran: 1,
    };
  }

  destroy(): void {
    // Nothing to flush here: open handles are closed by closeAll() once the
    // session loop has ended.
  }

  badName(req: FuseReply): void {
    this.#run(req, "name", () => {
      throw fsError("EINVAL", "name", "", { reason: "the name is not valid UTF-8" });
    });
  }

  // ---------------------------------------------------------------------
  // Names and attributes.

  lookup(req: FuseReply, parentId: number, name: string): void {
    this.#run(req, "lookup", async () => {
      const parent = this.#node(parentId, "lookup");
      let path = this.#childPath(parent, name, "lookup");
      let seen = parent.changes;
      let moves = this.#dirMoves;
      // Most lookups of missing names come before creating them: probe
      // without paying for an Error.
      let meta = await tryLstat(this.#backend, path);
      // The kernel revalidates a cached name without locking its
      // directory, so a rename, unlink or create there may have finished
      // while we read: recording the older answer would undo it in the
      // table (a renamed file left without a name: ENOENT on its next
      // open). Read again; each change through the mount is already in the
      // backend when it reaches the table. Nor does it lock the ancestors:
      // a directory above renamed meanwhile leaves `path` naming nothing
      // (or another file), and the answer would take the name from a file
      // that still has it (an open file's fchmod(2) then stays in the
      // mount). Wait for such renames to reach the table, and read again
      // at the new path.
      for (let again = 0; again < LOOKUP_RETRIES; again++) {
        if (this.#dirMovesRunning.size) await Promise.all(this.#dirMovesRunning);
        if (parent.changes === seen && this.#dirMoves === moves) break;
        seen = parent.changes;
        moves = this.#dirMoves;
        path = this.#childPath(parent, name, "lookup");
        meta = await tryLstat(this.#backend, path);
      }
      if (meta === null) {
        // Someone may have removed it behind the kernel's back: forget the old name.
        this.#table.unlinkEntry(parent, name);
        if (this.#opt.negativeTimeout > 0) req.negativeEntry(this.#opt.negativeTimeout);
        else req.err(ENOENT);
        return;
      }
      await this.#recheckJoin(parent, name, meta);
      this.#replyEntry(req, this.#table.resolve(parent, name, meta), meta);
    });
  }

  forget(req: FuseReply, nodeId: number, nlookup: number): void {
    this.#stats.operations++;
    this.#table.forget(nodeId, nlookup);
    req.none();
  }

  forgetMulti(req: FuseReply, forgets: Forget[]): void {
    this.#stats.operations++;
    for (const f of forgets) this.#table.forget(f.nodeId, f.nlookup);
    req.none();
  }

  getattr(req: FuseReply, nodeId: number, fi: FileInfoIn | undefined): void {
    this.#run(req, "getattr", async () => {
      const node = this.#node(nodeId, "getattr");
      const open = fi ? this.#files.get(fi.fh) : undefined;
      const meta = open ? await open.file.stat() : await this.#stat(node, "getattr");
      req.attr(this.#attr(node, meta), this.#opt.attrTimeout);
    });
  }

  setattr(
    req: FuseReply,
    nodeId: number,
    attr: SetattrFields,
    toSet: number,
    fi: FileInfoIn | undefined,
  ): void {
    this.#run(req, "setattr", async () => {
      const node = this.#node(nodeId, "setattr");
      const named = this.#table.pathOf(node);
      // futimens(2) and fchmod(2) come without a file handle even when the
      // file, unlinked, can only be reached through one.
      const open = (fi ? this.#files.get(fi.fh) : undefined) ??
        (named === undefined ? this.#openOf(node) : undefined);
      const path = named ?? (open ? undefined : await this.#path(node, "setattr"));
      const b = this.#backend;
      if (toSet & SET_ATTR.size) {
        this.#writable("truncate", path);
        need(node.type === "file", node.type === "dir" ? "EISDIR" : "EINVAL", "truncate", path);
        if (open) await open.file.truncate(attr.size);
        else await truncateFile(b, path!, attr.size);
      }
      // Unlinked while open: no path reaches the file in the backend, yet
      // fchmod(2), fchown(2) and futimens(2) must work (and close(2) and
      // fsync(2) under the writeback cache send the times first). Nothing
      // but its descriptors can see the file any more, so the mount keeps
      // what they set.
      const detached = path === undefined && open !== undefined;
      const kept = detached ? (node.detached ??= {}) : undefined;
      if (toSet & (SET_ATTR.uid | SET_ATTR.gid)) {
        this.#writable("chown", path);
        need(supports(b, "ownership") && (path !== undefined || kept), "EPERM", "chown", path);
        if (kept) {
          if (toSet & SET_ATTR.uid) kept.uid = attr.uid;
          if (toSet & SET_ATTR.gid) kept.gid = attr.gid;
        } else {
          await b.chown(
            path!,
            toSet & SET_ATTR.uid ? attr.uid : null,
            toSet & SET_ATTR.gid ? attr.gid : null,
          );
        }
      }
      if (toSet & SET_ATTR.mode) {
        this.#writable("chmod", path);
        need(supports(b, "permissions") && (path !== undefined || kept), "EPERM", "chmod", path);
        if (kept) kept.mode = attr.mode & 0o7777;
        else await b.chmod(path!, attr.mode & 0o7777);
      }
      const times = SET_ATTR.atime | SET_ATTR.mtime | SET_ATTR.atimeNow | SET_ATTR.mtimeNow;
      if (toSet & times) {
        this.#writable("utime", path);
        // The kernel marks "now" with both the time bit and its _NOW bit.
        const explicit = (toSet & SET_ATTR.atime && !(toSet & SET_ATTR.atimeNow)) ||
          (toSet & SET_ATTR.mtime && !(toSet & SET_ATTR.mtimeNow));
        if (supports(b, "times") && path !== undefined) {
          const now = Date.now();
          const atime = toSet & SET_ATTR.atimeNow
            ? now
            : toSet & SET_ATTR.atime
            ? attr.atimeMs
            : null;
          const mtime = toSet & SET_ATTR.mtimeNow
            ? now
            : toSet & SET_ATTR.mtime
            ? attr.mtimeMs
            : null;
          await b.utime(path, atime, mtime);
        } else if (kept) {
          const now = Date.now();
          if (toSet & SET_ATTR.atimeNow) kept.atimeMs = now;
          else if (toSet & SET_ATTR.atime) kept.atimeMs = attr.atimeMs;
          if (toSet & SET_ATTR.mtimeNow) kept.mtimeMs = now;
          else if (toSet & SET_ATTR.mtime) kept.mtimeMs = attr.mtimeMs;
        } else {
          // "Set to now" (touch of an existing file) is accepted without the
          // capability: the backend stamps its own times on change. Setting
          // a particular time cannot be honoured.
          need(!explicit, "EPERM", "utime", path);
        }
      }
      if (toSet & SET_ATTR.killSuidgid && node.type === "file") {
        await this.#killSuidSgid(req, node, open?.file, "setattr");
      }
      const meta = open ? await open.file.stat() : await this.#stat(node, "setattr");
      req.attr(this.#attr(node, meta), this.#opt.attrTimeout);
    });
  }

  readlink(req: FuseReply, nodeId: number): void {
    this.#run(req, "readlink", async () => {
      const node = this.#node(nodeId, "readlink");
      // Kept when its name was removed through the mount: the target of
      // the symlink the kernel reached, as a local file system answers.
      if (node.linkTarget !== undefined) {
        req.readlink(node.linkTarget);
        return;
      }
      const path = await this.#pathOrSuccessor(node, "readlink");
      need(supports(this.#backend, "symlinks"), "EINVAL", "readlink", path);
      req.readlink(await this.#backend.readLink(path));
    });
  }

  access(req: FuseReply, nodeId: number, mask: number): void {
    this.#run(req, "access", async () => {
      const node = this.#node(nodeId, "access");
      const meta = await this.#stat(node, "access");
      if (mask & ACCESS.write) this.#writable("access");
      if (mask !== ACCESS.exists) need(this.#permits(req, meta, mask), "EACCES", "access");
      req.err(0);
    });
  }

  statfs(req: FuseReply, _nodeId: number): void {
    this.#run(req, "statfs", async () => {
      if (!supports(this.#backend, "statfs")) {
        req.statfs({
          bsize: 4096,
          blocks: UNLIMITED_BLOCKS,
          bfree: UNLIMITED_BLOCKS,
          bavail: UNLIMITED_BLOCKS,
          files: UNLIMITED_FILES,
          ffree: UNLIMITED_FILES,
          namemax: 255,
        });
        return;
      }
      const s = await this.#backend.statfs();
      const bsize = s.blockSize > 0 ? s.blockSize : 4096;
      const blocks = s.totalBytes > 0 ? Math.floor(s.totalBytes / bsize) : UNLIMITED_BLOCKS;
      const free = s.totalBytes > 0
        ? Math.floor(s.availableBytes / bsize)
        : UNLIMITED_BLOCKS - Math.ceil(s.usedBytes / bsize);
      const files = s.totalInodes > 0 ? s.totalInodes : UNLIMITED_FILES;
      const ffree = s.totalInodes > 0 ? s.availableInodes : UNLIMITED_FILES - s.usedInodes;
      req.statfs({
        bsize,
        blocks,
        bfree: free,
        bavail: free,
        files,
        ffree,
        namemax: s.maxNameLength > 0 ? s.maxNameLength : 255,
      });
    });
  }

  // ---------------------------------------------------------------------
  // Creating and removing names.

  mknod(req: FuseReply, parentId: number, name: string, mode: number, rdev: number): void {
    this.#run(req, "mknod", async () => {
      const parent = this.#node(parentId, "mknod");
      const path = this.#childPath(parent, name, "mknod");
      this.#writable("mknod", path);
      const owner = this.#owner(req);
      const type = mode & S_IFMT;
      if (type === S_IFREG || type === 0) {
        await this.#backend.writeFile(path, new Uint8Array(), {
          createNew: true,
          mode: mode & 0o7777,
          ...owner,
        });
      } else {
        need(supports(this.#backend, "special"), "EPERM", "mknod", path);
        await this.#backend.mknod(path, mode, rdev, owner);
      }
      await this.#newEntry(req, parent, name, path);
    });
  }

  mkdir(req: FuseReply, parentId: number, name: string, mode: number): void {
    this.#run(req, "mkdir", async () => {
      const parent = this.#node(parentId, "mkdir");
      const path = this.#childPath(parent, name, "mkdir");
      this.#writable("mkdir", path);
      await this.#backend.mkdir(path, { mode: mode & 0o7777, ...this.#owner(req) });
      await this.#newEntry(req, parent, name, path);
    });
  }

  symlink(req: FuseReply, target: string, parentId: number, name: string): void {
    this.#run(req, "symlink", async () => {
      const parent = this.#node(parentId, "symlink");
      const path = this.#childPath(parent, name, "symlink");
      this.#writable("symlink", path);
      need(supports(this.#backend, "symlinks"), "EPERM", "symlink", path);
      await this.#backend.symlink(target, path, this.#owner(req));
      await this.#newEntry(req, parent, name, path);
    });
  }

  link(req: FuseReply, nodeId: number, newParentId: number, newName: string): void {
    this.#run(req, "link", async () => {
      const node = this.#node(nodeId, "link");
      const newParent = this.#node(newParentId, "link");
      const to = this.#childPath(newParent, newName, "link");
      this.#writable("link", to);
      need(supports(this.#backend, "hardlinks"), "EPERM", "link", to);
      const from = await this.#path(node, "link");
      await this.#backend.link(from, to);
      await this.#newEntry(req, newParent, newName, to);
    });
  }

  unlink(req: FuseReply, parentId: number, name: string): void {
    this.#run(req, "unlink", async () => {
      const parent = this.#node(parentId, "unlink");
      const path = this.#childPath(parent, name, "unlink");
      this.#writable("unlink", path);
      const kept = await this.#keepForDescriptors(parent.entries.get(name), path);
      await this.#backend.unlink(path);
      kept();
      this.#table.changed(parent);
      this.#table.unlinkEntry(parent, name);
      req.err(0);
    });
  }

  rmdir(req: FuseReply, parentId: number, name: string): void {
    this.#run(req, "rmdir", async () => {
      const parent = this.#node(parentId, "rmdir");
      const path = this.#childPath(parent, name, "rmdir");
      this.#writable("rmdir", path);
      await this.#backend.rmdir(path);
      this.#table.changed(parent);
      this.#table.unlinkEntry(parent, name);
      req.err(0);
    });
  }

  rename(
    req: FuseReply,
    parentId: number,
    name: string,
    newParentId: number,
    newName: string,
    flags: number,
  ): void {
    this.#run(req, "rename", async () => {
      const parent = this.#node(parentId, "rename");
      const newParent = this.#node(newParentId, "rename");
      const from = this.#childPath(parent, name, "rename");
      const to = this.#childPath(newParent, newName, "rename");
      this.#writable("rename", from);
      // RENAME_EXCHANGE would need two renames through a temporary name,
      // which other requests (and a crash) could observe half done: the
      // backends have no atomic exchange, so it is refused as Linux file
      // systems without it refuse it.
      need((flags & ~RENAME.noreplace) === 0, "EINVAL", "rename", from);
      if (flags & RENAME.noreplace) {
        // The kernel holds both directories locked for the whole request,
        // so nothing else through the mount can create `to` in between.
        need((await tryLstat(this.#backend, to)) === null, "EEXIST", "rename", to);
      }
      const moving = parent.entries.get(name);
      const replaced = newParent.entries.get(newName);
      const kept = replaced === moving ? () => {} : await this.#keepForDescriptors(replaced, to);
      // Only a directory's rename changes the paths of other nodes (the
      // table knows no node below a directory it does not know).
      let settle = (): void => {};
      const running = moving?.type === "dir"
        ? new Promise<void>((resolve) => settle = resolve)
        : undefined;
      if (running) {
        this.#dirMoves++;
        this.#dirMovesRunning.add(running);
      }
      try {
        await this.#backend.rename(from, to);
        kept();
        this.#table.changed(parent);
        this.#table.changed(newParent);
        this.#table.rename(parent, name, newParent, newName);
      } finally {
        if (running) {
          this.#dirMoves++;
          this.#dirMovesRunning.delete(running);
          settle();
        }
      }
      req.err(0);
    });
  }

  // ---------------------------------------------------------------------
  // Files.

  open(req: FuseReply, nodeId: number, fi: FileInfoIn): void {
    this.#run(req, "open", async () => {
      const node = this.#node(nodeId, "open");
      const options = this.#openOptions(fi.flags);
      const { path, successor } = await this.#openPath(req, node, options);
      if (options.write || options.truncate) this.#writable("open", path);
      // With FUSE_CAP_ATOMIC_O_TRUNC the kernel sends O_TRUNC here instead
      // of a setattr: `truncate: true` in the options does it.
      const file = await openFile(this.#backend, path, options);
      if (options.truncate && this.#mustKillPriv(req)) {
        try {
          if (await this.#killSuidSgid(req, node, file, "open")) await this.#attrsChanged(node);
        } catch (e) {
          await file.close().catch(() => {});
          throw e;
        }
      }
      const fh = this.#addFile(node, file);
      const reply = this.#openReply(fh, file);
      // The kernel's size and cached pages of the node are the replaced
      // file's: reads through them would cut the successor's content to
      // the old size (or show old pages). Direct I/O reads what is there.
      if (successor) Object.assign(reply, { directIo: true, keepCache: false });
      if (req.open(reply) === ENOENT_REPLY) {
        // The open was interrupted: no release will come for this handle.
        this.#removeFile(fh);
        await file.close();
      }
    });
  }

  create(req: FuseReply, parentId: number, name: string, mode: number, fi: FileInfoIn): void {
    this.#run(req, "create", async () => {
      const parent = this.#node(parentId, "create");
      const path = this.#childPath(parent, name, "create");
      this.#writable("create", path);
      const file = await openFile(this.#backend, path, {
        ...this.#openOptions(fi.flags),
        create: true,
        createNew: (fi.flags & O.excl) !== 0,
        mode: mode & 0o7777,
        ...this.#owner(req),
      });
      let meta: Metadata;
      try {
        meta = await file.stat();
      } catch (e) {
        await file.close().catch(() => {});
        throw e;
      }
      this.#table.changed(parent);
      const node = this.#table.resolve(parent, name, meta);
      const fh = this.#addFile(node, file);
      this.#table.ref(node);
      const r = req.create(
        node.id,
        this.#attr(node, meta),
        this.#opt.attrTimeout,
        this.#entryTimeout(meta.type),
        this.#openReply(fh, file),
      );
      if (r === ENOENT_REPLY) {
        this.#table.forget(node.id, 1);
        this.#removeFile(fh);
        await file.close();
      }
    });
  }

  read(req: FuseReply, _nodeId: number, size: number, offset: number, fi: FileInfoIn): void {
    this.#run(req, "read", async () => {
      const data = await this.#file(fi.fh, "read").file.read(offset, size);
      this.#stats.bytesRead += data.length;
      req.buf(data);
    });
  }

  write(req: FuseReply, _nodeId: number, data: Uint8Array, offset: number, fi: FileInfoIn): void {
    this.#run(req, "write", async () => {
      this.#writable("write");
      const open = this.#file(fi.fh, "write");
      const n = await open.file.write(data, offset);
      if (
        this.#mustKillPriv(req) && await this.#killSuidSgid(req, open.node, open.file, "write")
      ) {
        await this.#attrsChanged(open.node);
      }
      this.#stats.bytesWritten += n;
      req.write(n);
    });
  }

  flush(req: FuseReply, _nodeId: number, fi: FileInfoIn): void {
    this.#run(req, "flush", async () => {
      const open = this.#files.get(fi.fh);
      // A buffered handle (core-only backend) holds the writes: close(2)
      // must make them visible to the next open.
      if (open?.file instanceof BufferedHandle) {
        await open.file.sync();
        req.err(0);
        return;
      }
      // Backend handles have nothing to flush. Flushes still arrive with
      // the writeback cache (which ignores noflush); ENOSYS makes the
      // kernel stop sending them, saving a round trip per close(2).
      req.err(supports(this.#backend, "handles") ? errnoOf("ENOSYS") : 0);
    });
  }

  release(req: FuseReply, _nodeId: number, fi: FileInfoIn): void {
    this.#run(req, "release", async () => {
      const open = this.#removeFile(fi.fh);
      if (open) {
        if (fi.flockRelease && open.file.unlock) await open.file.unlock();
        await open.file.close();
      }
      req.err(0);
    });
  }

  fsync(req: FuseReply, _nodeId: number, _datasync: boolean, fi: FileInfoIn): void {
    this.#run(req, "fsync", async () => {
      await this.#file(fi.fh, "fsync").file.sync();
      req.err(0);
    });
  }

  flock(req: FuseReply, _nodeId: number, fi: FileInfoIn, op: number): void {
    this.#run(req, "flock", async () => {
      const { file } = this.#file(fi.fh, "flock");
      need(file.lock && file.unlock, "ENOLCK", "flock", file.path);
      if (op & LOCK.un) {
        await file.unlock!();
        req.err(0);
        return;
      }
      await file.lock!(op & LOCK.ex ? "exclusive" : "shared", (op & LOCK.nb) === 0);
      // A waiter that gave up (signal) no longer wants the lock it got.
      if (req.err(0) === ENOENT_REPLY) await file.unlock!();
    });
  }

  fallocate(
    req: FuseReply,
    _nodeId: number,
    mode: number,
    offset: number,
    length: number,
    fi: FileInfoIn,
  ): void {
    this.#run(req, "fallocate", async () => {
      const { file } = this.#file(fi.fh, "fallocate");
      this.#writable("fallocate", file.path);
      const known = FALLOC.keepSize | FALLOC.punchHole | FALLOC.zeroRange;
      need((mode & ~known) === 0, "ENOTSUP", "fallocate", file.path);
      need(offset >= 0 && length > 0, "EINVAL", "fallocate", file.path);
      const size = (await file.stat()).size;
      const end = offset + length;
      if (mode & (FALLOC.punchHole | FALLOC.zeroRange)) {
        // No sparse storage: a hole is zeros written in place.
        const stop = mode & FALLOC.keepSize ? Math.min(end, size) : end;
        for (let at = offset; at < stop; at += ZERO_CHUNK) {
          await file.write(new Uint8Array(Math.min(ZERO_CHUNK, stop - at)), at);
        }
      } else if (!(mode & FALLOC.keepSize) && end > size) {
        // Plain allocation: grow with zeros so later writes cannot fail for space.
        await file.truncate(end);
      }
      req.err(0);
    });
  }

  lseek(req: FuseReply, _nodeId: number, offset: number, whence: number, fi: FileInfoIn): void {
    this.#run(req, "lseek", async () => {
      const { file } = this.#file(fi.fh, "lseek");
      need(whence === SEEK.data || whence === SEEK.hole, "EINVAL", "lseek", file.path);
      const size = (await file.stat()).size;
      // Backends do not track holes: all of a file is data, with the one
      // implicit hole at its end.
      need(offset < size, "ENXIO", "lseek", file.path);
      req.lseek(whence === SEEK.data ? offset : size);
    });
  }

  // ---------------------------------------------------------------------
  // Directories.

  opendir(req: FuseReply, nodeId: number, _fi: FileInfoIn): void {
    this.#run(req, "opendir", () => {
      const node = this.#node(nodeId, "opendir");
      need(node.type === "dir", "ENOTDIR", "opendir");
      const fh = this.#nextFh++;
      this.#dirs.set(fh, { node });
      const always = this.#opt.cache === "always";
      if (req.open({ fh, cacheReaddir: always, keepCache: always }) === ENOENT_REPLY) {
        this.#dirs.delete(fh);
      }
    });
  }

  async #listing(dir: OpenDir, offset: number, op: string): Promise<DirEntry[]> {
    if (dir.entries && offset !== 0) return dir.entries;
    // A listing is read once per pass (offset 0) and served from that
    // snapshot, so offsets stay meaningful while the directory changes.
    const path = await this.#path(dir.node, op);
    const node = dir.node;
    const parent = node.links[0]?.parent ?? this.#table.root;
    dir.entries = [
      { name: ".", type: "dir", ino: node.ino > 0 ? node.ino : node.id },
      { name: "..", type: "dir", ino: parent.ino > 0 ? parent.ino : parent.id },
      ...await this.#backend.readDir(path),
    ];
    return dir.entries;
  }

  readdir(req: FuseReply, _nodeId: number, size: number, offset: number, fi: FileInfoIn): void {
    this.#run(req, "readdir", async () => {
      const dir = this.#dirs.get(fi.fh);
      need(dir, "EBADF", "readdir");
      const entries = await this.#listing(dir, offset, "readdir");
      const out = req.dirBuffer(size);
      for (let i = offset; i < entries.length; i++) {
        const e = entries[i];
        if (!out.add(e.name, e.ino, typeBits(e.type), i + 1)) break;
      }
      req.buf(out.bytes());
    });
  }

  readdirplus(req: FuseReply, _nodeId: number, size: number, offset: number, fi: FileInfoIn): void {
    this.#run(req, "readdirplus", async () => {
      const dir = this.#dirs.get(fi.fh);
      need(dir, "EBADF", "readdirplus");
      const entries = await this.#listing(dir, offset, "readdirplus");
      const out = req.dirBuffer(size);
      // Decide first which entries fit, then fetch the attributes of just
      // those, concurrently.
      const batch: number[] = [];
      let room = size;
      for (let i = offset; i < entries.length; i++) {
        // The size fuse_add_direntry_plus will take, so that every entry
        // of the batch fits (the undo below relies on it).
        const record = direntPlusSize(ENCODER.encode(entries[i].name).length);
        if (record > room) break;
        room -= record;
        batch.push(i);
      }
      const parentPath = await this.#path(dir.node, "readdirplus");
      const metas = await Promise.allSettled(
        batch.map((i) => {
          const e = entries[i];
          if (e.name === "." || e.name === "..") return Promise.resolve(undefined);
          const p = parentPath === "/" ? "/" + e.name : parentPath + "/" + e.name;
          return this.#backend.lstat(p);
        }),
      );
      for (let k = 0; k < batch.length; k++) {
        const i = batch[k];
        const e = entries[i];
        const settled = metas[k];
        if (settled.status === "rejected") continue; // vanished meanwhile: skip it
        const meta = settled.value;
        if (!meta) {
          // "." and "..": no entry for the kernel to cache (node id 0).
          const attr = this.#dotAttr(e.ino, e.type);
          if (!out.addPlus(e.name, 0, attr, 0, 0, i + 1)) break;
          continue;
        }
        await this.#recheckJoin(dir.node, e.name, meta);
        const node = this.#table.resolve(dir.node, e.name, meta);
        if (
          !out.addPlus(
            e.name,
            node.id,
            this.#attr(node, meta),
            this.#opt.attrTimeout,
            this.#entryTimeout(meta.type),
            i + 1,
          )
        ) {
          this.#table.dropIfUnused(node);
          break;
        }
        this.#table.ref(node);
      }
      if (req.buf(out.bytes()) === ENOENT_REPLY) {
        // Nothing reached the kernel: undo the references just counted.
        for (let k = 0; k < batch.length; k++) {
          const settled = metas[k];
          if (settled.status !== "fulfilled" || !settled.value) continue;
          const node = dir.node.entries.get(entries[batch[k]].name);
          if (node) this.#table.forget(node.id, 1);
        }
      }
    });
  }

  #dotAttr(ino: number, type: FileType): StatFields {
    return {
      ino,
      mode: typeBits(type),
      nlink: 0,
      uid: 0,
      gid: 0,
      rdev: 0,
      size: 0,
      blocks: 0,
      atimeMs: 0,
      mtimeMs: 0,
      ctimeMs: 0,
    };
  }

  releasedir(req: FuseReply, _nodeId: number, fi: FileInfoIn): void {
    this.#run(req, "releasedir", () => {
      this.#dirs.delete(fi.fh);
      req.err(0);
    });
  }

  fsyncdir(req: FuseReply, nodeId: number, _datasync: boolean, _fi: FileInfoIn): void {
    this.#run(req, "fsyncdir", async () => {
      if (supports(this.#backend, "sync")) {
        await this.#backend.fsync(await this.#path(this.#node(nodeId, "fsyncdir"), "fsyncdir"));
      }
      req.err(0);
    });
  }

  // ---------------------------------------------------------------------
  // Extended attributes.

  /**
   * Where the extended attributes of node `nodeId` live: the backend at the
   * node's path, or, for a file whose last name was removed through the
   * mount while it was open, the copy the mount keeps (see
   * `#keepForDescriptors`). `undefined` once answered with `ENOSYS`.
   */
  async #xattrPlace(
    req: FuseReply,
    nodeId: number,
    op: string,
  ): Promise<{ store: FsXattrs; path: string } | undefined> {
    const b = this.#backend;
    if (!this.#hasXattrs || !supports(b, "xattrs")) {
      // ENOSYS makes the kernel stop asking (it answers EOPNOTSUPP to
      // programs itself), including its security.capability check before
      // a file's first cached write.
      req.err(errnoOf("ENOSYS"));
      return undefined;
    }
    const node = this.#node(nodeId, op);
    try {
      return { store: b, path: await this.#path(node, op) };
    } catch (e) {
      const kept = node.detached?.xattrs;
      if (kept && (e as { code?: string }).code === "ESTALE") {
        return { store: kept, path: `<node ${node.id}>` };
      }
      throw e;
    }
  }

  setxattr(req: FuseReply, nodeId: number, name: string, value: Uint8Array, flags: number): void {
    this.#run(req, "setxattr", async () => {
      const place = await this.#xattrPlace(req, nodeId, "setxattr");
      if (place === undefined) return;
      const { store, path } = place;
      // POSIX ACLs travel as these attributes; stored verbatim they would
      // silently not apply (cp -a sets a copied file's mode this way).
      // Refusing makes programs fall back to chmod.
      need(!isAclName(name), "ENOTSUP", "setxattr", path);
      this.#writable("setxattr", path);
      await store.setXattr(path, name, value, {
        create: (flags & XATTR.create) !== 0,
        replace: (flags & XATTR.replace) !== 0,
      });
      req.err(0);
    });
  }

  getxattr(req: FuseReply, nodeId: number, name: string, size: number): void {
    this.#run(req, "getxattr", async () => {
      const place = await this.#xattrPlace(req, nodeId, "getxattr");
      if (place === undefined) return;
      const { store, path } = place;
      // The kernel asks for security.capability before the first write
      // to every file, and ACLs on many metadata reads; there rarely is
      // one. A backend reports a missing attribute by throwing, and an
      // Error costs ~10 us here: look at the list first.
      const absent = isAclName(name) ||
        (name === CAPABILITY_XATTR && !(await store.listXattr(path)).includes(name));
      if (absent) {
        this.#stats.errors++;
        req.err(ENODATA);
        return;
      }
      const value = await store.getXattr(path, name);
      this.#replySized(req, value, size, "getxattr", path);
    });
  }

  listxattr(req: FuseReply, nodeId: number, size: number): void {
    this.#run(req, "listxattr", async () => {
      const place = await this.#xattrPlace(req, nodeId, "listxattr");
      if (place === undefined) return;
      const { store, path } = place;
      const names = (await store.listXattr(path)).filter((n) => !isAclName(n));
      const list = ENCODER.encode(names.map((n) => n + "\0").join(""));
      this.#replySized(req, list, size, "listxattr", path);
    });
  }

  #replySized(req: FuseReply, data: Uint8Array, size: number, op: string, path: string): void {
    if (size === 0) req.xattrSize(data.length);
    else if (data.length > size) throw fsError("ERANGE", op, path);
    else req.buf(data);
  }

  removexattr(req: FuseReply, nodeId: number, name: string): void {
    this.#run(req, "removexattr", async () => {
      const place = await this.#xattrPlace(req, nodeId, "removexattr");
      if (place === undefined) return;
      const { store, path } = place;
      this.#writable("removexattr", path);
      need(!isAclName(name), "ENODATA", "removexattr", path);
      await store.removeXattr(path, name);
      req.err(0);
    });
  }
}
