/**
 * Mount options, their defaults, and how they become libfuse arguments and
 * kernel cache settings.
 *
 * @module
 */

import { MountError } from "./errors.ts";

/**
 * How much the kernel may cache, which is where a FUSE mount's speed is:
 * a request round trip costs tens of microseconds, a cache hit almost
 * nothing.
 *
 * - `"never"`: direct I/O (no page cache), and the kernel keeps names and
 *   attributes for one clock tick at most (a few milliseconds). Every
 *   read, write and file name goes to the backend, so changes made to the
 *   backend directly (not through the mount) are seen at once by path;
 *   through an already open descriptor, and for directories on a path,
 *   within that tick. With zero timeouts the kernel fetched again, within
 *   one system call, what it had just fetched (each directory on a path
 *   and the file once more, for permission checks and attributes):
 *   `stat a/b/c` took seven round trips, now one to four.
 * - `"auto"`: the page cache is kept while a file is unchanged (the kernel
 *   compares modification times), entries and attributes are cached for
 *   1 s. Changes made to the backend directly show up within a second.
 * - `"always"`: the page cache survives close/open, entries, attributes
 *   and absent names are cached for a day, and directory listings are
 *   cached. The fastest, and correct when everything goes through the mount
 *   (the backend has no other writer); after changing the backend directly,
 *   call {@linkcode MountHandle.invalidate}. Combine with
 *   `writebackCache: true` for the fastest small writes (read its caveat).
 */
export type CachePolicy = "never" | "auto" | "always";

/** Options of {@linkcode mount} (and the {@linkcode MountBuilder} methods of the same names). */
export interface MountOptions {
  /**
   * Mount read-only: every change fails with `EROFS`, `access(W_OK)` and
   * `test -w` say no, and `statvfs` has `ST_RDONLY`. Default: `true` when
   * the mounted backend is a `ReadOnly` middleware (its outermost layer; a
   * ReadOnly deeper in a stack refuses every change too, but the mount
   * cannot tell, so pass `true` there), else `false`.
   */
  readOnly?: boolean;
  /**
   * Let other users than the mounting one use the mount (default `false`).
   * Non-root users need `user_allow_other` in `/etc/fuse.conf`.
   */
  allowOther?: boolean;
  /**
   * Have a `fusermount3` helper unmount the file system when this process
   * dies, even by `SIGKILL` (default `true`). Without it a killed process
   * leaves a dead mount ("Transport endpoint is not connected"). For a
   * user who is not root it needs libfuse 3.15 or later (Debian 12 has
   * 3.14, whose fusermount3 cannot see a user's mount without allow_other);
   * before that, the next `mount()` at the same place cleans the dead mount.
   */
  autoUnmount?: boolean;
  /**
   * Show every file as owned by this user id; `null`: the owner the backend
   * stores. Default: `null` for a mount made by root; for a mount made by
   * another user, that user, as rclone and sshfs do. The kernel checks
   * permissions against the owner shown, and a process that cannot read its
   * own uid (`--allow-sys=uid`) creates nodes owned by 0, which the user who
   * mounted them could then not change, although they own the storage.
   */
  uid?: number | null;
  /**
   * Show every file as owned by this group id; `null`: the group the backend
   * stores. Default: as for {@linkcode MountOptions.uid}, with the mounting
   * user's group.
   */
  gid?: number | null;
  /**
   * Let the kernel check permissions against each file's mode, owner and
   * group (default `true`). With `false` every caller may do everything the
   * mount point's own permissions allow.
   */
  defaultPermissions?: boolean;
  /** The file system name shown by `mount` and `df` (default `"anyfs"`). */
  fsName?: string;
  /** The subtype shown as `fuse.<subtype>` (default `"anyfs"`). */
  subtype?: string;
  /** The kernel cache policy (default `"auto"`). */
  cache?: CachePolicy;
  /** Seconds the kernel may cache a name lookup (default: from `cache`). */
  entryTimeout?: number;
  /** Seconds the kernel may cache attributes (default: from `cache`). */
  attrTimeout?: number;
  /**
   * Gather writes in the kernel page cache and send them in large batches
   * (default `false`). Much faster for small writes, with one hazard: at
   * close(2) the kernel first sends the gathered data to the file system,
   * so the **mounting process** must not close a file it wrote *in its own
   * mount* from the JavaScript thread — `FsFile.close()`, `using`, and
   * `Deno.writeFile` with a stream all do — or it hangs. Other processes,
   * and Deno's promise helpers `Deno.writeFile(path, bytes)` /
   * `Deno.writeTextFile`, are fine.
   *
   * Not for a backend that can be full, such as one under a `Quota`: the
   * kernel accepts each write(2) into its cache before the backend sees it,
   * so a write past the limit cannot fail there. It fails when the kernel
   * sends it on; the data is dropped, only the next close(2) or fsync(2) of
   * the file (in one process) reports `ENOSPC`, and until the kernel evicts
   * the file it keeps showing the size the lost write gave it (`dd` of
   * 2 MiB onto a 1 MiB quota: `ls -l` shows 2 MiB, far less is stored).
   */
  writebackCache?: boolean;
  /**
   * Offer extended attributes when the backend has them (default `true`).
   * With `false` the kernel is told there are none and stops asking; it
   * otherwise checks each file once for a `security.capability` attribute
   * before its first write through the page cache.
   */
  xattrs?: boolean;
  /** Largest write request in bytes, 4 KiB to 1 MiB (default 1 MiB). */
  maxWrite?: number;
  /** Print libfuse's trace of every request to stderr (default `false`). */
  debug?: boolean;
  /**
   * Unmount on `SIGINT`/`SIGTERM`, then exit with the usual status
   * (default `true`). Set `false` to handle signals yourself.
   */
  handleSignals?: boolean;
  /** Unmount when this signal aborts. */
  signal?: AbortSignal;
  /**
   * While mounted, make the calls that would block this process's
   * JavaScript thread on its own mount — Deno's synchronous file functions,
   * `Deno.Command` with a `cwd` inside it, and (without `--allow-all`) the
   * async ones — fail with `EDEADLK` for paths inside this mount instead of
   * hanging the process forever (default `true`). See the `sync_guard`
   * module.
   */
  guardSyncCalls?: boolean;
  /**
   * Called with every error a backend raised that is not an `FsError`
   * (those become `EIO`, and usually mean a bug). Default: `console.error`.
   */
  onBackendError?: (error: unknown, operation: string) => void;
}

/** Options with every default applied. */
export interface ResolvedMountOptions {
  /** See {@linkcode MountOptions.readOnly}. */
  readOnly: boolean;
  /** See {@linkcode MountOptions.allowOther}. */
  allowOther: boolean;
  /** See {@linkcode MountOptions.autoUnmount}. */
  autoUnmount: boolean;
  /** See {@linkcode MountOptions.uid}; `undefined`: the owner the backend stores. */
  uid?: number;
  /** See {@linkcode MountOptions.gid}; `undefined`: the group the backend stores. */
  gid?: number;
  /** See {@linkcode MountOptions.defaultPermissions}. */
  defaultPermissions: boolean;
  /** See {@linkcode MountOptions.fsName}. */
  fsName: string;
  /** See {@linkcode MountOptions.subtype}. */
  subtype: string;
  /** See {@linkcode MountOptions.cache}. */
  cache: CachePolicy;
  /** Seconds, for names of files and other non-directories. */
  entryTimeout: number;
  /**
   * Seconds for names of directories: `entryTimeout`, except that
   * `"never"` without an explicit `entryTimeout` keeps them for one clock
   * tick (see {@linkcode CachePolicy}).
   */
  dirEntryTimeout: number;
  /** Seconds. */
  attrTimeout: number;
  /** Seconds the kernel may remember that a name does not exist (0: not at all). */
  negativeTimeout: number;
  /** See {@linkcode MountOptions.writebackCache}. */
  writebackCache: boolean;
  /** See {@linkcode MountOptions.xattrs}. */
  xattrs: boolean;
  /** Bytes. */
  maxWrite: number;
  /** See {@linkcode MountOptions.debug}. */
  debug: boolean;
  /** See {@linkcode MountOptions.handleSignals}. */
  handleSignals: boolean;
  /** See {@linkcode MountOptions.signal}. */
  signal?: AbortSignal;
  /** See {@linkcode MountOptions.guardSyncCalls}. */
  guardSyncCalls: boolean;
  /** See {@linkcode MountOptions.onBackendError}. */
  onBackendError: (error: unknown, operation: string) => void;
}

const DAY = 86_400;
/** A timeout the kernel rounds up to one clock tick, the shortest it keeps anything. */
const ONE_TICK = 1e-6;
const MAX_WRITE = 1 << 20;

function nonNegative(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isFinite(value) || value < 0) {
    throw new MountError("Platform", `mount option ${name} must be a number >= 0, got ${value}`);
  }
  return value;
}

function id(name: string, value: number | null | undefined): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Number.isSafeInteger(value) || value < 0 || value > 0xffff_fffe) {
    throw new MountError("Platform", `mount option ${name} must be a user/group id, got ${value}`);
  }
  return value;
}

function label(name: string, value: string): string {
  // libfuse splits -o on commas; a comma or NUL here would inject options.
  if (value === "" || /[,\0\\]/.test(value)) {
    throw new MountError(
      "Platform",
      `mount option ${name} must be non-empty without ',' '\\' or NUL, got ${
        JSON.stringify(value)
      }`,
    );
  }
  return value;
}

/** Apply the defaults to `options` and validate them. */
export function resolveMountOptions(options: MountOptions = {}): ResolvedMountOptions {
  const cache = options.cache ?? "auto";
  if (cache !== "never" && cache !== "auto" && cache !== "always") {
    throw new MountError("Platform", `unknown cache policy ${JSON.stringify(cache)}`);
  }
  const policyTimeout = cache === "never" ? 0 : cache === "auto" ? 1 : DAY;
  // "never" still lets the kernel keep attributes and directory names for
  // one tick (see CachePolicy); explicit timeouts are taken as given.
  const tick = cache === "never" ? ONE_TICK : policyTimeout;
  const explicitEntryTimeout = nonNegative("entryTimeout", options.entryTimeout);
  const entryTimeout = explicitEntryTimeout ?? policyTimeout;
  const dirEntryTimeout = explicitEntryTimeout ?? tick;
  const attrTimeout = nonNegative("attrTimeout", options.attrTimeout) ?? tick;
  const maxWrite = options.maxWrite ?? MAX_WRITE;
  if (!Number.isSafeInteger(maxWrite) || maxWrite < 4096 || maxWrite > MAX_WRITE) {
    throw new MountError("Platform", `mount option maxWrite must be 4096..${MAX_WRITE}`);
  }
  return {
    readOnly: options.readOnly ?? false,
    allowOther: options.allowOther ?? false,
    autoUnmount: options.autoUnmount ?? true,
    uid: id("uid", options.uid),
    gid: id("gid", options.gid),
    defaultPermissions: options.defaultPermissions ?? true,
    fsName: label("fsName", options.fsName ?? "anyfs"),
    subtype: label("subtype", options.subtype ?? "anyfs"),
    cache,
    entryTimeout,
    dirEntryTimeout,
    attrTimeout,
    negativeTimeout: cache === "always" ? entryTimeout : 0,
    writebackCache: options.writebackCache ?? false,
    xattrs: options.xattrs ?? true,
    maxWrite,
    debug: options.debug ?? false,
    handleSignals: options.handleSignals ?? true,
    signal: options.signal,
    guardSyncCalls: options.guardSyncCalls ?? true,
    onBackendError: options.onBackendError ??
      ((error, operation) => console.error(`anyfs mount: ${operation} failed:`, error)),
  };
}

/** The `argv` handed to `fuse_session_new` for these options. */
export function fuseArgv(options: ResolvedMountOptions): string[] {
  const o = [`fsname=${options.fsName}`, `subtype=${options.subtype}`];
  if (options.readOnly) o.push("ro");
  if (options.allowOther) o.push("allow_other");
  if (options.autoUnmount) o.push("auto_unmount");
  if (options.defaultPermissions) o.push("default_permissions");
  const argv = ["anyfs", "-o", o.join(",")];
  if (options.debug) argv.push("-d");
  return argv;
}
