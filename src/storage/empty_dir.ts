/**
 * `emptyDir`: make a directory empty, as `@std/fs`'s, over any Deno-shaped
 * file API.
 *
 * @module
 */

import type { FsApi } from "./api.ts";
import { codeOf, joinPath, toPathString } from "./paths.ts";

/**
 * Remove everything inside `dir` (links are removed, never followed), or
 * create it (with missing parents) when it does not exist. A file at `dir`
 * is `ENOTDIR`.
 *
 * @example
 * ```ts
 * import { emptyDir, FileStorage, MemoryBackend } from "@anyfs/anyfs";
 * const fs = new FileStorage(new MemoryBackend());
 * await fs.mkdir("/tmp/job/out", { recursive: true });
 * await emptyDir(fs, "/tmp/job");
 * console.log(await Array.fromAsync(fs.readDir("/tmp/job"))); // []
 * ```
 */
export async function emptyDir(
  fs: Pick<FsApi, "readDir" | "remove" | "mkdir">,
  dir: string | URL,
): Promise<void> {
  const path = toPathString(dir, "emptydir");
  const names: string[] = [];
  try {
    for await (const entry of fs.readDir(path)) names.push(entry.name);
  } catch (e) {
    if (codeOf(e) !== "ENOENT") throw e;
    await fs.mkdir(path, { recursive: true });
    return;
  }
  for (const name of names) await fs.remove(joinPath(path, name), { recursive: true });
}
