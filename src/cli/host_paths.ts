/**
 * Host paths as the command line takes them: relative to the working
 * directory, made absolute once, checked for the usual mistakes with a
 * message that says what to do.
 *
 * @module
 */

import { posix } from "node:path";
import { CliError } from "./errors.ts";

/**
 * `path` made absolute against the working directory and normalized.
 * Reading the working directory needs `--allow-read`; without it a
 * relative path fails with a message naming the flag.
 */
export function absoluteHostPath(path: string): string {
  if (path.startsWith("/")) return posix.normalize(path).replace(/(.)\/$/, "$1");
  if (Deno.permissions.querySync({ name: "read" }).state !== "granted") {
    throw new CliError(
      `cannot resolve the relative path '${path}' without read access to the working directory`,
      "run deno with --allow-read, or give an absolute path",
    );
  }
  return posix.resolve(Deno.cwd(), path);
}

/** Whether `path` is `dir` itself or lies inside it (both absolute and normalized). */
export function isInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === "/" ? "/" : `${dir}/`);
}

/**
 * `Deno.lstat` of `path`, or `undefined` when nothing is there. Other
 * failures (permission, not a directory on the way) are thrown.
 */
export async function lstatOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** Fail with a message naming the flag unless Deno may `access` `path`. */
export function requireHostAccess(path: string, access: "read" | "write"): void {
  if (Deno.permissions.querySync({ name: access, path }).state !== "granted") {
    throw new CliError(
      `no ${access} access to ${path}`,
      `run deno with --allow-${access}=${path} (or -A)`,
    );
  }
}
