/**
 * Whether this process can mount, and if not, why and what to do.
 *
 * @module
 */

import { loadLibfuse } from "../../ffi/libfuse.ts";
import type { MountErrorKind } from "./errors.ts";
import { fusermountPath } from "./system.ts";

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
 * `--allow-ffi`, `/dev/fuse`, libfuse3 and `fusermount3`.
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
      fix:
        "run deno with --allow-ffi (mounting also needs --allow-read and --allow-run=fusermount3)",
    };
  }
  if (!granted({ name: "read", path: "/dev/fuse" })) {
    return {
      available: false,
      kind: "PermissionDenied",
      reason: "cannot check /dev/fuse without read permission",
      fix: "run deno with --allow-read",
    };
  }
  try {
    Deno.statSync("/dev/fuse");
  } catch {
    return {
      available: false,
      kind: "DriverNotInstalled",
      reason: "/dev/fuse does not exist",
      fix: "load the module (modprobe fuse); in a container pass --device /dev/fuse " +
        "--cap-add SYS_ADMIN",
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
  if (fusermountPath() === "fusermount3" && !granted({ name: "run", command: "fusermount3" })) {
    return {
      available: false,
      kind: "DriverNotInstalled",
      reason: "fusermount3 was not found",
      fix: "install it: apt install fuse3 (Debian/Ubuntu), dnf install fuse3 (Fedora)",
    };
  }
  return { available: true, library };
}
