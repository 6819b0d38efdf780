/**
 * A guard against the ways a mounting process can hang itself by blocking
 * its JavaScript thread on a mount that only that thread can answer — the
 * process then cannot even be killed:
 *
 * - a synchronous Deno file call (`Deno.statSync`, `Deno.readFileSync`, …)
 *   on a path inside a mount this same process serves;
 * - `new Deno.Command(cmd, { cwd })` with `cwd` inside it: Deno spawns with
 *   `vfork`, so the JavaScript thread waits while the child's `chdir` waits
 *   on the mount;
 * - any Deno file call, even an async one, on a path inside it when the
 *   process does not run with `--allow-all`: Deno's permission check then
 *   resolves the path synchronously (to refuse `/proc` and `/dev` reached
 *   through links) before the call goes to a worker thread.
 *
 * While at least one mount is active (and its `guardSyncCalls` option is
 * on, the default), those functions of the `Deno` namespace are wrapped: a
 * call whose path lies inside one of this process's mount points fails at
 * once with `EDEADLK` and a message that says what to do instead. The
 * originals are restored when the last mount ends. Paths reaching a mount
 * through a symlink outside it, and `FsFile` methods, cannot be checked
 * this way.
 *
 * @module
 */

import { fsError } from "../core/errors.ts";

/** The synchronous functions of `Deno` whose leading arguments are paths. */
const GUARDED: Readonly<Record<string, number>> = {
  statSync: 1,
  lstatSync: 1,
  readFileSync: 1,
  readTextFileSync: 1,
  writeFileSync: 1,
  writeTextFileSync: 1,
  openSync: 1,
  createSync: 1,
  readDirSync: 1,
  readLinkSync: 1,
  realPathSync: 1,
  mkdirSync: 1,
  removeSync: 1,
  renameSync: 2,
  copyFileSync: 2,
  linkSync: 2,
  symlinkSync: 2,
  chmodSync: 1,
  chownSync: 1,
  truncateSync: 1,
  utimeSync: 1,
  chdir: 1,
};

/**
 * The async functions of `Deno` whose leading arguments are paths; guarded
 * only without `--allow-all` (see the module documentation).
 */
const GUARDED_ASYNC: Readonly<Record<string, number>> = {
  stat: 1,
  lstat: 1,
  readFile: 1,
  readTextFile: 1,
  writeFile: 1,
  writeTextFile: 1,
  open: 1,
  create: 1,
  readDir: 1,
  readLink: 1,
  realPath: 1,
  mkdir: 1,
  remove: 1,
  rename: 2,
  copyFile: 2,
  link: 2,
  symlink: 2,
  chmod: 1,
  chown: 1,
  truncate: 1,
  utime: 1,
};

/** Whether every permission is granted, as with `--allow-all`. */
function allowAll(): boolean {
  const names = ["read", "write", "net", "env", "sys", "run", "ffi", "import"] as const;
  return names.every((name) => {
    try {
      return Deno.permissions.querySync({ name } as Deno.PermissionDescriptor).state ===
        "granted";
    } catch {
      return false; // a permission name this Deno does not know
    }
  });
}

const mountPoints = new Set<string>();
const originals = new Map<string, unknown>();

function toPath(arg: unknown): string | undefined {
  if (typeof arg === "string") return arg;
  if (arg instanceof URL && arg.protocol === "file:") return decodeURIComponent(arg.pathname);
  return undefined;
}

function absolute(path: string): string {
  let full = path;
  if (!path.startsWith("/")) {
    try {
      full = `${Deno.cwd()}/${path}`;
    } catch {
      return path;
    }
  }
  const parts: string[] = [];
  for (const part of full.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return "/" + parts.join("/");
}

/** The active mount point `path` lies in, if any. */
function ownMountOf(path: string): string | undefined {
  const abs = absolute(path);
  for (const mp of mountPoints) {
    if (abs === mp || abs.startsWith(mp + "/")) return mp;
  }
  return undefined;
}

function deadlock(name: string, path: string, mountPoint: string, advice: string) {
  return fsError("EDEADLK", `Deno.${name}`, path, {
    reason:
      `${mountPoint} is served by this process, so this call would hang it forever; ${advice}`,
  });
}

/** The first path argument inside one of our mount points, with that mount point. */
function guardedPath(args: unknown[], pathArgs: number): [string, string] | undefined {
  for (let i = 0; i < pathArgs; i++) {
    const p = toPath(args[i]);
    const mp = p === undefined ? undefined : ownMountOf(p);
    if (mp !== undefined) return [p!, mp];
  }
  return undefined;
}

function install(): void {
  const deno = Deno as unknown as Record<string, unknown>;
  const wrap = (name: string, replacement: unknown) => {
    originals.set(name, deno[name]);
    deno[name] = replacement;
  };
  for (const [name, pathArgs] of Object.entries(GUARDED)) {
    const original = deno[name];
    if (typeof original !== "function") continue;
    wrap(name, function (this: unknown, ...args: unknown[]) {
      const hit = guardedPath(args, pathArgs);
      if (hit) {
        throw deadlock(name, hit[0], hit[1], `use the async Deno.${name.replace(/Sync$/, "")}`);
      }
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    });
  }
  if (!allowAll()) {
    for (const [name, pathArgs] of Object.entries(GUARDED_ASYNC)) {
      const original = deno[name];
      if (typeof original !== "function") continue;
      wrap(name, function (this: unknown, ...args: unknown[]) {
        const hit = guardedPath(args, pathArgs);
        if (hit) {
          const error = deadlock(
            name,
            hit[0],
            hit[1],
            "without --allow-all Deno resolves the path synchronously to check permissions; " +
              "run with -A to use the mount from the process that serves it",
          );
          if (name === "readDir") {
            return { [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(error) }) };
          }
          return Promise.reject(error);
        }
        return (original as (...a: unknown[]) => unknown).apply(this, args);
      });
    }
  }
  const OriginalCommand = Deno.Command;
  wrap(
    "Command",
    class extends OriginalCommand {
      constructor(command: string | URL, options?: Deno.CommandOptions) {
        const cwd = options?.cwd === undefined ? undefined : toPath(options.cwd);
        const mp = cwd === undefined ? undefined : ownMountOf(cwd);
        if (mp !== undefined) {
          throw deadlock(
            "Command",
            cwd!,
            mp,
            `Deno spawns with vfork, so start the child elsewhere and change directory in it ` +
              `(e.g. sh -c "cd '${cwd}' && ...")`,
          );
        }
        super(command, options);
      }
    },
  );
}

function uninstall(): void {
  const deno = Deno as unknown as Record<string, unknown>;
  for (const [name, original] of originals) deno[name] = original;
  originals.clear();
}

/** Start guarding `mountPoint` (absolute). */
export function guardMountPoint(mountPoint: string): void {
  if (mountPoints.size === 0) install();
  mountPoints.add(mountPoint);
}

/** Stop guarding `mountPoint`; the wrappers go when no mount point is left. */
export function unguardMountPoint(mountPoint: string): void {
  if (!mountPoints.delete(mountPoint)) return;
  if (mountPoints.size === 0) uninstall();
}
