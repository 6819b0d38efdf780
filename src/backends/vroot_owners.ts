/**
 * The sidecar store of {@linkcode VRootFsBackend}'s virtual ownership:
 * the mode, owner and group callers see, kept apart from the host files'
 * own, after microsandbox's PassthroughFs (which uses an extended
 * attribute; Deno has no call for those, so this is a database).
 *
 * One SQLite database (`node:sqlite`, WAL mode: a crash never leaves a
 * half-written record) in a reserved directory at the top of the root,
 * keyed by the host inode (device and inode number), so records follow
 * renames and are shared by hard links. Inode numbers are reused once a
 * file is gone: the backend drops a record when it removes the last name
 * of an inode, and each record also carries the inode's birth time, so a
 * record left behind by a file deleted on the host directly is not applied
 * to a new file that got the same number (unless the host cannot tell
 * birth times, or both were born in the same millisecond).
 *
 * Internal to {@linkcode VRootFsBackend}; nothing here is exported from
 * `mod.ts`.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";

/** The name reserved at the top of the root for the store's directory. */
export const RESERVED_NAME = ".anyfs-vroot";
/** The database file inside the reserved directory. */
export const STORE_FILE = "owners.db";

/** What the store keeps for one inode. */
export interface VirtualOwner {
  /** Permission bits (`0o7777`). */
  mode: number;
  /** Owner. */
  uid: number;
  /** Group. */
  gid: number;
}

/** The identity of an inode as the host reports it. */
export interface InodeKey {
  /** Device. */
  dev: number;
  /** Inode number. */
  ino: number | null;
  /** Birth time (null where the host does not report one). */
  birthtime: Date | null;
}

const SCHEMA_VERSION = 1;

function born(key: InodeKey): number {
  return key.birthtime === null ? 0 : key.birthtime.getTime();
}

/** The sidecar ownership database (see the module documentation). */
export class OwnerStore {
  #db: DatabaseSync;
  #get: StatementSync;
  #put: StatementSync;
  #drop: StatementSync;

  private constructor(db: DatabaseSync) {
    this.#db = db;
    this.#get = db.prepare("SELECT btime, mode, uid, gid FROM owners WHERE dev = ? AND ino = ?");
    this.#put = db.prepare(
      "INSERT INTO owners (dev, ino, btime, mode, uid, gid) VALUES (?, ?, ?, ?, ?, ?) " +
        "ON CONFLICT (dev, ino) DO UPDATE SET btime = excluded.btime, mode = excluded.mode, " +
        "uid = excluded.uid, gid = excluded.gid",
    );
    this.#drop = db.prepare("DELETE FROM owners WHERE dev = ? AND ino = ?");
  }

  /** Open (creating when missing) the database at `file`. */
  static open(file: string): OwnerStore {
    const db = new DatabaseSync(file);
    try {
      db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000");
      const version = (db.prepare("PRAGMA user_version").get() as { user_version: number })
        .user_version;
      if (version === 0) {
        db.exec(
          "CREATE TABLE IF NOT EXISTS owners (dev INTEGER NOT NULL, ino INTEGER NOT NULL, " +
            "btime REAL NOT NULL, mode INTEGER NOT NULL, uid INTEGER NOT NULL, " +
            "gid INTEGER NOT NULL, PRIMARY KEY (dev, ino)) WITHOUT ROWID;" +
            `PRAGMA user_version = ${SCHEMA_VERSION}`,
        );
      } else if (version !== SCHEMA_VERSION) {
        throw new Error(`unknown ownership store version ${version} in ${file}`);
      }
      return new OwnerStore(db);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /** The record of `key`'s inode, unless there is none or it belongs to an earlier inode of that number. */
  get(key: InodeKey): VirtualOwner | undefined {
    if (key.ino === null) return undefined;
    const row = this.#get.get(key.dev, key.ino) as
      | { btime: number; mode: number; uid: number; gid: number }
      | undefined;
    if (row === undefined || row.btime !== born(key)) return undefined;
    return { mode: row.mode, uid: row.uid, gid: row.gid };
  }

  /** Store `owner` for `key`'s inode. */
  set(key: InodeKey, owner: VirtualOwner): void {
    if (key.ino === null) return;
    this.#put.run(key.dev, key.ino, born(key), owner.mode & 0o7777, owner.uid, owner.gid);
  }

  /** Forget `key`'s inode (its last name is gone). */
  delete(key: InodeKey): void {
    if (key.ino === null) return;
    this.#drop.run(key.dev, key.ino);
  }

  /** Make every record durable (a full checkpoint of the write-ahead log). */
  checkpoint(): void {
    this.#db.exec("PRAGMA wal_checkpoint(FULL)");
  }

  /** Close the database. */
  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
