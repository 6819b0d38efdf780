/**
 * Quota: resource limits for a backend — total bytes, file size, node count,
 * entries per directory and path depth — with exact usage accounting.
 *
 * ## What is counted
 * - **Bytes**: the apparent size (length) of every regular file, counted
 *   once per inode however many hard links it has, the length of every
 *   symlink's target (a symlink's apparent size, as `du -b` counts it), plus
 *   the bytes of extended attributes (name and value). Directories take no
 *   bytes; a file grown by `truncate` counts its full length even where the
 *   backend stores it sparsely. Symlink targets count because the backend
 *   stores them: otherwise a sandboxed program limited to 100 MiB could
 *   store gigabytes as link targets (up to 4 KiB each) when no node limit is
 *   set.
 * - **Nodes**: every inode except the root — files, directories, symlinks
 *   and special files, a hard-linked file once.
 *
 * ## Which limit gives which error
 * | limit | code | why |
 * | --- | --- | --- |
 * | `maxTotalSize`, `maxNodeCount` | `ENOSPC` (or `EDQUOT` with `capacityCode`) | {@linkcode Quota.statfs} reports these limits as the capacity, so to `df` the file system is full |
 * | `maxFileSize` | `EFBIG` | what Linux gives for a write past `RLIMIT_FSIZE` or the file system's maximum file size |
 * | `maxDirEntries`, `maxPathDepth` | `EDQUOT` | administrative limits, not a lack of space |
 *
 * Every quota error carries `limit`, `requested` (the bytes, nodes, size or
 * depth the operation asked for) and `usage` (what was in use).
 *
 * ## Exactness
 * The check and the commit of every mutating operation run under one lock,
 * so concurrent writers can never both pass a check that only one of them
 * fits (mutations through a `Quota` run one at a time; reads do not wait).
 * Overwrites and truncation count only the change in size; renaming over a
 * file releases the replaced file; an unlinked file that is still open keeps
 * its bytes and its node until its last handle is closed, because the
 * backend contract keeps such a file's data alive until then. A write is
 * all or nothing: one that does not fit fails without writing anything.
 *
 * Usage is scanned from the wrapped backend when the quota is created
 * ({@linkcode Quota.ready}; {@linkcode Quota.create} waits for it), and
 * mutations wait for the scan. The accounting is only exact for changes
 * made through the quota: if something writes to the inner backend
 * directly, call {@linkcode Quota.rescan}.
 *
 * ## Position in a stack
 * Put the quota innermost, next to the storage: a {@linkcode PathFilter}
 * below it would hide files from the initial scan (their bytes would go
 * uncounted), and a {@linkcode ReadOnly} or {@linkcode PathFilter} above it
 * rejects operations before the quota looks at them.
 *
 * @module
 */

import {
  type Backend,
  capabilitiesOf,
  type Capability,
  type CreateOptions,
  type FileHandle,
  type Layer,
  type OpenOptions,
  type SetXattrOptions,
  supports,
  type WriteFileOptions,
} from "../core/backend.ts";
import { tryLstat } from "../core/derive.ts";
import { fsError } from "../core/errors.ts";
import { parentPath, splitPath, utf8Length } from "../core/path.ts";
import type { DirEntry, Metadata, StatFs } from "../core/types.ts";
import { HandleWrapper, Middleware } from "./middleware.ts";

/** The limits a {@linkcode Quota} enforces; a missing limit is unlimited. */
export interface QuotaLimits {
  /** Most bytes of file content, symlink targets and xattrs in the whole backend → `ENOSPC`. */
  maxTotalSize?: number;
  /** Largest size of one file → `EFBIG`. */
  maxFileSize?: number;
  /** Most nodes (files, directories, symlinks; the root excluded) → `ENOSPC`. */
  maxNodeCount?: number;
  /** Most entries in one directory → `EDQUOT`. */
  maxDirEntries?: number;
  /** Most components in a path (`/a/b` has 2) → `EDQUOT`. */
  maxPathDepth?: number;
  /**
   * The code for the two capacity limits (`maxTotalSize`, `maxNodeCount`):
   * `"ENOSPC"` (default, "No space left on device") or `"EDQUOT"` ("Disk
   * quota exceeded").
   */
  capacityCode?: "ENOSPC" | "EDQUOT";
}

/** What a {@linkcode Quota} counts as in use. */
export interface QuotaUsage {
  /** Bytes of file content and extended attributes. */
  bytes: number;
  /** Nodes, the root excluded. */
  nodes: number;
}

/** What a {@linkcode Quota} still allows; `Infinity` where there is no limit. */
export interface QuotaRemaining {
  /** Bytes that may still be added. */
  bytes: number;
  /** Nodes that may still be created. */
  nodes: number;
}

/** An inode held open through the quota: its size is tracked here so handle writes need no stat. */
interface OpenInode {
  size: number;
  handles: number;
  /** Its last name was removed while open: release it when the last handle closes. */
  orphaned: boolean;
}

const LIMIT_NAMES = [
  "maxTotalSize",
  "maxFileSize",
  "maxNodeCount",
  "maxDirEntries",
  "maxPathDepth",
] as const;

/** How many `lstat`s the initial scan runs at once. */
const SCAN_BATCH = 64;

function codeOf(e: unknown): string | undefined {
  return (e as { code?: string } | null)?.code;
}

/** `null` for a probe that failed because nothing can be at the path (`ENOENT`, `ENOTDIR`); rethrows anything else. */
function absentOn(e: unknown): null {
  const code = codeOf(e);
  if (code === "ENOENT" || code === "ENOTDIR") return null;
  throw e;
}

function noop(): void {}

/** The bytes an entry's own content takes: a file's length, a symlink's target. */
function contentBytes(meta: Metadata): number {
  return meta.type === "file" || meta.type === "symlink" ? meta.size : 0;
}

/**
 * A middleware enforcing {@linkcode QuotaLimits} on the backend it wraps.
 *
 * @example Limit a sandbox to 1 MiB and 100 nodes
 * ```ts
 * import { MemoryBackend, Quota } from "@anyfs/anyfs";
 *
 * const quota = await Quota.create(new MemoryBackend(), {
 *   maxTotalSize: 1024 * 1024,
 *   maxNodeCount: 100,
 * });
 * await quota.writeFile("/a.bin", new Uint8Array(1000));
 * console.log(quota.usage()); // { bytes: 1000, nodes: 1 }
 * try {
 *   await quota.writeFile("/big.bin", new Uint8Array(2 * 1024 * 1024));
 * } catch (e) {
 *   console.log((e as { code: string }).code); // "ENOSPC"
 * }
 * ```
 *
 * @example As a layer
 * ```ts
 * import { MemoryBackend, Quota } from "@anyfs/anyfs";
 * const backend = new MemoryBackend().layer(Quota.layer({ maxFileSize: 10 * 1024 * 1024 }));
 * await backend.ready;
 * ```
 */
export class Quota<B extends Backend = Backend> extends Middleware<B> {
  /** The inner backend's capabilities plus `statfs`, which the quota answers itself. */
  override readonly capabilities: ReadonlySet<Capability>;
  /**
   * Settles when the initial usage scan is done; rejects if it failed (then
   * every mutation fails with `EIO` until {@linkcode Quota.rescan} succeeds).
   */
  readonly ready: Promise<void>;

  readonly #limits: Readonly<QuotaLimits>;
  #bytes = 0;
  #nodes = 0;
  #scanError: unknown = undefined;
  /** Bytes of xattrs per inode, for inodes that have any. */
  #xattrBytes = new Map<number, number>();
  /** Entry counts of directories by inode, filled lazily when `maxDirEntries` is set. */
  #dirEntries = new Map<number, number>();
  #open = new Map<number, OpenInode>();
  /** Whether a mutation (or the scan) holds the lock. */
  #locked = false;
  /** Mutations waiting for the lock, first come first served, from `#waitingFrom` on. */
  #waiting: (() => void)[] = [];
  #waitingFrom = 0;

  /**
   * Wrap `inner` and start scanning its usage (see {@linkcode Quota.ready}).
   * Throws `EINVAL` for a limit that is not a non-negative integer.
   */
  constructor(inner: B, limits: QuotaLimits = {}) {
    super(inner);
    for (const name of LIMIT_NAMES) {
      const value = limits[name];
      if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
        throw fsError("EINVAL", "quota", "", {
          reason: `${name} must be a non-negative integer, got ${value}`,
        });
      }
    }
    if (
      limits.capacityCode !== undefined && limits.capacityCode !== "ENOSPC" &&
      limits.capacityCode !== "EDQUOT"
    ) {
      throw fsError("EINVAL", "quota", "", {
        reason: `capacityCode must be "ENOSPC" or "EDQUOT", got ${limits.capacityCode}`,
      });
    }
    this.#limits = { ...limits };
    this.capabilities = new Set([...capabilitiesOf(inner), "statfs"]);
    this.#locked = true;
    this.ready = this.#scanAndUnlock();
    // Nobody may ever await `ready`; the failure is reported by every mutation instead.
    this.ready.catch(() => {});
  }

  /**
   * Wrap `inner` and wait for the usage scan.
   *
   * @example
   * ```ts
   * import { MemoryBackend, Quota } from "@anyfs/anyfs";
   * const quota = await Quota.create(new MemoryBackend(), { maxTotalSize: 1 << 20 });
   * console.log(quota.remaining().bytes); // 1048576
   * ```
   */
  static async create<B extends Backend>(inner: B, limits: QuotaLimits = {}): Promise<Quota<B>> {
    const quota = new Quota(inner, limits);
    await quota.ready;
    return quota;
  }

  /**
   * A layer that wraps a backend in a quota with `limits`.
   *
   * @example
   * ```ts
   * import { MemoryBackend, Quota } from "@anyfs/anyfs";
   * const backend = new MemoryBackend().layer(Quota.layer({ maxNodeCount: 10_000 }));
   * ```
   */
  static layer(limits: QuotaLimits = {}): QuotaLayer {
    return new QuotaLayer(limits);
  }

  /** The configured limits. */
  get limits(): Readonly<QuotaLimits> {
    return this.#limits;
  }

  /** What is in use now (exact once {@linkcode Quota.ready} has settled). */
  usage(): QuotaUsage {
    return { bytes: this.#bytes, nodes: this.#nodes };
  }

  /** What may still be added; `Infinity` where there is no limit, 0 when over it. */
  remaining(): QuotaRemaining {
    const { maxTotalSize, maxNodeCount } = this.#limits;
    return {
      bytes: maxTotalSize === undefined ? Infinity : Math.max(0, maxTotalSize - this.#bytes),
      nodes: maxNodeCount === undefined ? Infinity : Math.max(0, maxNodeCount - this.#nodes),
    };
  }

  /**
   * Count usage again from the inner backend, after something changed it
   * behind the quota's back. Waits for running mutations; holds new ones.
   * Open files keep their tracking.
   */
  async rescan(): Promise<void> {
    const turn = this.#lock();
    if (turn !== undefined) await turn;
    await this.#scanAndUnlock();
  }

  // ---- accounting machinery -------------------------------------------------

  /** Scan while holding the lock, then release it. */
  async #scanAndUnlock(): Promise<void> {
    try {
      await this.#scan();
    } finally {
      this.#unlock();
    }
  }

  async #scan(): Promise<void> {
    this.#scanError = undefined;
    try {
      let bytes = 0;
      let nodes = 0;
      const xattrs = new Map<number, number>();
      const seenLinked = new Set<number>();
      const withXattrs = supports(this.inner, "xattrs");
      const countXattrs = async (path: string, ino: number) => {
        if (!withXattrs) return;
        const n = await this.#xattrSize(path);
        if (n > 0) {
          xattrs.set(ino, n);
          bytes += n;
        }
      };
      const root = await this.inner.lstat("/");
      await countXattrs("/", root.ino);
      const dirs = ["/"];
      while (dirs.length > 0) {
        const dir = dirs.pop()!;
        const entries = await this.inner.readDir(dir);
        for (let i = 0; i < entries.length; i += SCAN_BATCH) {
          const batch = entries.slice(i, i + SCAN_BATCH);
          await Promise.all(batch.map(async (entry) => {
            const path = dir === "/" ? `/${entry.name}` : `${dir}/${entry.name}`;
            if (entry.type === "dir") {
              nodes++;
              dirs.push(path);
              await countXattrs(path, entry.ino);
              return;
            }
            const meta = await this.inner.lstat(path);
            if (meta.nlink > 1) {
              if (seenLinked.has(meta.ino)) return;
              seenLinked.add(meta.ino);
            }
            nodes++;
            bytes += contentBytes(meta);
            await countXattrs(path, meta.ino);
          }));
        }
      }
      // Orphaned open inodes have no name, so the walk did not see them.
      for (const open of this.#open.values()) {
        if (open.orphaned) {
          bytes += open.size;
          nodes++;
        }
      }
      this.#bytes = bytes;
      this.#nodes = nodes;
      this.#xattrBytes = xattrs;
      this.#dirEntries.clear();
    } catch (e) {
      this.#scanError = e;
      throw e;
    }
  }

  async #xattrSize(path: string): Promise<number> {
    const inner = this.need("xattrs", "listxattr", path);
    let total = 0;
    for (const name of await inner.listXattr(path)) {
      total += utf8Length(name) + (await inner.getXattr(path, name)).length;
    }
    return total;
  }

  /**
   * Take the lock that makes each mutation's check and commit one step:
   * `undefined` when it was free (the common case costs no promise), else
   * a promise that resolves when this caller holds it, after every mutation
   * that asked before. Whoever takes it must {@linkcode #unlock} it.
   */
  #lock(): Promise<void> | undefined {
    if (!this.#locked) {
      this.#locked = true;
      return undefined;
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Hand the lock to the next waiter, or free it. */
  #unlock(): void {
    if (this.#waitingFrom < this.#waiting.length) {
      const next = this.#waiting[this.#waitingFrom];
      this.#waiting[this.#waitingFrom++] = noop;
      if (this.#waitingFrom === this.#waiting.length) {
        this.#waiting = [];
        this.#waitingFrom = 0;
      }
      next();
    } else {
      this.#locked = false;
    }
  }

  /** `EIO` when the usage scan failed: nothing can be checked against an unknown usage. */
  #requireScan(operation: string, path: string): void {
    if (this.#scanError !== undefined) {
      throw fsError("EIO", operation, path, {
        reason: "the quota could not scan the backend's usage; call rescan()",
        cause: this.#scanError,
      });
    }
  }

  /** Run `fn` holding the lock, so its check and commit cannot interleave with another mutation's. */
  async #exclusive<T>(operation: string, path: string, fn: () => Promise<T>): Promise<T> {
    const turn = this.#lock();
    if (turn !== undefined) await turn;
    try {
      this.#requireScan(operation, path);
      return await fn();
    } finally {
      this.#unlock();
    }
  }

  /**
   * The inner backend's metadata of `path`, or `null` when nothing is
   * there. The hot paths inline this probe with {@linkcode absentOn}: one
   * more async function around it would cost a promise and a tick.
   */
  #probe(path: string): Promise<Metadata | null> {
    // tryLstat: most probes are for names about to be created, and a
    // rejected lstat costs an Error (microseconds) per create.
    const inner = this.inner;
    return inner.tryLstat !== undefined ? inner.tryLstat(path) : tryLstat(inner, path);
  }

  /** Metadata of `path`, or `undefined` when there is nothing there. */
  async #stat(path: string): Promise<Metadata | undefined> {
    try {
      return await this.#probe(path) ?? undefined;
    } catch (e) {
      return absentOn(e) ?? undefined;
    }
  }

  #capacityError(
    what: string,
    operation: string,
    path: string,
    limit: number,
    requested: number,
    usage: number,
  ): Error {
    return fsError(this.#limits.capacityCode ?? "ENOSPC", operation, path, {
      reason: `quota of ${limit} ${what} exceeded (${usage} in use, ${requested} requested)`,
      limit,
      requested,
      usage,
    });
  }

  #checkBytes(operation: string, path: string, delta: number): void {
    const limit = this.#limits.maxTotalSize;
    if (limit !== undefined && delta > 0 && this.#bytes + delta > limit) {
      throw this.#capacityError("bytes", operation, path, limit, delta, this.#bytes);
    }
  }

  #checkFileSize(operation: string, path: string, size: number, current: number): void {
    const limit = this.#limits.maxFileSize;
    if (limit !== undefined && size > limit && size > current) {
      throw fsError("EFBIG", operation, path, {
        reason: `file size limit of ${limit} bytes exceeded (${size} requested)`,
        limit,
        requested: size,
        usage: current,
      });
    }
  }

  #checkNode(operation: string, path: string): void {
    const limit = this.#limits.maxNodeCount;
    if (limit !== undefined && this.#nodes + 1 > limit) {
      throw this.#capacityError("nodes", operation, path, limit, 1, this.#nodes);
    }
  }

  #checkDepth(operation: string, path: string, knownDepth?: number): void {
    const limit = this.#limits.maxPathDepth;
    if (limit === undefined) return;
    const depth = knownDepth ?? splitPath(path).length;
    if (depth > limit) {
      throw fsError("EDQUOT", operation, path, {
        reason: `path depth limit of ${limit} exceeded (${depth} requested)`,
        limit,
        requested: depth,
      });
    }
  }

  /**
   * Check that the parent of `path` can take one more entry; returns the
   * parent's inode to count the entry in after the operation succeeded.
   */
  async #checkDirEntry(operation: string, path: string): Promise<number | undefined> {
    const limit = this.#limits.maxDirEntries;
    if (limit === undefined) return undefined;
    const parent = parentPath(path);
    const meta = await this.#stat(parent);
    // A missing parent: the operation itself reports it.
    if (!meta || meta.type !== "dir") return undefined;
    let count = this.#dirEntries.get(meta.ino);
    if (count === undefined) {
      count = (await this.inner.readDir(parent)).length;
      this.#dirEntries.set(meta.ino, count);
    }
    if (count + 1 > limit) {
      throw fsError("EDQUOT", operation, path, {
        reason: `limit of ${limit} entries per directory exceeded`,
        limit,
        requested: 1,
        usage: count,
      });
    }
    return meta.ino;
  }

  #entryAdded(parentIno: number | undefined): void {
    if (parentIno === undefined) return;
    const count = this.#dirEntries.get(parentIno);
    if (count !== undefined) this.#dirEntries.set(parentIno, count + 1);
  }

  async #entryRemoved(path: string): Promise<void> {
    if (this.#limits.maxDirEntries === undefined) return;
    const meta = await this.#stat(parentPath(path));
    if (!meta) return;
    const count = this.#dirEntries.get(meta.ino);
    if (count !== undefined) this.#dirEntries.set(meta.ino, Math.max(0, count - 1));
  }

  /** All checks for creating a new node at `path` (depth, node count, directory entries). */
  #checkCreate(operation: string, path: string): Promise<number | undefined> {
    this.#checkNewNode(operation, path);
    return this.#checkDirEntry(operation, path);
  }

  /** The checks for a new node that need no lookup: depth and node count. */
  #checkNewNode(operation: string, path: string): void {
    this.#checkDepth(operation, path);
    this.#checkNode(operation, path);
  }

  /** Whether a new node at `path` passes {@linkcode #checkNewNode}, without an error. */
  #fitsNewNode(path: string): boolean {
    const { maxNodeCount, maxPathDepth } = this.#limits;
    if (maxNodeCount !== undefined && this.#nodes + 1 > maxNodeCount) return false;
    return maxPathDepth === undefined || splitPath(path).length <= maxPathDepth;
  }

  /** One name of the node `meta` is gone: release the node if it was the last and nobody holds it open. */
  #nameRemoved(meta: Metadata): void {
    if (meta.type === "dir") {
      this.#dirEntries.delete(meta.ino);
      this.#release(meta.ino, 0);
      return;
    }
    if (meta.nlink > 1) return;
    const open = this.#open.get(meta.ino);
    if (open) open.orphaned = true;
    else this.#release(meta.ino, contentBytes(meta));
  }

  #release(ino: number, size: number): void {
    this.#bytes -= size + (this.#xattrBytes.get(ino) ?? 0);
    this.#xattrBytes.delete(ino);
    this.#nodes--;
  }

  #setOpenSize(ino: number, size: number): void {
    const open = this.#open.get(ino);
    if (open) open.size = size;
  }

  /**
   * Commit a content change of the existing file `before` to `size` bytes.
   * The contract's backends write in place (a write through one hard link
   * shows through the others), which the check assumed. One that replaced
   * the inode instead would leave the old one with its other names or open
   * handles; only then does that matter, so only then is the result looked
   * up, to keep the count exact even so. Returns a promise only then, so
   * the common case needs no await.
   */
  #commitContent(path: string, before: Metadata, size: number): Promise<void> | undefined {
    if (before.nlink <= 1 && !this.#open.has(before.ino)) {
      this.#bytes += size - before.size;
      return undefined;
    }
    return this.#commitShared(path, before, size);
  }

  async #commitShared(path: string, before: Metadata, size: number): Promise<void> {
    const after = await this.#stat(path);
    if (!after || after.ino === before.ino) {
      this.#bytes += size - before.size;
      this.#setOpenSize(before.ino, size);
      return;
    }
    this.#nameRemoved(before);
    this.#bytes += after.size;
    this.#nodes++;
  }

  // ---- core operations ------------------------------------------------------

  // Reads pass straight through, from this class's own call sites rather
  // than the base's (see Middleware on why that matters in deep stacks).

  /** Forwarded. */
  override lstat(path: string): Promise<Metadata> {
    return this.inner.lstat(path);
  }
  /** Forwarded, as a probe. */
  override tryLstat(path: string): Promise<Metadata | null> {
    return this.#probe(path);
  }
  /** Forwarded. */
  override readDir(path: string): Promise<DirEntry[]> {
    return this.inner.readDir(path);
  }
  /** Forwarded. */
  override readFile(path: string): Promise<Uint8Array> {
    return this.inner.readFile(path);
  }

  /** Checks the limits, forwards, and counts the change. */
  override async writeFile(
    path: string,
    data: Uint8Array,
    options?: WriteFileOptions,
  ): Promise<void> {
    // The lock and the probe are inlined here and in the other hot
    // operations: each async helper around them costs a promise and a tick.
    const turn = this.#lock();
    if (turn !== undefined) await turn;
    try {
      this.#requireScan("writefile", path);
      let before: Metadata | null;
      try {
        before = await this.#probe(path);
      } catch (e) {
        before = absentOn(e);
      }
      if (before !== null && before.type === "file" && !options?.createNew) {
        this.#checkFileSize("write", path, data.length, before.size);
        this.#checkBytes("write", path, data.length - before.size);
        await this.inner.writeFile(path, data, options);
        const shared = this.#commitContent(path, before, data.length);
        if (shared !== undefined) await shared;
      } else if (before === null && options?.create !== false) {
        this.#checkNewNode("open", path);
        const parent = this.#limits.maxDirEntries === undefined
          ? undefined
          : await this.#checkDirEntry("open", path);
        this.#checkFileSize("write", path, data.length, 0);
        this.#checkBytes("write", path, data.length);
        await this.inner.writeFile(path, data, options);
        this.#bytes += data.length;
        this.#nodes++;
        this.#entryAdded(parent);
      } else {
        // Cases the backend rejects (EEXIST, ENOENT, EISDIR…).
        await this.inner.writeFile(path, data, options);
        await this.#recount(path, before ?? undefined);
      }
    } finally {
      this.#unlock();
    }
  }

  /** After an operation whose effect was not predicted: account from what is there now. */
  async #recount(path: string, before: Metadata | undefined): Promise<void> {
    const after = await this.#stat(path);
    if (before && after && before.ino === after.ino) {
      if (after.type === "file") this.#bytes += after.size - before.size;
      return;
    }
    if (before) this.#nameRemoved(before);
    if (after) {
      this.#nodes++;
      this.#bytes += contentBytes(after);
    }
  }

  /** Checks the limits, forwards, and counts the change. */
  override mkdir(path: string, options?: CreateOptions): Promise<void> {
    if (
      !this.#locked && this.#scanError === undefined && this.#limits.maxDirEntries === undefined &&
      this.#fitsNewNode(path)
    ) {
      // The common case without an async function around it: mkdir creates
      // exactly one node or fails without a change, and the limits allow
      // one more node whatever is there, so there is nothing to probe.
      this.#locked = true;
      let made: Promise<void>;
      try {
        made = this.inner.mkdir(path, options);
      } catch (e) {
        this.#unlock();
        return Promise.reject(e);
      }
      return made.then(this.#madeDir, this.#unlockAndThrow);
    }
    return this.#mkdirLocked(path, options);
  }

  /** A directory was made by the fast path of {@linkcode Quota.mkdir}. */
  readonly #madeDir = (): void => {
    this.#nodes++;
    this.#unlock();
  };

  /** Release the lock and pass the error on. */
  readonly #unlockAndThrow = (error: unknown): never => {
    this.#unlock();
    throw error;
  };

  async #mkdirLocked(path: string, options?: CreateOptions): Promise<void> {
    const turn = this.#lock();
    if (turn !== undefined) await turn;
    try {
      this.#requireScan("mkdir", path);
      if (this.#limits.maxDirEntries === undefined && this.#fitsNewNode(path)) {
        await this.inner.mkdir(path, options);
        this.#nodes++;
        return;
      }
      // Something is over a limit: an existing name must still be EEXIST.
      if (await this.#stat(path)) return await this.inner.mkdir(path, options);
      const parent = await this.#checkCreate("mkdir", path);
      await this.inner.mkdir(path, options);
      this.#nodes++;
      this.#entryAdded(parent);
    } finally {
      this.#unlock();
    }
  }

  /** Forwards; releases the file's bytes and node when this was its last name and no handle holds it. */
  override async unlink(path: string): Promise<void> {
    const turn = this.#lock();
    if (turn !== undefined) await turn;
    try {
      this.#requireScan("unlink", path);
      let before: Metadata | null;
      try {
        before = await this.#probe(path);
      } catch (e) {
        before = absentOn(e);
      }
      await this.inner.unlink(path);
      if (before !== null) {
        this.#nameRemoved(before);
        if (this.#limits.maxDirEntries !== undefined) await this.#entryRemoved(path);
      }
    } finally {
      this.#unlock();
    }
  }

  /** Forwards and releases the directory's node. */
  override async rmdir(path: string): Promise<void> {
    const turn = this.#lock();
    if (turn !== undefined) await turn;
    try {
      this.#requireScan("rmdir", path);
      let before: Metadata | null;
      try {
        before = await this.#probe(path);
      } catch (e) {
        before = absentOn(e);
      }
      await this.inner.rmdir(path);
      if (before !== null) {
        this.#nameRemoved(before);
        if (this.#limits.maxDirEntries !== undefined) await this.#entryRemoved(path);
      }
    } finally {
      this.#unlock();
    }
  }

  /** Checks depth and directory entries at the destination, forwards, and releases a replaced entry. */
  override async rename(from: string, to: string): Promise<void> {
    const turn = this.#lock();
    if (turn !== undefined) await turn;
    try {
      this.#requireScan("rename", from);
      let target: Metadata | null;
      try {
        target = await this.#probe(to);
      } catch (e) {
        target = absentOn(e);
      }
      const { maxPathDepth, maxDirEntries } = this.#limits;
      if (target === null && maxPathDepth === undefined && maxDirEntries === undefined) {
        // Nothing is replaced and no limit depends on where names are:
        // whatever the source is, the usage does not change.
        await this.inner.rename(from, to);
        return;
      }
      const source = await this.#stat(from);
      if (!source || (target && target.ino === source.ino)) {
        return await this.inner.rename(from, to);
      }
      if (source.type === "dir") await this.#checkSubtreeDepth(from, to);
      else this.#checkDepth("rename", to);
      const sameDir = parentPath(from) === parentPath(to);
      const parent = target || sameDir ? undefined : await this.#checkDirEntry("rename", to);
      await this.inner.rename(from, to);
      if (target) this.#nameRemoved(target);
      await this.#entryRemoved(from);
      if (!target) {
        if (sameDir) await this.#entryAddedAt(to);
        else this.#entryAdded(parent);
      }
    } finally {
      this.#unlock();
    }
  }

  async #entryAddedAt(path: string): Promise<void> {
    if (this.#limits.maxDirEntries === undefined) return;
    const meta = await this.#stat(parentPath(path));
    if (meta) this.#entryAdded(meta.ino);
  }

  /** Moving a directory deeper moves its whole subtree deeper: check its deepest path. */
  async #checkSubtreeDepth(from: string, to: string): Promise<void> {
    const limit = this.#limits.maxPathDepth;
    if (limit === undefined || from === "/") return;
    const fromDepth = splitPath(from).length;
    const toDepth = splitPath(to).length;
    if (toDepth <= fromDepth && toDepth <= limit) return;
    let deepest = 0;
    const walk = async (dir: string, depth: number): Promise<void> => {
      deepest = Math.max(deepest, depth);
      if (toDepth + depth > limit) return;
      for (const entry of await this.inner.readDir(dir)) {
        if (entry.type === "dir") await walk(`${dir}/${entry.name}`, depth + 1);
        else deepest = Math.max(deepest, depth + 1);
      }
    };
    await walk(from, 0);
    this.#checkDepth("rename", to, toDepth + deepest);
  }

  // ---- optional capabilities --------------------------------------------------

  /** Checks the limits, forwards, and counts the change. */
  override truncate(path: string, length: number): Promise<void> {
    // Without the capability the base derives truncate from writeFile, which is counted.
    if (!supports(this.inner, "truncate")) return super.truncate(path, length);
    const inner = this.inner;
    return this.#exclusive("truncate", path, async () => {
      const before = await this.#stat(path);
      if (before?.type !== "file" || !Number.isSafeInteger(length) || length < 0) {
        return inner.truncate(path, length);
      }
      this.#checkFileSize("truncate", path, length, before.size);
      this.#checkBytes("truncate", path, length - before.size);
      await inner.truncate(path, length);
      await this.#commitContent(path, before, length);
    });
  }

  /** Checks the limits, forwards, and counts the change. */
  override appendFile(path: string, data: Uint8Array, options?: CreateOptions): Promise<void> {
    if (!supports(this.inner, "append")) return super.appendFile(path, data, options);
    const inner = this.inner;
    return this.#exclusive("append", path, async () => {
      const before = await this.#stat(path);
      if (before?.type === "file") {
        const size = before.size + data.length;
        this.#checkFileSize("write", path, size, before.size);
        this.#checkBytes("write", path, size - before.size);
        await inner.appendFile(path, data, options);
        await this.#commitContent(path, before, size);
      } else if (!before) {
        const parent = await this.#checkCreate("open", path);
        this.#checkFileSize("write", path, data.length, 0);
        this.#checkBytes("write", path, data.length);
        await inner.appendFile(path, data, options);
        this.#bytes += data.length;
        this.#nodes++;
        this.#entryAdded(parent);
      } else {
        await inner.appendFile(path, data, options);
        await this.#recount(path, before);
      }
    });
  }

  /** Checks the limits, forwards, and counts the change. */
  override copyFile(from: string, to: string): Promise<void> {
    if (!supports(this.inner, "copy")) return super.copyFile(from, to);
    const inner = this.inner;
    return this.#exclusive("copyfile", from, async () => {
      const source = await this.#stat(from);
      const target = await this.#stat(to);
      if (source?.type !== "file" || (target && target.type !== "file")) {
        await inner.copyFile(from, to);
        return this.#recount(to, target);
      }
      if (target) {
        if (target.ino === source.ino) return inner.copyFile(from, to);
        this.#checkFileSize("copyfile", to, source.size, target.size);
        this.#checkBytes("copyfile", to, source.size - target.size);
        await inner.copyFile(from, to);
        await this.#commitContent(to, target, source.size);
      } else {
        const parent = await this.#checkCreate("copyfile", to);
        this.#checkFileSize("copyfile", to, source.size, 0);
        this.#checkBytes("copyfile", to, source.size);
        await inner.copyFile(from, to);
        this.#bytes += source.size;
        this.#nodes++;
        this.#entryAdded(parent);
      }
    });
  }

  /** Checks the limits (the target's bytes count), forwards, and counts the change. */
  override symlink(
    target: string,
    path: string,
    options?: Omit<CreateOptions, "mode">,
  ): Promise<void> {
    const inner = this.need("symlinks", "symlink", path);
    return this.#exclusive("symlink", path, async () => {
      if (await this.#stat(path)) return inner.symlink(target, path, options);
      const parent = await this.#checkCreate("symlink", path);
      this.#checkBytes("symlink", path, typeof target === "string" ? utf8Length(target) : 0);
      await inner.symlink(target, path, options);
      // What the backend reports as the link's size is what a scan and the
      // release on unlink count, so count that rather than the estimate.
      const made = await this.#stat(path);
      this.#bytes += made ? contentBytes(made) : utf8Length(target);
      this.#nodes++;
      this.#entryAdded(parent);
    });
  }

  /** Checks depth and directory entries; a new name adds no bytes and no node. */
  override link(existing: string, newPath: string): Promise<void> {
    const inner = this.need("hardlinks", "link", existing);
    return this.#exclusive("link", existing, async () => {
      const source = await this.#stat(existing);
      if (!source || await this.#stat(newPath)) return inner.link(existing, newPath);
      // A new name for an existing inode: no bytes and no node, but an entry and a depth.
      this.#checkDepth("link", newPath);
      const parent = await this.#checkDirEntry("link", newPath);
      await inner.link(existing, newPath);
      this.#entryAdded(parent);
    });
  }

  /** Checks the limits, forwards, and counts the change. */
  override mknod(
    path: string,
    mode: number,
    rdev: number,
    options?: Omit<CreateOptions, "mode">,
  ): Promise<void> {
    const inner = this.need("special", "mknod", path);
    return this.#exclusive("mknod", path, async () => {
      if (await this.#stat(path)) return inner.mknod(path, mode, rdev, options);
      const parent = await this.#checkCreate("mknod", path);
      await inner.mknod(path, mode, rdev, options);
      this.#nodes++;
      this.#entryAdded(parent);
    });
  }

  /** Checks the limits, forwards, and counts the change. */
  override setXattr(
    path: string,
    name: string,
    value: Uint8Array,
    options?: SetXattrOptions,
  ): Promise<void> {
    const inner = this.need("xattrs", "setxattr", path);
    return this.#exclusive("setxattr", path, async () => {
      const meta = await this.#stat(path);
      if (!meta) return inner.setXattr(path, name, value, options);
      const old = await this.#xattrValueSize(path, name);
      const delta = old === undefined ? utf8Length(name) + value.length : value.length - old;
      this.#checkBytes("setxattr", path, delta);
      await inner.setXattr(path, name, value, options);
      this.#addXattrBytes(meta.ino, delta);
    });
  }

  /** Forwards and releases the attribute's bytes. */
  override removeXattr(path: string, name: string): Promise<void> {
    const inner = this.need("xattrs", "removexattr", path);
    return this.#exclusive("removexattr", path, async () => {
      const meta = await this.#stat(path);
      const old = meta ? await this.#xattrValueSize(path, name) : undefined;
      await inner.removeXattr(path, name);
      if (meta && old !== undefined) this.#addXattrBytes(meta.ino, -(utf8Length(name) + old));
    });
  }

  async #xattrValueSize(path: string, name: string): Promise<number | undefined> {
    try {
      return (await this.need("xattrs", "getxattr", path).getXattr(path, name)).length;
    } catch (e) {
      if (codeOf(e) === "ENODATA") return undefined;
      throw e;
    }
  }

  #addXattrBytes(ino: number, delta: number): void {
    this.#bytes += delta;
    const next = (this.#xattrBytes.get(ino) ?? 0) + delta;
    if (next > 0) this.#xattrBytes.set(ino, next);
    else this.#xattrBytes.delete(ino);
  }

  /**
   * Capacity as the quota sees it: the byte and node limits are the totals
   * (so `df` on a mount shows the quota), capped by what the inner backend
   * reports as available when it reports capacity at all.
   */
  override async statfs(): Promise<StatFs> {
    // Figures from before the scan finished would be wrong, not just old.
    await this.ready.catch(() => {});
    const base: StatFs = supports(this.inner, "statfs") ? await this.inner.statfs() : {
      totalBytes: 0,
      usedBytes: 0,
      availableBytes: 0,
      totalInodes: 0,
      usedInodes: 0,
      availableInodes: 0,
      blockSize: 4096,
      maxNameLength: 255,
    };
    const { maxTotalSize, maxNodeCount } = this.#limits;
    const stats = { ...base };
    if (maxTotalSize !== undefined) {
      stats.totalBytes = maxTotalSize;
      stats.usedBytes = this.#bytes;
      stats.availableBytes = Math.max(0, maxTotalSize - this.#bytes);
      if (base.totalBytes > 0) {
        stats.availableBytes = Math.min(stats.availableBytes, base.availableBytes);
      }
    }
    if (maxNodeCount !== undefined) {
      stats.totalInodes = maxNodeCount;
      stats.usedInodes = this.#nodes;
      stats.availableInodes = Math.max(0, maxNodeCount - this.#nodes);
      if (base.totalInodes > 0) {
        stats.availableInodes = Math.min(stats.availableInodes, base.availableInodes);
      }
    }
    return stats;
  }

  // ---- handles ----------------------------------------------------------------

  /** Opens a handle whose writes and truncation are counted; a created file counts as a node. */
  override open(path: string, options: OpenOptions): Promise<FileHandle> {
    // Without handles the base opens a buffered handle that writes back through
    // this quota's writeFile, where it is counted.
    if (!supports(this.inner, "handles")) return super.open(path, options);
    const inner = this.inner;
    return this.#exclusive("open", path, async () => {
      const before = await this.#stat(path);
      const writable = options.write === true || options.append === true;
      const creating = !before && (options.create === true || options.createNew === true);
      const parent = creating ? await this.#checkCreate("open", path) : undefined;
      const handle = await inner.open(path, options);
      let ino: number;
      let size: number;
      if (before) {
        if (before.type !== "file") return handle;
        ino = before.ino;
        size = before.size;
        if (writable && options.truncate && size > 0) {
          await this.#commitContent(path, before, 0);
          size = 0;
        }
      } else {
        const meta = await handle.stat();
        if (meta.type !== "file") return handle;
        ino = meta.ino;
        size = meta.size;
        this.#nodes++;
        this.#bytes += size;
        this.#entryAdded(parent);
      }
      const open = this.#open.get(ino) ?? { size, handles: 0, orphaned: false };
      open.handles++;
      this.#open.set(ino, open);
      // A read-only handle still counts as holding the inode open; its
      // writes go straight to the inner handle, which refuses them (EBADF).
      return new QuotaHandle(handle, {
        write: writable
          ? (data, position) => this.#handleWrite(handle, ino, data, position, options)
          : (data, position) => handle.write(data, position),
        truncate: writable
          ? (length) => this.#handleTruncate(handle, ino, length)
          : (length) => handle.truncate(length),
        close: () => this.#handleClose(handle, ino),
      });
    });
  }

  #handleWrite(
    handle: FileHandle,
    ino: number,
    data: Uint8Array,
    position: number,
    options: OpenOptions,
  ): Promise<number> {
    return this.#exclusive("write", handle.path, async () => {
      const open = this.#open.get(ino);
      if (!open) return handle.write(data, position);
      const start = options.append ? open.size : position;
      const size = Math.max(open.size, start + data.length);
      this.#checkFileSize("write", handle.path, size, open.size);
      this.#checkBytes("write", handle.path, size - open.size);
      const written = await handle.write(data, position);
      const grown = Math.max(open.size, start + written);
      this.#bytes += grown - open.size;
      open.size = grown;
      return written;
    });
  }

  #handleTruncate(handle: FileHandle, ino: number, length: number): Promise<void> {
    return this.#exclusive("truncate", handle.path, async () => {
      const open = this.#open.get(ino);
      if (!open || !Number.isSafeInteger(length) || length < 0) return handle.truncate(length);
      this.#checkFileSize("truncate", handle.path, length, open.size);
      this.#checkBytes("truncate", handle.path, length - open.size);
      await handle.truncate(length);
      this.#bytes += length - open.size;
      open.size = length;
    });
  }

  #handleClose(handle: FileHandle, ino: number): Promise<void> {
    return this.#exclusive("close", handle.path, async () => {
      // Closing twice fails in the inner handle before anything is released twice.
      await handle.close();
      const open = this.#open.get(ino);
      if (!open) return;
      if (--open.handles > 0) return;
      this.#open.delete(ino);
      if (open.orphaned) this.#release(ino, open.size);
    });
  }
}

/** The operations of a {@linkcode QuotaHandle} that the quota accounts for. */
interface QuotaHandleHooks {
  write(data: Uint8Array, position: number): Promise<number>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/** A handle whose writes, truncation and close go through its quota's accounting. */
class QuotaHandle extends HandleWrapper {
  readonly #hooks: QuotaHandleHooks;

  constructor(inner: FileHandle, hooks: QuotaHandleHooks) {
    super(inner);
    this.#hooks = hooks;
  }

  /** Checks the limits, forwards, and counts the change. */
  override write(data: Uint8Array, position: number): Promise<number> {
    return this.#hooks.write(data, position);
  }
  /** Checks the limits, forwards, and counts the change. */
  override truncate(length: number): Promise<void> {
    return this.#hooks.truncate(length);
  }
  /** Checks the limits, forwards, and counts the change. */
  override close(): Promise<void> {
    return this.#hooks.close();
  }
}

/**
 * The layer of {@linkcode Quota}: `backend.layer(new QuotaLayer(limits))`
 * or `backend.layer(Quota.layer(limits))`.
 */
export class QuotaLayer implements Layer<Backend, Quota> {
  /** The limits each wrapped backend gets. */
  readonly limits: Readonly<QuotaLimits>;

  /** A layer applying `limits`. */
  constructor(limits: QuotaLimits = {}) {
    this.limits = { ...limits };
  }

  /** Wrap `inner` in a {@linkcode Quota}; its usage scan starts at once. */
  layer<B extends Backend>(inner: B): Quota<B> {
    return new Quota(inner, this.limits);
  }
}
