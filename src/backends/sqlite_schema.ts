/**
 * The on-disk format of {@linkcode SqliteBackend}: tables, constants and the
 * migrations that bring an older database up to the current version.
 *
 * A database is recognised by its `PRAGMA application_id`
 * ({@linkcode SQLITE_APPLICATION_ID}); its format version is
 * `PRAGMA user_version`. Opening a database runs every migration whose
 * version is above the stored one, all in one transaction, and refuses a
 * database written by a newer AnyFS instead of guessing at its format.
 *
 * ## Tables (version 1)
 * - `meta(key, value)`: format facts such as the chunk size.
 * - `inodes`: one row per node — mode (type and permission bits), owner,
 *   link count, size (of a directory: `(2 + entries) * DIRENT_SIZE`, kept
 *   current by every change of its entries since version 2, so that a stat
 *   reads one row), times (ms since epoch, fractional), symlink target,
 *   device number, and `parent`: the directory of the node's most recent
 *   name, a hint for finding a path from an inode number. Root is inode 1.
 *   Inode numbers are never handed out twice (which keeps kernel caches
 *   behind a mount honest): a new inode gets one more than both the largest
 *   live number and `meta.ino_floor`, which records the largest number ever
 *   deleted while it was the largest. (`AUTOINCREMENT` would do the same
 *   but write its counter page on every create.)
 * - `entries(parent, name, ino)`: directory entries, unique on
 *   `(parent, name)` (the primary key is the lookup index). There is
 *   deliberately no index on `ino`: it would cost a page write on every
 *   create for the benefit of the rare inode-to-path query, which uses the
 *   `parent` hint instead.
 * - `chunks(ino, idx, data)`: the content of files that are not inline
 *   (see version 3), in blocks of {@linkcode CHUNK_SIZE} bytes; chunk `idx`
 *   holds bytes `[idx * CHUNK_SIZE, (idx + 1) * CHUNK_SIZE)`. A missing
 *   chunk, or the part of a chunk past its stored length, reads as zeros
 *   (sparse files). No chunk holds bytes past the file's size. It is a rowid
 *   table with a unique index on `(ino, idx)`: SQLite stores large BLOBs
 *   faster in rowid tables than in `WITHOUT ROWID` ones (measured 25–30 % on
 *   writes).
 * - `xattrs(ino, name, value)`: extended attributes.
 * - `holders(ino, session)`: inodes that an open handle of a live
 *   {@linkcode SqliteBackend} holds, so that another process never reaps an
 *   unlinked file that is still open elsewhere. A backend keeps its row
 *   after the last handle closes while the file has a name (so opening it
 *   again commits nothing), up to a bound. A backend that removes a file's
 *   last name while another's row keeps it adds one to
 *   `meta.held_unlinks` (an optional key, added on first use: no format
 *   change); a backend that sees the count change gives up its idle rows on
 *   files without names at its next write or handle close, freeing them.
 *   All of a backend's rows go at its close; rows of crashed processes are
 *   cleared when a backend opens the database alone.
 *
 * ## Version 3: inline content
 * `inodes` gains a last column, `data BLOB`. When it is not NULL, the
 * file's content is inline: bytes `[0, length(data))` are `data`, the rest
 * up to `size` reads as zeros, and the file has no rows in `chunks`. When it
 * is NULL (every node of a version-2 database, and every file that grew past
 * {@linkcode INLINE_MAX}) the content is in `chunks` as before. Inline data
 * is never longer than {@linkcode CHUNK_SIZE}, so it can always become
 * chunk 0. Why: creating a small file then writes its inode row (with the
 * bytes), its name and its directory's row — no chunk row, no chunk-index
 * entry — and reading it is one row.
 *
 * It is the last column on purpose: SQLite decodes a row's columns in
 * order and reads a long value's overflow pages only when that column is
 * asked for, so statements that read metadata never load the content.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";

/**
 * Bytes per content chunk. Range reads, positional writes and truncation
 * touch only the chunks they overlap. It is part of the format: a database
 * records the size it was created with and is refused if it differs.
 */
export const CHUNK_SIZE = 65536;

/**
 * Largest content (bytes) a write keeps inline in the file's inode row
 * (format version 3) instead of in chunks. A file is made inline when it is
 * created, replaced whole or truncated to at most this size, and moves to
 * chunks, in the same transaction, when a write would make its inline bytes
 * longer. It is a policy, not part of the format: any inline length up to
 * {@linkcode CHUNK_SIZE} reads correctly.
 */
export const INLINE_MAX = 4096;

/** `PRAGMA application_id` of an AnyFS database: "AnyF" in ASCII. */
export const SQLITE_APPLICATION_ID = 0x416e7946;

/** The inode number of the root directory. */
export const ROOT_INO = 1;

/**
 * Bytes a directory's size grows by per entry, as tmpfs counts it: an
 * empty directory has size `2 * DIRENT_SIZE` (for `.` and `..`).
 */
export const DIRENT_SIZE = 20;

/**
 * Settings of every writable connection to a file database, besides
 * `synchronous` (see `SqliteBackendOptions.durability`): WAL journaling;
 * a WAL that shrinks back to 64 MiB after a checkpoint instead of keeping
 * its high-water mark; a 16 MiB page cache.
 */
export const CONNECTION_PRAGMAS = `
  PRAGMA journal_mode = WAL;
  PRAGMA journal_size_limit = 67108864;
  PRAGMA cache_size = -16384;
`;

/** One step of the format's history: turns version `version - 1` into `version`. */
export interface Migration {
  /** The version this migration produces. */
  readonly version: number;
  /** What changes, for the log and for readers of this file. */
  readonly description: string;
  /** Apply the change; runs inside the opening transaction. */
  up(db: DatabaseSync, context: MigrationContext): void;
}

/** Values a migration may need to create initial rows. */
export interface MigrationContext {
  /** The current time, ms since epoch. */
  readonly now: number;
  /** Owner of the root directory when it is created. */
  readonly uid: number;
  /** Group of the root directory when it is created. */
  readonly gid: number;
}

/**
 * Every migration, oldest first; `MIGRATIONS[i].version === i + 1`. A new
 * format version appends one entry here and never edits an old one.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "inodes, directory entries, content chunks, xattrs, open-file holders",
    up(db, { now, uid, gid }) {
      db.exec(`
        CREATE TABLE meta (
          key TEXT PRIMARY KEY NOT NULL,
          value ANY
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE inodes (
          ino INTEGER PRIMARY KEY,
          mode INTEGER NOT NULL,
          uid INTEGER NOT NULL,
          gid INTEGER NOT NULL,
          nlink INTEGER NOT NULL,
          size INTEGER NOT NULL DEFAULT 0,
          atime REAL NOT NULL,
          mtime REAL NOT NULL,
          ctime REAL NOT NULL,
          btime REAL NOT NULL,
          rdev INTEGER NOT NULL DEFAULT 0,
          target TEXT,
          parent INTEGER NOT NULL DEFAULT 0
        ) STRICT;
        CREATE TABLE entries (
          parent INTEGER NOT NULL,
          name TEXT NOT NULL,
          ino INTEGER NOT NULL,
          PRIMARY KEY (parent, name)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE chunks (
          id INTEGER PRIMARY KEY,
          ino INTEGER NOT NULL,
          idx INTEGER NOT NULL,
          data BLOB NOT NULL
        ) STRICT;
        CREATE UNIQUE INDEX chunks_by_ino ON chunks (ino, idx);
        CREATE TABLE xattrs (
          ino INTEGER NOT NULL,
          name TEXT NOT NULL,
          value BLOB NOT NULL,
          PRIMARY KEY (ino, name)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE holders (
          ino INTEGER NOT NULL,
          session INTEGER NOT NULL,
          PRIMARY KEY (ino, session)
        ) STRICT, WITHOUT ROWID;
      `);
      db.prepare("INSERT INTO meta (key, value) VALUES (?, ?), (?, ?), (?, ?), (?, ?)").run(
        "chunk_size",
        CHUNK_SIZE,
        "created_ms",
        now,
        "sync_generation",
        0,
        "ino_floor",
        ROOT_INO,
      );
      db.prepare(
        `INSERT INTO inodes (ino, mode, uid, gid, nlink, size, atime, mtime, ctime, btime)
         VALUES (?, ?, ?, ?, 2, 0, ?, ?, ?, ?)`,
      ).run(ROOT_INO, 0o040755, uid, gid, now, now, now, now);
    },
  },
  {
    version: 2,
    description: "directories keep their size (entry count) in their inode row",
    up(db) {
      // Before: a directory's size was 0 in its row and its entries were
      // counted on every stat — O(entries), ~0.5 ms at 5,000 names, paid by
      // every create in a big directory that stats its parent first.
      db.exec(`
        UPDATE inodes
          SET size = (2 + (SELECT count(*) FROM entries WHERE parent = inodes.ino)) * ${DIRENT_SIZE}
          WHERE (mode & 0xf000) = 0x4000;
      `);
    },
  },
  {
    version: 3,
    description: "small files keep their content inline in their inode row",
    up(db) {
      // Existing files stay in chunks (data NULL) until rewritten: adding a
      // column is a change of the schema only, instant at any size.
      db.exec("ALTER TABLE inodes ADD COLUMN data BLOB");
    },
  },
];

/** The format version this code writes: the last migration's. */
export const SCHEMA_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1].version;

/** What {@linkcode inspectSchema} found in a database. */
export type SchemaState =
  | { kind: "empty" }
  | { kind: "anyfs"; version: number }
  | { kind: "foreign"; reason: string };

/**
 * Classify a database without changing it: empty (no tables), an AnyFS
 * database of some version, or something else that must not be touched.
 */
export function inspectSchema(db: DatabaseSync): SchemaState {
  const appId = Number(
    (db.prepare("PRAGMA application_id").get() as { application_id: number }).application_id,
  );
  const version = Number(
    (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version,
  );
  if (appId === SQLITE_APPLICATION_ID) return { kind: "anyfs", version };
  const tables = Number(
    (db.prepare("SELECT count(*) AS n FROM sqlite_schema").get() as { n: number }).n,
  );
  if (appId === 0 && version === 0 && tables === 0) return { kind: "empty" };
  return {
    kind: "foreign",
    reason: appId === 0
      ? "it is a SQLite database, but not one AnyFS created (no AnyFS application_id)"
      : `it is a SQLite database of another application (application_id 0x${
        (appId >>> 0).toString(16)
      })`,
  };
}

/**
 * Run the migrations from `fromVersion` up to {@linkcode SCHEMA_VERSION}.
 * The caller holds a write transaction, so a failure leaves the database
 * exactly as it was.
 */
export function migrate(db: DatabaseSync, fromVersion: number, context: MigrationContext): void {
  for (const migration of MIGRATIONS) {
    if (migration.version <= fromVersion) continue;
    migration.up(db, context);
    // PRAGMA arguments cannot be bound; the value is one of our own integers.
    db.exec(`PRAGMA user_version = ${migration.version}`);
  }
  db.exec(`PRAGMA application_id = ${SQLITE_APPLICATION_ID}`);
}

/** The chunk size a database records, or `undefined` when it records none. */
export function storedChunkSize(db: DatabaseSync): number | undefined {
  const row = db.prepare("SELECT value FROM meta WHERE key = 'chunk_size'").get() as
    | { value: number }
    | undefined;
  return row === undefined ? undefined : Number(row.value);
}
