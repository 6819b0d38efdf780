/**
 * The `anyfs` command line: mount any AnyFS backend as a directory, and
 * work on a drive (a SQLite file, a host directory, an overlay) without
 * mounting it.
 *
 * ```sh
 * deno run -A jsr:@anyfs/anyfs/cli mount /mnt/work sqlite:./work.db
 * deno run -A jsr:@anyfs/anyfs/cli import sqlite:./site.db ./public
 * deno run -A jsr:@anyfs/anyfs/cli ls -l sqlite:./site.db /
 * ```
 *
 * | command | what it does |
 * | --- | --- |
 * | `mount <mountpoint> [backend]` | mount (foreground; Ctrl+C unmounts); default backend `mem:` |
 * | `unmount <mountpoint>` | unmount, also a dead mount |
 * | `status` | what AnyFS has mounted |
 * | `ls`, `tree`, `cat`, `stat`, `du` `<backend> [path]` | look into a drive |
 * | `mkdir`, `rm`, `mv`, `cp` `<backend> <path>…` | change a drive |
 * | `import <backend> <hostdir> [path]` | copy a host tree in (modes, times, symlinks kept) |
 * | `export <backend> <path> <hostdir>` | copy a tree out to the host |
 *
 * Backends: `mem:`, `sqlite:PATH` (or a bare `PATH.db`), `dir:PATH` (a
 * contained host directory), `overlay:LOWER,UPPER`. Every command takes
 * `--help`; `anyfs --version` prints the version. Exit status: 0 success,
 * 1 a failed operation, 2 bad usage; errors are one line naming the path
 * and the fix (`ANYFS_DEBUG=1` adds the stack trace).
 *
 * Permissions: the drive commands need `--allow-read` and `--allow-write`
 * on the drive and the host paths they touch (`--allow-env` and
 * `--allow-sys` let them find the user's defaults). `mount`, `unmount` and
 * `status` need `-A`: mounting calls libfuse through FFI (which can do
 * anything, so `--allow-ffi` is all access in effect), Deno lets a program
 * use `/dev/fuse` only with `--allow-all`, and they run `fusermount3`.
 * Mounting also needs Linux with FUSE 3 (`apt install fuse3`). A missing
 * flag is named in the error message, never prompted for.
 *
 * A single binary: `deno task compile` runs
 * `deno compile --allow-all --output anyfs cli.ts`. It downloads Deno's
 * `denort` runtime from `dl.deno.land`, which this project's CI machines
 * cannot reach, so CI never builds it; the same permissions are what every
 * CLI test runs with.
 *
 * @module
 */

import { main } from "./src/cli/main.ts";

export { main };
export type { CliContext, OutputSink } from "./src/cli/output.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
