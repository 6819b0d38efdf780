/**
 * The core contract of AnyFS: data types, the error family and its errno
 * table, the backend contract with its capabilities, path helpers and the
 * operations derived for backends that implement only the required core.
 *
 * @module
 */

export * from "./errno.ts";
export * from "./errors.ts";
export * from "./types.ts";
export * from "./backend.ts";
export * from "./path.ts";
export * from "./derive.ts";
