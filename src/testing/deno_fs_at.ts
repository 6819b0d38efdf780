/**
 * {@linkcode denoFsAt}: Deno's own file API, rooted at a directory of the
 * host, shaped as an {@linkcode FsApi}.
 *
 * It is how the conformance kit and the differential test compare an AnyFS
 * storage with a real Linux file system, and how they drive a mounted AnyFS
 * directory: the mount point is just another directory.
 *
 * @module
 */

import { fsError, toFsError } from "../core/errors.ts";
import type { FsApi, FsFileLike } from "../storage/api.ts";

/**
 * Deno's own file API with every absolute path taken relative to `rootDir`:
 * `/a/b` is `rootDir/a/b`. Results come back in the same terms —
 * `realPath` strips the root — and every failure is an
 * {@linkcode FsError} carrying the code the host reported (`ENOENT`,
 * `ENOTEMPTY`, …) and the path as the caller wrote it.
 *
 * What it does not virtualize, by design: symlink targets are stored and
 * followed by the host verbatim, so an absolute target (`/x`) points at the
 * host's `/x`, and `..` above the root leaves it. Code that must stay
 * inside uses relative targets and never climbs above `/`, as the
 * conformance kit does. Removing or renaming the root itself fails with
 * `EBUSY`, as it does for a mount point, instead of touching `rootDir`.
 *
 * Every call is asynchronous, which matters when `rootDir` is a mount served
 * by the same process (a synchronous call there would hang).
 *
 * @param rootDir The host directory that stands for `/`.
 *
 * @example Run your own checks against a real directory (needs `--allow-read --allow-write`)
 * ```ts
 * import { denoFsAt } from "@anyfs/anyfs/testing";
 *
 * const dir = await Deno.makeTempDir();
 * const fs = denoFsAt(dir);
 * await fs.writeTextFile("/hello.txt", "hi");
 * console.log(await fs.realPath("/hello.txt")); // "/hello.txt"
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function denoFsAt(rootDir: string): FsApi {
  return new DenoFsAt(rootDir);
}

/** A virtual path as the caller wrote it, for error messages. */
function display(path: string | URL): string {
  return typeof path === "string" ? path : path.href;
}

function virtual(path: string | URL): string {
  if (typeof path === "string") return path;
  if (path.protocol !== "file:") {
    throw fsError("EINVAL", "path", path.href, { reason: "only file: URLs are paths" });
  }
  return decodeURIComponent(path.pathname);
}

/**
 * Whether a virtual path lexically names the root. Used only to refuse
 * destroying the root; it is lexical on purpose — `"/a/.."` with `/a` a
 * symlink is not the root, but refusing it too errs on the safe side.
 */
function namesRoot(path: string): boolean {
  if (path === "") return false;
  let depth = 0;
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    depth = part === ".." ? Math.max(0, depth - 1) : depth + 1;
  }
  return depth === 0;
}

/**
 * Deno reports a handful of failures without a code: a closed file, and
 * argument validation (NUL bytes carry `EINVAL`, but option checks do not).
 */
function mapError(e: unknown, operation: string, path: string, dest?: string): Error {
  const details = dest === undefined ? undefined : { dest };
  if (e instanceof Deno.errors.BadResource && (e as { code?: unknown }).code === undefined) {
    return fsError("EBADF", operation, path, { ...details, cause: e });
  }
  if (e instanceof TypeError && (e as { code?: unknown }).code === undefined) {
    return fsError("EINVAL", operation, path, { ...details, reason: e.message, cause: e });
  }
  return toFsError(e, operation, path, details);
}

class DenoFsAt implements FsApi {
  readonly #root: string;
  #realRoot?: Promise<string>;

  constructor(rootDir: string) {
    // A trailing slash would double up with the virtual path's leading one.
    this.#root = rootDir.length > 1 ? rootDir.replace(/\/+$/, "") : rootDir;
  }

  #host(path: string | URL): string {
    const p = virtual(path);
    // The empty path stays empty so the host reports ENOENT for it, as it
    // does for `Deno.stat("")`.
    if (p === "") return "";
    return p.startsWith("/") ? this.#root + p : `${this.#root}/${p}`;
  }

  async #call<T>(
    operation: string,
    path: string | URL,
    run: (host: string) => Promise<T>,
  ): Promise<T> {
    const host = this.#host(path);
    try {
      return await run(host);
    } catch (e) {
      throw mapError(e, operation, display(path));
    }
  }

  async #call2<T>(
    operation: string,
    from: string | URL,
    to: string | URL,
    run: (hostFrom: string, hostTo: string) => Promise<T>,
  ): Promise<T> {
    const hostFrom = this.#host(from);
    const hostTo = this.#host(to);
    try {
      return await run(hostFrom, hostTo);
    } catch (e) {
      throw mapError(e, operation, display(from), display(to));
    }
  }

  readFile(path: string | URL): Promise<Uint8Array> {
    return this.#call("readFile", path, (p) => Deno.readFile(p));
  }

  readTextFile(path: string | URL): Promise<string> {
    return this.#call("readTextFile", path, (p) => Deno.readTextFile(p));
  }

  writeFile(
    path: string | URL,
    data: Uint8Array | ReadableStream<Uint8Array>,
    options?: Deno.WriteFileOptions,
  ): Promise<void> {
    return this.#call("writeFile", path, (p) => Deno.writeFile(p, data, options));
  }

  writeTextFile(
    path: string | URL,
    data: string | ReadableStream<string>,
    options?: Deno.WriteFileOptions,
  ): Promise<void> {
    return this.#call("writeTextFile", path, (p) => Deno.writeTextFile(p, data, options));
  }

  stat(path: string | URL): Promise<Deno.FileInfo> {
    return this.#call("stat", path, (p) => Deno.stat(p));
  }

  lstat(path: string | URL): Promise<Deno.FileInfo> {
    return this.#call("lstat", path, (p) => Deno.lstat(p));
  }

  async *readDir(path: string | URL): AsyncIterable<Deno.DirEntry> {
    const host = this.#host(path);
    try {
      for await (const entry of Deno.readDir(host)) yield entry;
    } catch (e) {
      throw mapError(e, "readDir", display(path));
    }
  }

  mkdir(path: string | URL, options?: Deno.MkdirOptions): Promise<void> {
    return this.#call("mkdir", path, (p) => Deno.mkdir(p, options));
  }

  remove(path: string | URL, options?: Deno.RemoveOptions): Promise<void> {
    const p = virtual(path);
    // rmdir of a path ending in "." or ".." never removes anything (EINVAL,
    // ENOTEMPTY), so the host may answer it; anything else naming the root
    // would remove `rootDir` — or, recursively, everything in it.
    const harmless = !options?.recursive && /(^|\/)\.\.?\/*$/.test(p);
    if (namesRoot(p) && !harmless) {
      return Promise.reject(fsError("EBUSY", "remove", display(path)));
    }
    return this.#call("remove", path, (p) => Deno.remove(p, options));
  }

  rename(oldpath: string | URL, newpath: string | URL): Promise<void> {
    if (namesRoot(virtual(oldpath)) || namesRoot(virtual(newpath))) {
      return Promise.reject(
        fsError("EBUSY", "rename", display(oldpath), { dest: display(newpath) }),
      );
    }
    return this.#call2("rename", oldpath, newpath, (a, b) => Deno.rename(a, b));
  }

  copyFile(fromPath: string | URL, toPath: string | URL): Promise<void> {
    return this.#call2("copyFile", fromPath, toPath, (a, b) => Deno.copyFile(a, b));
  }

  symlink(
    oldpath: string | URL,
    newpath: string | URL,
    options?: Deno.SymlinkOptions,
  ): Promise<void> {
    // The target is stored verbatim: it is data, not a path of this view.
    const target = virtual(oldpath);
    return this.#call2("symlink", target, newpath, (_, b) => Deno.symlink(target, b, options));
  }

  link(oldpath: string, newpath: string): Promise<void> {
    return this.#call2("link", oldpath, newpath, (a, b) => Deno.link(a, b));
  }

  readLink(path: string | URL): Promise<string> {
    return this.#call("readLink", path, (p) => Deno.readLink(p));
  }

  realPath(path: string | URL): Promise<string> {
    return this.#call("realPath", path, async (p) => {
      const [real, root] = await Promise.all([Deno.realPath(p), this.#canonicalRoot()]);
      if (real === root) return "/";
      if (root === "/") return real;
      if (real.startsWith(root + "/")) return real.slice(root.length);
      // Outside the root (an absolute symlink target): the host's answer is
      // the only honest one.
      return real;
    });
  }

  #canonicalRoot(): Promise<string> {
    this.#realRoot ??= Deno.realPath(this.#root);
    return this.#realRoot;
  }

  chmod(path: string | URL, mode: number): Promise<void> {
    return this.#call("chmod", path, (p) => Deno.chmod(p, mode));
  }

  chown(path: string | URL, uid: number | null, gid: number | null): Promise<void> {
    return this.#call("chown", path, (p) => Deno.chown(p, uid, gid));
  }

  utime(path: string | URL, atime: number | Date, mtime: number | Date): Promise<void> {
    return this.#call("utime", path, (p) => Deno.utime(p, atime, mtime));
  }

  truncate(name: string, len?: number): Promise<void> {
    return this.#call("truncate", name, (p) => Deno.truncate(p, len));
  }

  async open(path: string | URL, options?: Deno.OpenOptions): Promise<FsFileLike> {
    const file = await this.#call("open", path, (p) => Deno.open(p, options));
    return new HostFile(file, display(path));
  }
}

/** A `Deno.FsFile` whose errors name the virtual path. */
class HostFile implements FsFileLike {
  readonly #file: Deno.FsFile;
  readonly #path: string;

  constructor(file: Deno.FsFile, path: string) {
    this.#file = file;
    this.#path = path;
  }

  async #call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (e) {
      throw mapError(e, operation, this.#path);
    }
  }

  read(p: Uint8Array): Promise<number | null> {
    return this.#call("read", () => this.#file.read(p));
  }

  write(p: Uint8Array): Promise<number> {
    return this.#call("write", () => this.#file.write(p));
  }

  seek(offset: number | bigint, whence: Deno.SeekMode): Promise<number> {
    return this.#call("seek", () => this.#file.seek(offset, whence));
  }

  truncate(len?: number): Promise<void> {
    return this.#call("truncate", () => this.#file.truncate(len));
  }

  stat(): Promise<Deno.FileInfo> {
    return this.#call("stat", () => this.#file.stat());
  }

  sync(): Promise<void> {
    return this.#call("sync", () => this.#file.sync());
  }

  syncData(): Promise<void> {
    return this.#call("syncData", () => this.#file.syncData());
  }

  close(): void {
    try {
      this.#file.close();
    } catch (e) {
      throw mapError(e, "close", this.#path);
    }
  }

  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    return this.#file.readable;
  }

  get writable(): WritableStream<Uint8Array<ArrayBufferLike>> {
    return this.#file.writable;
  }

  [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#file.close();
    } catch (e) {
      // Already closed (e.g. by a stream): disposal is idempotent.
      if (!(e instanceof Deno.errors.BadResource)) throw e;
    }
    return Promise.resolve();
  }
}
