/**
 * The Deno-shaped file API: {@linkcode FileStorage}, its open files, its
 * pluggable path resolver and the `@std/fs`-style helpers, which also work
 * over any other Deno-shaped file API (including `Deno` itself).
 *
 * @module
 */

export * from "./file_storage.ts";
export * from "./fs_file.ts";
export * from "./resolver.ts";
export * from "./file_info.ts";
export { toPathString } from "./paths.ts";
export { walk, type WalkEntry, type WalkFs, type WalkOptions } from "./walk.ts";
export * from "./expand_glob.ts";
export { copy, type CopyFs, type CopyOptions } from "./copy.ts";
export * from "./move.ts";
export * from "./ensure.ts";
export * from "./empty_dir.ts";
export * from "./json.ts";
