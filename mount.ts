/**
 * Mount any AnyFS backend as a real file system (libfuse3 on Linux).
 *
 * Needs `--allow-ffi` (and read access to the mount point). Importing
 * `@anyfs/anyfs` itself never loads FFI; only this entry point does.
 *
 * @module
 */

export {};
