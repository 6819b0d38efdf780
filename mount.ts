/**
 * Mount any AnyFS backend — with any middleware stack — as a real Linux
 * file system through libfuse3, so every program on the machine can use it.
 *
 * Needs `--allow-ffi` and `--allow-read=<mount point>` (plus
 * `--allow-run=fusermount3` as non-root, to unmount and to clean up a dead
 * mount: only root may unmount through the C library). To use
 * the mount from the process that serves it, run with `-A` (see below).
 * Importing `@anyfs/anyfs` itself never loads FFI; only this entry point
 * does, and only when `mount()` or `isAvailable()` is called.
 *
 * The mounting process may use its own mount through Deno's async file API
 * with any number of operations in flight — with `--allow-all`, because
 * otherwise Deno resolves every path synchronously for its permission
 * check — but must never block its JavaScript thread on it: no synchronous
 * file function (`Deno.statSync`, …) on a path inside it, and no
 * `Deno.Command` with a `cwd` inside it. While mounted, all of these fail
 * at once with `EDEADLK` instead of hanging (see {@linkcode MountHandle}).
 *
 * @example Mount a memory backend and run a shell command in it
 * ```ts
 * import { MemoryBackend } from "@anyfs/anyfs";
 * import { isAvailable, mount } from "@anyfs/anyfs/mount";
 *
 * const a = isAvailable();
 * if (!a.available) throw new Error(`${a.reason}; fix: ${a.fix}`);
 * await Deno.mkdir("/tmp/anyfs-mnt", { recursive: true });
 * await using m = await mount(new MemoryBackend(), "/tmp/anyfs-mnt", { cache: "always" });
 * await new Deno.Command("sh", { args: ["-c", "echo hi > /tmp/anyfs-mnt/hello.txt"] }).output();
 * console.log(await Deno.readTextFile("/tmp/anyfs-mnt/hello.txt"), m.stats);
 * ```
 *
 * @module
 */

export {
  mount,
  MountBuilder,
  type MountEnd,
  MountHandle,
  type UnmountOptions,
} from "./src/mount/handle.ts";
export { type Availability, isAvailable } from "./src/mount/availability.ts";
export { MountError, type MountErrorDetails, type MountErrorKind } from "./src/mount/errors.ts";
export type { CachePolicy, MountOptions, ResolvedMountOptions } from "./src/mount/options.ts";
export type { MountStats, NegotiatedConnection } from "./src/mount/adapter.ts";
