/**
 * {@linkcode SqliteBackend}: a whole file system in one portable SQLite
 * file, on Deno's built-in `node:sqlite`.
 *
 * @module
 */

import { statfsSync } from "node:fs";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import {
  ALL_CAPABILITIES,
  type Backend,
  type Capability,
  type CreateOptions,
  type FileHandle,
  type FsAppend,
  type FsCopy,
  type FsHandles,
  type FsHardlinks,
  type FsInodes,
  type FsOwnership,
  type FsPermissions,
  type FsRanges,
  type FsSpecial,
  type FsStats,
  type FsSymlinks,
  type FsSync,
  type FsTimes,
  type FsTruncate,
  type FsXattrs,
  Layerable,
  type OpenOptions,
  type SetXattrOptions,
  type WriteFileOptions,
} from "../core/backend.ts";
import type { ErrorCode } from "../core/errno.ts";
import { FsError, fsError } from "../core/errors.ts";
import { checkName, checkPath, isWithin, NAME_MAX, PATH_MAX, utf8Length } from "../core/path.ts";
import {
  type DirEntry,
  type FileType,
  fileTypeOfMode,
  type Metadata,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  type StatFs,
} from "../core/types.ts";
import { statFsOf } from "./host_common.ts";
import { type HandleHost, LockTable, SqliteFileHandle } from "./sqlite_handle.ts";
import { type ArrayRows, returningArrays } from "./sqlite_rows.ts";
import {
  CHUNK_SIZE,
  CONNECTION_PRAGMAS,
  DIRENT_SIZE,
  INLINE_MAX,
  inspectSchema,
  migrate,
  ROOT_INO,
  SCHEMA_VERSION,
  storedChunkSize,
} from "./sqlite_schema.ts";

/** Options of {@linkcode SqliteBackend.open}. */
export interface SqliteBackendOptions {
  /**
   * How long (ms) to wait for another connection's write lock before an
   * operation fails with `EBUSY`. Default 5000. The wait blocks the calling
   * thread: `node:sqlite` is synchronous.
   */
  busyTimeoutMs?: number;
  /**
   * When an operation becomes durable against power loss or an OS crash:
   *
   * - `"sync"` (default): every operation is atomic and survives a crash of
   *   the process as soon as it returns; it survives power loss once a
   *   later `sync`, `fsync` or handle `sync` has returned. This is SQLite's
   *   `synchronous=NORMAL` in WAL mode, plus a synced commit for each
   *   `sync`/`fsync`.
   * - `"always"`: every operation is durable against power loss when it
   *   returns (`synchronous=FULL`): one disk flush per operation, much
   *   slower for many small writes.
   */
  durability?: "sync" | "always";
  /**
   * Open read-only: every change fails with `EROFS`. The file must exist.
   * Its handles cannot register themselves in the database, so they do not
   * keep a file alive: when another process removes a file one has open,
   * its next read or stat fails with `ENOENT` (never returns other bytes).
   */
  readOnly?: boolean;
  /** Create the database file when it is missing (default `true`). */
  create?: boolean;
  /**
   * Owner of new nodes (and of the root of a new database) when an operation
   * names none. Default: the process's user id when Deno may read it without
   * prompting (`--allow-sys=uid`), else 0.
   */
  uid?: number;
  /** Group of new nodes, likewise (`--allow-sys=gid`, else 0). */
  gid?: number;
}

/** Options of {@linkcode SqliteBackend.memory}. */
export interface SqliteMemoryOptions {
  /**
   * Owner of new nodes (and of the root of a new database) when an operation
   * names none. Default: the process's user id when Deno may read it without
   * prompting (`--allow-sys=uid`), else 0.
   */
  uid?: number;
  /** Group of new nodes, likewise (`--allow-sys=gid`, else 0). */
  gid?: number;
}

/**
 * Deepest path resolved by one statement (one join per component); SQLite
 * allows 64 tables in a join, and the statement adds up to three of its
 * own. Deeper paths are walked one component at a time.
 */
const MAX_JOINED_DEPTH = 60;

/**
 * A query that walks a path down from the root in one statement and selects
 * `columns` from the last entry joined with `tail`. In `columns` and
 * `tail`, `{last}` stands for the last entry's alias and `{next}` for the
 * parameter after the names (parameters `?1`…`?depth` are the names).
 *
 * Each component joins `entries` on the previous one's inode. A component
 * that is not a directory has no entries, so the walk then finds nothing and
 * the caller falls back to a step-by-step walk for the precise error. One
 * statement means one read lock instead of one per component.
 */
class WalkQuery {
  readonly #columns: string;
  readonly #tail: string;
  /** SQL by depth, built once; the same string instance keys the statement cache. */
  readonly #sql: string[] = [];

  constructor(columns: string, tail: string) {
    this.#columns = columns;
    this.#tail = tail;
  }

  /** The SQL for a path of `depth` components (1 ≤ depth ≤ `MAX_JOINED_DEPTH`). */
  sql(depth: number): string {
    let sql = this.#sql[depth];
    if (sql === undefined) {
      let from = "entries e1";
      let where = `e1.parent = ${ROOT_INO} AND e1.name = ?1`;
      for (let j = 2; j <= depth; j++) {
        from += ` JOIN entries e${j} ON e${j}.parent = e${j - 1}.ino`;
        where += ` AND e${j}.name = ?${j}`;
      }
      const fill = (text: string) =>
        text.replaceAll("{last}", `e${depth}`).replaceAll("{next}", `?${depth + 1}`);
      sql = `SELECT ${fill(this.#columns)} FROM ${from} ${fill(this.#tail)} WHERE ${where}`;
      this.#sql[depth] = sql;
    }
    return sql;
  }
}

/**
 * Every column of inode `i` but its inline content: a statement that asks
 * for the content too would load it (and its overflow pages) for nothing.
 */
const INODE_COLUMNS =
  "i.ino AS ino, i.mode AS mode, i.uid AS uid, i.gid AS gid, i.nlink AS nlink, i.size AS size, i.atime AS atime, i.mtime AS mtime, i.ctime AS ctime, i.btime AS btime, i.rdev AS rdev, i.target AS target, i.parent AS parent";

/** The inode row at a path. */
const WALK_ROW = new WalkQuery(INODE_COLUMNS, "JOIN inodes i ON i.ino = {last}.ino");

/**
 * What creating or replacing a name needs, as an array: the parent
 * directory and its mode, then {@linkcode NodeFacts} of the node at the path
 * (nulls when the name is free).
 */
const WALK_SLOT_FACTS = new WalkQuery(
  "{last}.ino AS dir, p.mode AS dir_mode, i.ino AS ino, i.mode AS mode, i.nlink AS nlink, i.size AS size",
  `JOIN inodes p ON p.ino = {last}.ino
   LEFT JOIN entries s ON s.parent = {last}.ino AND s.name = {next}
   LEFT JOIN inodes i ON i.ino = s.ino`,
);

/**
 * What `readFile` needs of a small file, as an array: the inode's number,
 * mode and size, and its inline content or else its first chunk
 * (`coalesce` evaluates the chunk lookup only for a file that is not inline).
 */
const WALK_HEAD = new WalkQuery(
  "i.ino AS ino, i.mode AS mode, i.size AS size, coalesce(i.data, (SELECT c.data FROM chunks c WHERE c.ino = i.ino AND c.idx = 0)) AS head",
  "JOIN inodes i ON i.ino = {last}.ino",
);

/** The columns of inode `i` that {@linkcode metadataOf} reads, in its order. */
const META_COLUMNS =
  "i.ino AS ino, i.mode AS mode, i.nlink AS nlink, i.uid AS uid, i.gid AS gid, i.size AS size, i.rdev AS rdev, i.atime AS atime, i.mtime AS mtime, i.ctime AS ctime, i.btime AS btime";

/** The metadata columns of the inode at a path, as an array. */
const WALK_META = new WalkQuery(META_COLUMNS, "JOIN inodes i ON i.ino = {last}.ino");

/**
 * As an array: the directory of a path's parent and its mode, then the
 * metadata columns of the node at the path (nulls when the name is free).
 */
const WALK_SLOT_META = new WalkQuery(
  `{last}.ino AS dir, p.mode AS dir_mode, ${META_COLUMNS}`,
  `JOIN inodes p ON p.ino = {last}.ino
   LEFT JOIN entries s ON s.parent = {last}.ino AND s.name = {next}
   LEFT JOIN inodes i ON i.ino = s.ino`,
);

/** Metadata from the {@linkcode META_COLUMNS} of a row, starting at column `at`. */
function metadataOf(row: unknown[], at = 0): Metadata {
  const mode = row[at + 1] as number;
  const type = typeOf(mode);
  const size = row[at + 5] as number;
  return {
    type,
    ino: row[at] as number,
    mode,
    nlink: row[at + 2] as number,
    uid: row[at + 3] as number,
    gid: row[at + 4] as number,
    size,
    blocks: type === "dir" ? 0 : Math.ceil(size / 512),
    rdev: row[at + 6] as number,
    atimeMs: row[at + 7] as number,
    mtimeMs: row[at + 8] as number,
    ctimeMs: row[at + 9] as number,
    birthtimeMs: row[at + 10] as number,
  };
}

/** What operations that create, replace or remove a name need of the node there. */
interface NodeFacts {
  ino: number;
  mode: number;
  nlink: number;
  size: number;
}

/** One row of the `inodes` table, without the inline content. */
interface InodeRow extends NodeFacts {
  uid: number;
  gid: number;
  atime: number;
  mtime: number;
  ctime: number;
  btime: number;
  rdev: number;
  target: string | null;
  parent: number;
}

/** A file's size and where its bytes are. */
interface Content {
  size: number;
  /** The inline content (format version 3), or `null` when the bytes are in chunks. */
  inline: Uint8Array | null;
}

/** The inline content of an empty file. */
const EMPTY = new Uint8Array(0);
/** Most directories a backend remembers the inode number of (see `#dirs`). */
const DIR_CACHE_MAX = 4096;
/** Most `holders` rows a backend keeps for files it has no handle on (see `#registered`). */
const IDLE_HOLDS = 1024;

/** Largest xattr value in bytes (Linux `XATTR_SIZE_MAX`). */
const XATTR_SIZE_MAX = 65536;
/** Longest xattr name in bytes (Linux `XATTR_NAME_MAX`). */
const XATTR_NAME_MAX = 255;
/** Longest symlink target in bytes (Linux: `PATH_MAX` - 1). */
const MAX_TARGET = PATH_MAX - 1;
/** What `statfs` reports as available: there is no limit of its own. */
const UNLIMITED = Number.MAX_SAFE_INTEGER;
/** Most names a single inode may have (ext4's limit). */
const LINK_MAX = 65000;

let clockAnchor = performance.timeOrigin;

/**
 * Now, in ms since the epoch, with sub-millisecond precision so that two
 * operations in a row get different times (make-like tools compare mtimes),
 * re-anchored to the wall clock whenever the monotonic clock drifts from it.
 */
function now(): number {
  const precise = clockAnchor + performance.now();
  const wall = Date.now();
  if (precise >= wall - 1 && precise <= wall + 2) return precise;
  clockAnchor = wall - performance.now();
  return wall;
}

/** SQLite's own error texts (node:sqlite exposes no result code) and what they mean. */
const SQLITE_MESSAGES: readonly [string, ErrorCode, string][] = [
  ["database is locked", "EBUSY", "another connection holds the database lock"],
  ["database table is locked", "EBUSY", "another statement holds a table lock"],
  ["readonly database", "EROFS", "the database is read-only"],
  ["database or disk is full", "ENOSPC", "the disk holding the database is full"],
  ["malformed", "EIO", "the database file is corrupt"],
  ["not a database", "EINVAL", "the file is not a SQLite database"],
  ["unable to open database file", "ENOENT", "SQLite cannot open the database file"],
  ["disk I/O error", "EIO", "SQLite reported an I/O error"],
  // Deno's node:sqlite allows no attached database (VACUUM attaches one)
  // unless the process has every permission.
  [
    "too many attached databases",
    "EACCES",
    "Deno lets SQLite rewrite a database (VACUUM) only with --allow-all (-A)",
  ],
];

/** Turn an exception from node:sqlite (or ours) into a member of the error family. */
function sqliteError(error: unknown, operation: string, path: string, dest?: string): FsError {
  if (error instanceof FsError) return error;
  if (error instanceof Deno.errors.NotCapable) {
    return fsError("EACCES", operation, path, { dest, reason: error.message, cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  for (const [text, code, reason] of SQLITE_MESSAGES) {
    if (message.includes(text)) {
      return fsError(code, operation, path, {
        dest,
        reason: `${reason} (${message})`,
        cause: error,
      });
    }
  }
  return fsError("EIO", operation, path, { dest, reason: message, cause: error });
}

function typeOf(mode: number): FileType {
  return fileTypeOfMode(mode) ?? "file";
}

/**
 * Whether a failed lookup of `name` means plain `ENOENT`, and not a name
 * that could never exist ({@linkcode missing} says which error then).
 */
function isAbsentName(name: string): boolean {
  return !name.includes("\0") && !(name.length > NAME_MAX / 4 && utf8Length(name) > NAME_MAX);
}

/**
 * Whether `name` is one `checkName` accepts, without building an error:
 * anything else takes the usual create path, which reports the error.
 */
function isCreatableName(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && !name.includes("\0") &&
    !(name.length > NAME_MAX / 4 && utf8Length(name) > NAME_MAX);
}

/** The error for a handle whose inode is gone from the database. */
function removedUnderHandle(operation: string, path: string): FsError {
  return fsError("ENOENT", operation, path, {
    reason: "the file was removed by a process that did not know it was open",
  });
}

/** The error for looking up a name that is not there (as MemoryBackend words it). */
function missing(name: string, operation: string, path: string, dest?: string): FsError {
  if (name.includes("\0")) {
    return fsError("EINVAL", operation, path.replaceAll("\0", "\\0"), {
      dest,
      reason: "path contains a NUL byte",
    });
  }
  if (name.length > NAME_MAX / 4 && utf8Length(name) > NAME_MAX) {
    return fsError("ENAMETOOLONG", operation, path, { dest });
  }
  return fsError("ENOENT", operation, path, { dest });
}

/**
 * Reject what content operations cannot apply to: a directory (`EISDIR`),
 * a symlink (`ELOOP`, as `open` with `O_NOFOLLOW`: backends never follow
 * links) and special files (`ENXIO`: there is no device or peer behind them).
 */
function requireFile(mode: number, operation: string, path: string, dest?: string): void {
  const type = typeOf(mode);
  if (type === "file") return;
  if (type === "dir") throw fsError("EISDIR", operation, path, { dest });
  if (type === "symlink") {
    throw fsError("ELOOP", operation, path, {
      dest,
      reason: "the path names a symbolic link, which a backend does not follow",
    });
  }
  throw fsError("ENXIO", operation, path, {
    dest,
    reason: `a ${type} has no content in a SqliteBackend`,
  });
}

/** Largest valid uid/gid (`(uid_t)-1` means "unchanged" in C, so it is not an id). */
const MAX_ID = 0xfffffffe;

function isId(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= MAX_ID;
}

function badLength(value: number): boolean {
  return !Number.isSafeInteger(value) || value < 0;
}

function isDir(mode: number): boolean {
  return (mode & S_IFMT) === S_IFDIR;
}

function isRegular(mode: number): boolean {
  return (mode & S_IFMT) === S_IFREG;
}

/**
 * The process's user or group id when Deno may read it without prompting
 * (`--allow-sys=uid`/`gid`), else 0 — the same default as MemoryBackend.
 */
function defaultId(kind: "uid" | "gid"): number {
  try {
    if (Deno.permissions.querySync({ name: "sys", kind }).state !== "granted") return 0;
    return (kind === "uid" ? Deno.uid() : Deno.gid()) ?? 0;
  } catch {
    return 0;
  }
}

/** A random positive 48-bit integer identifying this backend among the database's users. */
function newSessionId(): number {
  const words = crypto.getRandomValues(new Uint32Array(2));
  return (words[0] & 0xffff) * 2 ** 32 + words[1] + 1;
}

/**
 * A file system in a single SQLite file (or in memory), on `node:sqlite`,
 * which is built into Deno: no FFI, no download, no native add-on.
 *
 * Inodes, directory entries, file content (in chunks of 64 KiB, so reads,
 * positional writes and truncation touch only the chunks they need — a
 * 1 GiB file is never loaded whole unless you `readFile` it) and extended
 * attributes live in tables; every operation, however many rows it
 * changes, is one transaction, so a crash never leaves half of a rename,
 * unlink or write behind. The database runs in WAL mode; see
 * {@linkcode SqliteBackendOptions.durability} for when a change becomes
 * durable against power loss (`sync`/`fsync` always make it so).
 *
 * Several processes may use one database at once: each operation waits up
 * to `busyTimeoutMs` for another's write lock and then fails with `EBUSY`
 * instead of corrupting anything. An unlinked file stays readable through
 * handles that are open on it — in any process that uses this class — and
 * its space is reclaimed when the last one closes; after a crash, such
 * leftovers are removed by the next backend that opens the database while
 * no other process has it open. So that reopening a file writes nothing, a
 * backend keeps its claim on files it had open (up to 1,024 of them) after
 * their last handle closes. A file another process removes while this
 * backend holds it only that way is freed by this backend, at the first of:
 * its next change (any write, or a first open of another file), the next
 * close of any of its handles, or its `close()` — a long-running backend
 * that only stats and lists directories frees nothing until it does one of
 * those. The removing backend leaves a mark in the database for that, so
 * looking costs nothing while no file is removed under another's claim,
 * and a close writes only when there is something to free.
 *
 * Reads never write: access times change only through `utime` (as with the
 * `noatime` mount option), so reading stays cheap and works on a read-only
 * database.
 *
 * What things cost (measured by `bench/sqlite.ts` against bare SQLite rows
 * holding the same bytes): large files are written and read at the same
 * speed as the bare rows. A file of at most 4 KiB keeps its bytes in its
 * inode row (it moves to chunks when it grows past that), so reading it is
 * one statement (path walk, inode and content together), typically 0.85
 * times the speed of a bare `SELECT` of its bytes; creating it commits five
 * pages — the database header, its inode row and that row's overflow page,
 * its name, its directory's times and size — where a bare insert of the
 * bytes commits four, and runs its own transaction of three changes where
 * the bare insert runs one statement: 0.62 to 0.83 times the speed over
 * 21 runs on one machine (median 0.73). A create in a
 * directory the backend has already created something in (or looked a
 * name up in while changing it) skips the path walk: the backend remembers
 * such directories, and forgets them when it moves or removes a directory
 * itself or sees that another connection changed the database.
 *
 * Capabilities: every optional one — ranges, truncate, append, copy,
 * symlinks, hardlinks, permissions, ownership, times, sync, statfs, inodes,
 * handles, locks (advisory `flock` locks between the handles of this
 * process; other processes do not see them), xattrs and special files.
 *
 * Always call {@linkcode SqliteBackend.close} (or use `using`) when done:
 * it releases the database and closes open handles.
 *
 * @example A drive in a file (needs `--allow-read` and `--allow-write` on the file)
 * ```ts ignore
 * import { FileStorage, SqliteBackend } from "@anyfs/anyfs";
 *
 * using backend = SqliteBackend.open("./drive.anyfs");
 * const fs = new FileStorage(backend);
 * await fs.writeTextFile("/hello.txt", "Hello from SQLite!");
 * console.log(await fs.readTextFile("/hello.txt"));
 * ```
 *
 * @example In memory, for tests (no permissions needed)
 * ```ts
 * import { SqliteBackend } from "@anyfs/anyfs";
 *
 * const backend = SqliteBackend.memory();
 * await backend.writeFile("/a.txt", new TextEncoder().encode("hi"));
 * console.log((await backend.lstat("/a.txt")).size); // 2
 * backend.close();
 * ```
 */
export class SqliteBackend extends Layerable
  implements
    Backend,
    FsRanges,
    FsTruncate,
    FsAppend,
    FsCopy,
    FsSymlinks,
    FsHardlinks,
    FsPermissions,
    FsOwnership,
    FsTimes,
    FsSync,
    FsStats,
    FsInodes,
    FsHandles,
    FsXattrs,
    FsSpecial,
    Disposable {
  /** Every optional capability. */
  readonly capabilities: ReadonlySet<Capability> = new Set(ALL_CAPABILITIES);
  /** The database file, or `":memory:"`. */
  readonly location: string;

  #db: DatabaseSync;
  #statements = new Map<string, StatementSync>();
  /** Statements whose rows come back as arrays (no object per row: cheaper). */
  #arrayStatements = new Map<string, ArrayRows>();
  #shared: boolean;
  #readOnly: boolean;
  #fullSync: boolean;
  #busyTimeoutMs: number;
  #uid: number;
  #gid: number;
  #session: number;
  #closed = false;
  /** Open handles of this backend per inode. */
  #opens = new Map<number, number>();
  /**
   * Inodes with a committed `holders` row of this session. The row stays
   * after the last handle closes while the file has a name, so opening it
   * again writes nothing; it goes when the file loses its last name, when
   * more than {@linkcode IDLE_HOLDS} are idle, and at close(). Another
   * process that unlinks the file meanwhile cannot free it (it cannot tell
   * an idle row from a live handle), so it counts that in
   * `meta.held_unlinks`, and this backend frees the file at its next write
   * or handle close (see {@linkcode SqliteBackend.#freeUnlinkedIdleHolds}).
   */
  #registered = new Set<number>();
  /**
   * Inodes whose row the current write transaction deleted: a rollback
   * brings the rows back, so they go back into `#registered` with it.
   */
  #unregisteredInTransaction: number[] = [];
  /**
   * `meta.held_unlinks` (0 when absent) when this backend last made sure
   * none of its idle rows was on an inode without names; -1 when unknown.
   * Only a backend that leaves a removed file to another's row changes it,
   * so while it stays the same there is nothing to look for.
   */
  #heldUnlinks = -1;
  #handles = new Set<SqliteFileHandle>();
  #locks = new LockTable();
  #host: HandleHost;
  /**
   * Directory path → inode number, for directories this backend found while
   * it held the write lock: a create in a known directory then skips the
   * path walk. Only ever consulted under the write lock, after
   * {@linkcode SqliteBackend.#checkCaches} has dropped it if another
   * connection committed anything since it was filled. This backend's own
   * changes that move or remove a directory (a rename of a directory,
   * rmdir) clear it; a rolled-back transaction clears it too, since entries
   * added inside it may describe rows that no longer exist.
   */
  #dirs = new Map<string, number>();
  /** The inode number the next create takes, when known (same validity rules as `#dirs`). */
  #nextIno: number | undefined;
  /** `PRAGMA data_version` when `#dirs` and `#nextIno` were last known to match the database. */
  #dataVersion = -1;
  /** Whether this backend holds the write lock (inside `#write`'s transaction). */
  #writing = false;
  /** Whether the caches were checked against `data_version` in the current write transaction. */
  #cachesChecked = false;

  private constructor(
    db: DatabaseSync,
    location: string,
    settings: {
      shared: boolean;
      readOnly: boolean;
      fullSync: boolean;
      busyTimeoutMs: number;
      uid: number;
      gid: number;
    },
  ) {
    super();
    this.#db = db;
    this.location = location;
    this.#shared = settings.shared;
    this.#readOnly = settings.readOnly;
    this.#fullSync = settings.fullSync;
    this.#busyTimeoutMs = settings.busyTimeoutMs;
    this.#uid = settings.uid;
    this.#gid = settings.gid;
    this.#session = newSessionId();
    this.#host = {
      read: (ino, position, length, path) =>
        this.#read("read", path, () => this.#readHandle(ino, position, length, path)),
      write: (ino, data, position, path) => this.#handleWrite(ino, data, position, path),
      truncate: (ino, length, path) =>
        this.#write("ftruncate", path, () => {
          const row = this.#inodeForHandle(ino, "ftruncate", path);
          if (row.size !== length) {
            this.#resize(ino, row.size, length);
            this.#touchModified(ino, length);
          }
        }),
      stat: (ino, path) =>
        this.#read("fstat", path, () => {
          const meta = this.#inodeMetadata(ino);
          if (meta === undefined) throw removedUnderHandle("fstat", path);
          return meta;
        }),
      sync: (path) => this.#durable("fsync", path),
      release: (ino) => this.#release(ino),
      locks: this.#locks,
    };
  }

  /**
   * Open (or create) the database file at `path`.
   *
   * Needs `--allow-read` and, unless `readOnly`, `--allow-write` for
   * `path` (SQLite's `-wal` and `-shm` files next to it need no flags of
   * their own, but the directory must be writable by the OS user).
   *
   * Fails with `EACCES` naming the missing flag, `ENOENT` when the file is
   * missing and `create` is false (or `readOnly`), `EINVAL` when the file is
   * not an AnyFS database, `ENOTSUP` when it was written by a newer AnyFS,
   * and `EBUSY` when another process holds it locked past `busyTimeoutMs`
   * or when it has an older format and another process has it open (a
   * database is upgraded to the current format only while nobody else uses
   * it: an older AnyFS would keep writing the old format into it).
   *
   * @example
   * ```ts ignore
   * import { SqliteBackend } from "@anyfs/anyfs";
   * using backend = SqliteBackend.open("./data.anyfs", { busyTimeoutMs: 10_000 });
   * ```
   */
  static open(path: string | URL, options: SqliteBackendOptions = {}): SqliteBackend {
    const file = path instanceof URL ? decodeURIComponent(path.pathname) : path;
    if (file === ":memory:") return SqliteBackend.memory(options);
    if (typeof file !== "string" || file === "" || file.includes("\0")) {
      throw fsError("EINVAL", "open", String(file), { reason: "bad database path" });
    }
    const readOnly = options.readOnly === true;
    checkPermissions(file, readOnly);
    let exists = true;
    try {
      Deno.statSync(file);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw sqliteError(e, "open", file);
      exists = false;
    }
    if (!exists && (readOnly || options.create === false)) {
      throw fsError("ENOENT", "open", file, { reason: "the database file does not exist" });
    }
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw fsError("EINVAL", "open", file, { reason: `bad busyTimeoutMs ${busyTimeoutMs}` });
    }
    const { uid, gid } = owner(options, file);
    if (!readOnly) cleanUpAlone(file, { uid, gid });
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(file, { readOnly, timeout: busyTimeoutMs });
    } catch (e) {
      throw sqliteError(e, "open", file);
    }
    try {
      refuseForeign(db, file);
      const fullSync = options.durability === "always";
      if (!readOnly) db.exec(CONNECTION_PRAGMAS);
      db.exec(`PRAGMA synchronous = ${fullSync ? "FULL" : "NORMAL"}`);
      // An existing database was brought up to date by cleanUpAlone if
      // this process is its only user; if not, it must not change here.
      prepareSchema(db, file, readOnly, { uid, gid }, false);
      return new SqliteBackend(db, file, {
        shared: true,
        readOnly,
        fullSync,
        busyTimeoutMs,
        uid,
        gid,
      });
    } catch (e) {
      db.close();
      throw sqliteError(e, "open", file);
    }
  }

  /**
   * A backend in a private in-memory SQLite database: no permissions, no
   * file, gone when closed. Same code paths as a file database, so it is
   * the quick way to test against SqliteBackend semantics.
   */
  static memory(options: SqliteMemoryOptions = {}): SqliteBackend {
    const { uid, gid } = owner(options, ":memory:");
    const db = new DatabaseSync(":memory:");
    prepareSchema(db, ":memory:", false, { uid, gid }, true);
    return new SqliteBackend(db, ":memory:", {
      shared: false,
      readOnly: false,
      fullSync: false,
      busyTimeoutMs: 0,
      uid,
      gid,
    });
  }

  /**
   * Give the space of deleted content back to the host: rewrite the
   * database without its free pages (SQLite's `VACUUM`) and empty the
   * write-ahead log. A database only grows by itself — deleting files frees
   * pages inside it for later writes, not on the host. Returns the size of
   * the database before and after, in bytes.
   *
   * It takes about as long as copying the database. Other processes may
   * keep reading meanwhile; their writes wait, as this backend's would
   * (`EBUSY` after the busy timeout).
   *
   * Needs `--allow-all` (`-A`): VACUUM writes the new copy through a
   * temporary attached database, and Deno's `node:sqlite` refuses to attach
   * one unless the process has every permission. Without it this fails
   * with `EACCES` and changes nothing.
   *
   * @example
   * ```ts ignore
   * // deno run -A compact.ts
   * import { SqliteBackend } from "@anyfs/anyfs";
   *
   * using drive = SqliteBackend.open("./drive.anyfs");
   * const { before, after } = await drive.compact();
   * console.log(`${before} -> ${after} bytes`);
   * ```
   *
   * @throws {FsError} `EROFS` on a database opened read-only, `EBUSY` when
   * another process kept it busy, `EACCES` without `--allow-all`, `EBADF`
   * after `close()`.
   */
  // deno-lint-ignore require-await
  async compact(): Promise<{ before: number; after: number }> {
    const op = "compact";
    this.#checkUsable(op, "/");
    if (this.#readOnly) {
      throw fsError("EROFS", op, "/", { reason: "the database is open read-only" });
    }
    const size = () => {
      const pages = this.#q("PRAGMA page_count").get() as { page_count: number };
      const pageSize = this.#q("PRAGMA page_size").get() as { page_size: number };
      return pages.page_count * pageSize.page_size;
    };
    // VACUUM keeps inode numbers (they are rowids), but nothing here relies
    // on what a rewrite of every row keeps.
    this.#dropCaches();
    try {
      const before = size();
      this.#db.exec("VACUUM");
      if (this.#shared) this.#db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      return { before, after: size() };
    } catch (e) {
      throw this.#busy(e, op, "/");
    }
  }

  /** Whether {@linkcode SqliteBackend.close} has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Close every open handle and the database. Unlinked files that only this
   * backend's handles kept alive are removed. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    for (const handle of [...this.#handles]) handle.closeNow();
    if (this.#registered.size > 0) {
      try {
        this.#dropIdleHolds();
      } catch {
        // Busy or gone: the rows go when a backend next opens the database alone.
      }
    }
    this.#closed = true;
    this.#statements.clear();
    this.#arrayStatements.clear();
    this.#db.close();
  }

  /** Same as {@linkcode SqliteBackend.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  // ---------------------------------------------------------------- plumbing

  #q(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /**
   * Like `#q`, but rows come back as arrays of the selected columns, in
   * order: no object per row, which is measurably cheaper on hot paths.
   * Every such query names each column once (see {@linkcode returningArrays}).
   */
  #qa(sql: string): ArrayRows {
    let statement = this.#arrayStatements.get(sql);
    if (statement === undefined) {
      statement = returningArrays(this.#db.prepare(sql));
      this.#arrayStatements.set(sql, statement);
    }
    return statement;
  }

  #checkUsable(operation: string, path: string): void {
    if (this.#closed) {
      throw fsError("EBADF", operation, path, { reason: "the SqliteBackend is closed" });
    }
  }

  /**
   * Run `body` in one write transaction. `BEGIN IMMEDIATE` takes the write
   * lock up front, so a transaction never fails half-way for want of it:
   * either it waits (busy timeout) and gets it, or nothing was done.
   */
  #write<T>(operation: string, path: string, body: () => T, dest?: string): T {
    this.#checkUsable(operation, path);
    if (this.#readOnly) {
      throw fsError("EROFS", operation, path, { dest, reason: "the database is open read-only" });
    }
    try {
      this.#q("BEGIN IMMEDIATE").run();
    } catch (e) {
      throw this.#busy(e, operation, path, dest);
    }
    this.#writing = true;
    // A private in-memory database has no other connection to change it.
    this.#cachesChecked = !this.#shared;
    try {
      // Checked in every write while rows are kept, not only in writes that
      // use the caches: that is what frees a file another process removed
      // while this one held it idle (see #freeUnlinkedIdleHolds).
      if (this.#registered.size > 0) this.#checkCaches();
      const result = body();
      this.#q("COMMIT").run();
      this.#unregisteredInTransaction.length = 0;
      return result;
    } catch (e) {
      // What the caches learnt in this transaction may be rolled back with it.
      this.#dropCaches();
      this.#heldUnlinks = -1;
      if (this.#db.isTransaction) this.#q("ROLLBACK").run();
      for (const ino of this.#unregisteredInTransaction) this.#registered.add(ino);
      this.#unregisteredInTransaction.length = 0;
      throw sqliteError(e, operation, path, dest);
    } finally {
      this.#writing = false;
    }
  }

  /** Forget every cached directory and the next inode number. */
  #dropCaches(): void {
    this.#dirs.clear();
    this.#nextIno = undefined;
  }

  /**
   * Drop the caches if another connection committed since they were last
   * valid, and free what it removed that this backend held idle. Called
   * under the write lock: `BEGIN IMMEDIATE` has started a read of the
   * newest state, and `PRAGMA data_version` changes iff another connection
   * committed (this connection's own commits leave it as it is), so what
   * survives this check is exactly what the database says now, and nobody
   * else can change it until this transaction ends.
   */
  #checkCaches(): void {
    if (this.#cachesChecked) return;
    this.#cachesChecked = true;
    const version = (this.#qa("PRAGMA data_version").get() as [number])[0];
    if (version !== this.#dataVersion) {
      this.#dropCaches();
      this.#dataVersion = version;
      this.#freeUnlinkedIdleHolds();
    } else if (this.#heldUnlinks === -1) {
      this.#freeUnlinkedIdleHolds();
    }
  }

  /** `meta.held_unlinks`, 0 when absent (see {@linkcode SqliteBackend.#reap}). */
  #readHeldUnlinks(): number {
    const row = this.#qa("SELECT value FROM meta WHERE key = 'held_unlinks'").get();
    return row === undefined ? 0 : Number(row[0]);
  }

  /** The inode number of the directory at `path`, if cached and usable now (under the write lock). */
  #cachedDir(path: string): number | undefined {
    if (!this.#writing) return undefined;
    this.#checkCaches();
    return this.#dirs.get(path);
  }

  /** Remember that the directory at `path` (found under the write lock) is inode `ino`. */
  #rememberDir(path: string, ino: number): void {
    if (!this.#writing) return;
    this.#checkCaches();
    // A bound, not an LRU: refilling costs one path walk per directory.
    if (this.#dirs.size >= DIR_CACHE_MAX) this.#dirs.clear();
    this.#dirs.set(path, ino);
  }

  /**
   * Run a read. Each statement is atomic on its own (its own read
   * transaction), which is all most reads need: like a path walk on Linux,
   * resolving a path is not atomic against a concurrent rename, but what an
   * inode row or chunk says is. Reads that need several statements to agree
   * wrap those in {@linkcode SqliteBackend.#snapshot}.
   */
  #read<T>(operation: string, path: string, body: () => T): T {
    this.#checkUsable(operation, path);
    try {
      return body();
    } catch (e) {
      throw sqliteError(e, operation, path);
    }
  }

  /**
   * Run `body` on one consistent snapshot. A file database may be changed by
   * other processes between statements; a private in-memory database cannot
   * change under a synchronous body, and a write transaction already is one.
   */
  #snapshot<T>(operation: string, path: string, body: () => T): T {
    if (!this.#shared || this.#db.isTransaction) return body();
    try {
      this.#q("BEGIN").run();
    } catch (e) {
      throw this.#busy(e, operation, path);
    }
    try {
      return body();
    } finally {
      if (this.#db.isTransaction) this.#q("COMMIT").run();
    }
  }

  #busy(error: unknown, operation: string, path: string, dest?: string): FsError {
    const e = sqliteError(error, operation, path, dest);
    if (e.code !== "EBUSY") return e;
    return fsError("EBUSY", operation, path, {
      dest,
      reason: `another process held the database lock for more than ${this.#busyTimeoutMs} ms`,
      cause: error,
    });
  }

  /**
   * Make every committed change durable. In `"sync"` durability commits are
   * written to the WAL without a disk flush; one commit made with
   * `synchronous=FULL` flushes the WAL file, and with it every earlier
   * commit. (A checkpoint would not do: it may be unable to run while other
   * connections read.)
   */
  #durable(operation: string, path: string): void {
    this.#checkUsable(operation, path);
    if (!this.#shared || this.#readOnly || this.#fullSync) return;
    try {
      this.#q("PRAGMA synchronous = FULL").run();
      this.#write(operation, path, () => {
        this.#q("UPDATE meta SET value = value + 1 WHERE key = 'sync_generation'").run();
      });
    } finally {
      this.#q("PRAGMA synchronous = NORMAL").run();
    }
  }

  // -------------------------------------------------------------- resolution

  /** The components of `path` (`[]` for the root); `EINVAL` unless it is absolute. */
  #components(path: string, operation: string, errorPath = path, dest?: string): string[] {
    if (typeof path !== "string" || path.charCodeAt(0) !== 47 /* / */) {
      throw fsError("EINVAL", operation, String(errorPath), {
        dest,
        reason: "backend paths are absolute and canonical",
      });
    }
    if (path.length >= PATH_MAX / 4) checkPath(path, operation);
    return path === "/" ? [] : path.slice(1).split("/");
  }

  /** The inode and mode named `name` in directory `parent`, for walking. */
  #lookup(parent: number, name: string): { ino: number; mode: number } | undefined {
    return this.#q(
      "SELECT e.ino AS ino, i.mode AS mode FROM entries e JOIN inodes i ON i.ino = e.ino WHERE e.parent = ? AND e.name = ?",
    ).get(parent, name) as { ino: number; mode: number } | undefined;
  }

  /** The whole inode row named `name` in directory `parent`. */
  #lookupRow(parent: number, name: string): InodeRow | undefined {
    return this.#q(
      `SELECT ${INODE_COLUMNS} FROM entries e JOIN inodes i ON i.ino = e.ino WHERE e.parent = ? AND e.name = ?`,
    ).get(parent, name) as InodeRow | undefined;
  }

  /**
   * The directory reached by the first `count` components, one lookup at a
   * time: the slow path, used for paths too deep for one statement and to
   * find out exactly which component is missing or not a directory. With
   * `soft`, a missing component gives `undefined` instead of `ENOENT`.
   */
  #walk(
    parts: string[],
    count: number,
    operation: string,
    errorPath: string,
    dest?: string,
    soft = false,
  ): number | undefined {
    let ino = ROOT_INO;
    for (let i = 0; i < count; i++) {
      const found = this.#lookup(ino, parts[i]);
      if (found === undefined) {
        if (soft && isAbsentName(parts[i])) return undefined;
        throw missing(parts[i], operation, errorPath, dest);
      }
      if (!isDir(found.mode)) throw fsError("ENOTDIR", operation, errorPath, { dest });
      ino = found.ino;
    }
    return ino;
  }

  /** The inode row at `path`, or `ENOENT`/`ENOTDIR`. */
  #resolve(path: string, operation: string, errorPath = path, dest?: string): InodeRow {
    const parts = this.#components(path, operation, errorPath, dest);
    const depth = parts.length;
    if (depth === 0) return this.#inode(ROOT_INO)!;
    if (depth <= MAX_JOINED_DEPTH) {
      const row = this.#q(WALK_ROW.sql(depth)).get(...parts) as InodeRow | undefined;
      if (row !== undefined) return row;
    }
    const parent = this.#walk(parts, depth - 1, operation, errorPath, dest)!;
    const row = this.#lookupRow(parent, parts[depth - 1]);
    if (row === undefined) throw missing(parts[depth - 1], operation, errorPath, dest);
    return row;
  }

  /**
   * The inode row at `path`, or `undefined` when nothing is there; other
   * failures (`ENOTDIR`, a bad name) throw as in {@linkcode #resolve}. One
   * statement either way: a probe of a name about to be created should not
   * pay for a second walk, nor for building an Error.
   */
  #findMetadata(path: string, operation: string): Metadata | undefined {
    const parts = this.#components(path, operation);
    const depth = parts.length;
    if (depth === 0) return this.#inodeMetadata(ROOT_INO);
    const name = parts[depth - 1];
    let found: Metadata | undefined;
    const slot = depth === 1 || depth > MAX_JOINED_DEPTH
      ? undefined
      : this.#qa(WALK_SLOT_META.sql(depth - 1)).get(...parts) as unknown[] | undefined;
    if (slot !== undefined && isDir(slot[1] as number)) {
      found = slot[2] === null ? undefined : metadataOf(slot, 2);
    } else {
      // In the root, a deep path, a missing middle or a non-directory.
      const parent = this.#walk(parts, depth - 1, operation, path, undefined, true);
      if (parent === undefined) return undefined;
      const row = this.#lookupRow(parent, name);
      found = row === undefined ? undefined : this.#metadata(row);
    }
    if (found === undefined && !isAbsentName(name)) throw missing(name, operation, path);
    return found;
  }

  /** {@linkcode NodeFacts} of the node named `name` in directory `parent`. */
  #lookupFacts(parent: number, name: string): NodeFacts | undefined {
    const row = this.#qa(
      "SELECT i.ino, i.mode, i.nlink, i.size FROM entries e JOIN inodes i ON i.ino = e.ino WHERE e.parent = ? AND e.name = ?",
    ).get(parent, name) as number[] | undefined;
    return row === undefined
      ? undefined
      : { ino: row[0], mode: row[1], nlink: row[2], size: row[3] };
  }

  /**
   * Parent directory and name of a path that is about to be created,
   * replaced or removed, and what is there now (`undefined` when free). For
   * the root: parent and node are the root itself, and the name is empty.
   */
  #resolveSlot(
    path: string,
    operation: string,
    errorPath = path,
    dest?: string,
  ): { parent: number; name: string; existing: NodeFacts | undefined } {
    const parts = this.#components(path, operation, errorPath, dest);
    const depth = parts.length;
    if (depth === 0) return { parent: ROOT_INO, name: "", existing: this.#inode(ROOT_INO) };
    const name = parts[depth - 1];
    if (depth === 1) {
      return { parent: ROOT_INO, name, existing: this.#lookupFacts(ROOT_INO, name) };
    }
    // Every cached path was reached by a walk of real names, so a path with
    // an empty or dot component never matches one and takes the walk below.
    const dirPath = path.slice(0, path.length - name.length - 1);
    const cached = this.#cachedDir(dirPath);
    if (cached !== undefined) {
      return { parent: cached, name, existing: this.#lookupFacts(cached, name) };
    }
    if (depth <= MAX_JOINED_DEPTH) {
      // Walk to the parent, then look the last name up with outer joins so
      // that a free slot still yields its directory.
      const row = this.#qa(WALK_SLOT_FACTS.sql(depth - 1)).get(...parts) as
        | [number, number, number | null, number, number, number]
        | undefined;
      // The walk proves every component before the parent is a directory
      // (it has entries); the parent itself must be checked.
      if (row !== undefined && isDir(row[1])) {
        this.#rememberDir(dirPath, row[0]);
        const ino = row[2];
        const existing = ino === null
          ? undefined
          : { ino, mode: row[3], nlink: row[4], size: row[5] };
        return { parent: row[0], name, existing };
      }
    }
    const parent = this.#walk(parts, depth - 1, operation, errorPath, dest)!;
    return { parent, name, existing: this.#lookupFacts(parent, name) };
  }

  #inode(ino: number): InodeRow | undefined {
    return this.#q(`SELECT ${INODE_COLUMNS} FROM inodes i WHERE i.ino = ?`).get(ino) as
      | InodeRow
      | undefined;
  }

  #inodeForHandle(ino: number, operation: string, path: string): InodeRow {
    const row = this.#inode(ino);
    if (row === undefined) throw removedUnderHandle(operation, path);
    return row;
  }

  /** Metadata of inode `ino`, named or not. */
  #inodeMetadata(ino: number): Metadata | undefined {
    const row = this.#qa(`SELECT ${META_COLUMNS} FROM inodes i WHERE i.ino = ?`).get(ino) as
      | unknown[]
      | undefined;
    return row === undefined ? undefined : metadataOf(row);
  }

  #metadata(row: InodeRow): Metadata {
    const type = typeOf(row.mode);
    const size = row.size;
    return {
      type,
      ino: row.ino,
      mode: row.mode,
      nlink: row.nlink,
      uid: row.uid,
      gid: row.gid,
      size,
      blocks: type === "dir" ? 0 : Math.ceil(size / 512),
      rdev: row.rdev,
      atimeMs: row.atime,
      mtimeMs: row.mtime,
      ctimeMs: row.ctime,
      birthtimeMs: row.btime,
    };
  }

  // ------------------------------------------------------------- node changes

  /**
   * Insert a node named `name` in directory `parent`; returns its inode
   * number. `inline` is a new regular file's inline content (at most
   * {@linkcode INLINE_MAX} bytes; empty for an empty file), or `null` for a
   * node whose content, if any, goes in chunks.
   */
  #createNode(
    parent: number,
    name: string,
    mode: number,
    options: { uid?: number; gid?: number } | undefined,
    rdev: number,
    target: string | null,
    size: number,
    inline: Uint8Array | null,
    operation: string,
    path: string,
    claimed?: number,
  ): number {
    const uid = options?.uid ?? this.#uid;
    const gid = options?.gid ?? this.#gid;
    if (!isId(uid) || !isId(gid)) {
      throw fsError("EINVAL", operation, path, { reason: `bad owner ${uid}:${gid}` });
    }
    const time = now();
    const dir = isDir(mode);
    const ino = claimed ?? this.#allocateIno();
    this.#q(
      `INSERT INTO inodes (ino, mode, uid, gid, nlink, size, atime, mtime, ctime, btime, rdev, target, parent, data)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      ino,
      mode,
      uid,
      gid,
      dir ? 2 : 1,
      dir ? 2 * DIRENT_SIZE : size,
      time,
      time,
      time,
      time,
      rdev,
      target,
      parent,
      inline,
    );
    if (claimed === undefined) {
      this.#q("INSERT INTO entries (parent, name, ino) VALUES (?, ?, ?)").run(parent, name, ino);
    }
    if (!this.#touchDir(parent, time, dir ? 1 : 0, 1) && claimed !== undefined) {
      // A cached directory that is gone: a bug in the cache's invalidation.
      // Fail the whole create (it rolls back, and the caches with it)
      // rather than leave a name in a directory nobody can reach.
      throw fsError("EIO", operation, path, {
        reason: "internal error: a remembered directory no longer exists",
      });
    }
    return ino;
  }

  /**
   * The fast start of a create (inside a write transaction): when the
   * directory of `path` is cached (or is the root), insert the new name
   * with the next inode number unless the name is taken, and return where
   * the caller must now create that inode (with `#createNode`'s `claimed`).
   * `undefined` when the name exists, the directory is not cached or the
   * path is anything unusual: the caller then takes its usual path, which
   * makes every decision and reports every error exactly as before.
   *
   * Why: a new name in a known directory then costs no lookup at all —
   * the primary key of `entries` is the existence check — where the path
   * walk was a tenth of a small file's create.
   */
  #claimName(path: string): { parent: number; name: string; ino: number } | undefined {
    if (!this.#writing) return undefined;
    if (typeof path !== "string" || path.charCodeAt(0) !== 47 /* / */) return undefined;
    if (path.length >= PATH_MAX / 4) return undefined;
    const slash = path.lastIndexOf("/");
    const name = path.slice(slash + 1);
    if (!isCreatableName(name)) return undefined;
    const parent = slash === 0 ? ROOT_INO : this.#cachedDir(path.slice(0, slash));
    if (parent === undefined) return undefined;
    const ino = this.#peekIno();
    const inserted = this.#q(
      "INSERT INTO entries (parent, name, ino) VALUES (?, ?, ?) ON CONFLICT (parent, name) DO NOTHING",
    ).run(parent, name, ino);
    if (Number(inserted.changes) === 0) return undefined;
    this.#nextIno = ino + 1;
    return { parent, name, ino };
  }

  /**
   * The inode number for a new node (inside a write transaction): one more
   * than both the largest live inode and the largest ever freed (see
   * sqlite_schema.ts), so numbers are never reused. Kept between
   * transactions while no other connection commits (see `#checkCaches`):
   * this backend's own deletions never lower it, and its own creates take
   * numbers only through here.
   */
  #allocateIno(): number {
    const ino = this.#peekIno();
    this.#nextIno = this.#writing ? ino + 1 : undefined;
    return ino;
  }

  /** The number {@linkcode SqliteBackend.#allocateIno} would hand out, without taking it. */
  #peekIno(): number {
    if (this.#writing) this.#checkCaches();
    if (this.#nextIno !== undefined) return this.#nextIno;
    const row = this.#qa(
      `SELECT max(coalesce((SELECT max(ino) FROM inodes), 0),
                  (SELECT value FROM meta WHERE key = 'ino_floor')) + 1 AS next`,
    ).get() as [number];
    const ino = Number(row[0]);
    if (this.#writing) this.#nextIno = ino;
    return ino;
  }

  /** Create the regular file `name` in `parent` with content `data`: inline when it fits. */
  #createFile(
    parent: number,
    name: string,
    mode: number,
    options: CreateOptions | undefined,
    data: Uint8Array,
    operation: string,
    path: string,
    claimed?: number,
  ): void {
    const inline = data.length <= INLINE_MAX;
    const ino = this.#createNode(
      parent,
      name,
      mode,
      options,
      0,
      null,
      data.length,
      inline ? data : null,
      operation,
      path,
      claimed,
    );
    if (!inline) this.#insertChunks(ino, data);
  }

  /**
   * A directory's entries changed: new mtime and ctime, `nlinkDelta` more
   * subdirectories and `entryDelta` more entries (its size counts them, so
   * that a stat never has to). Returns whether the directory's row exists.
   */
  #touchDir(ino: number, time: number, nlinkDelta: number, entryDelta: number): boolean {
    return Number(
      this.#q(
        "UPDATE inodes SET mtime = ?, ctime = ?, nlink = nlink + ?, size = size + ? WHERE ino = ?",
      ).run(time, time, nlinkDelta, entryDelta * DIRENT_SIZE, ino).changes,
    ) === 1;
  }

  #touchModified(ino: number, size: number): void {
    const t = now();
    this.#q("UPDATE inodes SET size = ?, mtime = ?, ctime = ? WHERE ino = ?").run(size, t, t, ino);
  }

  #touchChanged(ino: number, time: number): void {
    this.#q("UPDATE inodes SET ctime = ? WHERE ino = ?").run(time, ino);
  }

  /** `ino` got a new name in directory `parent`: ctime, and the parent hint of `inodePath`. */
  #touchNamed(ino: number, parent: number, time: number, nlinkDelta: number): void {
    this.#q("UPDATE inodes SET ctime = ?, parent = ?, nlink = nlink + ? WHERE ino = ?").run(
      time,
      parent,
      nlinkDelta,
      ino,
    );
  }

  /**
   * One name of `target` is gone: drop its link count (a directory's to 0)
   * and free it when no name and no open handle is left.
   */
  #dropLink(target: NodeFacts, time: number): void {
    const nlink = isDir(target.mode) ? 0 : target.nlink - 1;
    this.#q("UPDATE inodes SET nlink = ?, ctime = ? WHERE ino = ?").run(nlink, time, target.ino);
    if (nlink <= 0) this.#reap(target.ino);
  }

  /** Whether another backend's `holders` row (a handle, or an idle row) keeps `ino`. */
  #heldElsewhere(ino: number): boolean {
    if (!this.#shared) return false;
    return this.#q("SELECT 1 FROM holders WHERE ino = ? AND session <> ? LIMIT 1")
      .get(ino, this.#session) !== undefined;
  }

  /**
   * Delete an inode that has no names, unless a handle still holds it.
   * When only another backend's row keeps it, count that in
   * `meta.held_unlinks`: that row may be idle, and the count is how its
   * owner learns to look (see `#freeUnlinkedIdleHolds`).
   */
  #reap(ino: number): void {
    if ((this.#opens.get(ino) ?? 0) > 0) return; // this backend's last close frees it
    // An idle row of this session holds nothing; left in place while
    // another process holds the file, it would keep that one's last close
    // from freeing it.
    this.#unregister(ino);
    if (this.#heldElsewhere(ino)) {
      this.#q(
        `INSERT INTO meta (key, value) VALUES ('held_unlinks', 1)
           ON CONFLICT (key) DO UPDATE SET value = value + 1`,
      ).run();
      return;
    }
    this.#q("DELETE FROM chunks WHERE ino = ?").run(ino);
    this.#q("DELETE FROM xattrs WHERE ino = ?").run(ino);
    this.#q("DELETE FROM inodes WHERE ino = ?").run(ino);
    // Freeing the largest inode number: remember it, or the next create
    // would hand it out again. Writes only in that (rare) case.
    this.#q(
      `UPDATE meta SET value = ?1 WHERE key = 'ino_floor' AND value < ?1
         AND ?1 > coalesce((SELECT max(ino) FROM inodes), 0)`,
    ).run(ino);
  }

  /** The last handle of this backend on `ino` closed. */
  #release(ino: number): void {
    const count = (this.#opens.get(ino) ?? 1) - 1;
    if (count > 0) {
      this.#opens.set(ino, count);
      return;
    }
    this.#opens.delete(ino);
    if (this.#closed || this.#readOnly) return;
    const nlinkOf = () =>
      (this.#q("SELECT nlink FROM inodes WHERE ino = ?").get(ino) as { nlink: number } | undefined)
        ?.nlink;
    try {
      if (this.#shared) {
        // A file that still has a name keeps this session's row (see
        // #registered): closing it then writes nothing — unless another
        // backend removed a file this one may hold idle since it last
        // looked (meta.held_unlinks moved): then that file is freed now.
        const [nlink, unlinks] = this.#read("close", `#${ino}`, () =>
          this.#qa(
            `SELECT (SELECT nlink FROM inodes WHERE ino = ?) AS nlink,
                    coalesce((SELECT value FROM meta WHERE key = 'held_unlinks'), 0) AS unlinks`,
          ).get(ino) as [number | null, number]);
        if (nlink !== null && nlink > 0) {
          if (this.#registered.size > IDLE_HOLDS) this.#dropIdleHolds();
          else if (unlinks !== this.#heldUnlinks) this.#freeUnlinkedIdleHoldsSoon(unlinks);
          return;
        }
      }
      this.#write("close", `#${ino}`, () => {
        const nlink = nlinkOf();
        if (nlink !== undefined && nlink <= 0) this.#reap(ino);
        // Still ours when another process holds it too: that one frees it.
        if (this.#shared) this.#unregister(ino);
      });
    } catch {
      // The database is busy or gone: the orphan stays until the next
      // backend opens the database alone and clears it.
    }
  }

  /**
   * Give up this session's rows on inodes it has no handle on, freeing
   * those that lost their last name meanwhile (in another process). One
   * transaction.
   */
  #dropIdleHolds(): void {
    const idle = [...this.#registered].filter((ino) => !this.#opens.has(ino));
    if (idle.length === 0) return;
    this.#write("close", "/", () => {
      for (const ino of idle) {
        const row = this.#q("SELECT nlink FROM inodes WHERE ino = ?").get(ino) as
          | { nlink: number }
          | undefined;
        if (row !== undefined && row.nlink <= 0) this.#reap(ino);
        this.#unregister(ino);
      }
    });
  }

  /**
   * Outside a transaction, after `meta.held_unlinks` changed (to `unlinks`):
   * free what another backend removed that this one holds idle. Looks
   * first, so that a close writes (and may wait for the write lock) only
   * when there is something to free.
   */
  #freeUnlinkedIdleHoldsSoon(unlinks: number): void {
    if (this.#unlinkedIdleHolds().length === 0) {
      // `unlinks` was read before the scan, so a removal after it shows as
      // a newer count at the next look: nothing is missed.
      this.#heldUnlinks = unlinks;
      return;
    }
    this.#heldUnlinks = -1; // makes #write's #checkCaches free them
    this.#write("close", "/", () => {});
  }

  /** Delete this session's `holders` row on `ino`, if it has one (inside a write transaction). */
  #unregister(ino: number): void {
    if (!this.#registered.delete(ino)) return;
    this.#q("DELETE FROM holders WHERE ino = ? AND session = ?").run(ino, this.#session);
    this.#unregisteredInTransaction.push(ino);
  }

  /**
   * This session's idle rows on inodes that have no name left (another
   * process removed them). A scan of `holders`, which stays small: each
   * live backend keeps at most {@linkcode IDLE_HOLDS} idle rows.
   */
  #unlinkedIdleHolds(): number[] {
    const rows = this.#qa(
      `SELECT ino FROM holders WHERE session = ?
         AND coalesce((SELECT nlink FROM inodes WHERE inodes.ino = holders.ino), 0) <= 0`,
    ).all(this.#session) as [number][];
    return rows.map((row) => row[0]).filter((ino) => !this.#opens.has(ino));
  }

  /**
   * Give up this session's idle rows on inodes another backend removed, and
   * free those no other backend holds (under the write lock). Runs when a
   * write transaction sees that another connection committed and
   * `meta.held_unlinks` changed, so such a file is freed by this backend's
   * next write after the removal — or by the next close of one of its
   * handles (see `#release`) — instead of staying until this backend closes.
   */
  #freeUnlinkedIdleHolds(): void {
    if (this.#registered.size === 0) return;
    const unlinks = this.#readHeldUnlinks();
    if (unlinks === this.#heldUnlinks) return;
    for (const ino of this.#unlinkedIdleHolds()) this.#reap(ino); // drops the row first
    // #reap may have counted a file it left to yet another backend.
    this.#heldUnlinks = this.#readHeldUnlinks();
  }

  // ---------------------------------------------------------------- content

  /**
   * A handle's read, in one statement (so size and bytes agree even while
   * another process writes): the inode's mode, size and inline content
   * joined with every stored chunk the range overlaps — one row for an
   * inline file or the usual small read, one per chunk for a large one.
   */
  #readHandle(ino: number, position: number, length: number, path: string): Uint8Array {
    const first = Math.floor(position / CHUNK_SIZE);
    const last = length === 0 ? first : Math.floor((position + length - 1) / CHUNK_SIZE);
    const rows = this.#qa(
      `SELECT i.mode AS mode, i.size AS size, i.data AS inline, c.idx AS idx, c.data AS data
       FROM inodes i LEFT JOIN chunks c ON c.ino = i.ino AND c.idx BETWEEN ? AND ?
       WHERE i.ino = ? ORDER BY c.idx`,
    ).all(first, last, ino) as [
      number,
      number,
      Uint8Array | null,
      number | null,
      Uint8Array | null,
    ][];
    if (rows.length === 0) throw removedUnderHandle("read", path);
    const [mode, size, inline] = rows[0];
    if (isDir(mode)) throw fsError("EISDIR", "read", path);
    if (position >= size || length === 0) return new Uint8Array(0);
    const end = Math.min(size, position + length);
    if (inline !== null) return sliceChunk(inline, position, end);
    if (rows.length === 1 && rows[0][3] === first) {
      // One stored chunk: hand out (part of) SQLite's own fresh copy.
      const base = first * CHUNK_SIZE;
      return sliceChunk(rows[0][4], position - base, end - base);
    }
    const out = new Uint8Array(end - position);
    for (const [, , , idx, data] of rows) {
      if (idx === null || data === null) continue; // a hole: zeros
      const base = idx * CHUNK_SIZE;
      const from = Math.max(position, base);
      const to = Math.min(end, base + data.length);
      if (to > from) out.set(data.subarray(from - base, to - base), from - position);
    }
    return out;
  }

  /** Size and inline content (`null` when in chunks) of inode `ino`, or `undefined` when it is gone. */
  #content(ino: number): Content | undefined {
    const row = this.#qa("SELECT size, data FROM inodes WHERE ino = ?").get(ino) as
      | [number, Uint8Array | null]
      | undefined;
    return row === undefined ? undefined : { size: row[0], inline: row[1] };
  }

  #contentForHandle(ino: number, operation: string, path: string): Content {
    const content = this.#content(ino);
    if (content === undefined) throw removedUnderHandle(operation, path);
    return content;
  }

  #chunk(ino: number, idx: number): Uint8Array | undefined {
    const row = this.#q("SELECT data FROM chunks WHERE ino = ? AND idx = ?").get(ino, idx) as
      | { data: Uint8Array }
      | undefined;
    return row?.data;
  }

  #putChunk(ino: number, idx: number, data: Uint8Array): void {
    this.#q(
      "INSERT INTO chunks (ino, idx, data) VALUES (?, ?, ?) ON CONFLICT (ino, idx) DO UPDATE SET data = excluded.data",
    ).run(ino, idx, data);
  }

  /** Up to `length` bytes of a file from `position`: from its inline content, or chunk by chunk. */
  #readRange(ino: number, content: Content, position: number, length: number): Uint8Array {
    const size = content.size;
    if (position >= size || length === 0) return new Uint8Array(0);
    const end = Math.min(size, position + length);
    if (content.inline !== null) return sliceChunk(content.inline, position, end);
    const first = Math.floor(position / CHUNK_SIZE);
    const last = Math.floor((end - 1) / CHUNK_SIZE);
    if (first === last) {
      const base = first * CHUNK_SIZE;
      return sliceChunk(this.#chunk(ino, first) ?? null, position - base, end - base);
    }
    const out = new Uint8Array(end - position);
    const rows = this.#q(
      "SELECT idx, data FROM chunks WHERE ino = ? AND idx BETWEEN ? AND ? ORDER BY idx",
    ).all(ino, first, last) as { idx: number; data: Uint8Array }[];
    for (const { idx, data } of rows) {
      const base = idx * CHUNK_SIZE;
      const from = Math.max(position, base);
      const to = Math.min(end, base + data.length);
      if (to > from) out.set(data.subarray(from - base, to - base), from - position);
    }
    return out;
  }

  /**
   * Write `data` (not empty) at `position` into a file with `content`, and
   * set its new size and times. Inline content stays inline while it fits
   * in {@linkcode INLINE_MAX} bytes; a write past that moves it to chunk 0
   * first, in the caller's transaction. Returns the new size.
   */
  #writeAt(ino: number, content: Content, position: number, data: Uint8Array): number {
    const end = position + data.length;
    const size = Math.max(content.size, end);
    const inline = content.inline;
    if (inline !== null && end <= INLINE_MAX) {
      let merged = data;
      if (position > 0 || end < inline.length) {
        merged = new Uint8Array(Math.max(inline.length, end));
        merged.set(inline);
        merged.set(data, position);
      }
      const t = now();
      this.#q("UPDATE inodes SET data = ?, size = ?, mtime = ?, ctime = ? WHERE ino = ?").run(
        merged,
        size,
        t,
        t,
        ino,
      );
      return size;
    }
    if (inline === null) {
      this.#writeRange(ino, content.size, position, data);
      this.#touchModified(ino, size);
      return size;
    }
    // Moving to chunks. Inline bytes are at most a chunk long, so they
    // become chunk 0, merged here with the part of `data` that falls in
    // it rather than stored and read back; the file has no other chunks.
    const insert = this.#q("INSERT INTO chunks (ino, idx, data) VALUES (?, ?, ?)");
    let rest = data;
    let restAt = position;
    if (position < CHUNK_SIZE) {
      const headEnd = Math.min(end, CHUNK_SIZE);
      const head = new Uint8Array(Math.max(inline.length, headEnd));
      head.set(inline);
      head.set(data.subarray(0, headEnd - position), position);
      insert.run(ino, 0, head);
      rest = data.subarray(headEnd - position);
      restAt = headEnd;
    } else if (inline.length > 0) {
      insert.run(ino, 0, inline);
    }
    // Past chunk 0 nothing is stored yet: size 0 tells #writeRange so.
    this.#writeRange(ino, 0, restAt, rest);
    const t = now();
    this.#q("UPDATE inodes SET data = NULL, size = ?, mtime = ?, ctime = ? WHERE ino = ?").run(
      size,
      t,
      t,
      ino,
    );
    return size;
  }

  /**
   * Write `data` at `position` into the chunks of a file of `size` bytes,
   * touching only the chunks it overlaps.
   */
  #writeRange(ino: number, size: number, position: number, data: Uint8Array): void {
    const end = position + data.length;
    if (data.length === 0) return;
    const first = Math.floor(position / CHUNK_SIZE);
    const last = Math.floor((end - 1) / CHUNK_SIZE);
    for (let idx = first; idx <= last; idx++) {
      const base = idx * CHUNK_SIZE;
      const from = Math.max(position, base) - base;
      const to = Math.min(end, base + CHUNK_SIZE) - base;
      const piece = data.subarray(base + from - position, base + to - position);
      // A piece that starts the chunk and reaches its end (or the file's)
      // replaces everything the chunk holds: no need to read it first.
      if (from === 0 && (to === CHUNK_SIZE || base + to >= size)) {
        this.#putChunk(ino, idx, piece);
        continue;
      }
      const old = base < size ? this.#chunk(ino, idx) : undefined;
      const merged = new Uint8Array(Math.max(old?.length ?? 0, to));
      if (old !== undefined) merged.set(old);
      merged.set(piece, from);
      this.#putChunk(ino, idx, merged);
    }
  }

  /** Store `data` as the content of the new file `ino`, which has no content yet and is not inline. */
  #insertChunks(ino: number, data: Uint8Array): void {
    const insert = this.#q("INSERT INTO chunks (ino, idx, data) VALUES (?, ?, ?)");
    for (let offset = 0, idx = 0; offset < data.length; offset += CHUNK_SIZE, idx++) {
      insert.run(ino, idx, data.subarray(offset, Math.min(offset + CHUNK_SIZE, data.length)));
    }
  }

  /** Replace the whole content of `ino` (of `oldSize` bytes) with `data`, and set size and times. */
  #replaceContent(ino: number, oldSize: number, data: Uint8Array): void {
    // Chunks hold no bytes past the size, so an empty file has none to drop.
    if (oldSize > 0) this.#q("DELETE FROM chunks WHERE ino = ?").run(ino);
    const inline = data.length <= INLINE_MAX;
    const t = now();
    this.#q("UPDATE inodes SET data = ?, size = ?, mtime = ?, ctime = ? WHERE ino = ?").run(
      inline ? data : null,
      data.length,
      t,
      t,
      ino,
    );
    if (!inline) this.#insertChunks(ino, data);
  }

  /**
   * Change the stored content of `ino` from `oldSize` to `length` bytes.
   * Growing stores nothing (the gap reads as zeros). Shrinking to at most
   * {@linkcode INLINE_MAX} bytes leaves the file inline, whichever form it
   * had; shrinking a larger file trims its chunks (an inline file's bytes
   * are already shorter than `length` then).
   */
  #resize(ino: number, oldSize: number, length: number): void {
    if (length >= oldSize) return;
    if (length <= INLINE_MAX) {
      let head: Uint8Array = EMPTY;
      if (length > 0) {
        const row = this.#qa(
          `SELECT coalesce(i.data, (SELECT c.data FROM chunks c WHERE c.ino = i.ino AND c.idx = 0)) AS head
           FROM inodes i WHERE i.ino = ?`,
        ).get(ino) as [Uint8Array | null] | undefined;
        const stored = row?.[0] ?? EMPTY;
        head = stored.length > length ? stored.subarray(0, length) : stored;
      }
      this.#q("DELETE FROM chunks WHERE ino = ?").run(ino);
      this.#q("UPDATE inodes SET data = ? WHERE ino = ?").run(head, ino);
      return;
    }
    const lastIdx = Math.floor((length - 1) / CHUNK_SIZE);
    this.#q("DELETE FROM chunks WHERE ino = ? AND idx > ?").run(ino, lastIdx);
    const keep = length - lastIdx * CHUNK_SIZE;
    const data = this.#chunk(ino, lastIdx);
    if (data !== undefined && data.length > keep) {
      this.#putChunk(ino, lastIdx, data.subarray(0, keep));
    }
  }

  #handleWrite(ino: number, data: Uint8Array, position: number | "end", path: string): number {
    if (!(data instanceof Uint8Array)) {
      throw fsError("EINVAL", "write", path, { reason: "data must be a Uint8Array" });
    }
    if (data.length === 0) {
      this.#checkUsable("write", path);
      return 0;
    }
    return this.#write("write", path, () => {
      const content = this.#contentForHandle(ino, "write", path);
      const at = position === "end" ? content.size : position;
      if (!Number.isSafeInteger(at + data.length)) throw fsError("EFBIG", "write", path);
      this.#writeAt(ino, content, at, data);
      return data.length;
    });
  }

  // ------------------------------------------------------------ the core API

  /** Metadata of the entry at `path` (a symlink describes itself). */
  // deno-lint-ignore require-await
  async lstat(path: string): Promise<Metadata> {
    // Without #read's closure: lstat is the most frequent call of all.
    this.#checkUsable("lstat", path);
    try {
      const parts = this.#components(path, "lstat");
      const depth = parts.length;
      if (depth > 0 && depth <= MAX_JOINED_DEPTH) {
        const row = this.#qa(WALK_META.sql(depth)).get(...parts) as unknown[] | undefined;
        if (row !== undefined) return metadataOf(row);
      }
      // The root, a deep path, or the precise error.
      return this.#metadata(this.#resolve(path, "lstat"));
    } catch (e) {
      throw sqliteError(e, "lstat", path);
    }
  }

  /**
   * Like {@linkcode SqliteBackend.lstat}, but `null` when nothing is at
   * `path`: probing a name that is about to be created costs one statement
   * and no Error.
   */
  // deno-lint-ignore require-await
  async tryLstat(path: string): Promise<Metadata | null> {
    this.#checkUsable("lstat", path);
    try {
      return this.#findMetadata(path, "lstat") ?? null;
    } catch (e) {
      throw sqliteError(e, "lstat", path);
    }
  }

  /** The entries of the directory at `path`, sorted by name (UTF-16 code unit order). */
  // deno-lint-ignore require-await
  async readDir(path: string): Promise<DirEntry[]> {
    return this.#read("readdir", path, () => {
      const dir = this.#resolve(path, "readdir");
      if (!isDir(dir.mode)) throw fsError("ENOTDIR", "readdir", path);
      const rows = this.#q(
        "SELECT e.name AS name, e.ino AS ino, i.mode AS mode FROM entries e JOIN inodes i ON i.ino = e.ino WHERE e.parent = ? ORDER BY e.name",
      ).all(dir.ino) as { name: string; ino: number; mode: number }[];
      return rows.map((r) => ({ name: r.name, type: typeOf(r.mode), ino: r.ino }));
    });
  }

  /** The whole content of the regular file at `path`. */
  // deno-lint-ignore require-await
  async readFile(path: string): Promise<Uint8Array> {
    const op = "readfile";
    this.#checkUsable(op, path);
    try {
      const parts = this.#components(path, op);
      const depth = parts.length;
      if (depth === 0) throw fsError("EISDIR", op, path);
      // The usual small file in one statement: path walk, inode and first chunk.
      const row = depth > MAX_JOINED_DEPTH
        ? undefined
        : this.#qa(WALK_HEAD.sql(depth)).get(...parts) as
          | [number, number, number, Uint8Array | null]
          | undefined;
      if (row !== undefined) {
        const mode = row[1], size = row[2];
        if (isRegular(mode) && size <= CHUNK_SIZE) return fitted(row[3], size);
        return this.#readWhole(row[0], mode, path);
      }
      const found = this.#resolve(path, op); // the precise error, or a deep path
      return this.#readWhole(found.ino, found.mode, path);
    } catch (e) {
      throw sqliteError(e, op, path);
    }
  }

  /**
   * `readFile` of what one statement could not read whole: a file larger
   * than a chunk, or one found by a deep walk. Size and chunks are read on
   * one snapshot, so a concurrent writer in another process cannot pair a
   * size with content of another version.
   */
  #readWhole(ino: number, mode: number, path: string): Uint8Array {
    const op = "readfile";
    requireFile(mode, op, path);
    return this.#snapshot(op, path, () => {
      const content = this.#contentForHandle(ino, op, path);
      return this.#readRange(ino, content, 0, content.size);
    });
  }

  /** Replace the content of the file at `path`, creating it when missing. One transaction. */
  // deno-lint-ignore require-await
  async writeFile(path: string, data: Uint8Array, options?: WriteFileOptions): Promise<void> {
    const op = "writefile";
    if (!(data instanceof Uint8Array)) {
      throw fsError("EINVAL", op, path, { reason: "data must be a Uint8Array" });
    }
    if (path === "/") throw fsError("EISDIR", op, path);
    this.#write(op, path, () => {
      const mode = S_IFREG | ((options?.mode ?? 0o644) & 0o7777);
      const claim = options?.create === false && !options.createNew
        ? undefined
        : this.#claimName(path);
      if (claim !== undefined) {
        this.#createFile(claim.parent, claim.name, mode, options, data, op, path, claim.ino);
        return;
      }
      const slot = this.#resolveSlot(path, op);
      const existing = slot.existing;
      if (existing !== undefined) {
        if (options?.createNew) throw fsError("EEXIST", op, path);
        requireFile(existing.mode, op, path);
        this.#replaceContent(existing.ino, existing.size, data);
        return;
      }
      if (options?.create === false && !options.createNew) throw missing(slot.name, op, path);
      checkName(slot.name, op, path);
      this.#createFile(slot.parent, slot.name, mode, options, data, op, path);
    });
  }

  /** Create the directory `path` (not its parents; mode default 0o755). */
  // deno-lint-ignore require-await
  async mkdir(path: string, options?: CreateOptions): Promise<void> {
    const op = "mkdir";
    if (path === "/") throw fsError("EEXIST", op, path);
    this.#write(op, path, () => {
      const mode = S_IFDIR | ((options?.mode ?? 0o755) & 0o7777);
      const claim = this.#claimName(path);
      if (claim !== undefined) {
        const { parent, name, ino } = claim;
        this.#createNode(parent, name, mode, options, 0, null, 0, null, op, path, ino);
        // A claimed path is canonical (a cached directory and a valid name).
        this.#rememberDir(path, ino);
        return;
      }
      const slot = this.#resolveSlot(path, op);
      checkName(slot.name, op, path);
      if (slot.existing !== undefined) throw fsError("EEXIST", op, path);
      this.#createNode(slot.parent, slot.name, mode, options, 0, null, 0, null, op, path);
    });
  }

  /** Remove a non-directory entry; its content goes when no name and no handle is left. */
  // deno-lint-ignore require-await
  async unlink(path: string): Promise<void> {
    const op = "unlink";
    if (path === "/") throw fsError("EISDIR", op, path);
    this.#write(op, path, () => {
      const slot = this.#resolveSlot(path, op);
      const target = slot.existing;
      if (target === undefined) throw missing(slot.name, op, path);
      if (isDir(target.mode)) throw fsError("EISDIR", op, path);
      const t = now();
      this.#q("DELETE FROM entries WHERE parent = ? AND name = ?").run(slot.parent, slot.name);
      this.#touchDir(slot.parent, t, 0, -1);
      this.#dropLink(target, t);
    });
  }

  /** Remove an empty directory; `EBUSY` for the root. */
  // deno-lint-ignore require-await
  async rmdir(path: string): Promise<void> {
    const op = "rmdir";
    if (path === "/") throw fsError("EBUSY", op, path);
    this.#write(op, path, () => {
      const slot = this.#resolveSlot(path, op);
      const target = slot.existing;
      if (target === undefined) throw missing(slot.name, op, path);
      if (!isDir(target.mode)) throw fsError("ENOTDIR", op, path);
      if (this.#hasEntries(target.ino)) throw fsError("ENOTEMPTY", op, path);
      const t = now();
      // Its path must not lead a later create to the removed inode.
      this.#dirs.clear();
      this.#q("DELETE FROM entries WHERE parent = ? AND name = ?").run(slot.parent, slot.name);
      this.#touchDir(slot.parent, t, -1, -1);
      this.#dropLink(target, t);
    });
  }

  #hasEntries(dir: number): boolean {
    return this.#q("SELECT 1 FROM entries WHERE parent = ? LIMIT 1").get(dir) !== undefined;
  }

  /**
   * Rename with POSIX `rename(2)` semantics (see {@linkcode Backend.rename}),
   * in one transaction: a crash leaves either the old or the new name, never
   * both or neither.
   */
  // deno-lint-ignore require-await
  async rename(from: string, to: string): Promise<void> {
    const op = "rename";
    this.#write(op, from, () => {
      // Checks in the order Linux makes them (and MemoryBackend follows), so
      // each case reports the same code: both parents, the root, the
      // source, the subtree rules, then the target.
      const source = this.#resolveSlot(from, op, from, to);
      const target = this.#resolveSlot(to, op, from, to);
      if (from === "/" || to === "/") throw fsError("EBUSY", op, from, { dest: to });
      const fromDir = source.parent;
      const toDir = target.parent;
      const fromName = source.name;
      const toName = target.name;
      const moving = source.existing;
      if (moving === undefined) throw missing(fromName, op, from, to);
      if (from === to) return;
      checkName(toName, op, to);
      if (isDir(moving.mode) && isWithin(to, from)) {
        throw fsError("EINVAL", op, from, {
          dest: to,
          reason: "cannot move a directory into itself",
        });
      }
      if (isWithin(from, to)) throw fsError("ENOTEMPTY", op, from, { dest: to });
      const replaced = target.existing;
      if (replaced !== undefined && replaced.ino === moving.ino) return; // POSIX: do nothing
      if (replaced !== undefined) {
        if (isDir(moving.mode) && !isDir(replaced.mode)) {
          throw fsError("ENOTDIR", op, from, { dest: to });
        }
        if (!isDir(moving.mode) && isDir(replaced.mode)) {
          throw fsError("EISDIR", op, from, { dest: to });
        }
        if (isDir(replaced.mode) && this.#hasEntries(replaced.ino)) {
          throw fsError("ENOTEMPTY", op, from, { dest: to });
        }
      }
      const t = now();
      const movingDir = isDir(moving.mode) ? 1 : 0;
      // Moving a directory changes the path of everything under it (and
      // may replace another directory); moving anything else changes no
      // directory's path.
      if (movingDir) this.#dirs.clear();
      const replacedDir = replaced !== undefined && isDir(replaced.mode) ? 1 : 0;
      if (replaced !== undefined) {
        this.#q("DELETE FROM entries WHERE parent = ? AND name = ?").run(toDir, toName);
      }
      this.#q("UPDATE entries SET parent = ?, name = ? WHERE parent = ? AND name = ?").run(
        toDir,
        toName,
        fromDir,
        fromName,
      );
      const replacedEntry = replaced !== undefined ? 1 : 0;
      if (fromDir === toDir) {
        this.#touchDir(fromDir, t, -replacedDir, -replacedEntry);
      } else {
        this.#touchDir(fromDir, t, -movingDir, -1);
        this.#touchDir(toDir, t, movingDir - replacedDir, 1 - replacedEntry);
      }
      this.#touchNamed(moving.ino, toDir, t, 0);
      if (replaced !== undefined) this.#dropLink(replaced, t);
    }, to);
  }

  // ------------------------------------------------------------ capabilities

  /** Up to `length` bytes of the file at `path` from `offset`, reading only the chunks needed. */
  // deno-lint-ignore require-await
  async read(path: string, offset: number, length: number): Promise<Uint8Array> {
    const op = "read";
    if (badLength(offset) || badLength(length)) {
      throw fsError("EINVAL", op, path, { reason: `bad range ${offset}+${length}` });
    }
    return this.#read(op, path, () =>
      this.#snapshot(op, path, () => {
        const row = this.#resolve(path, op);
        requireFile(row.mode, op, path);
        return this.#readRange(row.ino, this.#contentForHandle(row.ino, op, path), offset, length);
      }));
  }

  /** Set the size of the regular file at `path`, touching only the chunks past the new end. */
  // deno-lint-ignore require-await
  async truncate(path: string, length: number): Promise<void> {
    const op = "truncate";
    if (badLength(length)) throw fsError("EINVAL", op, path, { reason: `bad length ${length}` });
    this.#write(op, path, () => {
      const row = this.#resolve(path, op);
      if (isDir(row.mode)) throw fsError("EISDIR", op, path);
      if (!isRegular(row.mode)) throw fsError("EINVAL", op, path, { reason: "not a regular file" });
      if (row.size === length) return;
      this.#resize(row.ino, row.size, length);
      this.#touchModified(row.ino, length);
    });
  }

  /** Append `data` to `path` (creating it with `options` when missing), writing only the last chunks. */
  // deno-lint-ignore require-await
  async appendFile(path: string, data: Uint8Array, options?: CreateOptions): Promise<void> {
    const op = "appendfile";
    if (!(data instanceof Uint8Array)) {
      throw fsError("EINVAL", op, path, { reason: "data must be a Uint8Array" });
    }
    if (path === "/") throw fsError("EISDIR", op, path);
    this.#write(op, path, () => {
      const slot = this.#resolveSlot(path, op);
      const existing = slot.existing;
      if (existing === undefined) {
        checkName(slot.name, op, path);
        const mode = S_IFREG | ((options?.mode ?? 0o644) & 0o7777);
        this.#createFile(slot.parent, slot.name, mode, options, data, op, path);
        return;
      }
      requireFile(existing.mode, op, path);
      if (data.length === 0) return;
      if (!Number.isSafeInteger(existing.size + data.length)) throw fsError("EFBIG", op, path);
      const content = this.#contentForHandle(existing.ino, op, path);
      this.#writeAt(existing.ino, content, content.size, data);
    });
  }

  /**
   * Copy the regular file `from` over `to` (content and permission bits)
   * inside the database: the bytes never pass through JavaScript. Copying a
   * file onto itself (or another of its names) changes nothing.
   */
  // deno-lint-ignore require-await
  async copyFile(from: string, to: string): Promise<void> {
    const op = "copyfile";
    this.#write(op, from, () => {
      const source = this.#resolve(from, op, from, to);
      requireFile(source.mode, op, from, to);
      if (to === "/") throw fsError("EISDIR", op, from, { dest: to });
      const dst = this.#resolveSlot(to, op, from, to);
      const perms = source.mode & 0o7777;
      let ino: number;
      if (dst.existing !== undefined) {
        if (dst.existing.ino === source.ino) return;
        requireFile(dst.existing.mode, op, from, to);
        ino = dst.existing.ino;
        this.#q("DELETE FROM chunks WHERE ino = ?").run(ino);
      } else {
        checkName(dst.name, op, to);
        ino = this.#createNode(
          dst.parent,
          dst.name,
          S_IFREG | perms,
          undefined,
          0,
          null,
          source.size,
          null,
          op,
          to,
        );
      }
      // The copy takes the source's form: its inline bytes, or its chunks.
      const t = now();
      this.#q(
        `UPDATE inodes SET size = ?, mode = ?, mtime = ?, ctime = ?,
           data = (SELECT s.data FROM inodes s WHERE s.ino = ?) WHERE ino = ?`,
      ).run(source.size, S_IFREG | perms, t, t, source.ino, ino);
      this.#q("INSERT INTO chunks (ino, idx, data) SELECT ?, idx, data FROM chunks WHERE ino = ?")
        .run(ino, source.ino);
    }, to);
  }

  /** Create a symlink at `path` holding `target` verbatim (errors name `target -> path`, as Deno's do). */
  // deno-lint-ignore require-await
  async symlink(
    target: string,
    path: string,
    options?: Omit<CreateOptions, "mode">,
  ): Promise<void> {
    const op = "symlink";
    if (typeof target !== "string") {
      throw fsError("EINVAL", op, path, { reason: "target must be a string" });
    }
    if (target === "") throw fsError("ENOENT", op, target, { dest: path });
    if (target.includes("\0")) {
      throw fsError("EINVAL", op, target.replaceAll("\0", "\\0"), {
        dest: path,
        reason: "target contains a NUL byte",
      });
    }
    const size = utf8Length(target);
    if (size > MAX_TARGET) throw fsError("ENAMETOOLONG", op, target, { dest: path });
    if (path === "/") throw fsError("EEXIST", op, target, { dest: path });
    this.#write(op, path, () => {
      const slot = this.#resolveSlot(path, op, target, path);
      checkName(slot.name, op, path);
      if (slot.existing !== undefined) throw fsError("EEXIST", op, target, { dest: path });
      this.#createNode(
        slot.parent,
        slot.name,
        S_IFLNK | 0o777,
        options,
        0,
        target,
        size,
        null,
        op,
        path,
      );
    });
  }

  /** The target stored in the symlink at `path`; `EINVAL` for anything else. */
  // deno-lint-ignore require-await
  async readLink(path: string): Promise<string> {
    return this.#read("readlink", path, () => {
      const row = this.#resolve(path, "readlink");
      if ((row.mode & S_IFMT) !== S_IFLNK) throw fsError("EINVAL", "readlink", path);
      return row.target ?? "";
    });
  }

  /** Add the name `newPath` for the non-directory at `existing`. */
  // deno-lint-ignore require-await
  async link(existing: string, newPath: string): Promise<void> {
    const op = "link";
    this.#write(op, existing, () => {
      const source = this.#resolve(existing, op, existing, newPath);
      if (newPath === "/") throw fsError("EEXIST", op, existing, { dest: newPath });
      const slot = this.#resolveSlot(newPath, op, existing, newPath);
      checkName(slot.name, op, newPath);
      if (slot.existing !== undefined) throw fsError("EEXIST", op, existing, { dest: newPath });
      if (isDir(source.mode)) {
        throw fsError("EPERM", op, existing, {
          dest: newPath,
          reason: "directories cannot be hard-linked",
        });
      }
      if (source.nlink >= LINK_MAX) throw fsError("EMLINK", op, existing, { dest: newPath });
      const t = now();
      this.#q("INSERT INTO entries (parent, name, ino) VALUES (?, ?, ?)").run(
        slot.parent,
        slot.name,
        source.ino,
      );
      this.#touchNamed(source.ino, slot.parent, t, 1);
      this.#touchDir(slot.parent, t, 0, 1);
    }, newPath);
  }

  /** Set the permission bits of the entry at `path`. */
  // deno-lint-ignore require-await
  async chmod(path: string, mode: number): Promise<void> {
    if (!Number.isInteger(mode)) {
      throw fsError("EINVAL", "chmod", path, { reason: `bad mode ${mode}` });
    }
    this.#write("chmod", path, () => {
      const found = this.#resolve(path, "chmod");
      this.#q("UPDATE inodes SET mode = ?, ctime = ? WHERE ino = ?").run(
        (found.mode & S_IFMT) | (mode & 0o7777),
        now(),
        found.ino,
      );
    });
  }

  /**
   * Set owner and/or group (`null` keeps one). As on Linux, this clears the
   * set-user-ID bit of a non-directory, and its set-group-ID bit when it is
   * group-executable.
   */
  // deno-lint-ignore require-await
  async chown(path: string, uid: number | null, gid: number | null): Promise<void> {
    if ((uid !== null && !isId(uid)) || (gid !== null && !isId(gid))) {
      throw fsError("EINVAL", "chown", path, { reason: `bad owner ${uid}:${gid}` });
    }
    this.#write("chown", path, () => {
      const found = this.#resolve(path, "chown");
      let mode = found.mode;
      if (!isDir(mode)) {
        mode &= ~0o4000;
        if (mode & 0o010) mode &= ~0o2000;
      }
      this.#q(
        "UPDATE inodes SET uid = coalesce(?, uid), gid = coalesce(?, gid), mode = ?, ctime = ? WHERE ino = ?",
      ).run(uid, gid, mode, now(), found.ino);
    });
  }

  /** Set access and/or modification time (ms since epoch; `null` keeps one); ctime becomes now. */
  // deno-lint-ignore require-await
  async utime(path: string, atimeMs: number | null, mtimeMs: number | null): Promise<void> {
    if (
      (atimeMs !== null && !Number.isFinite(atimeMs)) ||
      (mtimeMs !== null && !Number.isFinite(mtimeMs))
    ) {
      throw fsError("EINVAL", "utime", path, { reason: `bad times ${atimeMs}, ${mtimeMs}` });
    }
    this.#write("utime", path, () => {
      const found = this.#resolve(path, "utime");
      this.#q(
        "UPDATE inodes SET atime = coalesce(?, atime), mtime = coalesce(?, mtime), ctime = ? WHERE ino = ?",
      ).run(atimeMs, mtimeMs, now(), found.ino);
    });
  }

  /** Make every completed write durable (a synced commit; see {@linkcode SqliteBackendOptions.durability}). */
  // deno-lint-ignore require-await
  async sync(): Promise<void> {
    this.#durable("sync", "");
  }

  /** Make completed writes to `path` durable (the whole database is synced); `ENOENT` when it is missing. */
  // deno-lint-ignore require-await
  async fsync(path: string): Promise<void> {
    this.#read("fsync", path, () => this.#resolve(path, "fsync"));
    this.#durable("fsync", path);
  }

  /**
   * Usage figures: bytes are the database pages in use, inodes the rows of
   * the inode table (unlinked files still open included).
   *
   * Capacity: a file database grows into the free space of the disk that
   * holds it, so with `--allow-sys=statfs` the available bytes are that
   * disk's (as `statfs(2)` reports them to an unprivileged user) plus the
   * database's own free pages, and the total is used + available — what
   * `df` on a mounted drive then shows, and what installers that check free
   * space see. Without that permission (and for an in-memory database) there
   * is no capacity of its own: totals are 0 ("unlimited") and the available
   * figures are `Number.MAX_SAFE_INTEGER`, as for an unlimited
   * MemoryBackend. Inodes are never limited. Put a `Quota` in front for
   * limits of your own.
   */
  // deno-lint-ignore require-await
  async statfs(): Promise<StatFs> {
    return this.#read("statfs", "", () => {
      const pragma = (name: string) =>
        Number((this.#q(`PRAGMA ${name}`).get() as Record<string, number>)[name]);
      const pageSize = pragma("page_size");
      const freePages = pragma("freelist_count");
      const used = (pragma("page_count") - freePages) * pageSize;
      const inodes = Number((this.#q("SELECT count(*) AS n FROM inodes").get() as { n: number }).n);
      const disk = this.#shared ? hostAvailableBytes(this.location) : undefined;
      const available = disk === undefined ? undefined : disk + freePages * pageSize;
      return {
        totalBytes: available === undefined ? 0 : used + available,
        usedBytes: used,
        availableBytes: available ?? UNLIMITED,
        totalInodes: 0,
        usedInodes: inodes,
        availableInodes: UNLIMITED,
        blockSize: 4096,
        maxNameLength: NAME_MAX,
      };
    });
  }

  /** Metadata by inode number, also of an unlinked inode that is still open. */
  // deno-lint-ignore require-await
  async statIno(ino: number): Promise<Metadata> {
    return this.#read("stat", `#${ino}`, () => {
      const meta = Number.isSafeInteger(ino) ? this.#inodeMetadata(ino) : undefined;
      if (meta === undefined) throw fsError("ENOENT", "stat", `#${ino}`);
      return meta;
    });
  }

  /**
   * One current path of inode `ino`; `ENOENT` when it has no name any more.
   * Each level costs a scan of one directory's entries (there is no index
   * by inode: it would slow every create); a hard-linked inode whose most
   * recent name was removed costs a scan of all entries.
   */
  // deno-lint-ignore require-await
  async inodePath(ino: number): Promise<string> {
    const op = "stat";
    return this.#read(op, `#${ino}`, () =>
      this.#snapshot(op, `#${ino}`, () => {
        if (ino === ROOT_INO) return "/";
        const names: string[] = [];
        const seen = new Set<number>();
        for (let current = ino; current !== ROOT_INO;) {
          const row = Number.isSafeInteger(current) ? this.#inode(current) : undefined;
          if (row === undefined || row.nlink === 0 || seen.has(current)) {
            throw fsError("ENOENT", op, `#${ino}`);
          }
          seen.add(current);
          const link = (this.#q(
            "SELECT parent, name FROM entries WHERE parent = ? AND ino = ? ORDER BY name LIMIT 1",
          ).get(row.parent, current) ??
            this.#q(
              "SELECT parent, name FROM entries WHERE ino = ? ORDER BY parent, name LIMIT 1",
            ).get(current)) as { parent: number; name: string } | undefined;
          if (link === undefined) throw fsError("ENOENT", op, `#${ino}`);
          names.push(link.name);
          current = link.parent;
        }
        return "/" + names.reverse().join("/");
      }));
  }

  /**
   * Open the file at `path`. A directory can be opened for reading only
   * (its reads fail with `EISDIR`). `truncate` needs `write` or `append`
   * and at least one access mode is needed (`EINVAL` otherwise).
   */
  // deno-lint-ignore require-await
  async open(path: string, options: OpenOptions): Promise<FileHandle> {
    const op = "open";
    const append = options.append === true;
    const writable = append || options.write === true;
    let readable = options.read ?? !writable;
    if (!readable && !writable) {
      throw fsError("EINVAL", op, path, { reason: "open needs read, write or append" });
    }
    if (options.truncate && !writable) {
      throw fsError("EINVAL", op, path, { reason: "truncate needs write or append" });
    }
    const createNew = options.createNew === true;
    const create = createNew || options.create === true;
    const body = (hold: boolean) => {
      let existing: NodeFacts | undefined;
      const claim = create ? this.#claimName(path) : undefined;
      if (claim !== undefined) {
        const mode = S_IFREG | ((options.mode ?? 0o644) & 0o7777);
        const { parent, name, ino } = claim;
        this.#createNode(parent, name, mode, options, 0, null, 0, EMPTY, op, path, ino);
        if (hold) this.#hold(ino);
        return ino;
      }
      if (path === "/") {
        existing = this.#resolve(path, op);
      } else {
        const slot = this.#resolveSlot(path, op);
        existing = slot.existing;
        if (existing === undefined) {
          if (!create) throw missing(slot.name, op, path);
          checkName(slot.name, op, path);
          const mode = S_IFREG | ((options.mode ?? 0o644) & 0o7777);
          const ino = this.#createNode(
            slot.parent,
            slot.name,
            mode,
            options,
            0,
            null,
            0,
            EMPTY,
            op,
            path,
          );
          if (hold) this.#hold(ino);
          return ino;
        }
      }
      if (createNew) throw fsError("EEXIST", op, path);
      if (isDir(existing.mode)) {
        // Linux: O_CREAT on an existing directory is EISDIR too.
        if (writable || options.create) throw fsError("EISDIR", op, path);
        readable = true;
      } else {
        requireFile(existing.mode, op, path);
        if (options.truncate) {
          // O_TRUNC marks the times even when the file is already empty.
          this.#resize(existing.ino, existing.size, 0);
          this.#touchModified(existing.ino, 0);
        }
      }
      if (hold) this.#hold(existing.ino);
      return existing.ino;
    };
    // Opening writes only when it must: to create, truncate or register a
    // hold. On a read-only database, asking for write access is EROFS.
    const changes = create || writable;
    const holds = this.#shared && !this.#readOnly;
    let ino: number;
    if (changes) {
      ino = this.#write(op, path, () => body(holds));
    } else if (!holds) {
      ino = this.#read(op, path, () => body(false));
    } else {
      // This session's row already keeps other processes from freeing an
      // inode it held before: then a read finds it, and nothing is written.
      const seen = this.#read(op, path, () => body(false));
      ino = this.#registered.has(seen) ? seen : this.#write(op, path, () => body(true));
    }
    if (holds) this.#registered.add(ino); // committed by now
    this.#opens.set(ino, (this.#opens.get(ino) ?? 0) + 1);
    const handle: SqliteFileHandle = new SqliteFileHandle(
      { ...this.#host, release: (i) => this.#forget(handle, i) },
      ino,
      path,
      { read: readable, write: writable, append },
    );
    this.#handles.add(handle);
    return handle;
  }

  /** Register this backend's first handle on `ino` where other processes can see it. */
  #hold(ino: number): void {
    if (!this.#registered.has(ino)) {
      this.#q("INSERT OR IGNORE INTO holders (ino, session) VALUES (?, ?)").run(ino, this.#session);
    }
  }

  #forget(handle: SqliteFileHandle, ino: number): void {
    this.#handles.delete(handle);
    this.#release(ino);
  }

  /** The value of attribute `name`; `ENODATA` when it is not set. */
  // deno-lint-ignore require-await
  async getXattr(path: string, name: string): Promise<Uint8Array> {
    const op = "getxattr";
    checkXattrName(name, op, path);
    return this.#read(op, path, () => {
      const found = this.#resolve(path, op);
      const row = this.#q("SELECT value FROM xattrs WHERE ino = ? AND name = ?").get(
        found.ino,
        name,
      ) as { value: Uint8Array } | undefined;
      if (row === undefined) throw fsError("ENODATA", op, path, { reason: name });
      return row.value;
    });
  }

  /**
   * Set attribute `name` to a copy of `value`. Any name of 1 to 255 bytes
   * is accepted (no namespace prefix is required); values are at most 64 KiB
   * (`E2BIG`). Symlinks and special files can carry attributes too.
   */
  // deno-lint-ignore require-await
  async setXattr(
    path: string,
    name: string,
    value: Uint8Array,
    options?: SetXattrOptions,
  ): Promise<void> {
    const op = "setxattr";
    checkXattrName(name, op, path);
    if (!(value instanceof Uint8Array)) {
      throw fsError("EINVAL", op, path, { reason: "value must be a Uint8Array" });
    }
    if (value.length > XATTR_SIZE_MAX) {
      throw fsError("E2BIG", op, path, {
        reason: `attribute values are at most ${XATTR_SIZE_MAX} bytes`,
        limit: XATTR_SIZE_MAX,
        requested: value.length,
      });
    }
    this.#write(op, path, () => {
      const found = this.#resolve(path, op);
      const exists = this.#q("SELECT 1 FROM xattrs WHERE ino = ? AND name = ?").get(
        found.ino,
        name,
      ) !== undefined;
      if (exists && options?.create) throw fsError("EEXIST", op, path, { reason: name });
      if (!exists && options?.replace) throw fsError("ENODATA", op, path, { reason: name });
      this.#q(
        "INSERT INTO xattrs (ino, name, value) VALUES (?, ?, ?) ON CONFLICT (ino, name) DO UPDATE SET value = excluded.value",
      ).run(found.ino, name, value);
      this.#touchChanged(found.ino, now());
    });
  }

  /** The attribute names of the entry at `path`, sorted (UTF-16 code unit order). */
  // deno-lint-ignore require-await
  async listXattr(path: string): Promise<string[]> {
    return this.#read("listxattr", path, () => {
      const found = this.#resolve(path, "listxattr");
      const rows = this.#q("SELECT name FROM xattrs WHERE ino = ? ORDER BY name").all(
        found.ino,
      ) as { name: string }[];
      return rows.map((r) => r.name);
    });
  }

  /** Remove attribute `name`; `ENODATA` when it is not set. */
  // deno-lint-ignore require-await
  async removeXattr(path: string, name: string): Promise<void> {
    const op = "removexattr";
    checkXattrName(name, op, path);
    this.#write(op, path, () => {
      const found = this.#resolve(path, op);
      const result = this.#q("DELETE FROM xattrs WHERE ino = ? AND name = ?").run(found.ino, name);
      if (Number(result.changes) === 0) throw fsError("ENODATA", op, path, { reason: name });
      this.#touchChanged(found.ino, now());
    });
  }

  /**
   * Create a node whose type is given by the `S_IFMT` bits of `mode`: a
   * FIFO, socket, character or block device (with `rdev`), or a regular
   * file (`S_IFREG` or no type bits). `S_IFDIR` gives `EPERM`, any other
   * type `EINVAL`, as `mknod(2)` does.
   */
  // deno-lint-ignore require-await
  async mknod(
    path: string,
    mode: number,
    rdev: number,
    options?: Omit<CreateOptions, "mode">,
  ): Promise<void> {
    const op = "mknod";
    if (!Number.isInteger(mode) || badLength(rdev)) {
      throw fsError("EINVAL", op, path, { reason: `bad mode ${mode} or rdev ${rdev}` });
    }
    const typeBits = mode & S_IFMT;
    if (typeBits === S_IFDIR) {
      throw fsError("EPERM", op, path, { reason: "use mkdir to create directories" });
    }
    const type = typeBits === 0 ? "file" : fileTypeOfMode(mode);
    if (type === undefined || type === "symlink") {
      throw fsError("EINVAL", op, path, { reason: `bad file type in mode ${mode.toString(8)}` });
    }
    if (path === "/") throw fsError("EEXIST", op, path);
    const fullMode = (typeBits === 0 ? S_IFREG : typeBits) | (mode & 0o7777);
    const device = type === "chardev" || type === "blockdev" ? rdev : 0;
    this.#write(op, path, () => {
      const slot = this.#resolveSlot(path, op);
      checkName(slot.name, op, path);
      if (slot.existing !== undefined) throw fsError("EEXIST", op, path);
      const inline = isRegular(fullMode) ? EMPTY : null;
      this.#createNode(
        slot.parent,
        slot.name,
        fullMode,
        options,
        device,
        null,
        0,
        inline,
        op,
        path,
      );
    });
  }

  /**
   * Run SQLite's `PRAGMA integrity_check` and return its findings (`["ok"]`
   * when the database is sound). For tests and repair tools.
   */
  integrityCheck(): string[] {
    return this.#read("integrity_check", "", () => {
      const rows = this.#db.prepare("PRAGMA integrity_check").all() as {
        integrity_check: string;
      }[];
      return rows.map((r) => r.integrity_check);
    });
  }
}

/**
 * Bytes `[from, to)` of a stored chunk, which may be missing or shorter
 * (the rest reads as zeros). A chunk that covers the range is SQLite's own
 * fresh copy and is handed out without copying again.
 */
function sliceChunk(data: Uint8Array | null, from: number, to: number): Uint8Array {
  if (data !== null && data.length >= to) return data.subarray(from, to);
  const out = new Uint8Array(to - from);
  if (data !== null && data.length > from) out.set(data.subarray(from));
  return out;
}

/** A file's first chunk as its whole content of `size` bytes (`size` ≤ the chunk size). */
function fitted(head: Uint8Array | null, size: number): Uint8Array {
  if (head !== null && head.length === size) return head;
  return sliceChunk(head, 0, size);
}

/** `EINVAL`/`ERANGE` checks Linux applies to an attribute name. */
function checkXattrName(name: string, operation: string, path: string): void {
  if (typeof name !== "string") {
    throw fsError("EINVAL", operation, path, { reason: "attribute name must be a string" });
  }
  if (name.includes("\0")) {
    throw fsError("EINVAL", operation, path, { reason: "attribute name contains a NUL byte" });
  }
  const bytes = utf8Length(name);
  if (bytes === 0 || bytes > XATTR_NAME_MAX) {
    throw fsError("ERANGE", operation, path, {
      reason: `attribute names are 1 to ${XATTR_NAME_MAX} bytes`,
    });
  }
}

/** The default owner from options, checked, or the process's own ids. */
function owner(options: { uid?: number; gid?: number }, file: string) {
  for (const key of ["uid", "gid"] as const) {
    if (options[key] !== undefined && !isId(options[key])) {
      throw fsError("EINVAL", "open", file, {
        reason: `${key} must be an integer from 0 to ${MAX_ID}, got ${options[key]}`,
      });
    }
  }
  return { uid: options.uid ?? defaultId("uid"), gid: options.gid ?? defaultId("gid") };
}

/** `EACCES` naming the flag when Deno would refuse to open the file. */
/**
 * Bytes an unprivileged user may still write on the file system holding
 * `file`, or `undefined` when Deno's permissions do not allow asking
 * (`--allow-sys=statfs`) or the host cannot tell. Asked without a prompt:
 * a statfs call must never stop a mount to wait for a yes.
 */
function hostAvailableBytes(file: string): number | undefined {
  if (Deno.permissions.querySync({ name: "sys", kind: "statfs" }).state !== "granted") {
    return undefined;
  }
  try {
    return statFsOf(statfsSync(file)).availableBytes;
  } catch {
    // The file's directory vanished or the host refused: report no capacity
    // rather than fail a df.
    return undefined;
  }
}

function checkPermissions(file: string, readOnly: boolean): void {
  const missing: string[] = [];
  if (Deno.permissions.querySync({ name: "read", path: file }).state !== "granted") {
    missing.push(`--allow-read=${file}`);
  }
  if (!readOnly && Deno.permissions.querySync({ name: "write", path: file }).state !== "granted") {
    missing.push(`--allow-write=${file}`);
  }
  if (missing.length) {
    throw fsError("EACCES", "open", file, {
      reason: `SqliteBackend needs access to its database file: run again with ${
        missing.join(" ")
      }`,
    });
  }
}

/** `EINVAL` for a database that is neither empty nor ours, before anything touches it. */
function refuseForeign(db: DatabaseSync, file: string): void {
  const state = inspectSchema(db);
  if (state.kind === "foreign") {
    throw fsError("EINVAL", "open", file, { reason: `not an AnyFS database: ${state.reason}` });
  }
}

/**
 * Create or migrate the schema, or refuse a database that is not ours.
 * Without `upgrade`, an existing database of an older format is refused
 * with `EBUSY` instead of migrated: the caller is not its only user, and the
 * other one may be an older AnyFS, which would keep writing the old format
 * into the new one (for version 3: chunks of a file whose bytes are inline,
 * which reads would then ignore).
 */
function prepareSchema(
  db: DatabaseSync,
  file: string,
  readOnly: boolean,
  owner: { uid: number; gid: number },
  upgrade: boolean,
): void {
  const state = inspectSchema(db);
  if (state.kind === "foreign") {
    throw fsError("EINVAL", "open", file, { reason: `not an AnyFS database: ${state.reason}` });
  }
  const version = state.kind === "anyfs" ? state.version : 0;
  if (version > SCHEMA_VERSION) {
    throw fsError("ENOTSUP", "open", file, {
      reason:
        `the database has format version ${version}, newer than the ${SCHEMA_VERSION} this AnyFS understands; upgrade @anyfs/anyfs`,
    });
  }
  if (version < SCHEMA_VERSION) {
    if (readOnly) {
      throw fsError("EROFS", "open", file, {
        reason: version === 0
          ? "the database is empty and cannot be initialised read-only"
          : `format version ${version} needs migrating to ${SCHEMA_VERSION}; open it writable once`,
      });
    }
    db.exec("BEGIN IMMEDIATE");
    try {
      // Another process may have migrated while we waited for the lock.
      const again = inspectSchema(db);
      const current = again.kind === "anyfs" ? again.version : 0;
      if (current > 0 && current < SCHEMA_VERSION && !upgrade) {
        throw fsError("EBUSY", "open", file, {
          reason:
            `the database has format version ${current}, and another process (an older AnyFS?) has it open; it is upgraded to version ${SCHEMA_VERSION} when opened while no other process uses it`,
        });
      }
      if (current < SCHEMA_VERSION) migrate(db, current, { now: now(), ...owner });
      db.exec("COMMIT");
    } catch (e) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw e;
    }
  }
  const chunkSize = storedChunkSize(db);
  if (chunkSize !== CHUNK_SIZE) {
    throw fsError("ENOTSUP", "open", file, {
      reason: `the database stores ${chunkSize}-byte chunks; this AnyFS uses ${CHUNK_SIZE}`,
    });
  }
}

/**
 * If no other connection has the database open, bring the schema up to
 * date and remove what a crashed process left: unlinked inodes that only its
 * open handles kept, and its handle registrations. With another user
 * present nothing is removed — its handles may still need those inodes.
 *
 * Being alone is tested by taking SQLite's exclusive locking mode on a
 * throw-away connection without waiting: that fails at once while any other
 * connection, in any process, has the database open.
 */
function cleanUpAlone(file: string, owner: { uid: number; gid: number }): void {
  let probe: DatabaseSync;
  try {
    probe = new DatabaseSync(file, { timeout: 0 });
  } catch (e) {
    throw sqliteError(e, "open", file);
  }
  try {
    probe.exec("PRAGMA locking_mode = EXCLUSIVE");
    try {
      probe.exec("BEGIN IMMEDIATE");
    } catch (e) {
      if (sqliteError(e, "open", file).code === "EBUSY") return;
      throw e;
    }
    try {
      refuseForeign(probe, file);
    } finally {
      probe.exec("ROLLBACK");
    }
    probe.exec("PRAGMA journal_mode = WAL");
    prepareSchema(probe, file, false, owner, true);
    probe.exec("BEGIN IMMEDIATE");
    probe.exec(`
      DELETE FROM holders;
      UPDATE meta SET value = max(value, coalesce((SELECT max(ino) FROM inodes), 0))
        WHERE key = 'ino_floor';
      DELETE FROM chunks WHERE ino IN (SELECT ino FROM inodes WHERE nlink <= 0);
      DELETE FROM xattrs WHERE ino IN (SELECT ino FROM inodes WHERE nlink <= 0);
      DELETE FROM inodes WHERE nlink <= 0;
    `);
    probe.exec("COMMIT");
  } catch (e) {
    throw sqliteError(e, "open", file);
  } finally {
    probe.close();
  }
}
