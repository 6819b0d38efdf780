/**
 * Path resolution for {@linkcode FileStorage}: turning the path a caller
 * wrote (`/a/./link/../b/`) into the canonical path a backend accepts, by
 * walking the backend's own directories and symbolic links the way the
 * Linux kernel walks a real file system.
 *
 * @module
 */

import type { Backend } from "../core/backend.ts";
import { fsError, isFsError } from "../core/errors.ts";
import type { Metadata } from "../core/types.ts";

/** How {@linkcode PathResolver.resolve} treats the last component of a path. */
export interface ResolveOptions {
  /**
   * Follow a symbolic link in the final position (`stat`, `readFile`,
   * `chmod` do; `lstat`, `rename`, `remove`, `readLink` do not). Links in
   * directory positions are always followed, and so is a final link when the
   * path ends with `/`.
   */
  readonly follow: boolean;
  /**
   * A missing final component is not an error (creating operations): the
   * result then has `meta: null` and `path` is where the entry would go.
   */
  readonly allowMissing: boolean;
}

/** What {@linkcode PathResolver.resolve} found. */
export interface Resolved {
  /**
   * The canonical backend path: absolute, no `.`/`..`/empty components, no
   * symbolic link in a directory position (nor in the final position when
   * the resolution followed it).
   */
  readonly path: string;
  /**
   * The metadata of the entry at `path` (never following), or `null` when
   * nothing is there (only with `allowMissing`).
   */
  readonly meta: Metadata | null;
  /**
   * The caller's path named a directory explicitly (it ended with `/`), so a
   * missing final component may only be created as a directory.
   */
  readonly mustBeDir: boolean;
}

/**
 * Resolves the paths a {@linkcode FileStorage} receives. Plug in your own
 * (case-insensitive lookup, a cache, …) with
 * `new FileStorage(backend, { resolver })`.
 *
 * Every method takes an absolute path exactly as the caller wrote it (the
 * storage has already applied its working directory and rejected NUL bytes
 * and over-long names) and throws members of the `FsError` family.
 */
export interface PathResolver {
  /**
   * Whether a path already in canonical form (see
   * {@linkcode isCanonicalForm}) resolves to itself unless a symbolic link
   * lies on it. When true, a storage may hand such a path straight to the
   * backend and consult the resolver only when the backend's answer could
   * come from an unfollowed link (any failure but `ENOENT` and `EISDIR`).
   * Leave it unset for resolvers that map names (case folding, aliases).
   */
  readonly cleanPathsResolveToThemselves?: boolean;
  /** Resolve `path` for one operation (see {@linkcode ResolveOptions}). */
  resolve(backend: Backend, path: string, options: ResolveOptions): Promise<Resolved>;
  /** The canonical path of an existing entry, every link followed (`realpath(3)`). */
  canonicalize(backend: Backend, path: string): Promise<string>;
  /**
   * Like {@linkcode PathResolver.canonicalize}, but a missing part is not an
   * error: the longest existing prefix is resolved and the rest appended
   * lexically (`realpath -m`).
   */
  softCanonicalize(backend: Backend, path: string): Promise<string>;
  /**
   * {@linkcode PathResolver.softCanonicalize} inside `anchor`, as if `anchor`
   * were the root (a chroot): `path` is taken relative to the anchor even
   * when absolute, absolute link targets restart at the anchor and `..`
   * never climbs above it, so the result always lies within the anchor.
   */
  anchoredCanonicalize(backend: Backend, path: string, anchor: string): Promise<string>;
}

/** Options of {@linkcode IterativeResolver}. */
export interface IterativeResolverOptions {
  /** How many symbolic links one resolution may follow before `ELOOP` (Linux: 40). */
  maxSymlinks?: number;
}

/** Linux's `MAXSYMLINKS`: links followed in one path walk before `ELOOP`. */
export const MAX_SYMLINKS = 40;

const SLASH = 47;
const DOT = 46;

type WalkMode = "strict" | "soft";

/** The result of lexically cleaning a path that has no `..` component. */
interface Lexical {
  path: string;
  /** It ended with `/` (or `/.`). */
  mustBeDir: boolean;
  /** It ended with `/.`: the entry must already exist. */
  mustExist: boolean;
}

/**
 * Whether `path` is already canonical in form: absolute, no empty, `.` or
 * `..` components, no trailing slash. Scans without allocating: this is
 * checked on every call.
 */
export function isCanonicalForm(path: string): boolean {
  const n = path.length;
  if (n === 0 || path.charCodeAt(0) !== SLASH) return false;
  if (n === 1) return true;
  if (path.charCodeAt(n - 1) === SLASH) return false;
  for (let i = 0; i < n; i++) {
    if (path.charCodeAt(i) !== SLASH) continue;
    const c1 = path.charCodeAt(i + 1);
    if (c1 === SLASH) return false;
    if (c1 === DOT) {
      const c2 = path.charCodeAt(i + 2);
      if (i + 2 === n || c2 === SLASH) return false;
      if (c2 === DOT && (i + 3 === n || path.charCodeAt(i + 3) === SLASH)) return false;
    }
  }
  return true;
}

/** Clean `path` lexically, or `null` when it has a `..` component (which needs the file system). */
function lexical(path: string): Lexical | null {
  const parts = path.split("/");
  let end = parts.length;
  let mustBeDir = false;
  let mustExist = false;
  while (end > 1 && (parts[end - 1] === "" || parts[end - 1] === ".")) {
    mustBeDir = true;
    if (parts[end - 1] === ".") mustExist = true;
    end--;
  }
  const out: string[] = [];
  for (let i = 0; i < end; i++) {
    const part = parts[i];
    if (part === "" || part === ".") continue;
    if (part === "..") return null;
    out.push(part);
  }
  return { path: "/" + out.join("/"), mustBeDir, mustExist };
}

/**
 * Push the components of `path` onto `pending` (a stack: the next component
 * is at the end). Returns how the path ended: 1 = with `/`, 2 = with `/.`,
 * 0 = with a name or `..`.
 */
function pushComponents(pending: string[], path: string): number {
  const parts = path.split("/");
  let end = parts.length;
  let tail = 0;
  while (end > 0 && (parts[end - 1] === "" || parts[end - 1] === ".")) {
    if (parts[end - 1] === ".") tail = 2;
    else if (tail === 0) tail = 1;
    end--;
  }
  for (let i = end - 1; i >= 0; i--) {
    const part = parts[i];
    if (part !== "" && part !== ".") pending.push(part);
  }
  // A path that is nothing but slashes and dots names the starting directory.
  if (end === 0) tail = 0;
  return tail;
}

function join(parts: readonly string[], length: number): string {
  if (length === 0) return "/";
  let out = "";
  for (let i = 0; i < length; i++) out += "/" + parts[i];
  return out;
}

function codeOf(error: unknown): string | undefined {
  return isFsError(error) ? error.code : (error as { code?: string } | null)?.code;
}

/** The outcome of a walk: the canonical components and the final entry's metadata. */
interface Walked {
  parts: string[];
  /** `undefined` when the walk ended on `..` (the caller looks it up). */
  meta: Metadata | null | undefined;
  mustBeDir: boolean;
}

/**
 * The default resolver: walks a path one component at a time with the
 * backend's `lstat` and `readLink`, as the Linux kernel does.
 *
 * - Symbolic links in directory positions are always followed; a final link
 *   is followed when the operation follows (`stat` yes, `lstat` no) or the
 *   path ends with `/`.
 * - `..` is resolved *after* the link before it has been followed, against
 *   the link's target (physical resolution): with `/a/link -> /x/y`,
 *   `/a/link/..` is `/x`, not `/a`.
 * - More than 40 links in one resolution is `ELOOP`; a non-directory used
 *   as a directory is `ENOTDIR`; a missing intermediate directory `ENOENT`;
 *   a trailing slash requires a directory (`ENOTDIR` otherwise).
 *
 * Paths without `..` take a fast path: one `lstat` of the lexically cleaned
 * path, which the backend contract makes conclusive (a symlink or file in
 * a directory position makes the backend fail with `ENOTDIR`, which sends
 * the resolution down the full walk). Backends without symbolic links never
 * need more than that.
 *
 * @example
 * ```ts
 * import { FileStorage, IterativeResolver, MemoryBackend } from "@anyfs/anyfs";
 *
 * const fs = new FileStorage(new MemoryBackend(), {
 *   resolver: new IterativeResolver({ maxSymlinks: 8 }),
 * });
 * await fs.mkdir("/real/sub", { recursive: true });
 * await fs.symlink("/real/sub", "/link");
 * console.log(await fs.realPath("/link/..")); // "/real"
 * ```
 */
export class IterativeResolver implements PathResolver {
  /** Links one resolution may follow before `ELOOP`. */
  readonly maxSymlinks: number;
  /** True: a clean path resolves to itself unless a link is on the way. */
  readonly cleanPathsResolveToThemselves = true;

  /** A resolver following at most `options.maxSymlinks` (default 40) links per resolution. */
  constructor(options: IterativeResolverOptions = {}) {
    const max = options.maxSymlinks ?? MAX_SYMLINKS;
    if (!Number.isSafeInteger(max) || max < 0) {
      throw fsError("EINVAL", "resolver", "", { reason: `bad maxSymlinks ${max}` });
    }
    this.maxSymlinks = max;
  }

  async resolve(backend: Backend, path: string, options: ResolveOptions): Promise<Resolved> {
    let clean = path;
    let mustBeDir = false;
    let mustExist = false;
    if (!isCanonicalForm(path)) {
      const lex = lexical(path);
      if (lex === null) return this.#resolveByWalk(backend, path, options);
      clean = lex.path;
      mustBeDir = lex.mustBeDir;
      mustExist = lex.mustExist;
    }
    let meta: Metadata;
    try {
      meta = await backend.lstat(clean);
    } catch (e) {
      const code = codeOf(e);
      if (code === "ENOENT") {
        // Conclusive: every component before the missing one was a real
        // directory (a link there would have been ENOTDIR).
        if (!options.allowMissing || mustExist) throw e;
        // Only the final component may be missing: look at the parent.
        const cut = clean.lastIndexOf("/");
        if (cut === 0) return { path: clean, meta: null, mustBeDir };
        const parent = await backend.lstat(clean.slice(0, cut));
        if (parent.type === "dir") return { path: clean, meta: null, mustBeDir };
        return this.#resolveByWalk(backend, path, options);
      }
      if (code === "ENOTDIR") return this.#resolveByWalk(backend, path, options);
      throw e;
    }
    if (meta.type === "symlink" && (options.follow || mustBeDir)) {
      return this.#resolveByWalk(backend, path, options);
    }
    if (mustBeDir && meta.type !== "dir") throw fsError("ENOTDIR", "resolve", path);
    return { path: clean, meta, mustBeDir };
  }

  async canonicalize(backend: Backend, path: string): Promise<string> {
    if (isCanonicalForm(path)) {
      const meta = await backend.lstat(path).catch((e) => {
        if (codeOf(e) === "ENOTDIR") return null;
        throw e;
      });
      if (meta !== null && meta.type !== "symlink") return path;
    }
    const walked = await this.#walk(backend, path, "strict", true, false, 0, []);
    return join(walked.parts, walked.parts.length);
  }

  async softCanonicalize(backend: Backend, path: string): Promise<string> {
    const walked = await this.#walk(backend, path, "soft", true, false, 0, []);
    return join(walked.parts, walked.parts.length);
  }

  async anchoredCanonicalize(backend: Backend, path: string, anchor: string): Promise<string> {
    const root = await this.softCanonicalize(backend, anchor);
    const base = root === "/" ? [] : root.slice(1).split("/");
    const walked = await this.#walk(backend, path, "soft", true, false, base.length, base);
    return join(walked.parts, walked.parts.length);
  }

  async #resolveByWalk(backend: Backend, path: string, options: ResolveOptions): Promise<Resolved> {
    const walked = await this.#walk(
      backend,
      path,
      "strict",
      options.follow,
      options.allowMissing,
      0,
      [],
    );
    const resolved = join(walked.parts, walked.parts.length);
    // A walk that ended on `..` stands on a directory it has not looked at.
    const meta = walked.meta === undefined ? await backend.lstat(resolved) : walked.meta;
    return { path: resolved, meta, mustBeDir: walked.mustBeDir };
  }

  /**
   * The component-by-component walk. `parts` holds the canonical components
   * resolved so far — all real directories except possibly the last one
   * pushed at the end — starting with the anchor's `base` components, below
   * which `..` and absolute link targets never go.
   */
  async #walk(
    backend: Backend,
    path: string,
    mode: WalkMode,
    follow: boolean,
    allowMissing: boolean,
    base: number,
    parts: string[],
  ): Promise<Walked> {
    const pending: string[] = [];
    const tail = pushComponents(pending, path);
    let mustBeDir = tail !== 0;
    const mustExist = tail === 2;
    let links = 0;
    // In soft mode, the index in `parts` from which components are missing
    // and were appended lexically (-1: everything so far exists).
    let missingFrom = -1;
    let meta: Metadata | null | undefined = undefined;
    while (pending.length > 0) {
      const name = pending.pop()!;
      if (name === "..") {
        if (parts.length > base) parts.pop();
        if (missingFrom >= parts.length) missingFrom = -1;
        meta = undefined;
        continue;
      }
      const last = pending.length === 0;
      if (missingFrom >= 0) {
        parts.push(name);
        meta = null;
        continue;
      }
      parts.push(name);
      const candidate = join(parts, parts.length);
      let entry: Metadata;
      try {
        entry = await backend.lstat(candidate);
      } catch (e) {
        if (codeOf(e) !== "ENOENT") throw e;
        if (mode === "soft") {
          missingFrom = parts.length - 1;
          meta = null;
          continue;
        }
        if (last && allowMissing && !mustExist) return { parts, meta: null, mustBeDir };
        throw fsError("ENOENT", "resolve", path, { cause: e });
      }
      if (entry.type === "symlink" && (!last || follow || mustBeDir)) {
        if (++links > this.maxSymlinks) throw fsError("ELOOP", "resolve", path);
        const target = await readLinkOf(backend, candidate, path);
        parts.pop();
        if (target === "") throw fsError("ENOENT", "resolve", path);
        if (target.charCodeAt(0) === SLASH) parts.length = base;
        const targetTail = pushComponents(pending, target);
        // The link's target decides about the trailing slash only when the
        // link itself was the final component.
        if (last && targetTail !== 0) mustBeDir = true;
        meta = undefined;
        continue;
      }
      if (entry.type !== "dir" && (!last || mustBeDir)) {
        throw fsError("ENOTDIR", "resolve", path);
      }
      meta = entry;
    }
    return { parts, meta, mustBeDir };
  }
}

async function readLinkOf(backend: Backend, path: string, original: string): Promise<string> {
  const b = backend as Backend & { readLink?: (path: string) => Promise<string> };
  if (typeof b.readLink !== "function") {
    throw fsError("EIO", "resolve", original, {
      reason: "the backend reports a symbolic link but cannot read it",
    });
  }
  return await b.readLink(path);
}
