/**
 * AnyFS: keep files in any storage — memory, one SQLite file, a contained
 * host directory, an overlay of two — behind one Deno-shaped file API, wrap
 * that storage in composable middleware, and mount any such stack as a real
 * file system.
 *
 * Importing this module and using the memory backend needs no permissions.
 *
 * @example Quick start
 * ```ts
 * import { FileStorage, MemoryBackend } from "@anyfs/anyfs";
 *
 * const fs = new FileStorage(new MemoryBackend());
 * await fs.mkdir("/docs", { recursive: true });
 * await fs.writeTextFile("/docs/hello.txt", "Hello!");
 * console.log(await fs.readTextFile("/docs/hello.txt"));
 * ```
 *
 * @module
 */

export * from "./src/core/mod.ts";
export type { FsApi, FsDirEntry, FsFileLike } from "./src/storage/api.ts";
export { HandleWrapper, Middleware } from "./src/middleware/middleware.ts";
