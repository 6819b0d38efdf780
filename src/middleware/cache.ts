/**
 * Cache: an LRU read cache in front of a slow backend (a network store, a
 * database on a busy disk), for file data and metadata.
 *
 * ## What is cached
 * - **Metadata**: `lstat`, `readDir` listings and `readLink` targets, by path.
 * - **File data**: whole files from `readFile`, and fixed-size blocks
 *   (`blockSize`, default 64 KiB) from range reads (`read`), by inode
 *   number, so every name of a hard-linked file shares one copy. A range
 *   inside a cached whole file is served from it; reads through open
 *   handles are served from cached data when there is some (they do not
 *   fill the cache).
 *
 * Errors are never cached: a failing call reaches the backend every time,
 * so error codes are exactly the backend's.
 *
 * ## Bounds
 * At most `maxEntries` entries and `maxBytes` bytes (file data counts its
 * length; metadata entries an estimate of their size), the least recently
 * used going first; files larger than `maxEntrySize` are not kept whole
 * (their blocks still are). With `ttlMs`, an entry is also dropped that
 * long after it was filled.
 *
 * ## Exactness
 * Every operation that changes something, when it passes through the
 * cache, drops exactly what it may have changed: the written file's data
 * and the metadata of all its names (writes, appends, truncation — by path
 * or through a handle — copies, xattr changes, chmod/chown/utime); the
 * entry, its parent's listing and metadata for creations and removals;
 * both names, both parents and everything under a renamed directory for
 * renames; every name of the inode for hard links. The cache keeps an
 * index of the names it has seen for each inode, and when it holds an
 * inode with several links it asks the backend which inode a path names
 * before changing it, so a write through one name never leaves stale data
 * under another. A read that started before a write and finishes after it
 * never stores what it read: fills are checked against per-path and
 * per-inode invalidation stamps.
 *
 * **The cache only sees changes that pass through it.** If something else
 * writes to the wrapped backend (another process on the same SQLite file,
 * a second stack over the same backend), cached entries go stale until
 * their TTL expires or {@linkcode Cache.clear} is called; set `ttlMs` when
 * that can happen. Access times in cached metadata do not advance on cache
 * hits (the backend never sees those reads) nor on reads through handles.
 *
 * ## Position in a stack
 * Put the cache directly above the storage, under the policy layers, so
 * every request is still checked by them; above them, hits would skip the
 * checks (a rate limit would not charge them, a path filter would still
 * decide since it answers before the cache, but tracing would not see
 * them).
 *
 * @module
 */

import {
  type Backend,
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
import { parentPath } from "../core/path.ts";
import type { DirEntry, Metadata } from "../core/types.ts";
import { HandleWrapper, Middleware } from "./middleware.ts";

/** How a {@linkcode Cache} is bounded. */
export interface CacheOptions {
  /** Most entries kept (default 10,000). */
  maxEntries?: number;
  /** Most bytes kept (default 64 MiB). */
  maxBytes?: number;
  /** Largest file kept whole (default 8 MiB, or `maxBytes / 4` if smaller). */
  maxEntrySize?: number;
  /** Drop entries this many milliseconds after they were filled (default: never). */
  ttlMs?: number;
  /** Size of the blocks range reads are cached in (default 64 KiB). */
  blockSize?: number;
  /** Cache `lstat`, `readDir` and `readLink` (default `true`). */
  metadata?: boolean;
  /** Cache file data (default `true`). */
  data?: boolean;
  /** Milliseconds from an arbitrary origin, for the TTL (default `performance.now()`). */
  clock?: () => number;
}

/** What a {@linkcode Cache} did so far. */
export interface CacheStats {
  /** Lookups answered from the cache. */
  hits: number;
  /** Lookups that went to the backend. */
  misses: number;
  /** Entries dropped to stay within the bounds. */
  evictions: number;
  /** Entries dropped because something changed. */
  invalidations: number;
  /** Entries held now. */
  entries: number;
  /** Bytes held now (file data exactly, metadata estimated). */
  bytes: number;
}

type Kind = "meta" | "dir" | "link" | "file" | "block";

interface Entry {
  kind: Kind;
  value: Metadata | DirEntry[] | string | Uint8Array;
  bytes: number;
  expires: number;
  /** The inode the entry belongs to (file data, blocks, metadata of non-directories). */
  ino: number | undefined;
  /** The block number of a block entry. */
  block: number;
}

/** A whole subtree invalidated at `at`: in-flight fills below `prefix` must not be stored. */
interface TreeStamp {
  prefix: string;
  at: number;
}

const META_BYTES = 160;
/** More invalidation stamps than this while reads are in flight: invalidate everything in flight. */
const MAX_STAMPS = 65_536;

function positiveOption(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(typeof value === "number" && value > 0 && Number.isFinite(value))) {
    throw fsError("EINVAL", "cache", "", {
      reason: `${name} must be a positive number, got ${value}`,
    });
  }
  return value;
}

/**
 * A middleware caching reads of file data and metadata, with exact
 * invalidation on every change that passes through it.
 *
 * @example Cache a slow backend
 * ```ts
 * import { Cache, MemoryBackend } from "@anyfs/anyfs";
 *
 * const cache = new Cache(new MemoryBackend(), { maxEntries: 10_000, maxBytes: 64 << 20 });
 * await cache.writeFile("/config.json", new TextEncoder().encode("{}"));
 * await cache.readFile("/config.json"); // from the backend
 * await cache.readFile("/config.json"); // from the cache
 * console.log(cache.stats().hits > 0); // true
 * ```
 */
export class Cache<B extends Backend = Backend> extends Middleware<B> {
  /** The options in force, defaults filled in. */
  readonly options: Readonly<Required<Omit<CacheOptions, "ttlMs" | "clock">>> & {
    readonly ttlMs?: number;
  };
  readonly #clock: () => number;
  readonly #ttl: number | undefined;

  readonly #lru = new Map<string, Entry>();
  #bytes = 0;
  /** File data and block entries held (handle reads skip the lookup when there are none). */
  #dataEntries = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;
  #invalidations = 0;

  /** The inode each known name of a non-directory had when it was seen. */
  readonly #pathIno = new Map<string, number>();
  /** The known names of each inode with cached entries. */
  readonly #inoPaths = new Map<number, Set<string>>();
  /** How many cached entries belong to each inode. */
  readonly #inoEntries = new Map<number, number>();
  /** The cached block numbers of each inode. */
  readonly #inoBlocks = new Map<number, Set<number>>();
  /** Inodes seen with more than one link: their other names may be unknown here. */
  readonly #multiLinked = new Set<number>();

  // Invalidation stamps for fills in flight (see #fresh).
  #now = 0;
  #floor = 0;
  #inflight = 0;
  #pathStamps = new Map<string, number>();
  #inoStamps = new Map<number, number>();
  #treeStamps: TreeStamp[] = [];

  /** Wrap `inner`; `EINVAL` for a bound that is not a positive number. */
  constructor(inner: B, options: CacheOptions = {}) {
    super(inner);
    const maxBytes = positiveOption("maxBytes", options.maxBytes, 64 * 1024 * 1024);
    this.options = {
      maxEntries: positiveOption("maxEntries", options.maxEntries, 10_000),
      maxBytes,
      maxEntrySize: positiveOption(
        "maxEntrySize",
        options.maxEntrySize,
        Math.min(8 * 1024 * 1024, maxBytes / 4),
      ),
      blockSize: Math.floor(positiveOption("blockSize", options.blockSize, 64 * 1024)),
      metadata: options.metadata ?? true,
      data: options.data ?? true,
      ...(options.ttlMs === undefined ? {} : { ttlMs: positiveOption("ttlMs", options.ttlMs, 0) }),
    };
    if (this.options.blockSize < 1) {
      throw fsError("EINVAL", "cache", "", { reason: "blockSize must be at least 1" });
    }
    this.#ttl = options.ttlMs;
    this.#clock = options.clock ?? (() => performance.now());
  }

  /**
   * A layer that wraps a backend in a {@linkcode Cache}.
   *
   * @example
   * ```ts
   * import { Cache, MemoryBackend } from "@anyfs/anyfs";
   * const backend = new MemoryBackend().layer(Cache.layer({ maxEntries: 1000, ttlMs: 5000 }));
   * ```
   */
  static layer(options: CacheOptions = {}): CacheLayer {
    return new CacheLayer(options);
  }

  /** Counters and current size. */
  stats(): CacheStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
      invalidations: this.#invalidations,
      entries: this.#lru.size,
      bytes: this.#bytes,
    };
  }

  /**
   * Drop every entry, e.g. after something changed the wrapped backend
   * behind the cache's back. Reads in flight do not store what they read.
   */
  clear(): void {
    for (const [key, entry] of this.#lru) this.#remove(key, entry);
    this.#floor = ++this.#now;
    this.#pathStamps.clear();
    this.#inoStamps.clear();
    this.#treeStamps = [];
  }

  // ------------------------------------------------------------ the LRU

  #get(key: string): Entry | undefined {
    const entry = this.#lru.get(key);
    if (entry === undefined) return undefined;
    if (this.#ttl !== undefined && this.#clock() >= entry.expires) {
      this.#remove(key, entry);
      return undefined;
    }
    // Move to the young end.
    this.#lru.delete(key);
    this.#lru.set(key, entry);
    return entry;
  }

  #put(
    key: string,
    kind: Kind,
    value: Entry["value"],
    bytes: number,
    ino?: number,
    block = 0,
  ): void {
    const { maxEntries, maxBytes } = this.options;
    // Count the new entry before dropping the one it replaces: replacing
    // the only entry of an inode must not forget the inode's names.
    if (ino !== undefined) this.#inoEntries.set(ino, (this.#inoEntries.get(ino) ?? 0) + 1);
    const old = this.#lru.get(key);
    if (old) this.#remove(key, old);
    if (bytes > maxBytes) {
      // Could never stay: do not evict everything else for it.
      if (ino !== undefined) this.#uncount(ino);
      return;
    }
    const expires = this.#ttl === undefined ? Infinity : this.#clock() + this.#ttl;
    this.#lru.set(key, { kind, value, bytes, expires, ino, block });
    this.#bytes += bytes;
    if (kind === "file" || kind === "block") this.#dataEntries++;
    if (ino !== undefined) {
      if (kind === "block") {
        let blocks = this.#inoBlocks.get(ino);
        if (!blocks) this.#inoBlocks.set(ino, blocks = new Set());
        blocks.add(block);
      }
    }
    while (this.#lru.size > maxEntries || this.#bytes > maxBytes) {
      const [oldestKey, oldest] = this.#lru.entries().next().value!;
      this.#remove(oldestKey, oldest);
      this.#evictions++;
    }
  }

  #remove(key: string, entry: Entry): void {
    this.#lru.delete(key);
    this.#bytes -= entry.bytes;
    if (entry.kind === "file" || entry.kind === "block") this.#dataEntries--;
    const ino = entry.ino;
    if (ino === undefined) return;
    if (entry.kind === "block") this.#inoBlocks.get(ino)?.delete(entry.block);
    this.#uncount(ino);
  }

  /** One entry of `ino` fewer; at none, forget the inode's names. */
  #uncount(ino: number): void {
    const left = (this.#inoEntries.get(ino) ?? 1) - 1;
    if (left > 0) {
      this.#inoEntries.set(ino, left);
      return;
    }
    // Nothing of this inode is cached any more: its names need not be known.
    this.#inoEntries.delete(ino);
    this.#inoBlocks.delete(ino);
    this.#multiLinked.delete(ino);
    const paths = this.#inoPaths.get(ino);
    if (paths) {
      for (const p of paths) if (this.#pathIno.get(p) === ino) this.#pathIno.delete(p);
      this.#inoPaths.delete(ino);
    }
  }

  #drop(key: string): void {
    const entry = this.#lru.get(key);
    if (entry) {
      this.#remove(key, entry);
      this.#invalidations++;
    }
  }

  // ------------------------------------------------------------ names and inodes

  #bind(path: string, ino: number): void {
    const old = this.#pathIno.get(path);
    if (old === ino) return;
    if (old !== undefined) this.#inoPaths.get(old)?.delete(path);
    this.#pathIno.set(path, ino);
    let paths = this.#inoPaths.get(ino);
    if (!paths) this.#inoPaths.set(ino, paths = new Set());
    paths.add(path);
  }

  #unbind(path: string): void {
    const ino = this.#pathIno.get(path);
    if (ino === undefined) return;
    this.#pathIno.delete(path);
    this.#inoPaths.get(ino)?.delete(path);
  }

  /**
   * The inode `path` names, when the cache may hold entries of it: known
   * from the index, or asked from the backend when an inode with several
   * links is cached (the path may be one of its names the cache never saw).
   * `undefined` means nothing cached belongs to that inode.
   */
  async #inoOf(path: string): Promise<number | undefined> {
    const known = this.#pathIno.get(path);
    if (known !== undefined || this.#multiLinked.size === 0) return known;
    try {
      const meta = await this.inner.lstat(path);
      // Directories are cached by path only.
      return meta.type === "dir" ? undefined : meta.ino;
    } catch {
      return undefined;
    }
  }

  // ------------------------------------------------------------ invalidation

  /** Fills started before now must not store anything under `path`. */
  #stampPath(path: string): void {
    if (this.#inflight === 0) return;
    this.#pathStamps.set(path, ++this.#now);
    this.#limitStamps();
  }

  #stampIno(ino: number): void {
    if (this.#inflight === 0) return;
    this.#inoStamps.set(ino, ++this.#now);
    this.#limitStamps();
  }

  #limitStamps(): void {
    if (this.#pathStamps.size + this.#inoStamps.size + this.#treeStamps.length > MAX_STAMPS) {
      // Too many to track: refuse every fill in flight instead.
      this.#floor = ++this.#now;
      this.#pathStamps.clear();
      this.#inoStamps.clear();
      this.#treeStamps = [];
    }
  }

  /**
   * An existing inode changed and the cache does not know which: reads in
   * flight may be about to store entries of it under a name the cache has
   * not seen yet, so none of them may store anything.
   */
  #unknownInodeChanged(): void {
    if (this.#inflight > 0) this.#floor = ++this.#now;
  }

  /** The metadata, listing and link target cached under `path`. */
  #forgetPath(path: string): void {
    this.#drop("m" + path);
    this.#drop("d" + path);
    this.#drop("l" + path);
    this.#stampPath(path);
  }

  /** The metadata of every known name of `ino` (its nlink, ctime or mode changed). */
  #forgetInoMeta(ino: number): void {
    const paths = this.#inoPaths.get(ino);
    if (paths) {
      for (const p of [...paths]) {
        this.#drop("m" + p);
        this.#stampPath(p);
      }
    }
    this.#stampIno(ino);
  }

  /** Everything of `ino`: its data, its blocks and the metadata of its names. */
  #forgetIno(ino: number): void {
    this.#forgetInoMeta(ino);
    this.#drop("f" + ino);
    const blocks = this.#inoBlocks.get(ino);
    if (blocks) { for (const b of [...blocks]) this.#drop(`b${ino}:${b}`); }
  }

  /** A directory's listing and metadata: an entry was added to or removed from it. */
  #forgetListing(dir: string): void {
    this.#drop("d" + dir);
    this.#drop("m" + dir);
    this.#stampPath(dir);
  }

  /**
   * Everything cached under directory `from`, which is now `to`: path-keyed
   * entries are dropped, known names are moved along.
   */
  #moveTree(from: string, to: string): void {
    const prefix = from + "/";
    for (const [key, entry] of [...this.#lru]) {
      const kind = key.charCodeAt(0);
      // 'm', 'd', 'l' keys are followed by a path.
      if ((kind === 109 || kind === 100 || kind === 108) && key.startsWith(prefix, 1)) {
        this.#remove(key, entry);
        this.#invalidations++;
      }
    }
    const moved: [string, number][] = [];
    for (const [path, ino] of this.#pathIno) {
      if (path.startsWith(prefix)) moved.push([path, ino]);
    }
    for (const [path, ino] of moved) {
      this.#unbind(path);
      this.#bind(to + path.slice(from.length), ino);
    }
    if (this.#inflight > 0) {
      const at = ++this.#now;
      this.#treeStamps.push({ prefix, at }, { prefix: to + "/", at });
      this.#limitStamps();
    }
  }

  // ------------------------------------------------------------ fills

  #begin(): number {
    this.#inflight++;
    return this.#now;
  }

  #end(): void {
    if (--this.#inflight === 0) {
      // Nobody can be checked against the stamps any more.
      if (this.#pathStamps.size) this.#pathStamps.clear();
      if (this.#inoStamps.size) this.#inoStamps.clear();
      if (this.#treeStamps.length) this.#treeStamps = [];
    }
  }

  /** Whether a fill started at `start` may store what it read of `path` / `ino`. */
  #fresh(start: number, path: string | undefined, ino: number | undefined): boolean {
    if (start < this.#floor) return false;
    if (path !== undefined) {
      const stamp = this.#pathStamps.get(path);
      if (stamp !== undefined && stamp > start) return false;
      for (const tree of this.#treeStamps) {
        if (tree.at > start && path.startsWith(tree.prefix)) return false;
      }
    }
    if (ino !== undefined) {
      const stamp = this.#inoStamps.get(ino);
      if (stamp !== undefined && stamp > start) return false;
    }
    return true;
  }

  /** Metadata of `path`, from the cache or the backend (then cached). Throws the backend's error. */
  async #meta(path: string): Promise<Metadata> {
    if (this.options.metadata) {
      const hit = this.#get("m" + path);
      if (hit) {
        this.#hits++;
        return hit.value as Metadata;
      }
    }
    this.#misses++;
    const start = this.#begin();
    try {
      const meta = await this.inner.lstat(path);
      if (this.options.metadata) this.#storeMeta(path, meta, start);
      return meta;
    } finally {
      this.#end();
    }
  }

  #storeMeta(path: string, meta: Metadata, start: number): void {
    const isDir = meta.type === "dir";
    if (!this.#fresh(start, path, isDir ? undefined : meta.ino)) return;
    if (isDir) {
      this.#unbind(path);
      this.#put("m" + path, "meta", meta, META_BYTES);
      return;
    }
    this.#bind(path, meta.ino);
    if (meta.nlink > 1) this.#multiLinked.add(meta.ino);
    this.#put("m" + path, "meta", meta, META_BYTES, meta.ino);
  }

  /** After a read reached the backend it may have moved the access time: drop that metadata. */
  #touched(path: string, ino?: number): void {
    if (ino === undefined) {
      this.#drop("m" + path);
      return;
    }
    const paths = this.#inoPaths.get(ino);
    if (paths) { for (const p of [...paths]) this.#drop("m" + p); }
  }

  // ------------------------------------------------------------ reads

  /** From the cache when it holds the entry; a copy either way. */
  override async lstat(path: string): Promise<Metadata> {
    return { ...(await this.#meta(path)) };
  }

  /** As {@linkcode Cache.lstat}, but `null` for a missing name (probed without an Error). */
  override async tryLstat(path: string): Promise<Metadata | null> {
    if (this.options.metadata) {
      const hit = this.#get("m" + path);
      if (hit) {
        this.#hits++;
        return { ...(hit.value as Metadata) };
      }
    }
    this.#misses++;
    const start = this.#begin();
    try {
      const meta = await tryLstat(this.inner, path);
      if (meta === null) return null;
      if (this.options.metadata) this.#storeMeta(path, meta, start);
      return { ...meta };
    } finally {
      this.#end();
    }
  }

  /** From the cache when it holds the listing; a copy either way. */
  override async readDir(path: string): Promise<DirEntry[]> {
    if (!this.options.metadata) return this.inner.readDir(path);
    const hit = this.#get("d" + path);
    if (hit) {
      this.#hits++;
      return (hit.value as DirEntry[]).map((e) => ({ ...e }));
    }
    this.#misses++;
    const start = this.#begin();
    try {
      const list = await this.inner.readDir(path);
      this.#touched(path);
      if (this.#fresh(start, path, undefined)) {
        let bytes = 64;
        const kept = list.map((e) => {
          bytes += 48 + e.name.length * 2;
          return { ...e };
        });
        this.#put("d" + path, "dir", kept, bytes);
      }
      return list;
    } finally {
      this.#end();
    }
  }

  /** From the cache when it holds the target. */
  override async readLink(path: string): Promise<string> {
    if (!this.options.metadata) return super.readLink(path);
    const hit = this.#get("l" + path);
    if (hit) {
      this.#hits++;
      return hit.value as string;
    }
    this.#misses++;
    const start = this.#begin();
    try {
      const target = await super.readLink(path);
      this.#touched(path);
      if (this.#fresh(start, path, undefined)) {
        this.#put("l" + path, "link", target, 64 + target.length * 2);
      }
      return target;
    } finally {
      this.#end();
    }
  }

  /** From the cache when it holds the file; a copy either way. */
  override async readFile(path: string): Promise<Uint8Array> {
    if (!this.options.data) return super.readFile(path);
    const start = this.#begin();
    try {
      let meta: Metadata;
      try {
        meta = await this.#meta(path);
      } catch {
        // Let the backend give its own error for reading.
        return await super.readFile(path);
      }
      if (meta.type !== "file") return await super.readFile(path);
      const ino = meta.ino;
      const hit = this.#get("f" + ino);
      if (hit) {
        this.#hits++;
        return (hit.value as Uint8Array).slice();
      }
      this.#misses++;
      const data = await super.readFile(path);
      if (
        data.length <= this.options.maxEntrySize && this.#pathIno.get(path) === ino &&
        this.#fresh(start, path, ino)
      ) {
        this.#put("f" + ino, "file", data.slice(), data.length, ino);
      }
      this.#touched(path, ino);
      return data;
    } finally {
      this.#end();
    }
  }

  /**
   * From the cached whole file or cached blocks when there are; missing
   * blocks are read from the backend in one range and cached.
   */
  override async read(path: string, offset: number, length: number): Promise<Uint8Array> {
    if (
      !this.options.data || !supports(this.inner, "ranges") ||
      !Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0
    ) {
      // Derived range reads go through readFile (cached); odd arguments get the backend's error.
      return super.read(path, offset, length);
    }
    const inner = this.inner;
    const start = this.#begin();
    try {
      let meta: Metadata;
      try {
        meta = await this.#meta(path);
      } catch {
        return await inner.read(path, offset, length);
      }
      if (meta.type !== "file") return await inner.read(path, offset, length);
      const ino = meta.ino;
      const end = Math.min(offset + length, meta.size);
      if (offset >= end) {
        this.#hits++;
        return new Uint8Array();
      }
      const whole = this.#get("f" + ino);
      if (whole) {
        this.#hits++;
        return (whole.value as Uint8Array).slice(offset, end);
      }
      const bs = this.options.blockSize;
      const first = Math.floor(offset / bs);
      const last = Math.floor((end - 1) / bs);
      const blocks: (Uint8Array | undefined)[] = [];
      let missing = -1;
      for (let b = first; b <= last; b++) {
        const entry = this.#get(`b${ino}:${b}`);
        blocks.push(entry?.value as Uint8Array | undefined);
        if (!entry && missing < 0) missing = b;
      }
      if (missing < 0) {
        this.#hits++;
      } else {
        this.#misses++;
        // One backend read from the first missing block to the last one.
        let lastMissing = last;
        while (blocks[lastMissing - first] !== undefined) lastMissing--;
        const got = await inner.read(path, missing * bs, (lastMissing - missing + 1) * bs);
        const store = this.#pathIno.get(path) === ino && this.#fresh(start, path, ino);
        for (let b = missing; b <= lastMissing; b++) {
          const from = (b - missing) * bs;
          if (from >= got.length) break;
          const block = got.slice(from, Math.min(from + bs, got.length));
          blocks[b - first] = block;
          // A short block is the end of the file; keep it only if it really is.
          if (store && (block.length === bs || missing * bs + got.length === meta.size)) {
            this.#put(`b${ino}:${b}`, "block", block, block.length, ino, b);
          }
        }
        this.#touched(path, ino);
      }
      const out = new Uint8Array(end - offset);
      let filled = 0;
      for (let b = first; b <= last && filled < out.length; b++) {
        const block = blocks[b - first];
        if (!block) break;
        const from = b === first ? offset - b * bs : 0;
        const piece = block.subarray(from, Math.min(block.length, from + out.length - filled));
        out.set(piece, filled);
        filled += piece.length;
        if (block.length < bs) break;
      }
      return filled === out.length ? out : out.slice(0, filled);
    } finally {
      this.#end();
    }
  }

  // ------------------------------------------------------------ writes

  /**
   * Run a change of the node at `path`: the inode it names now is looked up
   * first, and everything the change may affect is dropped when it ends,
   * succeeded or not.
   */
  async #change<T>(
    path: string,
    run: () => Promise<T>,
    how: { data?: boolean; creates?: boolean; createsOnly?: boolean; removes?: boolean },
  ): Promise<T> {
    const before = await this.#inoOf(path);
    const existed = this.#lru.has("m" + path);
    try {
      return await run();
    } finally {
      // A read finishing during the change may have bound the path meanwhile.
      const changed = inodes(before, this.#pathIno.get(path));
      for (const ino of changed) {
        if (how.data || how.removes) this.#forgetIno(ino);
        else this.#forgetInoMeta(ino);
      }
      if (changed.length === 0 && !how.createsOnly) this.#unknownInodeChanged();
      if (how.removes) this.#unbind(path);
      this.#forgetPath(path);
      if (how.removes || (how.creates && !existed)) this.#forgetListing(parentPath(path));
    }
  }

  /** Forwarded; drops the file's data and the metadata of all its names (and the parent listing when it is created). */
  override writeFile(path: string, data: Uint8Array, options?: WriteFileOptions): Promise<void> {
    return this.#change(path, () => super.writeFile(path, data, options), {
      data: true,
      creates: true,
    });
  }
  /** Forwarded; invalidates as {@linkcode Cache.writeFile}. */
  override appendFile(path: string, data: Uint8Array, options?: CreateOptions): Promise<void> {
    return this.#change(path, () => super.appendFile(path, data, options), {
      data: true,
      creates: true,
    });
  }
  /** Forwarded; drops the file's data and the metadata of all its names. */
  override truncate(path: string, length: number): Promise<void> {
    return this.#change(path, () => super.truncate(path, length), { data: true });
  }
  /** Forwarded; invalidates `to` as a write does. */
  override copyFile(from: string, to: string): Promise<void> {
    return this.#change(to, () => super.copyFile(from, to), { data: true, creates: true });
  }
  /** Forwarded; drops the entry and its parent's listing. */
  override mkdir(path: string, options?: CreateOptions): Promise<void> {
    return this.#change(path, () => super.mkdir(path, options), {
      creates: true,
      createsOnly: true,
    });
  }
  /** Forwarded; drops the entry and its parent's listing. */
  override mknod(
    path: string,
    mode: number,
    rdev: number,
    options?: Omit<CreateOptions, "mode">,
  ): Promise<void> {
    return this.#change(path, () => super.mknod(path, mode, rdev, options), {
      creates: true,
      createsOnly: true,
    });
  }
  /** Forwarded; drops the entry and its parent's listing. */
  override symlink(
    target: string,
    path: string,
    options?: Omit<CreateOptions, "mode">,
  ): Promise<void> {
    return this.#change(path, () => super.symlink(target, path, options), {
      creates: true,
      createsOnly: true,
    });
  }
  /** Forwarded; drops the entry, its inode's entries and its parent's listing. */
  override unlink(path: string): Promise<void> {
    return this.#change(path, () => super.unlink(path), { removes: true });
  }
  /** Forwarded; drops the entry and its parent's listing. */
  override rmdir(path: string): Promise<void> {
    return this.#change(path, () => super.rmdir(path), { removes: true });
  }
  /** Forwarded; drops the metadata of every name of the inode. */
  override chmod(path: string, mode: number): Promise<void> {
    return this.#change(path, () => super.chmod(path, mode), {});
  }
  /** Forwarded; drops the metadata of every name of the inode. */
  override chown(path: string, uid: number | null, gid: number | null): Promise<void> {
    return this.#change(path, () => super.chown(path, uid, gid), {});
  }
  /** Forwarded; drops the metadata of every name of the inode. */
  override utime(path: string, atimeMs: number | null, mtimeMs: number | null): Promise<void> {
    return this.#change(path, () => super.utime(path, atimeMs, mtimeMs), {});
  }
  /** Forwarded; drops the metadata of every name of the inode (its ctime changes). */
  override setXattr(
    path: string,
    name: string,
    value: Uint8Array,
    options?: SetXattrOptions,
  ): Promise<void> {
    return this.#change(path, () => super.setXattr(path, name, value, options), {});
  }
  /** Forwarded; drops the metadata of every name of the inode (its ctime changes). */
  override removeXattr(path: string, name: string): Promise<void> {
    return this.#change(path, () => super.removeXattr(path, name), {});
  }

  /** Forwarded; the new name joins the inode's names, whose metadata (nlink) is dropped. */
  override async link(existing: string, newPath: string): Promise<void> {
    const before = await this.#inoOf(existing);
    let ok = false;
    try {
      await super.link(existing, newPath);
      ok = true;
    } finally {
      const changed = inodes(before, this.#pathIno.get(existing));
      if (changed.length === 0) this.#unknownInodeChanged();
      for (const ino of changed) {
        this.#forgetInoMeta(ino);
        if (ok && this.#inoEntries.has(ino)) {
          this.#bind(newPath, ino);
          this.#multiLinked.add(ino);
        }
      }
      this.#forgetPath(newPath);
      this.#forgetListing(parentPath(newPath));
    }
  }

  /**
   * Forwarded; drops both names, both parents' listings, the replaced
   * inode's entries and everything cached under a renamed directory.
   */
  override async rename(from: string, to: string): Promise<void> {
    const fromBefore = await this.#inoOf(from);
    const toBefore = await this.#inoOf(to);
    // A directory (or something not known not to be one) may have cached entries below it.
    const fromMeta = this.#lru.get("m" + from)?.value as Metadata | undefined;
    const maybeDir = fromBefore === undefined &&
      (fromMeta === undefined || fromMeta.type === "dir");
    let ok = false;
    try {
      await super.rename(from, to);
      ok = true;
    } finally {
      // Reads finishing during the rename may have bound either name meanwhile.
      const fromIno = fromBefore ?? this.#pathIno.get(from);
      const toIno = toBefore ?? this.#pathIno.get(to);
      if (fromIno === undefined || toIno === undefined) this.#unknownInodeChanged();
      const sameInode = fromIno !== undefined && fromIno === toIno;
      if (toIno !== undefined && !sameInode) {
        this.#forgetIno(toIno);
        if (ok) this.#unbind(to);
      }
      if (fromIno !== undefined) {
        // Its ctime changes; its data stays valid under its new name.
        this.#forgetInoMeta(fromIno);
        if (ok && !sameInode) {
          this.#unbind(from);
          if (this.#inoEntries.has(fromIno)) this.#bind(to, fromIno);
        }
      }
      this.#forgetPath(from);
      this.#forgetPath(to);
      if (ok && maybeDir && from !== to) this.#moveTree(from, to);
      this.#forgetListing(parentPath(from));
      this.#forgetListing(parentPath(to));
    }
  }

  /**
   * Forwarded. Opening that creates or truncates invalidates as a write
   * does; the handle's writes and truncation drop its inode's entries, and
   * its reads are served from cached data when there is some.
   */
  override async open(path: string, options: OpenOptions): Promise<FileHandle> {
    // Without handles, the base opens a buffered handle writing back through this cache.
    if (!supports(this.inner, "handles")) return super.open(path, options);
    const changes = options.create || options.createNew || options.truncate;
    const handle = changes
      ? await this.#change(path, () => super.open(path, options), {
        data: options.truncate,
        creates: true,
      })
      : await super.open(path, options);
    return new CachedHandle(handle, this.#handleHooks);
  }

  /** What a {@linkcode CachedHandle} needs from its cache. */
  readonly #handleHooks: HandleHooks = {
    // Without the inode number nothing could be dropped selectively.
    changed: (ino) => ino === undefined ? this.clear() : this.#forgetIno(ino),
    cached: (ino, position, length) => this.#cachedRange(ino, position, length),
    holdsData: () => this.#dataEntries > 0,
  };

  /** Bytes `[position, position + length)` of inode `ino`, if all of them are cached. */
  #cachedRange(ino: number, position: number, length: number): Uint8Array | undefined {
    const whole = this.#get("f" + ino);
    if (whole) {
      this.#hits++;
      const data = whole.value as Uint8Array;
      return data.slice(Math.min(position, data.length), Math.min(position + length, data.length));
    }
    const bs = this.options.blockSize;
    const out = new Uint8Array(length);
    let filled = 0;
    for (let b = Math.floor(position / bs); filled < length; b++) {
      const entry = this.#get(`b${ino}:${b}`);
      if (!entry) return undefined;
      const block = entry.value as Uint8Array;
      const from = filled === 0 ? position - b * bs : 0;
      const piece = block.subarray(Math.min(from, block.length), from + length - filled);
      out.set(piece, filled);
      filled += piece.length;
      if (block.length < bs) break;
    }
    this.#hits++;
    return filled === length ? out : out.slice(0, filled);
  }
}

/** The distinct inode numbers among `a` and `b`. */
function inodes(a: number | undefined, b: number | undefined): number[] {
  if (a === undefined) return b === undefined ? [] : [b];
  return b === undefined || b === a ? [a] : [a, b];
}

/** The hooks a {@linkcode CachedHandle} calls on its cache. */
interface HandleHooks {
  /** The inode changed through the handle (`undefined`: the handle could not say which). */
  changed(ino: number | undefined): void;
  /** Cached bytes of the inode, or `undefined`. */
  cached(ino: number, position: number, length: number): Uint8Array | undefined;
  /** Whether the cache holds any inode data at all (else reads skip the lookup). */
  holdsData(): boolean;
}

/** A handle whose changes invalidate its inode, and whose reads may come from the cache. */
class CachedHandle extends HandleWrapper {
  readonly #hooks: HandleHooks;
  #ino: Promise<number | undefined> | undefined;

  constructor(inner: FileHandle, hooks: HandleHooks) {
    super(inner);
    this.#hooks = hooks;
  }

  /** The inode this handle is open on (asked once). */
  #inode(): Promise<number | undefined> {
    return this.#ino ??= this.inner.stat().then((m) => m.ino, () => undefined);
  }

  async #changing<T>(run: () => Promise<T>): Promise<T> {
    const ino = await this.#inode();
    try {
      return await run();
    } finally {
      this.#hooks.changed(ino);
    }
  }

  /** From cached data of this inode when there is some, else forwarded. */
  override async read(position: number, length: number): Promise<Uint8Array> {
    if (this.#hooks.holdsData() && Number.isSafeInteger(position) && position >= 0 && length > 0) {
      const ino = await this.#inode();
      if (ino !== undefined) {
        const hit = this.#hooks.cached(ino, position, length);
        if (hit) return hit;
      }
    }
    return super.read(position, length);
  }
  /** Forwarded; drops the inode's cached data and metadata. */
  override write(data: Uint8Array, position: number): Promise<number> {
    return this.#changing(() => super.write(data, position));
  }
  /** Forwarded; drops the inode's cached data and metadata. */
  override truncate(length: number): Promise<void> {
    return this.#changing(() => super.truncate(length));
  }
}

/** The layer of {@linkcode Cache}. */
export class CacheLayer implements Layer<Backend, Cache> {
  /** The options each wrapped backend gets. */
  readonly options: Readonly<CacheOptions>;

  /** A layer with `options`. */
  constructor(options: CacheOptions = {}) {
    this.options = { ...options };
  }

  /** Wrap `inner` in a {@linkcode Cache}; each wrapped backend gets a cache of its own. */
  layer<B extends Backend>(inner: B): Cache<B> {
    return new Cache(inner, this.options);
  }
}
