/**
 * Why a mount could not be made or ended: the kinds of the AnyFS mounting
 * guide, each with a message that says what to do about it.
 *
 * @module
 */

import type { ErrorCode } from "../core/errno.ts";

/** The kinds of {@linkcode MountError}. */
export type MountErrorKind =
  /** This platform cannot mount (not Linux). */
  | "PlatformNotSupported"
  /** libfuse3 / fusermount3 or `/dev/fuse` is missing. */
  | "DriverNotInstalled"
  /** The mount point does not exist, is not a directory, or cannot be used. */
  | "InvalidMountPoint"
  /** Something is already mounted there, or the mount is in use. */
  | "MountPointBusy"
  /** A permission is missing: a Deno `--allow-*` flag, or the right to mount. */
  | "PermissionDenied"
  /** The backend failed while the mount was being set up. */
  | "Backend"
  /** libfuse or the kernel refused, for a reason given in the message. */
  | "Platform"
  /** No mount point was given to the builder. */
  | "MissingMountPoint";

/** Extra context of a {@linkcode MountError}. */
export interface MountErrorDetails {
  /** The mount point concerned. */
  path?: string;
  /** What to do about it, e.g. `apt install fuse3`. */
  fix?: string;
  /** The underlying error. */
  cause?: unknown;
}

const CODES: Readonly<Record<MountErrorKind, ErrorCode>> = {
  PlatformNotSupported: "ENOTSUP",
  DriverNotInstalled: "ENODEV",
  InvalidMountPoint: "ENOENT",
  MountPointBusy: "EBUSY",
  PermissionDenied: "EPERM",
  Backend: "EIO",
  Platform: "EIO",
  MissingMountPoint: "EINVAL",
};

/**
 * A failure to mount or unmount. `kind` says which, `fix` (when known) says
 * what to do, and `code` is the closest POSIX code for callers that only
 * look at codes.
 *
 * @example Tell the user how to enable mounting
 * ```ts
 * import { MemoryBackend } from "@anyfs/anyfs";
 * import { mount, MountError } from "@anyfs/anyfs/mount";
 *
 * try {
 *   await using m = await mount(new MemoryBackend(), "/tmp/anyfs-demo");
 * } catch (e) {
 *   if (e instanceof MountError) console.error(e.kind, e.fix ?? "");
 *   else throw e;
 * }
 * ```
 */
export class MountError extends Error {
  /** Which kind of failure this is. */
  readonly kind: MountErrorKind;
  /** The closest POSIX error code. */
  readonly code: ErrorCode;
  /** The mount point concerned, when there is one. */
  readonly path?: string;
  /** What to do about it, when known. */
  readonly fix?: string;

  /** A failure of `kind` described by `message`. */
  constructor(kind: MountErrorKind, message: string, details: MountErrorDetails = {}) {
    super(
      details.fix ? `${message} (${details.fix})` : message,
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.name = "MountError";
    this.kind = kind;
    const causeCode = (details.cause as { code?: unknown } | undefined)?.code;
    this.code = kind === "Backend" && typeof causeCode === "string"
      ? causeCode as ErrorCode
      : CODES[kind];
    if (details.path !== undefined) this.path = details.path;
    if (details.fix !== undefined) this.fix = details.fix;
  }
}
