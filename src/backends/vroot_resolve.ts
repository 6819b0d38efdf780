/**
 * Containment for {@linkcode VRootFsBackend}: how a backend path becomes a
 * host path that cannot lead outside the root.
 *
 * The backend receives canonical paths whose directory components are, by
 * the contract, directories — the caller resolved every symbolic link
 * through this backend's own `lstat`/`readLink`. What this module
 * guarantees is that the host agrees when the path is used: no directory
 * component is a symbolic link (or anything but a directory) at the moment
 * the host walks it, so neither a stored link nor one swapped in by another
 * process can redirect an operation out of the root. Two strategies:
 *
 * - **anchored** (Linux, when Deno runs with every permission — see
 *   {@linkcode anchoredAvailable}): the walk opens each directory
 *   component with `O_PATH | O_DIRECTORY | O_NOFOLLOW` *relative to the
 *   descriptor of its parent* (through the kernel's `/proc/self/fd/N`
 *   links, Deno having no `openat`), and the operation then addresses its
 *   entry as `/proc/self/fd/N/name`. The kernel resolves only `name`, inside
 *   the directory the descriptor holds; renaming or swapping any directory
 *   on the way can no longer redirect it. There is no check-then-use
 *   window for directory components.
 * - **checked** (everywhere else, e.g. with only `--allow-read=<root>` and
 *   `--allow-write=<root>`, because Deno requires `--allow-all` for
 *   `/proc/self/fd`): before the operation `realPath` of the directory must
 *   be exactly `realRoot + path` (no symbolic link anywhere on it), and the
 *   same check runs again after the operation. A change detected after it
 *   fails the operation. A process other than this one that replaces a
 *   directory of the root by a symbolic link *between* those checks, and
 *   puts it back before the second one, can make one operation act outside
 *   the root: that window is inherent to path-based calls, and only the
 *   anchored strategy closes it.
 *
 * In both strategies the final component is never followed: metadata calls
 * use no-follow variants, and a file is first opened with `O_PATH |
 * O_NOFOLLOW` so that the descriptor's `fstat` names what is really there.
 *
 * Internal to {@linkcode VRootFsBackend}; nothing here is exported from
 * `mod.ts`.
 *
 * @module
 */

import fs from "node:fs";
import { promisify } from "node:util";
import { fsError } from "../core/errors.ts";
import { type FileType, fileTypeOfMode } from "../core/types.ts";

/** The containment strategies (see the module documentation). */
export type Containment = "anchored" | "checked";

const openFd = promisify(fs.open) as (path: string, flags: number) => Promise<number>;
/**
 * Close a descriptor. Synchronous on purpose: closing an `O_PATH` or
 * directory descriptor never waits on the disk, and a round trip through
 * Deno's blocking thread pool for it would double the cost of every walk.
 */
function closeFd(fd: number): Promise<void> {
  try {
    fs.closeSync(fd);
    return Promise.resolve();
  } catch (e) {
    return Promise.reject(e);
  }
}
const fstatFd = promisify(fs.fstat) as (fd: number) => Promise<fs.Stats>;

/**
 * Linux's `O_PATH`: a descriptor that names an inode without opening it —
 * no read permission needed, no side effects (a FIFO does not block, a
 * device is not opened). `node:fs` has no constant for it; the value is the
 * one of every architecture Deno runs on (x86-64, AArch64).
 */
const O_PATH = 0o10000000;

const IS_LINUX = Deno.build.os === "linux";

/**
 * Flags of a descriptor that only identifies an entry, never following a
 * final symbolic link. Without `O_PATH` (not Linux) the entry is opened for
 * reading, non-blocking so that a FIFO cannot hang the call.
 */
function identifyFlags(): number {
  const c = fs.constants;
  return IS_LINUX ? O_PATH | c.O_NOFOLLOW : c.O_RDONLY | c.O_NOFOLLOW | c.O_NONBLOCK;
}

function directoryFlags(): number {
  return identifyFlags() | fs.constants.O_DIRECTORY;
}

/** A path of the magic link the kernel keeps for descriptor `fd`. */
function procPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/** The permission names Deno checks for its `--allow-all`-only paths. */
const ALL_PERMISSIONS = ["read", "write", "net", "env", "sys", "run", "ffi", "import"] as const;

/**
 * Whether the anchored strategy can work here: Linux, and every Deno
 * permission granted (Deno refuses `/proc/self/fd` paths to anything less
 * than `--allow-all`). Queries only — nothing prompts.
 */
export function anchoredAvailable(): boolean {
  if (!IS_LINUX) return false;
  for (const name of ALL_PERMISSIONS) {
    const descriptor = { name } as Deno.PermissionDescriptor;
    try {
      if (Deno.permissions.querySync(descriptor).state !== "granted") return false;
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * A directory of the root held for the length of one operation. Host paths
 * of its entries come from {@linkcode HeldDir.child}.
 */
export interface HeldDir {
  /** A host path that names the directory itself (to list it). */
  readonly self: string;
  /** A host path for the entry `name` of the directory (one component). */
  child(name: string): string;
  /** Fail if the directory is no longer where the operation expected it (checked strategy). */
  verify(): Promise<void>;
  /** Let the directory go. */
  release(): Promise<void>;
}

/** What the host says an entry is, read from a descriptor that did not follow it. */
export interface EntryIdentity {
  /** The descriptor (`O_PATH` on Linux): close it with {@linkcode HostRoot.closeEntry}. */
  readonly fd: number;
  /** Device of the inode. */
  readonly dev: number;
  /** Inode number. */
  readonly ino: number;
  /** The entry's type (a symbolic link describes itself). */
  readonly type: FileType;
  /** Full mode. */
  readonly mode: number;
  /** Hard link count. */
  readonly nlink: number;
}

const NO_VERIFY = () => Promise.resolve();

/**
 * The root directory of a {@linkcode VRootFsBackend} on the host, and the
 * walk that keeps every operation inside it.
 */
export class HostRoot {
  /** The root as the caller gave it (absolute, normalized): what Deno's permission flags name. */
  readonly given: string;
  /** The root with every symbolic link of the host resolved. */
  readonly real: string;
  /** The strategy in use. */
  readonly containment: Containment;
  /** Device and inode of the root directory. */
  readonly dev: number;
  /** Inode of the root directory. */
  readonly ino: number;
  /** Anchored strategy: a descriptor of the root, held until {@linkcode HostRoot.close}. */
  #rootFd: number;
  /** Descriptors of private directories handed out by {@linkcode HostRoot.privateDir}. */
  #privateFds: number[] = [];

  private constructor(
    given: string,
    real: string,
    containment: Containment,
    rootFd: number,
    info: Deno.FileInfo,
  ) {
    this.given = given;
    this.real = real;
    this.containment = containment;
    this.#rootFd = rootFd;
    this.dev = info.dev;
    this.ino = info.ino ?? 0;
  }

  /**
   * Find the root: it must be an existing directory. `want` picks the
   * strategy; `"auto"` takes the anchored one when it is available and
   * works, `"anchored"` fails (`ENOTSUP`) when it is not.
   */
  static async open(given: string, want: Containment | "auto"): Promise<HostRoot> {
    const real = await Deno.realPath(given);
    const info = await Deno.stat(real);
    if (!info.isDirectory) throw fsError("ENOTDIR", "VRootFsBackend", "/");
    if (want === "checked" || (want === "auto" && !anchoredAvailable())) {
      return new HostRoot(given, real, "checked", -1, info);
    }
    let fd = -1;
    try {
      fd = await openFd(real, directoryFlags());
      // Proof that /proc/self/fd works here (mounted, and allowed by Deno).
      const seen = await Deno.stat(procPath(fd));
      if (seen.ino !== info.ino || seen.dev !== info.dev) throw new Error("/proc/self/fd mismatch");
      return new HostRoot(given, real, "anchored", fd, info);
    } catch (e) {
      if (fd >= 0) await closeFd(fd).catch(() => {});
      if (want === "anchored") {
        throw fsError("ENOTSUP", "VRootFsBackend", "/", {
          reason: "anchored containment needs Linux, /proc and Deno's --allow-all: " +
            (e instanceof Error ? e.message : String(e)),
          cause: e,
        });
      }
      return new HostRoot(given, real, "checked", -1, info);
    }
  }

  /**
   * A host path naming the root directory itself: anchored, the held
   * descriptor's magic link (the very directory found at open); checked,
   * the root as given, which is what Deno's permission flags name.
   */
  get top(): string {
    return this.#rootFd >= 0 ? procPath(this.#rootFd) : this.given;
  }

  /** The root's own metadata. */
  statRoot(): Promise<Deno.FileInfo> {
    return Deno.stat(this.top);
  }

  /**
   * Hold the directory at backend path `dir` (canonical; `/` for the root).
   * Fails with `ENOENT` when a component is missing and `ENOTDIR` when one
   * is not a directory — a symbolic link included.
   */
  hold(dir: string): Promise<HeldDir> {
    return this.containment === "anchored" ? this.#holdAnchored(dir) : this.#holdChecked(dir);
  }

  async #holdAnchored(dir: string): Promise<HeldDir> {
    if (this.#rootFd < 0) throw fsError("EBADF", "VRootFsBackend", dir, { reason: "closed" });
    let fd = this.#rootFd;
    if (dir !== "/") {
      let start = 1;
      while (start <= dir.length) {
        let stop = dir.indexOf("/", start);
        if (stop < 0) stop = dir.length;
        const name = dir.slice(start, stop);
        let next: number;
        try {
          // Relative to the descriptor: the kernel looks up one name inside
          // the directory we hold, and O_NOFOLLOW|O_DIRECTORY refuses a
          // symbolic link (ENOTDIR) instead of following it.
          next = await openFd(`${procPath(fd)}/${name}`, directoryFlags());
        } finally {
          if (fd !== this.#rootFd) await closeFd(fd);
        }
        fd = next;
        start = stop + 1;
      }
    }
    const self = procPath(fd);
    const owned = fd !== this.#rootFd;
    return {
      self,
      child: (name) => `${self}/${name}`,
      verify: NO_VERIFY,
      release: () => owned ? closeFd(fd) : Promise.resolve(),
    };
  }

  async #holdChecked(dir: string): Promise<HeldDir> {
    const host = dir === "/" ? this.given : this.given + dir;
    const expected = dir === "/" ? this.real : this.real + dir;
    await this.#checkPhysical(host, expected, dir);
    return {
      self: host,
      child: (name) => `${host}/${name}`,
      verify: async () => {
        let real: string | undefined;
        try {
          real = await Deno.realPath(host);
        } catch {
          // Gone: fall through to the failure below.
        }
        if (real !== expected) {
          throw fsError("EIO", "VRootFsBackend", dir, {
            reason: "a directory on the path was moved or replaced (by a symbolic link?) " +
              "while the operation ran; it may have taken effect at the new location",
          });
        }
      },
      release: NO_VERIFY,
    };
  }

  /**
   * `realPath(host)` must be exactly `expected`: then no component was a
   * symbolic link. Otherwise find the component that is not a directory,
   * for the code the contract asks (`ENOENT` or `ENOTDIR`).
   */
  async #checkPhysical(host: string, expected: string, dir: string): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        if (await Deno.realPath(host) === expected) return;
      } catch {
        // Missing or not a directory: the walk below says which.
      }
      let prefix = this.given;
      for (const name of dir.slice(1).split("/")) {
        prefix += "/" + name;
        let info: Deno.FileInfo;
        try {
          info = await Deno.lstat(prefix);
        } catch (e) {
          if (e instanceof Deno.errors.NotFound) throw fsError("ENOENT", "lookup", dir);
          if (e instanceof Deno.errors.NotADirectory) throw fsError("ENOTDIR", "lookup", dir);
          throw e;
        }
        if (!info.isDirectory) throw fsError("ENOTDIR", "lookup", dir);
      }
      // Every component was a directory after all: it changed under us; retry.
    }
    throw fsError("EIO", "lookup", dir, {
      reason: "the path keeps changing while it is checked (another process is replacing it)",
    });
  }

  /**
   * Identify the entry `name` of `dir` without following it: a descriptor
   * of the entry itself (`O_PATH | O_NOFOLLOW`) and its `fstat`.
   *
   * Checked: the identity is the entry's `lstat`. Without `--allow-all`
   * Deno resolves the symbolic links of a path to check its permission and
   * opens what it found, so `O_NOFOLLOW` cannot keep the descriptor from
   * naming a link's target; `lstat` never follows. Opens then compare what
   * they got with this identity, so a link (or a swap) is never used.
   */
  async identify(dir: HeldDir, name: string): Promise<EntryIdentity> {
    const path = dir.child(name);
    const fd = await openFd(path, identifyFlags());
    try {
      const st = this.containment === "checked" ? await Deno.lstat(path) : await fstatFd(fd);
      const mode = st.mode ?? 0;
      return {
        fd,
        dev: st.dev,
        ino: st.ino ?? 0,
        type: fileTypeOfMode(mode) ?? "file",
        mode,
        nlink: st.nlink ?? 1,
      };
    } catch (e) {
      await closeFd(fd).catch(() => {});
      throw e;
    }
  }

  /** Close the descriptor of an identified entry. */
  closeEntry(entry: EntryIdentity): Promise<void> {
    return closeFd(entry.fd);
  }

  /**
   * A host path that opens exactly the identified inode. Anchored: the
   * descriptor's own magic link (a reopen: no name is looked up again).
   * Checked: the entry's path — the caller must compare what it opened
   * with the identity ({@linkcode sameInode}).
   */
  reopenPath(dir: HeldDir, name: string, entry: EntryIdentity): string {
    return this.containment === "anchored" && IS_LINUX ? procPath(entry.fd) : dir.child(name);
  }

  /** Whether a reopen through {@linkcode HostRoot.reopenPath} needs the identity check. */
  get reopenNeedsCheck(): boolean {
    return this.containment !== "anchored";
  }

  /**
   * The host directory path of a private directory `name` at the top of
   * the root (made with mode 0o700 when missing), for the backend's own
   * files. It must be a real directory, not a symbolic link. Anchored, the
   * path goes through a descriptor held until {@linkcode HostRoot.close},
   * so the files in it cannot be redirected either.
   */
  async privateDir(name: string): Promise<string> {
    const top = await this.hold("/");
    try {
      try {
        await Deno.mkdir(top.child(name), { mode: 0o700 });
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      }
      const entry = await this.identify(top, name);
      try {
        if (entry.type !== "dir") {
          throw fsError("ENOTDIR", "VRootFsBackend", `/${name}`, {
            reason: "the name is reserved for the backend's own files and must be a directory",
          });
        }
      } catch (e) {
        await this.closeEntry(entry);
        throw e;
      }
      if (this.containment === "anchored" && IS_LINUX) {
        this.#privateFds.push(entry.fd);
        return procPath(entry.fd);
      }
      await this.closeEntry(entry);
      return `${this.given}/${name}`;
    } finally {
      await top.release();
    }
  }

  /** Release the root descriptor; later operations fail with `EBADF`. */
  async close(): Promise<void> {
    const fds = [this.#rootFd, ...this.#privateFds];
    this.#rootFd = -1;
    this.#privateFds = [];
    for (const fd of fds) if (fd >= 0) await closeFd(fd);
  }
}

/** Whether a `Deno.FileInfo` describes the identified inode. */
export function sameInode(info: Deno.FileInfo, entry: EntryIdentity): boolean {
  return info.dev === entry.dev && info.ino === entry.ino;
}
