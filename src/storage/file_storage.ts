/**
 * {@linkcode FileStorage}: the ergonomic, Deno-shaped file API over any
 * backend.
 *
 * @module
 */

import { type Backend, supports } from "../core/backend.ts";
import {
  appendFile,
  copyFile as deriveCopyFile,
  openFile,
  truncateFile,
  tryLstat,
} from "../core/derive.ts";
import { type FsError, fsError, isFsError, toFsError } from "../core/errors.ts";
import { checkPath, childPath, normalize, parentPath } from "../core/path.ts";
import type { Metadata } from "../core/types.ts";
import type { FsApi } from "./api.ts";
import { copy, type CopyOptions } from "./copy.ts";
import { emptyDir } from "./empty_dir.ts";
import { ensureDir, ensureFile } from "./ensure.ts";
import { expandGlob, type ExpandGlobOptions } from "./expand_glob.ts";
import { dirEntryOf, toFileInfo } from "./file_info.ts";
import { FsFile } from "./fs_file.ts";
import { readJson, writeJson, type WriteJsonOptions } from "./json.ts";
import { move, type MoveOptions } from "./move.ts";
import { toPathString } from "./paths.ts";
import {
  isCanonicalForm,
  IterativeResolver,
  type PathResolver,
  type Resolved,
  type ResolveOptions,
} from "./resolver.ts";
import { walk, type WalkEntry, type WalkOptions } from "./walk.ts";

/** Options of the {@linkcode FileStorage} constructor. */
export interface FileStorageOptions {
  /** How paths are resolved (default: a new {@linkcode IterativeResolver}). */
  resolver?: PathResolver;
  /**
   * The file mode creation mask applied to the modes of new files and
   * directories, as a process's umask is (default `0o022`). `chmod` and
   * `writeFile`'s explicit `mode` are not masked, as in Deno.
   */
  umask?: number;
  /** The working directory relative paths are resolved against (default `/`). */
  cwd?: string;
}

/** Options of {@linkcode FileStorage.exists} (as `@std/fs`'s `exists`). */
export interface ExistsOptions {
  /** Only a regular file (after following links) counts. */
  isFile?: boolean;
  /** Only a directory (after following links) counts. */
  isDirectory?: boolean;
}

const FOLLOW: ResolveOptions = Object.freeze({ follow: true, allowMissing: false });
const NOFOLLOW: ResolveOptions = Object.freeze({ follow: false, allowMissing: false });
const FOLLOW_CREATE: ResolveOptions = Object.freeze({ follow: true, allowMissing: true });
const NOFOLLOW_CREATE: ResolveOptions = Object.freeze({ follow: false, allowMissing: true });

const encoder = new TextEncoder();
// Deno's readTextFile keeps a byte order mark; so do we.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

const devices = new WeakMap<Backend, number>();
let nextDevice = 1;

function deviceOf(backend: Backend): number {
  let dev = devices.get(backend);
  if (dev === undefined) {
    dev = nextDevice++;
    devices.set(backend, dev);
  }
  return dev;
}

function codeOf(e: unknown): string | undefined {
  return (e as { code?: unknown } | null)?.code as string | undefined;
}

/**
 * Whether a backend's failure on an unresolved (lexically clean) path is the
 * final answer. Only `ELOOP` (the path ends in a symbolic link) and
 * `ENOTDIR` (a link, or a file, on the way) may come from a link the
 * backend did not follow; then the path is resolved and the operation
 * retried. Anything else (quota, filter, read-only, rate limit…) is final:
 * retrying would run the operation, and its side effects, twice.
 */
function isConclusive(e: unknown): boolean {
  const code = codeOf(e);
  return code !== "ELOOP" && code !== "ENOTDIR";
}

/** A path split into its body and whether it ended with `/`. */
function stripTrailingSlashes(path: string): { body: string; slash: boolean } {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 47) end--;
  return { body: path.slice(0, end), slash: end !== path.length };
}

function lastName(body: string): string {
  return body.slice(body.lastIndexOf("/") + 1);
}

function timeMs(value: number | Date, path: string): number {
  const ms = value instanceof Date
    ? value.getTime()
    : typeof value === "number"
    ? value * 1000
    : NaN;
  if (!Number.isFinite(ms)) {
    throw fsError("EINVAL", "utime", path, { reason: `bad time ${String(value)}` });
  }
  return ms;
}

function checkId(value: number | null, what: string, path: string): void {
  if (value === null) return;
  if (!Number.isSafeInteger(value) || value < 0 || value > 0xffffffff) {
    throw fsError("EINVAL", "chown", path, { reason: `bad ${what} ${value}` });
  }
}

/**
 * Files on any backend through an API shaped like Deno's own: the same
 * method names, arguments, option and result types (`Deno.FileInfo`,
 * `Deno.DirEntry`, …), and the same errors — members of the
 * {@linkcode FsError} family that are also `instanceof` the matching
 * `Deno.errors` class and carry the Linux code (`e.code === "ENOENT"`), the
 * caller's path and Deno's operation name, so messages read like Deno's:
 * `No such file or directory (os error 2): stat '/a'`. Code written against
 * `Deno.*` ports by renaming the receiver.
 *
 * Paths are strings or `file:` URLs; relative paths resolve against
 * {@linkcode FileStorage.cwd}. Symbolic links are followed as the Linux
 * kernel follows them (see {@linkcode IterativeResolver}). New files get
 * mode `0o666 & ~umask`, new directories `0o777 & ~umask`. Permission bits
 * are stored and reported but not enforced: every caller acts as root.
 *
 * Operations a backend has no capability for: `symlink` and `link` fail with
 * `EPERM` (what Linux says on a file system without links); `chmod`,
 * `chown` and `utime` fail with `EPERM` too, so that code relying on them
 * learns at once (both are `Deno.errors.PermissionDenied`). Everything with
 * a derivation (range reads, append, truncate, copy, open handles) works on
 * every backend.
 *
 * Beyond Deno's API it offers the helpers people reach for in `@std/fs` as
 * methods (`exists`, `walk`, `expandGlob`, `ensureDir`, `ensureFile`,
 * `copy`, `move`, `emptyDir`), JSON reading and writing, and path
 * canonicalization (`canonicalize`, `softCanonicalize`,
 * `anchoredCanonicalize`, `normalize`).
 *
 * @example Quick start (no permissions needed)
 * ```ts
 * import { FileStorage, MemoryBackend } from "@anyfs/anyfs";
 *
 * const fs = new FileStorage(new MemoryBackend());
 * await fs.mkdir("/docs/notes", { recursive: true });
 * await fs.writeTextFile("/docs/notes/hello.txt", "Hello!");
 * console.log(await fs.readTextFile("/docs/notes/hello.txt")); // "Hello!"
 * for await (const entry of fs.readDir("/docs/notes")) console.log(entry.name);
 * try {
 *   await fs.stat("/missing");
 * } catch (e) {
 *   console.log(e instanceof Deno.errors.NotFound); // true
 * }
 * ```
 *
 * @example Port code written for Deno's API
 * ```ts
 * import { FileStorage, MemoryBackend } from "@anyfs/anyfs";
 *
 * async function saveReport(fs: Pick<typeof Deno, "mkdir" | "writeTextFile">, text: string) {
 *   await fs.mkdir("/reports", { recursive: true });
 *   await fs.writeTextFile("/reports/today.txt", text);
 * }
 * await saveReport(new FileStorage(new MemoryBackend()), "all good");
 * ```
 */
export class FileStorage implements FsApi {
  /** The backend the files live in. */
  readonly backend: Backend;
  /** The resolver turning callers' paths into backend paths. */
  readonly resolver: PathResolver;
  #umask: number;
  #cwd: string;
  #dev: number;
  // Whether clean paths may go straight to the backend (see PathResolver).
  #direct: boolean;

  /**
   * A storage over `backend`.
   *
   * @param backend Where the files live.
   * @param options Resolver, umask and working directory.
   */
  constructor(backend: Backend, options: FileStorageOptions = {}) {
    this.backend = backend;
    this.resolver = options.resolver ?? new IterativeResolver();
    const umask = options.umask ?? 0o022;
    if (!Number.isInteger(umask) || umask < 0 || umask > 0o777) {
      throw fsError("EINVAL", "FileStorage", "", { reason: `bad umask ${umask}` });
    }
    this.#umask = umask;
    const cwd = options.cwd ?? "/";
    if (typeof cwd !== "string" || !cwd.startsWith("/")) {
      throw fsError("EINVAL", "FileStorage", String(cwd), {
        reason: "cwd must be an absolute path",
      });
    }
    checkPath(cwd, "chdir");
    this.#cwd = normalize(cwd);
    this.#dev = deviceOf(backend);
    this.#direct = this.resolver.cleanPathsResolveToThemselves === true;
  }

  // ------------------------------------------------------------ plumbing

  /** The absolute path for a caller's path (checked, relative ones joined to the cwd). */
  #abs(path: string, operation: string): string {
    checkPath(path, operation);
    if (path.charCodeAt(0) === 47) return path;
    if (path === "") throw fsError("ENOENT", operation, path);
    return this.#cwd === "/" ? "/" + path : this.#cwd + "/" + path;
  }

  /** The error to throw: `e` re-addressed to the caller's path and Deno's operation name. */
  #fail(e: unknown, operation: string, path: string, dest?: string): FsError {
    if (isFsError(e)) {
      if (e.operation === operation && e.path === path && e.dest === dest) return e;
      return fsError(e.code, operation, path, {
        dest,
        reason: e.reason,
        limit: e.limit,
        requested: e.requested,
        usage: e.usage,
        cause: e,
      });
    }
    return toFsError(e, operation, path, dest === undefined ? undefined : { dest });
  }

  #resolve(abs: string, options: ResolveOptions): Promise<Resolved> {
    return this.resolver.resolve(this.backend, abs, options);
  }

  /**
   * `open(2)` with `O_CREAT` on a path ending in `/` is `EISDIR` once the
   * directories before the last name resolve, whatever that name is.
   */
  async #creatingWithSlash(abs: string, op: string, p: string): Promise<void> {
    if (abs.length < 2 || abs.charCodeAt(abs.length - 1) !== 47) return;
    const { body } = stripTrailingSlashes(abs);
    if (body !== "/") await this.#resolve(body, NOFOLLOW_CREATE);
    throw fsError("EISDIR", op, p);
  }

  /** The creation mode for a new file or directory: `mode & ~umask`. */
  #createMode(mode: number | undefined, fallback: number, operation: string, path: string) {
    if (mode === undefined) return fallback & ~this.#umask;
    if (!Number.isInteger(mode) || mode < 0) {
      throw fsError("EINVAL", operation, path, { reason: `bad mode ${mode}` });
    }
    return mode & 0o7777 & ~this.#umask;
  }

  /** Whether the backend has `cap`; otherwise the `EPERM` to throw. */
  #require(
    cap: "symlinks" | "hardlinks" | "permissions" | "ownership" | "times",
    operation: string,
    path: string,
    dest?: string,
  ): void {
    if (!supports(this.backend, cap)) {
      throw fsError("EPERM", operation, path, {
        dest,
        reason: `the backend does not support ${cap}`,
      });
    }
  }

  // ------------------------------------------------------------ state

  /**
   * The working directory relative paths resolve against.
   *
   * @example
   * ```ts
   * import { FileStorage, MemoryBackend } from "@anyfs/anyfs";
   * const fs = new FileStorage(new MemoryBackend(), { cwd: "/home" });
   * console.log(fs.cwd()); // "/home"
   * ```
   */
  cwd(): string {
    return this.#cwd;
  }

  /**
   * Change the working directory to `path`, which must be an existing
   * directory (links followed). Relative paths resolve against the old one.
   */
  async chdir(path: string | URL): Promise<void> {
    const op = "chdir";
    const p = toPathString(path, op);
    try {
      const r = await this.#resolve(this.#abs(p, op), FOLLOW);
      if (r.meta!.type !== "dir") throw fsError("ENOTDIR", op, p);
      this.#cwd = r.path;
    } catch (e) {
      throw this.#fail(e, op, p);
    }
  }

  /**
   * Get the umask, and set it when `mask` is given; returns the previous
   * value (as `Deno.umask`).
   */
  umask(mask?: number): number {
    const old = this.#umask;
    if (mask !== undefined) {
      if (!Number.isInteger(mask) || mask < 0 || mask > 0o777) {
        throw fsError("EINVAL", "umask", "", { reason: `bad umask ${mask}` });
      }
      this.#umask = mask;
    }
    return old;
  }

  // ------------------------------------------------------------ reading

  /**
   * The whole content of a file (links followed). A directory is `EISDIR`.
   *
   * @example
   * ```ts
   * import { FileStorage, MemoryBackend } from "@anyfs/anyfs";
   * const fs = new FileStorage(new MemoryBackend());
   * await fs.writeFile("/a.bin", new Uint8Array([1, 2, 3]));
   * console.log(await fs.readFile("/a.bin")); // Uint8Array(3) [ 1, 2, 3 ]
   * ```
   */
  async readFile(path: string | URL, options?: Deno.ReadFileOptions): Promise<Uint8Array> {
    const op = "readfile";
    const p = toPathString(path, op);
    const signal = options?.signal;
    signal?.throwIfAborted();
    try {
      const abs = this.#abs(p, op);
      if (this.#direct && isCanonicalForm(abs)) {
        // Optimistic: backends never follow links, so a link on the way
        // makes this fail (ENOTDIR, ELOOP, …) and resolution takes over.
        try {
          const data = await this.backend.readFile(abs);
          signal?.throwIfAborted();
          return data;
        } catch (e) {
          if (isConclusive(e)) throw e;
        }
      }
      const r = await this.#resolve(abs, FOLLOW);
      if (r.meta!.type === "dir") throw fsError("EISDIR", op, p);
      const data = await this.backend.readFile(r.path);
      signal?.throwIfAborted();
      return data;
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      throw this.#fail(e, op, p);
    }
  }

  /** The whole content of a file decoded as UTF-8 (invalid bytes become U+FFFD; a BOM is kept). */
  async readTextFile(path: string | URL, options?: Deno.ReadFileOptions): Promise<string> {
    return decoder.decode(await this.readFile(path, options));
  }

  /** Metadata of the entry at `path`, following symbolic links. */
  async stat(path: string | URL): Promise<Deno.FileInfo> {
    const op = "stat";
    const p = toPathString(path, op);
    try {
      const r = await this.#resolve(this.#abs(p, op), FOLLOW);
      return toFileInfo(r.meta!, this.#dev);
    } catch (e) {
      throw this.#fail(e, op, p);
    }
  }

  /** Metadata of the entry itself: a symbolic link describes the link (unless the path ends with `/`). */
  async lstat(path: string | URL): Promise<Deno.FileInfo> {
    const op = "lstat";
    const p = toPathString(path, op);
    try {
      const r = await this.#resolve(this.#abs(p, op), NOFOLLOW);
      return toFileInfo(r.meta!, this.#dev);
    } catch (e) {
      throw this.#fail(e, op, p);
    }
  }

  /**
   * The entries of a directory (links followed to it), without `.` and
   * `..`. The listing is taken when iteration starts; errors surface then.
   *
   * @example
   * ```ts
   * import { FileStorage, MemoryBackend } from "@anyfs/anyfs";
   * const fs = new FileStorage(new MemoryBackend());
   * await fs.writeTextFile("/a.txt", "a");
   * for await (const e of fs.readDir("/")) console.log(e.name, e.isFile); // a.txt true
   * ```
   */
  readDir(path: string | URL): AsyncIterable<Deno.DirEntry> {
    const op = "readdir";
    const p = toPathString(path, op);
    return new DirListing(() => this.#list(p));
  }

  async #list(p: string): Promise<Deno.DirEntry[]> {
    const op = "readdir";
    try {
      const r = await this.#resolve(this.#abs(p, op), FOLLOW);
      if (r.meta!.type !== "dir") throw fsError("ENOTDIR", op, p);
      const entries = await this.backend.readDir(r.path);
      const out: Deno.DirEntry[] = new Array(entries.length);
      for (let i = 0; i < entries.length; i++) out[i] = dirEntryOf(entries[i]);
      return out;
    } catch (e) {
      throw this.#fail(e, op, p);
    }
  }

  /** The target stored in a symbolic link (`EINVAL` when the entry is not one). */
  async readLink(path: string | URL): Promise<string> {
    const op = "readlink";
    const p = toPathString(path, op);
    try {
      const r = await this.#resolve(this.#abs(p, op), NOFOLLOW);
      if (r.meta!.type !== "symlink" || !supports(this.backend, "symlinks")) {
        throw fsError("EINVAL", op, p);
      }
      return await this.backend.readLink(r.path);
    } catch (e) {
      throw this.#fail(e, op, p);
    }
  }

  /** The canonical absolute path: every link resolved, `.`/`..` gone; the entry must exist. */
  async realPath(path: string | URL): Promise<string> {
    const op = "realpath";
    const p = toPathString(path, op);
    try {
      return await this.resolver.canonicalize(this.backend, this.#abs(p, op));
    } catch (e) {
      throw this.#fail(e, op, p);
    }
  }

  /**
   * Whether something exists at `path` after following links (a dangling
   * link does not count), as `@std/fs`'s `exists`. With `isFile` or
   * `isDirectory` it must also be of that type. Errors other than
   * "not found" (e.g. `ENOTDIR`, `ELOOP`) are thrown, as in `@std/fs`.
   */
  async exists(path: string | URL, options?: ExistsOptions): Promise<boolean> {
    const op = "stat";
    const p = toPathString(path, op);
    if (options?.isFile && options?.isDirectory) {
      throw fsError("EINVAL", "exists", p, {
        reason:
          "ExistsOptions.options.isDirectory and ExistsOptions.options.isFile must not be true together",
      });
    }
    let r: Resolved;
    try {
      r = await this.#resolve(this.#abs(p, op), FOLLOW);
    } catch (e) {
      if (codeOf(e) === "ENOENT") return false;
      throw this.#fail(e, op, p);
    }
    const type = r.meta!.type;
    if (options?.isFile && type !== "file") return false;
    if (options?.isDirectory && type !== "dir") return false;
    return true;
  }

  // ------------------------------------------------------------ writing

  /**
   * Write `data` to a file, as `Deno.writeFile`: created when missing
   * (`create`, default `true`) with mode `0o666 & ~umask`; `createNew`
   * fails with `EEXIST` when anything — even a dangling link — is there;
   * `append` adds to the end; `mode` is applied to the file whether new or
   * not (not masked, as in Deno). `data` may be a stream of chunks; `signal`
   * aborts the write.
   *
   * @example
   * ```ts
   * import { FileStorage, MemoryBackend } from "@anyfs/anyfs";
   * const fs = new FileStorage(new MemoryBackend());
   * await fs.writeFile("/log", new TextEncoder().encode("one\n"));
   * await fs.writeFile("/log", new TextEncoder().encode("two\n"), { append: true });
   * console.log(await fs.readTextFile("/log")); // "one\ntwo\n"
   * ```
   */
  async writeFile(
    path: string | URL,
    data: Uint8Array | ReadableStream<Uint8Array>,
    options: Deno.WriteFileOptions = {},
  ): Promise<void> {
    const op = "writefile";
    const p = toPathString(path, op);
    const signal = options.signal;
    signal?.throwIfAborted();
    try {
      await this.#writeFile(p, data, options, op);
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      throw this.#fail(e, op, p);
    }
  }

  async #writeFile(
    p: string,
    data: Uint8Array | ReadableStream<Uint8Array>,
    options: Deno.WriteFileOptions,
    op: string,
  ): Promise<void> {
    const create = options.create ?? true;
    const createNew = options.createNew === true;
    const append = options.append === true;
    const abs = this.#abs(p, op);
    const explicit = options.mode;
    if (
      create && !createNew && !append && explicit === undefined && data instanceof Uint8Array &&
      abs !== "/" && this.#direct && isCanonicalForm(abs)
    ) {
      // Optimistic, as in readFile: a link at the end or on the way makes
      // the backend fail, and the resolution below takes over.
      try {
        return await this.backend.writeFile(abs, data, { mode: 0o666 & ~this.#umask });
      } catch (e) {
        if (isConclusive(e)) throw e;
      }
    }
    if (create || createNew) await this.#creatingWithSlash(abs, op, p);
    // O_EXCL does not follow a final link: a dangling one is "already there".
    const r = await this.#resolve(
      abs,
      createNew ? NOFOLLOW_CREATE : create ? FOLLOW_CREATE : FOLLOW,
    );
    const meta = r.meta;
    if (meta !== null) {
      if (createNew) throw fsError("EEXIST", op, p);
      if (meta.type === "dir") throw fsError("EISDIR", op, p);
    } else if (r.mustBeDir) {
      throw fsError("EISDIR", op, p);
    }
    let mode: number;
    if (explicit === undefined) {
      mode = 0o666 & ~this.#umask;
    } else {
      if (!Number.isInteger(explicit) || explicit < 0) {
        throw fsError("EINVAL", op, p, { reason: `bad mode ${explicit}` });
      }
      // Deno applies an explicit mode with fchmod after opening: not masked.
      mode = explicit & 0o7777;
    }
    const backend = this.backend;
    if (data instanceof Uint8Array) {
      if (append) await appendFile(backend, r.path, data, { mode });
      else await backend.writeFile(r.path, data, { mode, create: true, createNew });
    } else if (data instanceof ReadableStream) {
      await this.#writeStream(r.path, data, append, createNew, mode, options.signal);
    } else {
      throw fsError("EINVAL", op, p, { reason: "data must be a Uint8Array or a ReadableStream" });
    }
    if (
      explicit !== undefined && meta !== null && (meta.mode & 0o7777) !== mode &&
      supports(backend, "permissions")
    ) {
      await backend.chmod(r.path, mode);
    }
  }

  async #writeStream(
    path: string,
    stream: ReadableStream<Uint8Array>,
    append: boolean,
    createNew: boolean,
    mode: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const handle = await openFile(this.backend, path, {
      read: false,
      write: true,
      append,
      create: true,
      createNew,
      truncate: !append,
      mode,
    });
    let failed = true;
    try {
      let position = 0;
      for await (const chunk of stream) {
        signal?.throwIfAborted();
        if (!(chunk instanceof Uint8Array)) {
          throw fsError("EINVAL", "write", path, { reason: "stream chunks must be Uint8Arrays" });
        }
        position += await handle.write(chunk, position);
      }
      failed = false;
    } finally {
      if (failed) await handle.close().catch(() => {});
      else await handle.close();
    }
  }

  /** Write `data` as UTF-8 (options as {@linkcode FileStorage.writeFile}); `data` may be a stream of strings. */
  async writeTextFile(
    path: string | URL,
    data: string | ReadableStream<string>,
    options?: Deno.WriteFileOptions,
  ): Promise<void> {
    const bytes = typeof data === "string"
      ? encoder.encode(data)
      : data instanceof ReadableStream
      ? data.pipeThrough(new TextEncoderStream())
      : data;
    return await this.writeFile(path, bytes as Uint8Array, options);
  }

  /**
   * Create a directory with mode `(mode ?? 0o777) & ~umask`. Without
   * `recursive`, the parent must exist and nothing may be at `path`
   * (`EEXIST`, even for a link to a directory). With `recursive`, missing
   * parents are created too, and an existing directory (or link to one) is
   * fine.
   */
  async mkdir(path: string | URL, options?: Deno.MkdirOptions): Promise<void> {
    const op = "mkdir";
    const p = toPathString(path, op);
    try {
      const abs = this.#abs(p, op);
      const mode = this.#createMode(options?.mode, 0o777, op, p);
      if (options?.recursive) return await this.#mkdirp(abs, mode, op, p);
      if (this.#direct && isCanonicalForm(abs)) {
        try {
          return await this.backend.mkdir(abs, { mode });
        } catch (e) {
          // ENOTDIR may mean a link in a directory position: resolve it.
          if (codeOf(e) !== "ENOTDIR") throw e;
        }
      }
      // Whatever is at the name, even a file with a trailing slash: EEXIST.
      const { body, slash } = stripTrailingSlashes(abs);
      const r = await this.#resolve(slash ? body : abs, NOFOLLOW_CREATE);
      if (r.meta !== null) throw fsError("EEXIST", op, p);
      await this.backend.mkdir(r.path, { mode });
    } catch (e) {
      throw this.#fail(e, op, p);
    }
  }

  /**
   * `mkdir -p`, with the results of Rust's `create_dir_all` that Deno uses:
   * links to directories are followed, a non-directory (or dangling link)
   * in the way is `EEXIST` at the end and `ENOTDIR` before it.
   */
  async #mkdirp(abs: string, mode: number, op: string, p: string): Promise<void> {
    if (!this.#direct) return await this.#mkdirpResolved(abs, mode, op, p);
    const backend = this.backend;
    const parts = abs.split("/");
    let lastReal = parts.length - 1;
    while (lastReal > 0 && (parts[lastReal] === "" || parts[lastReal] === ".")) lastReal--;
    let dir = "/";
    // Below a directory this call created, nothing can exist yet.
    let creating = false;
    for (let i = 0; i <= lastReal; i++) {
      const name = parts[i];
      if (name === "" || name === ".") continue;
      if (name === "..") {
        dir = parentPath(dir);
        creating = false;
        continue;
      }
      const next = childPath(dir, name);
      const last = i === lastReal;
      if (!creating) {
        // A probe, not lstat: the first missing name is the usual case, and
        // a rejected lstat builds an Error (microseconds) for it.
        const meta: Metadata | null = backend.tryLstat !== undefined
          ? await backend.tryLstat(next)
          : await tryLstat(backend, next);
        if (meta !== null) {
          if (meta.type === "dir") {
            dir = next;
            continue;
          }
          if (meta.type === "symlink") {
            // As create_dir_all: a link that leads nowhere usable is "in the
            // way" (EEXIST), except that a path walk error through it in a
            // directory position (ENOTDIR, ELOOP) is reported as such.
            let target: Resolved;
            try {
              target = await this.#resolve(next, FOLLOW_CREATE);
            } catch (e) {
              if (last || codeOf(e) === "ENOENT") throw fsError("EEXIST", op, p);
              throw e;
            }
            if (target.meta !== null && target.meta.type === "dir") {
              dir = target.path;
              continue;
            }
            throw fsError(target.meta === null || last ? "EEXIST" : "ENOTDIR", op, p);
          }
          throw fsError(last ? "EEXIST" : "ENOTDIR", op, p);
        }
        creating = true;
      }
      try {
        await backend.mkdir(next, { mode });
      } catch (e) {
        // Someone else created it in the meantime: fine if it is a directory.
        if (codeOf(e) !== "EEXIST" || (await backend.lstat(next)).type !== "dir") throw e;
        creating = false;
      }
      dir = next;
    }
  }

  /** `mkdir -p` through a resolver that may map names: parents first, each resolved. */
  async #mkdirpResolved(abs: string, mode: number, op: string, p: string): Promise<void> {
    const attempt = async (): Promise<boolean> => {
      const r = await this.#resolve(abs, NOFOLLOW_CREATE);
      if (r.meta === null) {
        await this.backend.mkdir(r.path, { mode });
        return true;
      }
      const type = r.meta.type === "symlink"
        ? (await this.#resolve(abs, FOLLOW_CREATE)).meta?.type
        : r.meta.type;
      if (type !== "dir") throw fsError("EEXIST", op, p);
      return true;
    };
    try {
      if (await attempt()) return;
    } catch (e) {
      if (codeOf(e) !== "ENOENT") throw e;
    }
    const { body } = stripTrailingSlashes(abs);
    const cut = body.lastIndexOf("/");
    const name = body.slice(cut + 1);
    if (cut < 0 || body === "/" || name === "." || name === "..") {
      throw fsError("ENOENT", op, p);
    }
    await this.#mkdirpResolved(cut === 0 ? "/" : body.slice(0, cut), mode, op, p);
    await attempt();
  }

  /**
   * Remove a file, link or empty directory; with `recursive`, a directory
   * and everything in it (links inside are removed, never followed).
   * A non-empty directory without `recursive` is `ENOTEMPTY`; the root is
   * `EBUSY`.
   */
  async remove(path: string | URL, options?: Deno.RemoveOptions): Promise<void> {
    const op = "remove";
    const p = toPathString(path, op);
    const recursive = options?.recursive === true;
    try {
      const abs = this.#abs(p, op);
      const backend = this.backend;
      if (!recursive && abs !== "/" && this.#direct && isCanonicalForm(abs)) {
        try {
          return await backend.unlink(abs);
        } catch (e) {
          const code = codeOf(e);
          if (code === "EISDIR") return await backend.rmdir(abs);
          if (code !== "ENOTDIR") throw e;
        }
      }
      const { body, slash } = stripTrailingSlashes(abs);
      // Deno's remove starts with lstat(path): with a trailing slash that
      // follows a final link, so its errors (ELOOP, ENOENT) come first.
      if (slash) await this.#resolve(abs, NOFOLLOW);
      const r = await this.#resolve(body, NOFOLLOW);
      const meta = r.meta!;
      // `unlink("link/")` and `rmdir("link/")`: a name with a trailing slash
      // must be a directory itself, not a link to one.
      if (slash && meta.type !== "dir") throw fsError("ENOTDIR", op, p);
      const name = lastName(body);
      if (name === ".") throw fsError("EINVAL", op, p);
      if (name === "..") throw fsError("ENOTEMPTY", op, p);
      if (r.path === "/") throw fsError("EBUSY", op, p);
      if (meta.type !== "dir") return await backend.unlink(r.path);
      if (recursive) return await this.#removeTree(r.path);
      await backend.rmdir(r.path);
    } catch (e) {
      throw this.#fail(e, op, p);
    }
  }

  async #removeTree(dir: string): Promise<void> {
    const backend = this.backend;
    for (const entry of await backend.readDir(dir)) {
      const child = childPath(dir, entry.name);
      if (entry.type === "dir") await this.#removeTree(child);
      else await backend.unlink(child);
    }
    await backend.rmdir(dir);
  }

  /**
   * Rename with `rename(2)` semantics: neither path's final link is
   * followed; an existing file or empty directory at `newpath` is replaced;
   * a non-empty directory there is `ENOTEMPTY`; a directory into its own
   * subtree is `EINVAL`; `.`, `..` and the root are `EBUSY`.
   */
  async rename(oldpath: string | URL, newpath: string | URL): Promise<void> {
    const op = "rename";
    const o = toPathString(oldpath, op);
    const n = toPathString(newpath, op);
    try {
      const absOld = this.#abs(o, op);
      const absNew = this.#abs(n, op);
      const backend = this.backend;
      if (
        this.#direct && absOld !== "/" && absNew !== "/" && isCanonicalForm(absOld) &&
        isCanonicalForm(absNew)
      ) {
        try {
          return await backend.rename(absOld, absNew);
        } catch (e) {
          // ENOENT too: rename(2) reports the destination's directories
          // before a missing source, which only the full resolution sees.
          const code = codeOf(e);
          if (code !== "ENOTDIR" && code !== "ENOENT") throw e;
        }
      }
      const from = stripTrailingSlashes(absOld);
      const to = stripTrailingSlashes(absNew);
      // rename(2) walks both parent directories before it looks the source
      // up, so a bad destination directory beats a missing source.
      const src = await this.#resolve(from.body, NOFOLLOW_CREATE);
      const dst = await this.#resolve(to.body, NOFOLLOW_CREATE);
      if (src.meta === null) throw fsError("ENOENT", op, o, { dest: n });
      const srcIsDir = src.meta.type === "dir";
      if ((from.slash || to.slash) && !srcIsDir) throw fsError("ENOTDIR", op, o, { dest: n });
      const names = [lastName(from.body), lastName(to.body)];
      if (
        names.includes(".") || names.includes("..") || src.path === "/" || dst.path === "/"
      ) {
        throw fsError("EBUSY", op, o, { dest: n });
      }
      await backend.rename(src.path, dst.path);
    } catch (e) {
      throw this.#fail(e, op, o, n);
    }
  }

  /**
   * Copy a regular file's content and permission bits to `toPath`, as
   * `Deno.copyFile`: links are followed on both sides (a dangling link at
   * `toPath` gets its target created); a directory source is `EINVAL`, a
   * directory destination `EISDIR`, the same file on both sides `EINVAL`.
   */
  async copyFile(fromPath: string | URL, toPath: string | URL): Promise<void> {
    const op = "copy";
    const f = toPathString(fromPath, op);
    const t = toPathString(toPath, op);
    try {
      const src = await this.#resolve(this.#abs(f, op), FOLLOW);
      // The source is checked before the destination is looked at, as Deno does.
      if (src.meta!.type !== "file") {
        throw fsError("EINVAL", op, f, {
          dest: t,
          reason: "the source path is neither a regular file nor a symlink to a regular file",
        });
      }
      const absTo = this.#abs(t, op);
      await this.#creatingWithSlash(absTo, op, f);
      const dst = await this.#resolve(absTo, FOLLOW_CREATE);
      if (dst.meta !== null) {
        if (dst.meta.type === "dir") throw fsError("EISDIR", op, f, { dest: t });
        if (dst.meta.ino === src.meta!.ino) {
          throw fsError("EINVAL", op, f, {
            dest: t,
            reason: "Source and destination paths refer to the same file",
          });
        }
      } else if (dst.mustBeDir) {
        throw fsError("EISDIR", op, f, { dest: t });
      }
      await deriveCopyFile(this.backend, src.path, dst.path);
    } catch (e) {
      throw this.#fail(e, op, f, t);
    }
  }

  /**
   * Create a symbolic link at `newpath` whose target is `oldpath`, stored
   * verbatim (relative targets resolve against the link's directory when
   * followed). `EEXIST` when anything is at `newpath`; `EPERM` on a backend
   * without links. `options` (Windows link type) is accepted and ignored.
   */
  async symlink(
    oldpath: string | URL,
    newpath: string | URL,
    _options?: Deno.SymlinkOptions,
  ): Promise<void> {
    const op = "symlink";
    const target = toPathString(oldpath, op);
    const n = toPathString(newpath, op);
    try {
      checkPath(target, op);
      const abs = this.#abs(n, op);
      this.#require("symlinks", op, target, n);
      if (target === "") throw fsError("ENOENT", op, target, { dest: n });
      const backend = this.backend as Backend & { symlink(t: string, p: string): Promise<void> };
      if (this.#direct && isCanonicalForm(abs) && abs !== "/") {
        try {
          return await backend.symlink(target, abs);
        } catch (e) {
          if (codeOf(e) !== "ENOTDIR") throw e;
        }
      }
      const { body, slash } = stripTrailingSlashes(abs);
      const r = await this.#resolve(body, NOFOLLOW_CREATE);
      if (r.meta !== null) throw fsError("EEXIST", op, target, { dest: n });
      if (slash) throw fsError("ENOENT", op, target, { dest: n });
      await backend.symlink(target, r.path);
    } catch (e) {
      throw this.#fail(e, op, target, n);
    }
  }

  /**
   * Create a hard link `newpath` to `oldpath`. Like `link(2)` on Linux, a
   * final link at `oldpath` is not followed (the new name links the link);
   * a directory is `EPERM`; `EPERM` too on a backend without hard links.
   */
  async link(oldpath: string | URL, newpath: string | URL): Promise<void> {
    const op = "link";
    const o = toPathString(oldpath, op);
    const n = toPathString(newpath, op);
    try {
      const absOld = this.#abs(o, op);
      const absNew = this.#abs(n, op);
      this.#require("hardlinks", op, o, n);
      const backend = this.backend as Backend & { link(a: string, b: string): Promise<void> };
      if (this.#direct && isCanonicalForm(absOld) && isCanonicalForm(absNew) && absNew !== "/") {
        try {
          return await backend.link(absOld, absNew);
        } catch (e) {
          if (codeOf(e) !== "ENOTDIR") throw e;
        }
      }
      const src = await this.#resolve(absOld, NOFOLLOW);
      const to = stripTrailingSlashes(absNew);
      const dst = await this.#resolve(to.body, NOFOLLOW_CREATE);
      if (dst.meta !== null) throw fsError("EEXIST", op, o, { dest: n });
      if (to.slash) throw fsError("ENOENT", op, o, { dest: n });
      await backend.link(src.path, dst.path);
    } catch (e) {
      throw this.#fail(e, op, o, n);
    }
  }

  /** Set the permission bits (`mode & 0o7777`, not masked) of the entry (links followed). */
  async chmod(path: string | URL, mode: number): Promise<void> {
    const op = "chmod";
    const p = toPathString(path, op);
    try {
      if (!Number.isInteger(mode) || mode < 0) {
        throw fsError("EINVAL", op, p, { reason: `bad mode ${mode}` });
      }
      const r = await this.#resolve(this.#abs(p, op), FOLLOW);
      this.#require("permissions", op, p);
      await (this.backend as Backend & { chmod(p: string, m: number): Promise<void> })
        .chmod(r.path, mode & 0o7777);
    } catch (e) {
      throw this.#fail(e, op, p);
    }
  }

  /** Set the owner and/or group of the entry (links followed); `null` leaves one unchanged. */
  async chown(path: string | URL, uid: number | null, gid: number | null): Promise<void> {
    const op = "chown";
    const p = toPathString(path, op);
    try {
      checkId(uid, "uid", p);
      checkId(gid, "gid", p);
      const r = await this.#resolve(this.#abs(p, op), FOLLOW);
      this.#require("ownership", op, p);
      const backend = this.backend as Backend & {
        chown(p: string, u: number | null, g: number | null): Promise<void>;
      };
      await backend.chown(r.path, uid, gid);
    } catch (e) {
      throw this.#fail(e, op, p);
    }
  }

  /**
   * Set the access and modification times of the entry (links followed).
   * Numbers are seconds since the epoch (fractions allowed), as in Deno.
   */
  async utime(path: string | URL, atime: number | Date, mtime: number | Date): Promise<void> {
    const op = "utime";
    const p = toPathString(path, op);
    try {
      const a = timeMs(atime, p);
      const m = timeMs(mtime, p);
      const r = await this.#resolve(this.#abs(p, op), FOLLOW);
      this.#require("times", op, p);
      const backend = this.backend as Backend & {
        utime(p: string, a: number | null, m: number | null): Promise<void>;
      };
      await backend.utime(r.path, a, m);
    } catch (e) {
      throw this.#fail(e, op, p);
    }
  }

  /**
   * Set a file's length (default 0; negative counts as 0, as in Deno),
   * growing with zeros or shrinking. As Deno 2 on Linux does, a symbolic
   * link in the final position is not followed (`ELOOP`); a directory is
   * `EISDIR`.
   */
  async truncate(name: string | URL, len?: number): Promise<void> {
    const op = "truncate";
    const p = toPathString(name, op);
    try {
      const length = !len || len < 0 ? 0 : Math.trunc(len);
      const r = await this.#resolve(this.#abs(p, op), NOFOLLOW);
      const type = r.meta!.type;
      if (type === "dir") throw fsError("EISDIR", op, p);
      if (type === "symlink") throw fsError("ELOOP", op, p);
      await truncateFile(this.backend, r.path, length);
    } catch (e) {
      throw this.#fail(e, op, p);
    }
  }

  /**
   * Open a file, as `Deno.open` (default `{ read: true }`): `write` without
   * `create` needs the file to exist (`ENOENT`); `create`/`createNew` need
   * `write` or `append`; `truncate` needs `write`; new files get
   * `(mode ?? 0o666) & ~umask`. A directory can be opened for reading only
   * (reads then fail with `EISDIR`).
   *
   * @example
   * ```ts
   * import { FileStorage, MemoryBackend } from "@anyfs/anyfs";
   * const fs = new FileStorage(new MemoryBackend());
   * await using file = await fs.open("/data.txt", { write: true, createNew: true });
   * await ReadableStream.from([new TextEncoder().encode("streamed")]).pipeTo(file.writable);
   * ```
   */
  async open(path: string | URL, options: Deno.OpenOptions = { read: true }): Promise<FsFile> {
    const op = "open";
    const p = toPathString(path, op);
    try {
      const read = options.read === true;
      const write = options.write === true;
      const append = options.append === true;
      const truncate = options.truncate === true;
      const create = options.create === true;
      const createNew = options.createNew === true;
      if (!read && !write && !append && !truncate && !create && !createNew) {
        throw fsError("EINVAL", op, p, {
          reason: "'options' requires at least one option to be true",
        });
      }
      if (truncate && !write) {
        throw fsError("EINVAL", op, p, { reason: "'truncate' option requires 'write' to be true" });
      }
      if ((create || createNew) && !(write || append)) {
        throw fsError("EINVAL", op, p, {
          reason: "'create' or 'createNew' options require 'write' or 'append' to be true",
        });
      }
      const writable = write || append;
      const mode = this.#createMode(options.mode, 0o666, op, p);
      const abs = this.#abs(p, op);
      if (create || createNew) await this.#creatingWithSlash(abs, op, p);
      const r = await this.#resolve(
        abs,
        createNew ? NOFOLLOW_CREATE : create ? FOLLOW_CREATE : FOLLOW,
      );
      const meta = r.meta;
      if (meta !== null) {
        if (createNew) throw fsError("EEXIST", op, p);
        if (meta.type === "dir") {
          if (writable) throw fsError("EISDIR", op, p);
          const backend = this.backend;
          const dirPath = r.path;
          return new FsFile(
            { directory: () => backend.lstat(dirPath) },
            p,
            { read, write: false, append: false },
            this.#dev,
          );
        }
      } else if (r.mustBeDir) {
        throw fsError("EISDIR", op, p);
      }
      const handle = await openFile(this.backend, r.path, {
        read,
        write: writable,
        append,
        create: create || createNew,
        createNew: createNew,
        truncate,
        mode,
      });
      return new FsFile({ handle }, p, { read, write: writable, append }, this.#dev);
    } catch (e) {
      throw this.#fail(e, op, p);
    }
  }

  /**
   * Create a file for writing, truncating it if it exists (as `Deno.create`:
   * `open` with `read`, `write`, `create` and `truncate`).
   */
  create(path: string | URL): Promise<FsFile> {
    return this.open(path, { read: true, write: true, create: true, truncate: true });
  }

  // ------------------------------------------------------------ paths

  /** The canonical path of an existing entry (every link followed); same as {@linkcode FileStorage.realPath}. */
  async canonicalize(path: string | URL): Promise<string> {
    const op = "canonicalize";
    const p = toPathString(path, op);
    try {
      return await this.resolver.canonicalize(this.backend, this.#abs(p, op));
    } catch (e) {
      throw this.#fail(e, op, p);
    }
  }

  /**
   * The canonical form of a path that may not exist yet: the existing part
   * is resolved (links followed), the rest appended lexically.
   *
   * @example
   * ```ts
   * import { FileStorage, MemoryBackend } from "@anyfs/anyfs";
   * const fs = new FileStorage(new MemoryBackend());
   * await fs.mkdir("/real");
   * await fs.symlink("/real", "/link");
   * console.log(await fs.softCanonicalize("/link/new/file.txt")); // "/real/new/file.txt"
   * ```
   */
  async softCanonicalize(path: string | URL): Promise<string> {
    const op = "canonicalize";
    const p = toPathString(path, op);
    try {
      return await this.resolver.softCanonicalize(this.backend, this.#abs(p, op));
    } catch (e) {
      throw this.#fail(e, op, p);
    }
  }

  /**
   * Resolve `path` as if `anchor` were the root (a chroot): `path` is taken
   * relative to the anchor even when absolute, absolute link targets
   * restart at the anchor and `..` never climbs above it. The result always
   * lies within the (canonicalized) anchor, whatever `..` or links say —
   * use it to confine untrusted paths. Missing parts are appended
   * lexically, as in {@linkcode FileStorage.softCanonicalize}.
   *
   * @example Confine an agent's paths to /sandbox
   * ```ts
   * import { FileStorage, MemoryBackend } from "@anyfs/anyfs";
   * const fs = new FileStorage(new MemoryBackend());
   * await fs.mkdir("/sandbox");
   * await fs.symlink("/etc", "/sandbox/escape");
   * console.log(await fs.anchoredCanonicalize("../../etc/passwd", "/sandbox")); // "/sandbox/etc/passwd"
   * console.log(await fs.anchoredCanonicalize("/escape/x", "/sandbox")); // "/sandbox/etc/x"
   * ```
   */
  async anchoredCanonicalize(path: string | URL, anchor: string | URL): Promise<string> {
    const op = "canonicalize";
    const p = toPathString(path, op);
    const a = toPathString(anchor, op);
    try {
      checkPath(p, op);
      return await this.resolver.anchoredCanonicalize(this.backend, p, this.#abs(a, op));
    } catch (e) {
      throw this.#fail(e, op, p, a);
    }
  }

  /**
   * Lexical normalization against this storage's working directory: `.`
   * and `..` resolved textually, slashes collapsed. It does not look at the
   * storage: `/link/..` becomes `/` even when `link` is a symbolic link
   * (use {@linkcode FileStorage.realPath} or
   * {@linkcode FileStorage.softCanonicalize} when that matters).
   */
  normalize(path: string | URL): string {
    return normalize(toPathString(path, "normalize"), this.#cwd);
  }

  // ------------------------------------------------------------ helpers

  /**
   * Walk the tree under `root`, as `@std/fs`'s `walk`: yields `root` itself
   * and everything below it, depth first (see {@linkcode WalkOptions}).
   *
   * @example
   * ```ts
   * import { FileStorage, MemoryBackend } from "@anyfs/anyfs";
   * const fs = new FileStorage(new MemoryBackend());
   * await fs.mkdir("/src/lib", { recursive: true });
   * await fs.writeTextFile("/src/lib/a.ts", "");
   * for await (const e of fs.walk("/src", { exts: [".ts"], includeDirs: false })) {
   *   console.log(e.path); // "/src/lib/a.ts"
   * }
   * ```
   */
  walk(root: string | URL, options?: WalkOptions): AsyncIterableIterator<WalkEntry> {
    return walk(this, root, options);
  }

  /**
   * The entries matching a glob, as `@std/fs`'s `expandGlob`: `*`, `?`,
   * `[…]`, `{a,b}`, extglobs and `**`; relative globs resolve against
   * `options.root` (default: the working directory).
   *
   * @example
   * ```ts
   * import { FileStorage, MemoryBackend } from "@anyfs/anyfs";
   * const fs = new FileStorage(new MemoryBackend());
   * await fs.mkdir("/app/src", { recursive: true });
   * await fs.writeTextFile("/app/src/main.ts", "");
   * for await (const e of fs.expandGlob("/app/**\/*.ts")) console.log(e.path); // "/app/src/main.ts"
   * ```
   */
  expandGlob(glob: string | URL, options?: ExpandGlobOptions): AsyncIterableIterator<WalkEntry> {
    return expandGlob(this, glob, options);
  }

  /** Make sure a directory exists, creating it and its parents if needed (as `@std/fs`'s `ensureDir`). */
  ensureDir(dir: string | URL): Promise<void> {
    return ensureDir(this, dir);
  }

  /** Make sure a file exists, creating an empty one (and its parents) if needed (as `@std/fs`'s `ensureFile`). */
  ensureFile(file: string | URL): Promise<void> {
    return ensureFile(this, file);
  }

  /**
   * Copy a file, link or directory tree (as `@std/fs`'s `copy`): links are
   * copied as links; `overwrite` replaces what is in the way;
   * `preserveTimestamps` keeps access and modification times.
   */
  copy(src: string | URL, dest: string | URL, options?: CopyOptions): Promise<void> {
    return copy(this, src, dest, options);
  }

  /** Move a file or directory (as `@std/fs`'s `move`); `overwrite` replaces what is at `dest`. */
  move(src: string | URL, dest: string | URL, options?: MoveOptions): Promise<void> {
    return move(this, src, dest, options);
  }

  /** Make a directory empty, creating it if it is missing (as `@std/fs`'s `emptyDir`). */
  emptyDir(dir: string | URL): Promise<void> {
    return emptyDir(this, dir);
  }

  /** Read a file and parse it as JSON (`EINVAL` when it is not valid JSON). */
  readJson<T = unknown>(path: string | URL): Promise<T> {
    return readJson<T>(this, path);
  }

  /** Write `value` as JSON plus a newline (`spaces` indents; other options as `writeFile`). */
  writeJson(path: string | URL, value: unknown, options?: WriteJsonOptions): Promise<void> {
    return writeJson(this, path, value, options);
  }
}

/** The async iterable `readDir` returns: the listing is taken on the first `next()`. */
class DirListing implements AsyncIterable<Deno.DirEntry> {
  #load: () => Promise<Deno.DirEntry[]>;

  constructor(load: () => Promise<Deno.DirEntry[]>) {
    this.#load = load;
  }

  [Symbol.asyncIterator](): AsyncIterator<Deno.DirEntry> {
    const load = this.#load;
    let entries: Deno.DirEntry[] | null = null;
    let i = 0;
    return {
      async next(): Promise<IteratorResult<Deno.DirEntry>> {
        if (entries === null) entries = await load();
        if (i < entries.length) return { value: entries[i++], done: false };
        return { value: undefined, done: true };
      },
      // deno-lint-ignore require-await
      async return(): Promise<IteratorResult<Deno.DirEntry>> {
        i = Infinity;
        return { value: undefined, done: true };
      },
    };
  }
}
