/**
 * The AnyFS error family.
 *
 * Every failure surfaces as an {@linkcode FsError}: it carries a POSIX `code`
 * (`"ENOENT"`, …), the `errno` number the mount replies with, the `operation`
 * and the `path` (and `dest` for two-path operations). Each error is also an
 * instance of the matching `Deno.errors` class where Deno has one, so code
 * written against Deno's own file API (`e instanceof Deno.errors.NotFound`)
 * keeps working when it is pointed at an AnyFS storage. Messages follow
 * Deno's own format: `No such file or directory (os error 2): stat '/a'`.
 *
 * @module
 */

import { ERRNO, errnoOf, type ErrorCode, isErrorCode } from "./errno.ts";

/** Extra context an error may carry besides code, operation and paths. */
export interface FsErrorDetails {
  /** The second path of a two-path operation (rename, link, copy, symlink). */
  dest?: string;
  /** A sentence added to the message, e.g. which limit was hit. */
  reason?: string;
  /** The configured limit that was exceeded (quota, rate limit). */
  limit?: number;
  /** How much the rejected operation asked for. */
  requested?: number;
  /** How much was in use when the operation was rejected. */
  usage?: number;
  /** The error that caused this one (a backend's own exception). */
  cause?: unknown;
}

const BRAND: unique symbol = Symbol.for("anyfs.FsError");

/** The fields every member of the family carries. */
export interface FsErrorFields {
  /** The POSIX error code name, e.g. `"ENOENT"`. */
  readonly code: ErrorCode;
  /** The Linux errno number for {@linkcode FsErrorFields.code}. */
  readonly errno: number;
  /** The operation that failed, e.g. `"stat"`, `"rename"`. */
  readonly operation: string;
  /** The path the operation was applied to (empty for whole-fs operations). */
  readonly path: string;
  /** The destination path of a two-path operation. */
  readonly dest?: string;
  /** The configured limit that was exceeded, for quota and rate errors. */
  readonly limit?: number;
  /** What the rejected operation asked for, for quota errors. */
  readonly requested?: number;
  /** What was in use when the operation was rejected, for quota errors. */
  readonly usage?: number;
  /** The extra sentence of the message, if any. */
  readonly reason?: string;
}

function formatMessage(
  code: ErrorCode,
  operation: string,
  path: string,
  details?: FsErrorDetails,
): string {
  const info = ERRNO[code];
  let msg = `${info.description} (os error ${info.linux}): ${operation}`;
  if (path !== "") msg += ` '${path}'`;
  if (details?.dest !== undefined) msg += ` -> '${details.dest}'`;
  if (details?.reason) msg += `: ${details.reason}`;
  return msg;
}

function assignFields(
  target: object,
  code: ErrorCode,
  operation: string,
  path: string,
  details?: FsErrorDetails,
): void {
  Object.defineProperty(target, BRAND, { value: true });
  const t = target as Record<string, unknown>;
  t.code = code;
  t.errno = errnoOf(code);
  t.operation = operation;
  t.path = path;
  if (details?.dest !== undefined) t.dest = details.dest;
  if (details?.reason !== undefined) t.reason = details.reason;
  if (details?.limit !== undefined) t.limit = details.limit;
  if (details?.requested !== undefined) t.requested = details.requested;
  if (details?.usage !== undefined) t.usage = details.usage;
}

/**
 * The base of the AnyFS error family, used directly for codes Deno has no
 * class of its own for (`ENOTEMPTY`, `EROFS`, `ENOSPC`, `EXDEV`, …).
 *
 * `instanceof FsError` is true for every member of the family, including the
 * ones that extend a `Deno.errors` class. Create errors with
 * {@linkcode fsError}, which picks the right class for the code.
 *
 * @example Tell a missing file from other failures
 * ```ts
 * import { FileStorage, FsError, MemoryBackend } from "@anyfs/anyfs";
 * const fs = new FileStorage(new MemoryBackend());
 * try {
 *   await fs.readFile("/missing.txt");
 * } catch (e) {
 *   if (e instanceof FsError && e.code === "ENOENT") console.log(e.path);
 *   if (e instanceof Deno.errors.NotFound) console.log("Deno sees NotFound too");
 * }
 * ```
 */
export class FsError extends Error implements FsErrorFields {
  declare readonly code: ErrorCode;
  declare readonly errno: number;
  declare readonly operation: string;
  declare readonly path: string;
  declare readonly dest?: string;
  declare readonly limit?: number;
  declare readonly requested?: number;
  declare readonly usage?: number;
  declare readonly reason?: string;

  /**
   * Prefer {@linkcode fsError}, which returns the `Deno.errors` subclass for
   * codes that have one.
   */
  constructor(
    code: ErrorCode,
    operation: string,
    path: string,
    details?: FsErrorDetails,
  ) {
    super(
      formatMessage(code, operation, path, details),
      details?.cause === undefined ? undefined : { cause: details.cause },
    );
    this.name = "FsError";
    assignFields(this, code, operation, path, details);
  }

  /** True for every member of the family, whatever its base class. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null &&
      (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

type ErrorBase = new (message?: string, options?: ErrorOptions) => Error;

function familyMember(base: ErrorBase, name: string) {
  // One subclass per Deno error class, so that `instanceof
  // Deno.errors.NotFound` and `instanceof FsError` both hold.
  const Member = class extends base {
    constructor(
      code: ErrorCode,
      operation: string,
      path: string,
      details?: FsErrorDetails,
    ) {
      super(
        formatMessage(code, operation, path, details),
        details?.cause === undefined ? undefined : { cause: details.cause },
      );
      this.name = name;
      assignFields(this, code, operation, path, details);
    }
  };
  Object.defineProperty(Member, "name", { value: `FsError(${name})` });
  return Member;
}

// Resolved lazily: the `Deno` global is always present in Deno, but keeping
// the lookup in a function keeps the module importable by tooling that only
// type-checks it.
let denoClasses: Partial<Record<ErrorCode, ReturnType<typeof familyMember>>>;

function classFor(code: ErrorCode) {
  if (!denoClasses) {
    const E = Deno.errors;
    denoClasses = {
      ENOENT: familyMember(E.NotFound, "NotFound"),
      EEXIST: familyMember(E.AlreadyExists, "AlreadyExists"),
      ENOTDIR: familyMember(E.NotADirectory, "NotADirectory"),
      EISDIR: familyMember(E.IsADirectory, "IsADirectory"),
      EACCES: familyMember(E.PermissionDenied, "PermissionDenied"),
      EPERM: familyMember(E.PermissionDenied, "PermissionDenied"),
      ELOOP: familyMember(E.FilesystemLoop, "FilesystemLoop"),
      EBUSY: familyMember(E.Busy, "Busy"),
      ENOTSUP: familyMember(E.NotSupported, "NotSupported"),
      ENOSYS: familyMember(E.NotSupported, "NotSupported"),
      EAGAIN: familyMember(E.WouldBlock, "WouldBlock"),
      EINTR: familyMember(E.Interrupted, "Interrupted"),
      ETIMEDOUT: familyMember(E.TimedOut, "TimedOut"),
      EBADF: familyMember(E.BadResource, "BadResource"),
      // Deno reports EINVAL from its file API as a TypeError.
      EINVAL: familyMember(TypeError, "TypeError"),
    };
  }
  return denoClasses[code];
}

/**
 * Create a member of the AnyFS error family for `code`.
 *
 * @param code The POSIX error code.
 * @param operation The failing operation, e.g. `"open"`.
 * @param path The path it was applied to (`""` for whole-fs operations).
 * @param details The destination path, a reason, quota figures or a cause.
 *
 * @example
 * ```ts
 * import { fsError } from "@anyfs/anyfs";
 * const e = fsError("ENOENT", "stat", "/a.txt");
 * console.log(e.message); // No such file or directory (os error 2): stat '/a.txt'
 * console.log(e instanceof Deno.errors.NotFound); // true
 * ```
 */
export function fsError(
  code: ErrorCode,
  operation: string,
  path: string,
  details?: FsErrorDetails,
): FsError {
  const Member = classFor(code);
  if (Member) {
    return new Member(code, operation, path, details) as unknown as FsError;
  }
  return new FsError(code, operation, path, details);
}

/** Whether `value` is a member of the AnyFS error family. */
export function isFsError(value: unknown): value is FsError {
  return value instanceof FsError;
}

/**
 * Turn anything thrown into a member of the family.
 *
 * An {@linkcode FsError} is returned unchanged. An error with a known `code`
 * (Deno's own file errors, Node-style errors) keeps that code; everything
 * else becomes `EIO` with the original as `cause`, so a mount can always
 * reply with an errno and never crashes on a backend's exception.
 *
 * @example
 * ```ts
 * import { toFsError } from "@anyfs/anyfs";
 * const e = toFsError(new Error("disk on fire"), "read", "/a");
 * console.log(e.code); // "EIO"
 * ```
 */
export function toFsError(
  error: unknown,
  operation: string,
  path: string,
  details?: Omit<FsErrorDetails, "cause">,
): FsError {
  if (error instanceof FsError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (isErrorCode(code)) {
    return fsError(code, operation, path, { ...details, cause: error });
  }
  if (code === "EOPNOTSUPP") {
    return fsError("ENOTSUP", operation, path, { ...details, cause: error });
  }
  if (error instanceof Deno.errors.NotCapable) {
    return fsError("EACCES", operation, path, {
      ...details,
      reason: error.message,
      cause: error,
    });
  }
  const reason = error instanceof Error ? error.message : String(error);
  return fsError("EIO", operation, path, { ...details, reason, cause: error });
}
