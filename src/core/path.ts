/**
 * Lexical helpers for the canonical absolute paths backends receive, and
 * the name checks every creating operation applies.
 *
 * @module
 */

import { fsError } from "./errors.ts";

/** Longest file name, in UTF-8 bytes (Linux `NAME_MAX`). */
export const NAME_MAX = 255;
/** Longest path, in UTF-8 bytes including the terminating NUL (Linux `PATH_MAX`). */
export const PATH_MAX = 4096;

const encoder = new TextEncoder();

/** Length of `s` in UTF-8 bytes, without allocating for ASCII. */
export function utf8Length(s: string): number {
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  return ascii ? s.length : encoder.encode(s).length;
}

/**
 * Reject a path no file system accepts: one containing NUL (`EINVAL`) or
 * longer than {@linkcode PATH_MAX} bytes (`ENAMETOOLONG`), or one with a
 * component longer than {@linkcode NAME_MAX} bytes (`ENAMETOOLONG`).
 *
 * @example
 * ```ts
 * import { checkPath } from "@anyfs/anyfs";
 * checkPath("/ok/name.txt", "open"); // fine
 * try { checkPath("/bad\0name", "open"); } catch (e) { console.log((e as Error).message); }
 * ```
 */
export function checkPath(path: string, operation: string): void {
  if (path.includes("\0")) {
    throw fsError("EINVAL", operation, path.replaceAll("\0", "\\0"), {
      reason: "path contains a NUL byte",
    });
  }
  if (path.length >= PATH_MAX / 4 && utf8Length(path) >= PATH_MAX) {
    throw fsError("ENAMETOOLONG", operation, path.slice(0, 64) + "…");
  }
  // Scan components only when the path is long enough for one to be over.
  if (path.length > NAME_MAX / 4) {
    let start = 0;
    for (let i = 0; i <= path.length; i++) {
      if (i === path.length || path.charCodeAt(i) === 47 /* / */) {
        const len = i - start;
        if (
          len > NAME_MAX / 4 && utf8Length(path.slice(start, i)) > NAME_MAX
        ) {
          throw fsError("ENAMETOOLONG", operation, path);
        }
        start = i + 1;
      }
    }
  }
}

/**
 * Check one name a creating operation is about to add to a directory:
 * not empty, not `.`/`..`, no `/` or NUL, at most {@linkcode NAME_MAX} bytes.
 */
export function checkName(name: string, operation: string, path: string): void {
  if (name === "" || name === "." || name === "..") {
    throw fsError(name === "" ? "ENOENT" : "EEXIST", operation, path);
  }
  if (name.includes("/") || name.includes("\0")) {
    throw fsError("EINVAL", operation, path.replaceAll("\0", "\\0"), {
      reason: "name contains '/' or a NUL byte",
    });
  }
  if (name.length > NAME_MAX / 4 && utf8Length(name) > NAME_MAX) {
    throw fsError("ENAMETOOLONG", operation, path);
  }
}

/**
 * The components of a canonical absolute path (`[]` for the root).
 *
 * @example
 * ```ts
 * import { splitPath } from "@anyfs/anyfs";
 * console.log(splitPath("/a/b")); // ["a", "b"]
 * ```
 */
export function splitPath(path: string): string[] {
  return path === "/" ? [] : path.slice(1).split("/");
}

/** The parent of a canonical absolute path (the root's parent is the root). */
export function parentPath(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/** The last component of a canonical absolute path (`""` for the root). */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** `dir` joined with one `name` (both canonical). */
export function childPath(dir: string, name: string): string {
  return dir === "/" ? "/" + name : dir + "/" + name;
}

/** Whether `path` is `ancestor` or lies below it (both canonical). */
export function isWithin(path: string, ancestor: string): boolean {
  if (ancestor === "/") return true;
  return path === ancestor ||
    (path.startsWith(ancestor) && path.charCodeAt(ancestor.length) === 47);
}

/**
 * Lexical normalization: resolves `.` and `..` textually (never above the
 * root), collapses repeated slashes and drops a trailing slash. Relative
 * paths are taken relative to `cwd` (default `/`). It does not consult any
 * file system, so `a/link/..` becomes `a` even when `link` is a symlink;
 * use a storage's `realPath`/`canonicalize` when that matters.
 *
 * @example
 * ```ts
 * import { normalize } from "@anyfs/anyfs";
 * console.log(normalize("//a/./b/../c/")); // "/a/c"
 * console.log(normalize("x/y", "/home")); // "/home/x/y"
 * ```
 */
export function normalize(path: string, cwd = "/"): string {
  const full = path.startsWith("/") ? path : `${cwd}/${path}`;
  const out: string[] = [];
  for (const part of full.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return "/" + out.join("/");
}

/** Whether `path` is already in canonical form (absolute, no `.`/`..`/empty parts, no trailing slash). */
export function isNormalized(path: string): boolean {
  if (path === "/") return true;
  if (!path.startsWith("/") || path.endsWith("/")) return false;
  for (const part of path.slice(1).split("/")) {
    if (part === "" || part === "." || part === "..") return false;
  }
  return true;
}
