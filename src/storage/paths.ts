/**
 * Small path helpers shared by {@linkcode FileStorage} and the `@std/fs`-style
 * helpers: `file:` URL conversion and lexical joins that keep a relative
 * path relative.
 *
 * @module
 */

import { fsError } from "../core/errors.ts";

/**
 * The path a `string | URL` argument names. A `file:` URL becomes its
 * decoded path; any other URL is `EINVAL` (Deno: "Must be a file URL").
 *
 * @example
 * ```ts
 * import { toPathString } from "@anyfs/anyfs";
 * console.log(toPathString(new URL("file:///tmp/a%20b"), "stat")); // "/tmp/a b"
 * ```
 */
export function toPathString(path: string | URL, operation: string): string {
  if (typeof path === "string") return path;
  if (path instanceof URL) {
    if (path.protocol !== "file:") {
      throw fsError("EINVAL", operation, path.href, { reason: "Must be a file URL" });
    }
    if (path.hostname !== "" && path.hostname !== "localhost") {
      throw fsError("EINVAL", operation, path.href, { reason: "the file URL names a host" });
    }
    try {
      return decodeURIComponent(path.pathname);
    } catch (e) {
      throw fsError("EINVAL", operation, path.href, { reason: "bad %-escape", cause: e });
    }
  }
  throw fsError("EINVAL", operation, String(path), { reason: "path must be a string or URL" });
}

/** `dir` and `name` joined with one `/` (a relative `dir` stays relative). */
export function joinPath(dir: string, name: string): string {
  if (dir === "") return name;
  return dir.charCodeAt(dir.length - 1) === 47 ? dir + name : dir + "/" + name;
}

/** The last component of `path`, ignoring trailing slashes (`""` for the root). */
export function lastComponent(path: string): string {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 47) end--;
  const body = path.slice(0, end);
  return body === "/" ? "" : body.slice(body.lastIndexOf("/") + 1);
}

/** `path` without its last component (`"."` for a bare relative name, `"/"` at the top). */
export function dirName(path: string): string {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 47) end--;
  const cut = path.lastIndexOf("/", end - 1);
  if (cut < 0) return ".";
  if (cut === 0) return "/";
  let stop = cut;
  while (stop > 1 && path.charCodeAt(stop - 1) === 47) stop--;
  return path.slice(0, stop);
}

/** The `code` of a thrown error (`"ENOENT"`, …), if it has one. */
export function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}
