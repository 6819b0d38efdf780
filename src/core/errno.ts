/**
 * The one errno table of AnyFS.
 *
 * Every error a backend, a middleware or the mount adapter reports is keyed
 * by a POSIX error code name (`"ENOENT"`, …). This table gives each code its
 * human description (worded as the C library's `strerror` words it, so
 * messages match what Deno itself prints) and its errno number on each
 * platform the mount adapters reply to. Nothing else in the code base
 * hard-codes an errno number.
 *
 * @module
 */

/** A POSIX error code name understood by every AnyFS layer. */
export type ErrorCode =
  | "EPERM"
  | "ENOENT"
  | "EIO"
  | "ENXIO"
  | "EBADF"
  | "EAGAIN"
  | "ENOMEM"
  | "EACCES"
  | "EBUSY"
  | "EEXIST"
  | "EXDEV"
  | "ENODEV"
  | "ENOTDIR"
  | "EISDIR"
  | "EINVAL"
  | "ENFILE"
  | "EMFILE"
  | "EFBIG"
  | "ENOSPC"
  | "ESPIPE"
  | "EROFS"
  | "EMLINK"
  | "ERANGE"
  | "EDEADLK"
  | "ENAMETOOLONG"
  | "ENOLCK"
  | "ENOSYS"
  | "ENOTEMPTY"
  | "ELOOP"
  | "ENODATA"
  | "EOVERFLOW"
  | "ENOTSUP"
  | "EDQUOT"
  | "ETIMEDOUT"
  | "EINTR"
  | "ECANCELED"
  | "ESTALE"
  | "E2BIG";

/** One row of the errno table. */
export interface ErrnoInfo {
  /** The errno number on Linux (what libfuse3 replies with). */
  readonly linux: number;
  /** The errno number on macOS/BSD (what macFUSE replies with). */
  readonly darwin: number;
  /** The `strerror` text, as Deno prints it in its own error messages. */
  readonly description: string;
}

/**
 * The errno table: code → numbers and description.
 *
 * Linux numbers are from `asm-generic/errno-base.h` and `errno.h`; macOS
 * numbers from `sys/errno.h`. `ENOTSUP` is `EOPNOTSUPP` on Linux (95).
 * `ENODATA` is what Linux returns for a missing xattr; macOS uses `ENOATTR`
 * (93) for the same condition, so that is what the darwin column holds.
 */
export const ERRNO: Readonly<Record<ErrorCode, ErrnoInfo>> = {
  EPERM: { linux: 1, darwin: 1, description: "Operation not permitted" },
  ENOENT: { linux: 2, darwin: 2, description: "No such file or directory" },
  EINTR: { linux: 4, darwin: 4, description: "Interrupted system call" },
  EIO: { linux: 5, darwin: 5, description: "Input/output error" },
  ENXIO: { linux: 6, darwin: 6, description: "No such device or address" },
  E2BIG: { linux: 7, darwin: 7, description: "Argument list too long" },
  EBADF: { linux: 9, darwin: 9, description: "Bad file descriptor" },
  EAGAIN: {
    linux: 11,
    darwin: 35,
    description: "Resource temporarily unavailable",
  },
  ENOMEM: { linux: 12, darwin: 12, description: "Cannot allocate memory" },
  EACCES: { linux: 13, darwin: 13, description: "Permission denied" },
  EBUSY: { linux: 16, darwin: 16, description: "Device or resource busy" },
  EEXIST: { linux: 17, darwin: 17, description: "File exists" },
  EXDEV: { linux: 18, darwin: 18, description: "Invalid cross-device link" },
  ENODEV: { linux: 19, darwin: 19, description: "No such device" },
  ENOTDIR: { linux: 20, darwin: 20, description: "Not a directory" },
  EISDIR: { linux: 21, darwin: 21, description: "Is a directory" },
  EINVAL: { linux: 22, darwin: 22, description: "Invalid argument" },
  ENFILE: {
    linux: 23,
    darwin: 23,
    description: "Too many open files in system",
  },
  EMFILE: { linux: 24, darwin: 24, description: "Too many open files" },
  EFBIG: { linux: 27, darwin: 27, description: "File too large" },
  ENOSPC: { linux: 28, darwin: 28, description: "No space left on device" },
  ESPIPE: { linux: 29, darwin: 29, description: "Illegal seek" },
  EROFS: { linux: 30, darwin: 30, description: "Read-only file system" },
  EMLINK: { linux: 31, darwin: 31, description: "Too many links" },
  ERANGE: {
    linux: 34,
    darwin: 34,
    description: "Numerical result out of range",
  },
  EDEADLK: {
    linux: 35,
    darwin: 11,
    description: "Resource deadlock avoided",
  },
  ENAMETOOLONG: { linux: 36, darwin: 63, description: "File name too long" },
  ENOLCK: { linux: 37, darwin: 77, description: "No locks available" },
  ENOSYS: { linux: 38, darwin: 78, description: "Function not implemented" },
  ENOTEMPTY: { linux: 39, darwin: 66, description: "Directory not empty" },
  ELOOP: {
    linux: 40,
    darwin: 62,
    description: "Too many levels of symbolic links",
  },
  ENODATA: { linux: 61, darwin: 93, description: "No data available" },
  EOVERFLOW: {
    linux: 75,
    darwin: 84,
    description: "Value too large for defined data type",
  },
  ENOTSUP: { linux: 95, darwin: 45, description: "Operation not supported" },
  ETIMEDOUT: { linux: 110, darwin: 60, description: "Connection timed out" },
  ESTALE: { linux: 116, darwin: 70, description: "Stale file handle" },
  EDQUOT: { linux: 122, darwin: 69, description: "Disk quota exceeded" },
  ECANCELED: { linux: 125, darwin: 89, description: "Operation canceled" },
};

/** The platforms whose errno numbering the table knows. */
export type ErrnoPlatform = "linux" | "darwin";

/** Whether `code` is a code of the errno table. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERRNO, code);
}

/**
 * The errno number for `code` on `platform` (Linux by default).
 *
 * @example Look up the number a FUSE reply carries
 * ```ts
 * import { errnoOf } from "@anyfs/anyfs";
 * import { assertEquals } from "jsr:@std/assert";
 * assertEquals(errnoOf("ENOENT"), 2);
 * assertEquals(errnoOf("ENOTEMPTY", "darwin"), 66);
 * ```
 */
export function errnoOf(
  code: ErrorCode,
  platform: ErrnoPlatform = "linux",
): number {
  return ERRNO[code][platform];
}

let linuxReverse: Map<number, ErrorCode> | undefined;

/**
 * The code for a Linux errno number, or `undefined` when the table has none.
 *
 * @example
 * ```ts
 * import { codeOfErrno } from "@anyfs/anyfs";
 * import { assertEquals } from "jsr:@std/assert";
 * assertEquals(codeOfErrno(17), "EEXIST");
 * ```
 */
export function codeOfErrno(errno: number): ErrorCode | undefined {
  if (!linuxReverse) {
    linuxReverse = new Map();
    for (const [code, info] of Object.entries(ERRNO)) {
      linuxReverse.set(info.linux, code as ErrorCode);
    }
    // Linux defines EWOULDBLOCK == EAGAIN and EDEADLOCK == EDEADLK; the
    // table already holds them under the canonical names.
  }
  return linuxReverse.get(errno);
}
