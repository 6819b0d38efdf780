/**
 * Plain data types shared by every backend, middleware and the mount:
 * file types, metadata, directory entries, permissions and statfs.
 *
 * @module
 */

/**
 * The type of a file system node.
 *
 * `"fifo"`, `"socket"`, `"chardev"` and `"blockdev"` exist only in backends
 * that can store special files (see the `special` capability).
 */
export type FileType =
  | "file"
  | "dir"
  | "symlink"
  | "fifo"
  | "socket"
  | "chardev"
  | "blockdev";

/** The `S_IFMT` mask of a mode: the bits that hold the file type. */
export const S_IFMT = 0o170000;
/** Mode type bits of a regular file. */
export const S_IFREG = 0o100000;
/** Mode type bits of a directory. */
export const S_IFDIR = 0o040000;
/** Mode type bits of a symbolic link. */
export const S_IFLNK = 0o120000;
/** Mode type bits of a named pipe. */
export const S_IFIFO = 0o010000;
/** Mode type bits of a socket. */
export const S_IFSOCK = 0o140000;
/** Mode type bits of a character device. */
export const S_IFCHR = 0o020000;
/** Mode type bits of a block device. */
export const S_IFBLK = 0o060000;

const TYPE_BITS: Readonly<Record<FileType, number>> = {
  file: S_IFREG,
  dir: S_IFDIR,
  symlink: S_IFLNK,
  fifo: S_IFIFO,
  socket: S_IFSOCK,
  chardev: S_IFCHR,
  blockdev: S_IFBLK,
};

/**
 * The `S_IFMT` type bits for a file type.
 *
 * @example
 * ```ts
 * import { typeBits } from "@anyfs/anyfs";
 * console.log((typeBits("dir") | 0o755).toString(8)); // "40755"
 * ```
 */
export function typeBits(type: FileType): number {
  return TYPE_BITS[type];
}

/**
 * The file type encoded in a mode's `S_IFMT` bits, or `undefined` for a mode
 * without valid type bits.
 *
 * @example
 * ```ts
 * import { fileTypeOfMode } from "@anyfs/anyfs";
 * console.log(fileTypeOfMode(0o100644)); // "file"
 * ```
 */
export function fileTypeOfMode(mode: number): FileType | undefined {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return "file";
    case S_IFDIR:
      return "dir";
    case S_IFLNK:
      return "symlink";
    case S_IFIFO:
      return "fifo";
    case S_IFSOCK:
      return "socket";
    case S_IFCHR:
      return "chardev";
    case S_IFBLK:
      return "blockdev";
    default:
      return undefined;
  }
}

/**
 * What a backend knows about one node. Backends never follow symbolic links
 * when they produce it: the metadata of a symlink describes the link itself.
 *
 * Times are milliseconds since the Unix epoch and may carry a fraction
 * (sub-millisecond precision survives a round trip through the mount).
 */
export interface Metadata {
  /** The node's type; always agrees with the type bits of `mode`. */
  type: FileType;
  /** Inode number, stable for the life of the node; unique per backend. */
  ino: number;
  /** Full mode: `S_IFMT` type bits plus permission bits (incl. suid/sgid/sticky). */
  mode: number;
  /** Number of hard links (directories: 2 + number of subdirectories). */
  nlink: number;
  /** Owner user id. */
  uid: number;
  /** Owner group id. */
  gid: number;
  /** Size in bytes (a symlink: length of its target in bytes). */
  size: number;
  /** Number of 512-byte blocks allocated. */
  blocks: number;
  /** Device number for character and block devices, else 0. */
  rdev: number;
  /** Last access time (ms since epoch). */
  atimeMs: number;
  /** Last content modification time (ms since epoch). */
  mtimeMs: number;
  /** Last status change time (ms since epoch). */
  ctimeMs: number;
  /** Creation time (ms since epoch; 0 when unknown). */
  birthtimeMs: number;
}

/** One entry of a directory listing. `.` and `..` are never listed. */
export interface DirEntry {
  /** The entry's name (one path component). */
  name: string;
  /** The entry's type (the link itself for symlinks). */
  type: FileType;
  /** The entry's inode number. */
  ino: number;
}

/**
 * File system statistics, in bytes and inodes. A total of 0 means
 * "unlimited"; the mount then reports a large free figure.
 */
export interface StatFs {
  /** Total capacity in bytes (0 = unlimited). */
  totalBytes: number;
  /** Bytes in use. */
  usedBytes: number;
  /** Bytes still available to writers. */
  availableBytes: number;
  /** Total number of inodes (0 = unlimited). */
  totalInodes: number;
  /** Inodes in use. */
  usedInodes: number;
  /** Inodes still available. */
  availableInodes: number;
  /** Preferred block size. */
  blockSize: number;
  /** Longest file name in bytes. */
  maxNameLength: number;
}

/**
 * Unix permission bits with the helpers people reach for.
 *
 * @example
 * ```ts
 * import { Permissions } from "@anyfs/anyfs";
 * const p = Permissions.fromMode(0o100644);
 * console.log(p.mode.toString(8), p.toString(), p.readonly); // "644" "rw-r--r--" false
 * ```
 */
export class Permissions {
  /** Permission bits only (`0o7777` mask: rwx for user/group/other plus suid/sgid/sticky). */
  readonly mode: number;

  /** Wrap the permission bits of `mode` (type bits are dropped). */
  constructor(mode: number) {
    this.mode = mode & 0o7777;
  }

  /** Permissions from a full or partial mode. */
  static fromMode(mode: number): Permissions {
    return new Permissions(mode);
  }

  /** `0o644`, the default for new files. */
  static defaultFile(): Permissions {
    return new Permissions(0o644);
  }

  /** `0o755`, the default for new directories. */
  static defaultDir(): Permissions {
    return new Permissions(0o755);
  }

  /** True when nobody may write (no `w` bit set). */
  get readonly(): boolean {
    return (this.mode & 0o222) === 0;
  }

  /** The `ls -l` rendering, e.g. `rwxr-x--x`, with `s`/`t` for special bits. */
  toString(): string {
    const m = this.mode;
    const triplet = (shift: number, special: boolean, ch: string) => {
      const r = m & (4 << shift) ? "r" : "-";
      const w = m & (2 << shift) ? "w" : "-";
      const xBit = (m & (1 << shift)) !== 0;
      const x = special ? (xBit ? ch : ch.toUpperCase()) : (xBit ? "x" : "-");
      return r + w + x;
    };
    return triplet(6, (m & 0o4000) !== 0, "s") +
      triplet(3, (m & 0o2000) !== 0, "s") +
      triplet(0, (m & 0o1000) !== 0, "t");
  }
}
