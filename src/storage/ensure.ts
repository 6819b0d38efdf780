/**
 * `ensureDir` and `ensureFile`: make sure something exists, as `@std/fs`'s,
 * over any Deno-shaped file API.
 *
 * @module
 */

import { fsError } from "../core/errors.ts";
import type { FsApi } from "./api.ts";
import { codeOf, dirName, toPathString } from "./paths.ts";

/**
 * Make sure `dir` is a directory, creating it and missing parents
 * (`mkdir -p`). Something else at `dir` is `EEXIST`.
 *
 * @example
 * ```ts
 * import { ensureDir, FileStorage, MemoryBackend } from "@anyfs/anyfs";
 * const fs = new FileStorage(new MemoryBackend());
 * await ensureDir(fs, "/var/cache/app");
 * await ensureDir(fs, "/var/cache/app"); // already there: fine
 * ```
 */
export async function ensureDir(fs: Pick<FsApi, "mkdir">, dir: string | URL): Promise<void> {
  await fs.mkdir(toPathString(dir, "mkdir"), { recursive: true });
}

/**
 * Make sure `file` is a regular file (links followed), creating an empty
 * one and its missing parent directories if nothing is there. A directory
 * at `file` is `EISDIR`, anything else that is not a file `EEXIST`.
 *
 * @example
 * ```ts
 * import { ensureFile, FileStorage, MemoryBackend } from "@anyfs/anyfs";
 * const fs = new FileStorage(new MemoryBackend());
 * await ensureFile(fs, "/logs/today.log");
 * console.log((await fs.stat("/logs/today.log")).size); // 0
 * ```
 */
export async function ensureFile(
  fs: Pick<FsApi, "stat" | "mkdir" | "writeFile">,
  file: string | URL,
): Promise<void> {
  const op = "ensurefile";
  const path = toPathString(file, op);
  const check = (info: Deno.FileInfo) => {
    if (info.isFile) return;
    throw fsError(info.isDirectory ? "EISDIR" : "EEXIST", op, path, {
      reason: `expected a file, found a ${info.isDirectory ? "directory" : "special file"}`,
    });
  };
  try {
    return check(await fs.stat(path));
  } catch (e) {
    if (codeOf(e) !== "ENOENT") throw e;
  }
  await fs.mkdir(dirName(path), { recursive: true });
  try {
    await fs.writeFile(path, new Uint8Array(), { createNew: true });
  } catch (e) {
    if (codeOf(e) !== "EEXIST") throw e;
    // Created by someone else meanwhile, or a dangling link is in the way.
    let info: Deno.FileInfo;
    try {
      info = await fs.stat(path);
    } catch {
      throw e;
    }
    check(info);
  }
}
