/**
 * Whether this process can mount, and if not, why and what to do.
 *
 * @module
 */

import { loadLibfuse } from "../../ffi/libfuse.ts";
import type { MountErrorKind } from "./errors.ts";
import { canRunFusermount, FUSERMOUNT_PATHS, fusermountPath, isRoot } from "./system.ts";

/** The answer of {@linkcode isAvailable}. */
export type Availability =
  | {
    /** Mounting works here. */
    available: true;
    /** The libfuse3 that was found, e.g. `libfuse3.so.3 3.14.0`. */
    library: string;
  }
  | {
    /** Mounting does not work here. */
    available: false;
    /** The `MountError` kind `mount()` would fail with. */
    kind: MountErrorKind;
    /** Why not. */
    reason: string;
    /** What to do about it. */
    fix: string;
  };

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(descriptor).state === "granted";
}

/**
 * Check, without prompting for anything, that mounting can work: Linux,
 * `--allow-ffi`, `/dev/fuse`, libfuse3 and `fusermount3` — and, for a user
 * who is not root, `--allow-run=fusermount3`, the only way such a user can
 * unmount.
 *
 * @example
 * ```ts
 * import { isAvailable } from "@anyfs/anyfs/mount";
 *
 * const a = isAvailable();
 * if (!a.available) console.error(`cannot mount: ${a.reason}. Fix: ${a.fix}`);
 * ```
 */
export function isAvailable(): Availability {
  if (Deno.build.os !== "linux") {
    const fix = Deno.build.os === "darwin"
      ? "mounting on macOS (macFUSE) is not supported yet; use the storage API directly"
      : Deno.build.os === "windows"
      ? "mounting on Windows (WinFsp) is not supported yet; use the storage API directly"
      : "use the storage API directly";
    return {
      available: false,
      kind: "PlatformNotSupported",
      reason: `mounting needs Linux and FUSE; this is ${Deno.build.os}`,
      fix,
    };
  }
  // Asked before any dlopen, so nothing ever prompts.
  if (!granted({ name: "ffi" })) {
    return {
      available: false,
      kind: "PermissionDenied",
      reason: "mounting calls libfuse3 through FFI, which is not permitted",
      fix: "run deno with --allow-ffi (and --allow-read for the mount point)",
    };
  }
  // Deno lets a program stat device files only with --allow-all, so ask the
  // C library instead: FFI is granted by now, and it is what libfuse uses.
  const device = deviceAccess("/dev/fuse");
  if (device === "missing") {
    return {
      available: false,
      kind: "DriverNotInstalled",
      reason: "/dev/fuse does not exist",
      fix: "load the module (modprobe fuse); in a container pass --device /dev/fuse " +
        "--cap-add SYS_ADMIN",
    };
  }
  if (device === "denied") {
    return {
      available: false,
      kind: "PermissionDenied",
      reason: "/dev/fuse exists but this user may not open it",
      fix: "make /dev/fuse readable and writable (chmod 0666 /dev/fuse, as the fuse3 package does)",
    };
  }
  let library: string;
  try {
    const lib = loadLibfuse();
    library = `${lib.soname} ${lib.version}`;
  } catch (e) {
    return {
      available: false,
      kind: "DriverNotInstalled",
      reason: (e as Error).message,
      fix: "install libfuse3: apt install fuse3 (Debian/Ubuntu), dnf install fuse3 (Fedora)",
    };
  }
  // libfuse runs fusermount3 itself (from C: no Deno permission involved)
  // for non-root mounts and for auto-unmount, so it must exist. Only it can
  // unmount for a user who is not root, so such a user's Deno must be
  // allowed to run it (root unmounts with umount2 and needs it only to
  // clean up dead mounts).
  if (!FUSERMOUNT_PATHS.some((p) => executable(p))) {
    return {
      available: false,
      kind: "DriverNotInstalled",
      reason: `fusermount3 was not found (looked in ${FUSERMOUNT_PATHS.join(", ")})`,
      fix: "install it: apt install fuse3 (Debian/Ubuntu), dnf install fuse3 (Fedora)",
    };
  }
  if (!isRoot() && !canRunFusermount()) {
    return {
      available: false,
      kind: "PermissionDenied",
      reason: "a mount made by a user who is not root can only be unmounted by fusermount3, " +
        "which this process may not run",
      fix: `run deno with --allow-run=${fusermountPath()}`,
    };
  }
  return { available: true, library };
}

const F_OK = 0, X_OK = 1, W_OK = 2, R_OK = 4;

/** `access(2)` through the C library: no Deno read permission needed, nothing prompts. */
function access(path: string, mode: number): boolean {
  const libc = Deno.dlopen("libc.so.6", {
    access: { parameters: ["buffer", "i32"], result: "i32" },
  });
  try {
    return libc.symbols.access(new TextEncoder().encode(path + "\0"), mode) === 0;
  } finally {
    libc.close();
  }
}

/** Whether `path` exists and is readable and writable for this process. */
function deviceAccess(path: string): "ok" | "missing" | "denied" {
  if (!access(path, F_OK)) return "missing";
  return access(path, R_OK | W_OK) ? "ok" : "denied";
}

function executable(path: string): boolean {
  return access(path, X_OK);
}
