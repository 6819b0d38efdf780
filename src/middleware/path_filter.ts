/**
 * PathFilter: glob rules deciding which paths of a backend exist for its
 * callers — the core of a sandbox's "you may touch `/workspace`, never a
 * `.env`".
 *
 * ## Rules
 * - Patterns are globs (matched with `picomatch`): `*` and `?` within one
 *   path component, `**` across components, classes such as `[abc]`,
 *   `[!abc]`, `[a-z]` and `[[:digit:]]`, braces `{a,b}`. `*` also matches
 *   names starting with a dot.
 * - A pattern starting with `/` is anchored at the root; any other pattern
 *   matches at any depth, as in `.gitignore`: `.env` matches `/.env` and
 *   `/a/b/.env` alike (it is matched as if `**` and a slash came first).
 * - A rule that matches a directory covers everything below it: denying
 *   `/secrets` denies `/secrets/key`, allowing `/workspace` allows
 *   `/workspace/a/b`.
 * - **Deny wins** over allow. Once there is any allow rule, everything not
 *   allowed is denied.
 * - Directories on the way to allowed paths stay **traversable** so the
 *   allowed paths can be reached: with `allow: ["/workspace/**"]`, `/` and
 *   `/workspace` can be `stat`ed and listed (showing only what is allowed
 *   or leads to something allowed) and such directories may be created and
 *   removed, but nothing else happens to them. For patterns with `**` in
 *   the middle every directory under the part before it leads somewhere.
 *
 * ## What a denied path looks like
 * It is left out of `readDir`, and every operation on it fails with
 * `EACCES` ("Permission denied") without reaching the backend, so not even
 * its existence leaks. This includes renaming or hard-linking into or out
 * of a denied area, renaming a directory that would carry a denied entry to
 * a place where it would be visible, creating a symlink whose target
 * (resolved lexically from the link's directory) is denied, and inode
 * access (`statIno`, `inodePath`) to an inode whose path is denied.
 * Removing a directory that lists as empty but still holds hidden entries
 * fails with `EACCES` too (not `ENOTEMPTY`): the hidden entries stay.
 *
 * Rules apply to the paths the backend receives, which are already
 * resolved: a caller (a `FileStorage`, or the kernel behind a mount)
 * follows symlinks component by component with `lstat` and `readLink`, so
 * following a link into a denied area fails at the first denied component.
 * `readLink` of an allowed link returns its target even when that points
 * into a denied area: the target is only a string the link holds, and
 * hiding it would break `ls -l` without protecting anything.
 *
 * ## Position in a stack
 * Put the filter above (outside) a {@linkcode Quota}: the quota then counts
 * hidden files too, and the filter rejects denied writes before the quota
 * sees them. Below a quota, the quota's scan would see only allowed files.
 *
 * @module
 */

// @ts-types="npm:@types/picomatch@^4"
import picomatch from "picomatch";
import type {
  Backend,
  CreateOptions,
  FileHandle,
  Layer,
  OpenOptions,
  SetXattrOptions,
  WriteFileOptions,
} from "../core/backend.ts";
import { tryLstat } from "../core/derive.ts";
import { fsError, isFsError } from "../core/errors.ts";
import { childPath, normalize, parentPath, splitPath } from "../core/path.ts";
import type { DirEntry, FileType, Metadata } from "../core/types.ts";
import { Middleware } from "./middleware.ts";

/** The rules of a {@linkcode PathFilter}. */
export interface PathFilterOptions {
  /** Globs of allowed paths; when there is at least one, everything else is denied. */
  allow?: readonly string[];
  /** Globs of denied paths; deny wins over allow. */
  deny?: readonly string[];
  /** Match without regard to case (for data that came from a case-insensitive file system). */
  caseInsensitive?: boolean;
}

/**
 * A matcher for `glob` whose wildcards match every character a name may
 * hold. picomatch writes "any character" as `.`, which a regular expression
 * without the `s` flag does not match for line breaks (`\n`, `\r`,
 * U+2028, U+2029): `**` would then not cross a directory named `a\nb`, and
 * `/a\nb/.env` would escape a rule denying `.env` at any depth.
 */
function anyCharMatcher(
  glob: string,
  options: { dot: boolean; posix: boolean; nocase: boolean },
): (path: string) => boolean {
  const re = picomatch.makeRe(glob, options);
  const dotAll = new RegExp(re.source, re.flags.includes("s") ? re.flags : `${re.flags}s`);
  return (path) => dotAll.test(path);
}

/** Matches one path component; `true` stands for "anything from here on". */
type SegmentMatcher = ((name: string) => boolean) | true;

/** One compiled glob rule. */
class GlobRule {
  readonly pattern: string;
  readonly #matches: (path: string) => boolean;
  readonly #matchesRoot: boolean;
  readonly #segments: SegmentMatcher[];

  constructor(pattern: string, caseInsensitive: boolean) {
    if (typeof pattern !== "string" || pattern.trim() === "") {
      throw fsError("EINVAL", "pathfilter", "", {
        reason: `a glob must be a non-empty string, got ${JSON.stringify(pattern)}`,
      });
    }
    let glob = pattern.length > 1 && pattern.endsWith("/") ? pattern.slice(0, -1) : pattern;
    if (!glob.startsWith("/") && !glob.startsWith("**")) glob = `**/${glob}`;
    this.pattern = glob;
    // `posix` turns on `[!…]` negation and `[[:class:]]`; `dot` lets `*` match dotfiles.
    const options = { dot: true, posix: true, nocase: caseInsensitive };
    this.#matches = anyCharMatcher(glob, options);
    this.#matchesRoot = this.#matches("/");
    const parts = picomatch.scan(glob, { ...options, parts: true }).parts ?? [];
    if (parts[0] === "") parts.shift();
    this.#segments = parts.map((part): SegmentMatcher =>
      // A brace alternative spanning a slash cannot be matched one component
      // at a time: treat it, and everything after it, as matching anything.
      part === "**" || part.includes("/") ? true : anyCharMatcher(part, options)
    );
  }

  /** Whether this rule matches the root, and so covers every path. */
  get coversEverything(): boolean {
    return this.#matchesRoot;
  }

  /** Whether this rule matches `path` or one of its ancestors. */
  covers(path: string): boolean {
    // A rule matching the root covers every path (`/**`, `/`): no need to match.
    if (this.#matchesRoot || this.#matches(path)) return true;
    for (let i = path.indexOf("/", 1); i > 0; i = path.indexOf("/", i + 1)) {
      if (this.#matches(path.slice(0, i))) return true;
    }
    return false;
  }

  /** Whether some path below the directory `dir` could match (a partial match of its components). */
  mayMatchBelow(dir: string): boolean {
    const names = splitPath(dir);
    for (let i = 0; i < names.length; i++) {
      if (i >= this.#segments.length) return true;
      const segment = this.#segments[i];
      if (segment === true) return true;
      if (!segment(names[i])) return false;
    }
    return true;
  }
}

/**
 * A middleware that hides and protects paths by glob rules.
 *
 * @example The agent sandbox of the design: only `/workspace`, never secrets
 * ```ts
 * import { MemoryBackend, PathFilter } from "@anyfs/anyfs";
 *
 * const backend = new MemoryBackend().layer(PathFilter.layer({
 *   allow: ["/workspace/**"],
 *   deny: [".env", "secrets"],
 * }));
 * await backend.mkdir("/workspace");
 * await backend.writeFile("/workspace/.env", new Uint8Array()).catch((e) => console.log(e.code)); // "EACCES"
 * console.log((await backend.readDir("/")).map((e) => e.name)); // ["workspace"]
 * ```
 */
export class PathFilter<B extends Backend = Backend> extends Middleware<B> {
  /** The rules in force. */
  readonly options: Readonly<PathFilterOptions>;
  readonly #allow: GlobRule[];
  readonly #deny: GlobRule[];
  /**
   * No deny rule, and no allow rule or one covering everything: every path
   * is allowed, so operations forward without matching anything.
   */
  readonly #allowsEverything: boolean;

  /** Wrap `inner` with `options`; `EINVAL` for an empty pattern. */
  constructor(inner: B, options: PathFilterOptions = {}) {
    super(inner);
    const nocase = options.caseInsensitive === true;
    this.options = {
      allow: [...options.allow ?? []],
      deny: [...options.deny ?? []],
      caseInsensitive: nocase,
    };
    this.#allow = this.options.allow!.map((p) => new GlobRule(p, nocase));
    this.#deny = this.options.deny!.map((p) => new GlobRule(p, nocase));
    this.#allowsEverything = this.#deny.length === 0 &&
      (this.#allow.length === 0 || this.#allow.some((rule) => rule.coversEverything));
  }

  /**
   * A layer that wraps a backend in a {@linkcode PathFilter}.
   *
   * @example
   * ```ts
   * import { MemoryBackend, PathFilter } from "@anyfs/anyfs";
   * const backend = new MemoryBackend().layer(PathFilter.layer({ deny: [".env", "*.pem"] }));
   * ```
   */
  static layer(options: PathFilterOptions = {}): PathFilterLayer {
    return new PathFilterLayer(options);
  }

  /** Whether `path` may be used by every operation. */
  isAllowed(path: string): boolean {
    if (this.#allowsEverything) return true;
    // Loops rather than `some`: this runs on every operation.
    for (const rule of this.#deny) if (rule.covers(path)) return false;
    if (this.#allow.length === 0) return true;
    for (const rule of this.#allow) if (rule.covers(path)) return true;
    return false;
  }

  /**
   * Whether the directory `path` may be looked at and listed, because it is
   * allowed or leads to something that may be.
   */
  isTraversable(path: string): boolean {
    if (this.isAllowed(path)) return true;
    if (this.#deny.some((rule) => rule.covers(path))) return false;
    return this.#allow.some((rule) => rule.mayMatchBelow(path));
  }

  #visible(path: string, type: FileType): boolean {
    return type === "dir" ? this.isTraversable(path) : this.isAllowed(path);
  }

  #denied(operation: string, path: string, dest?: string): Error {
    return fsError("EACCES", operation, path, {
      dest,
      reason: "the path is not allowed by the storage's path filter",
    });
  }

  /** Fail with `EACCES` unless `path` is allowed. */
  #check(operation: string, path: string, dest?: string): void {
    if (!this.isAllowed(path)) throw this.#denied(operation, path, dest);
  }

  /** A rejected `EACCES` for `path`. */
  #reject(operation: string, path: string): Promise<never> {
    return Promise.reject(this.#denied(operation, path));
  }

  /** Metadata of an allowed path, or of a directory on the way to one; `EACCES` otherwise. */
  override lstat(path: string): Promise<Metadata> {
    // Not async: the common allowed case hands back the backend's own promise.
    if (this.isAllowed(path)) return this.inner.lstat(path);
    return this.#lstatOnTheWay(path);
  }

  /** The inner backend's `tryLstat` (its `lstat` with a miss as `null` when it has none). */
  #tryLstatInner(path: string): Promise<Metadata | null> {
    // From this class's own call site, not the base's: see Middleware.
    const inner = this.inner;
    return inner.tryLstat !== undefined ? inner.tryLstat(path) : tryLstat(inner, path);
  }

  /** As {@linkcode PathFilter.lstat}, but `null` when nothing is at an allowed or traversable path. */
  override tryLstat(path: string): Promise<Metadata | null> {
    if (this.isAllowed(path)) return this.#tryLstatInner(path);
    return this.#tryLstatOnTheWay(path);
  }

  async #tryLstatOnTheWay(path: string): Promise<Metadata | null> {
    if (!this.isTraversable(path)) throw this.#denied("stat", path);
    const meta = await this.#tryLstatInner(path);
    if (meta !== null && meta.type !== "dir") throw this.#denied("stat", path);
    return meta;
  }

  async #lstatOnTheWay(path: string): Promise<Metadata> {
    if (!this.isTraversable(path)) throw this.#denied("stat", path);
    const meta = await this.inner.lstat(path);
    // Only directories lead anywhere: a file here is simply not allowed.
    if (meta.type !== "dir") throw this.#denied("stat", path);
    return meta;
  }

  /** The visible entries of an allowed or traversable directory; `EACCES` otherwise. */
  override readDir(path: string): Promise<DirEntry[]> {
    // Without deny rules, everything below an allowed directory is allowed
    // too (allow rules cover descendants): nothing to filter.
    if (this.#deny.length === 0 && this.isAllowed(path)) return this.inner.readDir(path);
    return this.#readDirFiltered(path);
  }

  async #readDirFiltered(path: string): Promise<DirEntry[]> {
    if (!this.isTraversable(path)) throw this.#denied("readdir", path);
    const entries = await this.inner.readDir(path);
    return entries.filter((entry) => this.#visible(childPath(path, entry.name), entry.type));
  }

  /** Fails with `EACCES` unless the path is allowed; forwards otherwise. */
  override readFile(path: string): Promise<Uint8Array> {
    if (!this.isAllowed(path)) return this.#reject("open", path);
    return this.inner.readFile(path);
  }
  /** Fails with `EACCES` unless the path is allowed; forwards otherwise. */
  override writeFile(path: string, data: Uint8Array, options?: WriteFileOptions): Promise<void> {
    if (!this.isAllowed(path)) return this.#reject("open", path);
    return this.inner.writeFile(path, data, options);
  }
  /** Creates an allowed or traversable directory; `EACCES` otherwise. */
  override mkdir(path: string, options?: CreateOptions): Promise<void> {
    if (!this.isTraversable(path)) return Promise.reject(this.#denied("mkdir", path));
    return this.inner.mkdir(path, options);
  }
  /** Fails with `EACCES` unless the path is allowed; forwards otherwise. */
  override unlink(path: string): Promise<void> {
    if (!this.isAllowed(path)) return this.#reject("unlink", path);
    return this.inner.unlink(path);
  }
  /**
   * Removes an allowed or traversable directory; `EACCES` otherwise, and
   * also when the directory only looks empty because everything left in it
   * is hidden.
   */
  override rmdir(path: string): Promise<void> {
    if (!this.isTraversable(path)) return Promise.reject(this.#denied("rmdir", path));
    if (this.#deny.length === 0 && this.#allow.length === 0) return this.inner.rmdir(path);
    return this.#rmdirExplained(path);
  }

  async #rmdirExplained(path: string): Promise<void> {
    try {
      await this.inner.rmdir(path);
    } catch (e) {
      // `rm -rf` of a directory holding a hidden .env would otherwise end in
      // "Directory not empty" on a directory that lists as empty; the entry
      // is protected, so say it is a permission matter.
      if (!isFsError(e) || e.code !== "ENOTEMPTY") throw e;
      if ((await this.#readDirFiltered(path)).length > 0) throw e;
      throw fsError("EACCES", "rmdir", path, {
        reason: "the directory holds entries the path filter hides, which cannot be removed",
      });
    }
  }

  /** Renames when both paths are allowed and no hidden entry would become visible; `EACCES` otherwise. */
  override rename(from: string, to: string): Promise<void> {
    if (this.#allowsEverything) return this.inner.rename(from, to);
    return this.#renameChecked(from, to);
  }

  async #renameChecked(from: string, to: string): Promise<void> {
    this.#check("rename", from, to);
    this.#check("rename", to, from);
    if (this.#deny.length > 0 && from !== to && from !== "/") {
      const meta = await this.inner.lstat(from);
      if (meta.type === "dir" && await this.#wouldExpose(from, to)) {
        throw fsError("EACCES", "rename", from, {
          dest: to,
          reason: "the directory holds entries the path filter denies, which would become visible",
        });
      }
    }
    return this.inner.rename(from, to);
  }

  /** Whether moving directory `from` to `to` would make a hidden entry below it visible. */
  async #wouldExpose(from: string, to: string): Promise<boolean> {
    const pending = [""];
    while (pending.length > 0) {
      const rel = pending.pop()!;
      for (const entry of await this.inner.readDir(from + rel)) {
        const sub = `${rel}/${entry.name}`;
        const hiddenHere = !this.#visible(from + sub, entry.type);
        if (hiddenHere && this.#visible(to + sub, entry.type)) return true;
        if (entry.type === "dir") pending.push(sub);
      }
    }
    return false;
  }

  /** Fails with `EACCES` unless the path is allowed; forwards otherwise. */
  override read(path: string, offset: number, length: number): Promise<Uint8Array> {
    if (!this.isAllowed(path)) return this.#reject("read", path);
    return super.read(path, offset, length);
  }
  /** Fails with `EACCES` unless the path is allowed; forwards otherwise. */
  override truncate(path: string, length: number): Promise<void> {
    if (!this.isAllowed(path)) return this.#reject("truncate", path);
    return super.truncate(path, length);
  }
  /** Fails with `EACCES` unless the path is allowed; forwards otherwise. */
  override appendFile(path: string, data: Uint8Array, options?: CreateOptions): Promise<void> {
    if (!this.isAllowed(path)) return this.#reject("open", path);
    return super.appendFile(path, data, options);
  }
  /** Copies when both paths are allowed; `EACCES` otherwise. */
  override copyFile(from: string, to: string): Promise<void> {
    try {
      this.#check("copyfile", from, to);
      this.#check("copyfile", to, from);
    } catch (e) {
      return Promise.reject(e);
    }
    return super.copyFile(from, to);
  }
  /** Creates the link when its path is allowed and its target leads somewhere visible; `EACCES` otherwise. */
  override symlink(
    target: string,
    path: string,
    options?: Omit<CreateOptions, "mode">,
  ): Promise<void> {
    if (!this.isAllowed(path)) return Promise.reject(this.#denied("symlink", path));
    // Where the link would lead, as far as can be told without following other links.
    const resolved = normalize(target, parentPath(path));
    if (!this.isTraversable(resolved)) {
      return Promise.reject(fsError("EACCES", "symlink", path, {
        dest: target,
        reason: "the link's target is not allowed by the storage's path filter",
      }));
    }
    return super.symlink(target, path, options);
  }
  /** Fails with `EACCES` unless the path is allowed; forwards otherwise. */
  override readLink(path: string): Promise<string> {
    if (!this.isAllowed(path)) return this.#reject("readlink", path);
    return super.readLink(path);
  }
  /** Links when both paths are allowed; `EACCES` otherwise. */
  override link(existing: string, newPath: string): Promise<void> {
    try {
      this.#check("link", existing, newPath);
      this.#check("link", newPath, existing);
    } catch (e) {
      return Promise.reject(e);
    }
    return super.link(existing, newPath);
  }
  /** Fails with `EACCES` unless the path is allowed; forwards otherwise. */
  override chmod(path: string, mode: number): Promise<void> {
    if (!this.isAllowed(path)) return this.#reject("chmod", path);
    return super.chmod(path, mode);
  }
  /** Fails with `EACCES` unless the path is allowed; forwards otherwise. */
  override chown(path: string, uid: number | null, gid: number | null): Promise<void> {
    if (!this.isAllowed(path)) return this.#reject("chown", path);
    return super.chown(path, uid, gid);
  }
  /** Fails with `EACCES` unless the path is allowed; forwards otherwise. */
  override utime(path: string, atimeMs: number | null, mtimeMs: number | null): Promise<void> {
    if (!this.isAllowed(path)) return this.#reject("utime", path);
    return super.utime(path, atimeMs, mtimeMs);
  }
  /** Fails with `EACCES` unless the path is allowed; forwards otherwise. */
  override fsync(path: string): Promise<void> {
    if (!this.isAllowed(path)) return this.#reject("fsync", path);
    return super.fsync(path);
  }

  /** Metadata by inode when the inode's path is visible (or it has none left); `EACCES` otherwise. */
  override async statIno(ino: number): Promise<Metadata> {
    let path: string | undefined;
    try {
      path = await super.inodePath(ino);
    } catch (e) {
      // An unlinked inode still held open was reached through an allowed path.
      if ((e as { code?: string }).code !== "ENOENT") throw e;
    }
    if (path !== undefined) await this.lstat(path);
    return super.statIno(ino);
  }
  /** The inode's path when it is visible; `EACCES` otherwise. */
  override async inodePath(ino: number): Promise<string> {
    const path = await super.inodePath(ino);
    await this.lstat(path);
    return path;
  }

  /** Fails with `EACCES` unless the path is allowed; forwards otherwise. */
  override open(path: string, options: OpenOptions): Promise<FileHandle> {
    if (!this.isAllowed(path)) return this.#reject("open", path);
    return super.open(path, options);
  }
  /** Reads an attribute of an allowed path or traversable directory; `EACCES` otherwise. */
  override getXattr(path: string, name: string): Promise<Uint8Array> {
    // Traversable directories answer xattr reads, as `ls -l` asks for ACLs.
    if (!this.isTraversable(path)) return Promise.reject(this.#denied("getxattr", path));
    return this.#xattrRead(path, () => super.getXattr(path, name));
  }
  /** Lists the attributes of an allowed path or traversable directory; `EACCES` otherwise. */
  override listXattr(path: string): Promise<string[]> {
    if (!this.isTraversable(path)) return Promise.reject(this.#denied("listxattr", path));
    return this.#xattrRead(path, () => super.listXattr(path));
  }
  async #xattrRead<T>(path: string, run: () => Promise<T>): Promise<T> {
    if (!this.isAllowed(path)) await this.lstat(path);
    return run();
  }
  /** Fails with `EACCES` unless the path is allowed; forwards otherwise. */
  override setXattr(
    path: string,
    name: string,
    value: Uint8Array,
    options?: SetXattrOptions,
  ): Promise<void> {
    if (!this.isAllowed(path)) return this.#reject("setxattr", path);
    return super.setXattr(path, name, value, options);
  }
  /** Fails with `EACCES` unless the path is allowed; forwards otherwise. */
  override removeXattr(path: string, name: string): Promise<void> {
    if (!this.isAllowed(path)) return this.#reject("removexattr", path);
    return super.removeXattr(path, name);
  }
  /** Fails with `EACCES` unless the path is allowed; forwards otherwise. */
  override mknod(
    path: string,
    mode: number,
    rdev: number,
    options?: Omit<CreateOptions, "mode">,
  ): Promise<void> {
    if (!this.isAllowed(path)) return this.#reject("mknod", path);
    return super.mknod(path, mode, rdev, options);
  }
}

/** The layer of {@linkcode PathFilter}. */
export class PathFilterLayer implements Layer<Backend, PathFilter> {
  /** The rules each wrapped backend gets. */
  readonly options: Readonly<PathFilterOptions>;

  /** A layer applying `options`. */
  constructor(options: PathFilterOptions = {}) {
    this.options = { ...options };
  }

  /** Wrap `inner` in a {@linkcode PathFilter}. */
  layer<B extends Backend>(inner: B): PathFilter<B> {
    return new PathFilter(inner, this.options);
  }
}
