/**
 * A guard against the one way a mounting process can hang itself: a
 * synchronous Deno file call (`Deno.statSync`, `Deno.readFileSync`, …) on a
 * path inside a mount this same process serves. The JavaScript thread
 * would wait inside the kernel for an answer that only the JavaScript
 * thread can give; the process then cannot even be killed.
 *
 * While at least one mount is active (and its `guardSyncCalls` option is
 * on, the default), the synchronous path functions of the `Deno` namespace
 * are wrapped: a call whose path lies inside one of this process's mount
 * points fails at once with `EDEADLK` instead. The originals are restored
 * when the last mount ends. Paths reaching a mount through a symlink
 * outside it, and `FsFile` methods, cannot be checked this way.
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

function install(): void {
  const deno = Deno as unknown as Record<string, unknown>;
  for (const [name, pathArgs] of Object.entries(GUARDED)) {
    const original = deno[name];
    if (typeof original !== "function") continue;
    originals.set(name, original);
    deno[name] = function (this: unknown, ...args: unknown[]) {
      for (let i = 0; i < pathArgs; i++) {
        const p = toPath(args[i]);
        const mp = p === undefined ? undefined : ownMountOf(p);
        if (mp !== undefined) {
          throw fsError("EDEADLK", `Deno.${name}`, p!, {
            reason: `${mp} is served by this process, so a synchronous call inside it ` +
              `would hang forever; use the async Deno.${name.replace(/Sync$/, "")} instead`,
          });
        }
      }
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
  }
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
