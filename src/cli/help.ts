/**
 * The help texts of the `anyfs` command line: the overview of
 * `anyfs --help` and each command's `--help`, with examples.
 *
 * @module
 */

import { MIDDLEWARE_HELP } from "./middleware_flags.ts";

const BACKENDS = `Backends:
  mem:                  In memory; gone when anyfs exits (the default for mount)
  sqlite:PATH           A drive in one SQLite file, created when a command writes
                        (a bare PATH ending in .db, .sqlite, .sqlite3 or .anyfs also works)
  dir:PATH              A host directory, contained: links in it cannot lead out of it
  overlay:LOWER,UPPER   LOWER read-only, every change goes to UPPER (each mem:, sqlite: or
                        dir:), e.g. overlay:dir:./template,mem:`;

const STORAGE_FLAGS = `  --read-only           Refuse every change ("Read-only file system")
  -h, --help            Show this help

${MIDDLEWARE_HELP}`;

/** `anyfs --help`. */
export function mainHelp(version: string): string {
  return `anyfs ${version} — files in any storage, mounted as a real directory or used directly

Usage: anyfs <command> [flags] [arguments]

Mounting (Linux with FUSE 3):
  mount <mountpoint> [backend]        Mount a backend (foreground; Ctrl+C unmounts)
  unmount <mountpoint>                Unmount; also cleans up a dead mount
  status                              Show what AnyFS has mounted

Working on a drive without mounting:
  ls <backend> [path...]              List directories
  tree <backend> [path]               Show a directory tree
  cat <backend> <path...>             Print files
  stat <backend> <path...>            Show metadata
  du <backend> [path]                 Show the space a tree takes
  mkdir <backend> <path...>           Create directories
  rm <backend> <path...>              Remove files and directories
  mv <backend> <source> <dest>        Move or rename
  cp <backend> <source> <dest>        Copy inside the drive
  import <backend> <hostdir> [path]   Copy a host directory tree into the drive
  export <backend> <path> <hostdir>   Copy a tree out of the drive to the host
  compact <sqlite-drive>              Give a drive file's free space back to the host

${BACKENDS}

Every command takes --help. Exit status: 0 success, 1 an operation failed, 2 bad usage.
Set ANYFS_DEBUG=1 to see stack traces.

Examples:
  anyfs mount /mnt/scratch                          # an empty in-memory drive
  anyfs mount /mnt/work sqlite:./work.db --quota-size 1G
  anyfs import sqlite:./site.db ./public /www       # host tree into a drive file
  anyfs ls -l sqlite:./site.db /www
  anyfs export sqlite:./site.db /www ./restored`;
}

/** `anyfs mount --help`. */
export const MOUNT_HELP = `Usage: anyfs mount <mountpoint> [backend] [flags]

Mount a backend as a directory every program can use, and serve it in the
foreground until Ctrl+C, SIGTERM, SIGHUP (the terminal closed) or 'anyfs
unmount <mountpoint>'. Prints one line when mounted. Stopping while programs
still use the mount waits for them to finish, mounted; a second Ctrl+C detaches
it and cuts them off. The mount point must be an existing, empty directory. The
backend defaults to mem: (in memory, needs no setup). 'anyfs mount
./drive.db /mnt/x' (backend first) works too.

Needs Linux with FUSE 3 (apt install fuse3) and, under deno run, --allow-ffi
(mounting calls libfuse) with read/write access to the mount point and the
drive; -A covers everything.

Mount options:
  --read-only           Refuse every change ("Read-only file system")
  --allow-other         Let other users use the mount (non-root: needs user_allow_other
                        in /etc/fuse.conf)
  --uid N, --gid N      Show every file as owned by this user / group id (default: the
                        stored owners when root mounts, else the mounting user)
  --cache POLICY        Kernel caching: never, auto (default) or always. always is the
                        fastest and right when nothing else changes the backend
  --entry-timeout S     Seconds the kernel may cache names (default: from --cache)
  --attr-timeout S      Seconds the kernel may cache attributes (default: from --cache)
  --fs-name NAME        The name 'mount' and 'df' show (default: the backend spec)
  --writeback-cache     Let the kernel batch small writes (faster; errors come late, so
                        not with --quota-size or --max-file-size)
  --debug               Print libfuse's trace of every request to stderr
  --stats               Print live counters (ops/s, bytes, errors) to stderr every second
  --nonempty            Mount even over a directory that is not empty (its contents are
                        hidden until unmount)
  --no-auto-unmount     If anyfs dies (kill -9, a crash), leave a dead mount ("Transport
                        endpoint is not connected") instead of unmounting: programs still
                        working inside then fail rather than write to the directory
                        underneath. 'anyfs unmount' or the next mount cleans it up
  -h, --help            Show this help

${MIDDLEWARE_HELP}

${BACKENDS}

Good to know:
  File watchers (inotify: fs.watch, nodemon, vite, tsc --watch) see every change made
  through the mount, by any process. They do not see changes made to the backend
  directly (the host directory of dir:, an overlay's LOWER, another 'anyfs' command
  on the same sqlite: drive): such changes show up in listings and reads, without an
  event. Use polling there (e.g. CHOKIDAR_USEPOLLING=1, fs.watchFile).

  If anyfs is killed, the mount goes away and paths under the mount point lead to the
  host directory underneath: a program still writing there by absolute path (npm, an
  agent) then writes to the host disk, past every quota and filter. For a sandbox, mount
  with --no-auto-unmount so that such writes fail instead.

Examples:
  mkdir -p /tmp/scratch && anyfs mount /tmp/scratch
  anyfs mount /mnt/work sqlite:./work.db --cache always
  anyfs mount /mnt/ws overlay:dir:./template,mem:     # throwaway changes over a template
  anyfs mount /mnt/agent mem: --quota-size 100M --deny .env --allow '/workspace/**'
  anyfs mount /mnt/audit dir:./project --read-only --trace-file audit.jsonl --stats`;

/** `anyfs unmount --help`. */
export const UNMOUNT_HELP = `Usage: anyfs unmount <mountpoint> [flags]

Unmount a FUSE file system; the 'anyfs mount' serving it then exits. Also
cleans up a dead mount ("Transport endpoint is not connected") left by a
killed server. Aliases: umount.

Flags:
  --lazy                Detach now even while files are open or a shell is inside;
                        the mount goes away when the last user leaves. Meanwhile new
                        paths under the mount point lead to the directory underneath
  -h, --help            Show this help

Examples:
  anyfs unmount /mnt/work
  anyfs unmount --lazy /mnt/work`;

/** `anyfs status --help`. */
export const STATUS_HELP = `Usage: anyfs status [flags]

List the file systems AnyFS has mounted (type fuse.anyfs): mount point,
backend and the process serving it (for mounts made by 'anyfs mount').

Flags:
  --check               Also ask each mount whether it answers (ok, dead, not responding);
                        a dead one is cleaned up by 'anyfs unmount'
  --json                One JSON object per mount, one per line
  -h, --help            Show this help

Examples:
  anyfs status
  anyfs status --check --json`;

/** `anyfs ls --help`. */
export const LS_HELP = `Usage: anyfs ls <backend> [path...] [flags]

List a directory of a drive (default /), or show a file's name.

Flags:
  -l, --long            Long format: mode, links, owner, group, size, time, name
  -a, --all             Include names starting with '.'
  --json                One JSON object per entry
${STORAGE_FLAGS}

${BACKENDS}

Examples:
  anyfs ls sqlite:./drive.db
  anyfs ls -l sqlite:./drive.db /docs
  anyfs ls -la dir:./project`;

/** `anyfs tree --help`. */
export const TREE_HELP = `Usage: anyfs tree <backend> [path] [flags]

Show a directory tree of a drive (default /), symbolic links with their targets.

Flags:
  -a, --all             Include names starting with '.'
  -L, --depth N         Descend at most N levels
${STORAGE_FLAGS}

Examples:
  anyfs tree sqlite:./drive.db
  anyfs tree -L 2 sqlite:./drive.db /src`;

/** `anyfs cat --help`. */
export const CAT_HELP = `Usage: anyfs cat <backend> <path...> [flags]

Write the contents of files in a drive to stdout, one after the other.

Flags:
${STORAGE_FLAGS}

Examples:
  anyfs cat sqlite:./drive.db /notes.txt
  anyfs cat sqlite:./drive.db /img/logo.png > logo.png`;

/** `anyfs stat --help`. */
export const STAT_HELP = `Usage: anyfs stat <backend> <path...> [flags]

Show the metadata of entries in a drive: type, size, mode, owner, inode,
links and times (UTC). A symbolic link is described itself unless -L.

Flags:
  -L, --dereference     Follow a final symbolic link
  --json                One JSON object per path
${STORAGE_FLAGS}

Examples:
  anyfs stat sqlite:./drive.db /notes.txt
  anyfs stat --json sqlite:./drive.db / /docs`;

/** `anyfs du --help`. */
export const DU_HELP = `Usage: anyfs du <backend> [path] [flags]

Show the bytes a tree holds (the sum of file sizes; a hard-linked file counts
once), for each directory, deepest first, and in total.

Flags:
  -s, --summarize       Only the total
  -H, --human           Sizes as 1.5 MiB instead of bytes
${STORAGE_FLAGS}

Examples:
  anyfs du -s sqlite:./drive.db
  anyfs du -H sqlite:./drive.db /photos`;

/** `anyfs compact --help`. */
export const COMPACT_HELP = `Usage: anyfs compact <sqlite-drive>

A drive file only grows by itself: deleting files frees space inside it for
later writes, not on the host. compact rewrites the file without its free
space. It takes about as long as copying the file; other processes using the
drive may keep reading, and their writes wait.

Examples:
  anyfs compact sqlite:./drive.db
  anyfs compact ./drive.db`;

/** `anyfs mkdir --help`. */
export const MKDIR_HELP = `Usage: anyfs mkdir <backend> <path...> [flags]

Create directories in a drive. Creates the drive file for sqlite: if missing.

Flags:
  -p, --parents         Create missing parents; no error if it exists
  -m, --mode MODE       Permission bits in octal (default 755 minus the umask 022)
${STORAGE_FLAGS}

Examples:
  anyfs mkdir sqlite:./drive.db /docs
  anyfs mkdir -p -m 700 sqlite:./drive.db /private/keys`;

/** `anyfs rm --help`. */
export const RM_HELP = `Usage: anyfs rm <backend> <path...> [flags]

Remove files, symbolic links and (with -r) directories from a drive.

Flags:
  -r, --recursive       Remove directories and everything in them
  -f, --force           No error for paths that do not exist
${STORAGE_FLAGS}

Examples:
  anyfs rm sqlite:./drive.db /old.txt
  anyfs rm -r sqlite:./drive.db /tmp`;

/** `anyfs mv --help`. */
export const MV_HELP = `Usage: anyfs mv <backend> <source> <dest> [flags]

Move or rename inside a drive. When dest is an existing directory, source is
moved into it. An existing file at dest is replaced (as rename(2) does).

Flags:
${STORAGE_FLAGS}

Examples:
  anyfs mv sqlite:./drive.db /draft.txt /final.txt
  anyfs mv sqlite:./drive.db /final.txt /archive/`;

/** `anyfs cp --help`. */
export const CP_HELP = `Usage: anyfs cp <backend> <source> <dest> [flags]

Copy inside a drive: a file's content and mode, a symbolic link as a link,
with -r a directory and everything in it. When dest is an existing directory,
source is copied into it. Existing files are replaced unless -n.

Flags:
  -r, --recursive       Copy directories
  -n, --no-clobber      Fail instead of replacing what exists
  -p, --preserve        Keep access and modification times
${STORAGE_FLAGS}

Examples:
  anyfs cp sqlite:./drive.db /a.txt /b.txt
  anyfs cp -r -p sqlite:./drive.db /site /site-backup`;

const TRANSFER_FLAGS = `Flags:
  --overwrite           Replace files and links that exist at the destination
                        (directories are always merged); without it they are an error
                        and nothing is copied
  --owners              Also copy owner and group (needs root to give files away)
  -q, --quiet           No summary line
${STORAGE_FLAGS}`;

/** `anyfs import --help`. */
export const IMPORT_HELP = `Usage: anyfs import <backend> <hostdir> [path] [flags]

Copy the host directory tree <hostdir> into the drive at [path] (default /,
created if missing). Keeps permission bits, access and modification times,
and symbolic links as links with their targets verbatim (also dangling ones).
Hard links become separate files; FIFOs, sockets and devices are skipped with
a warning. A progress bar is drawn on stderr when it is a terminal; a summary
(files, directories, links, bytes, seconds) is printed at the end.
Creates the drive file for sqlite: if missing.

${TRANSFER_FLAGS}

Examples:
  anyfs import sqlite:./site.db ./public
  anyfs import sqlite:./backup.db ~/projects/app /app --overwrite`;

/** `anyfs export --help`. */
export const EXPORT_HELP = `Usage: anyfs export <backend> <path> <hostdir> [flags]

Copy the tree at <path> in the drive out to the host directory <hostdir>
(created if missing; it must not be a file). Keeps permission bits, access
and modification times and symbolic links (targets verbatim), as import does.
Progress on stderr when it is a terminal, a summary at the end.

${TRANSFER_FLAGS}

Examples:
  anyfs export sqlite:./site.db / ./site-copy
  anyfs export sqlite:./backup.db /app ./restored --overwrite`;
