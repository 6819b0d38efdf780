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
 * Permissions: the storage commands need `--allow-read` and `--allow-write`
 * on the drive and host paths they touch (`--allow-env` and
 * `--allow-sys` let them find the user's defaults); `mount` also needs
 * `--allow-ffi` and `--allow-run` (for `fusermount3`) and Linux with FUSE 3
 * (`apt install fuse3`). `-A` grants all of it. A missing flag is named in
 * the error message, never prompted for.
 *
 * A single binary: `deno task compile` runs `deno compile` with exactly
 * these permissions and writes `./anyfs`. It needs Deno's download host for
 * the `denort` runtime (not reachable from this project's CI machines, so
 * CI never builds it).
 *
 * @module
 */

import { main } from "./src/cli/main.ts";

export { main };
export type { CliContext, OutputSink } from "./src/cli/output.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
