/**
 * What the host-directory backends ({@linkcode StdFsBackend},
 * {@linkcode VRootFsBackend}) share: turning the host's errors into the
 * {@linkcode FsError} family (with the `--allow-*` flag to add when Deno's
 * permissions refuse), turning `Deno.FileInfo` into {@linkcode Metadata},
 * permission checks that never prompt, and the record of what changed since
 * the last `sync()`.
 *
 * Internal to the host backends; nothing here is exported from `mod.ts`.
 *
 * @module
 */

import { type FsError, fsError, toFsError } from "../core/errors.ts";
import {
  type FileType,
  fileTypeOfMode,
  type Metadata,
  type StatFs,
  typeBits,
} from "../core/types.ts";
import { childPath, isWithin, NAME_MAX } from "../core/path.ts";

/** The Deno permissions a host backend needs. */
export type HostPermission = "read" | "write";

/** Largest valid uid/gid (`(uid_t)-1` means "unchanged" in C, so it is not an id). */
export const MAX_ID = 0xfffffffe;

/** Whether `value` is a valid owner or group id. */
export function isId(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= MAX_ID;
}

/**
 * The flag to add for a `NotCapable` error, read from Deno's message
 * ("Requires read access to …", "Requires sys access to "statfs"", …).
 */
function missingFlag(message: string, root: string): string {
  const kind = /Requires (\w+) access/.exec(message)?.[1];
  switch (kind) {
    case "read":
    case "write":
      return `--allow-${kind}=${root}`;
    case "sys":
      return "--allow-sys=statfs";
    case "all":
      return "--allow-all";
    default:
      return kind ? `--allow-${kind}` : "the missing --allow-* flag";
  }
}

/**
 * A host failure as a member of the {@linkcode FsError} family, addressed
 * to the backend's own path (never the host path, which would tell a
 * sandboxed caller where the root lives).
 *
 * Deno's `NotCapable` (a permission flag is missing) becomes `EACCES` whose
 * message names the flag to add, e.g. `--allow-write=/srv/data`. Deno's
 * argument errors (`TypeError` without a code) become `EINVAL`, a closed
 * file `EBADF`; anything with a POSIX `code` keeps it.
 */
export function hostError(
  e: unknown,
  operation: string,
  path: string,
  root: string,
  dest?: string,
): FsError {
  const details = dest === undefined ? {} : { dest };
  if (e instanceof Deno.errors.NotCapable) {
    return fsError("EACCES", operation, path, {
      ...details,
      reason: `Deno's permissions refuse it: run again with ${missingFlag(e.message, root)}`,
      cause: e,
    });
  }
  const code = (e as { code?: unknown } | null)?.code;
  if (code === undefined) {
    if (e instanceof Deno.errors.BadResource) {
      return fsError("EBADF", operation, path, { ...details, cause: e });
    }
    if (e instanceof TypeError) {
      return fsError("EINVAL", operation, path, { ...details, reason: e.message, cause: e });
    }
    if (e instanceof Deno.errors.InvalidData) {
      // A host name that is not valid UTF-8 cannot be represented as a string.
      return fsError("EIO", operation, path, { ...details, reason: e.message, cause: e });
    }
  }
  return toFsError(e, operation, path, details);
}

/**
 * Whether Deno would let this process use `path` for `kind` without asking.
 * Asking first matters: a missing permission would otherwise prompt on a
 * terminal in the middle of a file operation.
 */
export function permitted(kind: HostPermission, path: string): boolean {
  return Deno.permissions.querySync({ name: kind, path }).state === "granted";
}

/** The `EACCES` to throw when {@linkcode permitted} says no. */
export function notPermitted(
  kind: HostPermission,
  operation: string,
  path: string,
  root: string,
  dest?: string,
): FsError {
  return fsError("EACCES", operation, path, {
    dest,
    reason: `Deno's permissions refuse it: run again with --allow-${kind}=${root}`,
  });
}

/** The file type Deno reports, falling back to the mode's type bits. */
export function typeOfInfo(info: Deno.FileInfo): FileType {
  if (info.isFile) return "file";
  if (info.isDirectory) return "dir";
  if (info.isSymlink) return "symlink";
  if (info.isFifo) return "fifo";
  if (info.isSocket) return "socket";
  if (info.isCharDevice) return "chardev";
  if (info.isBlockDevice) return "blockdev";
  return (info.mode !== null && fileTypeOfMode(info.mode)) || "file";
}

function time(date: Date | null): number {
  return date === null ? 0 : date.getTime();
}

/**
 * {@linkcode Metadata} from what the host reports. Times have the
 * millisecond precision of `Deno.FileInfo`.
 */
export function metadataOf(info: Deno.FileInfo): Metadata {
  const type = typeOfInfo(info);
  return {
    type,
    ino: info.ino ?? 0,
    mode: info.mode ?? (typeBits(type) | 0o644),
    nlink: info.nlink ?? 1,
    uid: info.uid ?? 0,
    gid: info.gid ?? 0,
    size: info.size,
    blocks: info.blocks ?? Math.ceil(info.size / 512),
    rdev: info.rdev ?? 0,
    atimeMs: time(info.atime),
    mtimeMs: time(info.mtime),
    ctimeMs: time(info.ctime),
    birthtimeMs: time(info.birthtime),
  };
}

/** Reject a length or offset that is not a non-negative safe integer. */
export function checkLength(value: number, what: string, operation: string, path: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw fsError("EINVAL", operation, path, { reason: `bad ${what} ${value}` });
  }
}

/**
 * Run `task` on every item with at most `limit` in flight. Deno's blocking
 * thread pool is shared with everything else the process does (a mount
 * served by this process included), so a directory of 10,000 entries must
 * not become 10,000 simultaneous `lstat`s.
 */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await task(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * The backend paths changed since the last `sync()`: Deno has no `syncfs`,
 * so a host backend makes a whole-backend sync durable by `fsync`ing each
 * file and directory it changed. Renames carry the marks along, also for
 * everything below a renamed directory.
 */
export class ChangedPaths {
  #paths = new Set<string>();

  /** Note that `path` (a file or directory) changed. */
  mark(path: string): void {
    this.#paths.add(path);
  }

  /** Note that an entry and its directory changed (a name was added or removed). */
  markEntry(path: string, parent: string): void {
    this.#paths.add(path);
    this.#paths.add(parent);
  }

  /** `from` was renamed to `to`: marks at or below `from` move with it. */
  moved(from: string, to: string): void {
    const moved: string[] = [];
    for (const p of this.#paths) {
      if (isWithin(p, from)) moved.push(p);
    }
    for (const p of moved) {
      this.#paths.delete(p);
      this.#paths.add(p === from ? to : childPath(to, p.slice(from.length + 1)));
    }
  }

  /** Everything marked so far, deepest first (files before their directories); clears the marks. */
  take(): string[] {
    const list = [...this.#paths].sort((a, b) => b.length - a.length);
    this.#paths.clear();
    return list;
  }

  /** How many paths are marked. */
  get size(): number {
    return this.#paths.size;
  }
}

/** What `statfs(2)` reports through `node:fs`. */
export interface HostStatFs {
  /** Preferred block size. */
  bsize: number;
  /** Fragment size (the unit of the block counts), when reported. */
  frsize?: number;
  /** Total blocks. */
  blocks: number;
  /** Free blocks. */
  bfree: number;
  /** Blocks available to unprivileged users. */
  bavail: number;
  /** Total inodes. */
  files: number;
  /** Free inodes. */
  ffree: number;
}

/** {@linkcode StatFs} from what `statfs(2)` reports. */
export function statFsOf(s: HostStatFs): StatFs {
  const unit = s.frsize || s.bsize;
  return {
    totalBytes: s.blocks * unit,
    usedBytes: (s.blocks - s.bfree) * unit,
    availableBytes: s.bavail * unit,
    totalInodes: s.files,
    usedInodes: s.files - s.ffree,
    availableInodes: s.ffree,
    blockSize: s.bsize,
    maxNameLength: NAME_MAX,
  };
}
