/**
 * The two kinds of failure the `anyfs` command line reports itself, and how
 * any error becomes one line on stderr and an exit code.
 *
 * Exit codes: 0 success, 1 a failed operation, 2 bad usage. A user's
 * mistake never shows a stack trace; only `ANYFS_DEBUG=1` adds one.
 *
 * @module
 */

import { isErrorCode } from "../core/errno.ts";
import { isFsError } from "../core/errors.ts";
import { MountError } from "../mount/errors.ts";

/** Exit status of a successful run. */
export const EXIT_OK = 0;
/** Exit status when an operation failed (missing file, mount refused, …). */
export const EXIT_FAILURE = 1;
/** Exit status for bad usage: unknown command or flag, bad value, missing argument. */
export const EXIT_USAGE = 2;

/**
 * The command line was used wrongly: exit status 2. `command` names the
 * command whose `--help` to point at.
 *
 * @example
 * ```ts ignore
 * throw new UsageError("missing mount point", "mount");
 * // anyfs: missing mount point
 * // Run 'anyfs mount --help' for usage.
 * ```
 */
export class UsageError extends Error {
  /** The command whose help explains the right usage (undefined: the main help). */
  readonly command?: string;

  /** A usage mistake described by `message`. */
  constructor(message: string, command?: string) {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

/**
 * An operation the command line attempted failed for a reason it can
 * explain: exit status 1. `fix` says what to do about it.
 */
export class CliError extends Error {
  /** What to do about it, shown after the message. */
  readonly fix?: string;

  /** A failure described by `message`, with an optional `fix`. */
  constructor(message: string, fix?: string) {
    super(message);
    this.name = "CliError";
    this.fix = fix;
  }
}

/** What the top-level handler prints and returns for an error. */
export interface ErrorReport {
  /** The lines to print on stderr (each already prefixed with `anyfs: `). */
  lines: string[];
  /** The exit status. */
  exitCode: number;
  /** Whether the error is unexpected (a bug), not a user's mistake or an environment problem. */
  internal: boolean;
}

/**
 * Turn anything thrown by a command into the lines for stderr and the exit
 * status. `commandName` prefixes operation failures (`anyfs: cat: …`).
 */
export function reportError(error: unknown, commandName?: string): ErrorReport {
  const prefix = commandName ? `anyfs: ${commandName}: ` : "anyfs: ";
  if (error instanceof UsageError) {
    const help = error.command ? `anyfs ${error.command} --help` : "anyfs --help";
    return {
      lines: [`anyfs: ${error.message}`, `Run '${help}' for usage.`],
      exitCode: EXIT_USAGE,
      internal: false,
    };
  }
  if (error instanceof CliError) {
    const text = error.fix ? `${error.message} (${error.fix})` : error.message;
    return { lines: [prefix + text], exitCode: EXIT_FAILURE, internal: false };
  }
  if (error instanceof MountError) {
    // MountError messages already carry the fix in parentheses.
    return { lines: [prefix + error.message], exitCode: EXIT_FAILURE, internal: false };
  }
  if (isFsError(error)) {
    return { lines: [prefix + error.message], exitCode: EXIT_FAILURE, internal: false };
  }
  if (error instanceof Error && isErrorCode((error as { code?: unknown }).code)) {
    // Deno's own file errors (`NotFound`, …) name the operation and the path.
    return { lines: [prefix + error.message], exitCode: EXIT_FAILURE, internal: false };
  }
  if (error instanceof Deno.errors.NotCapable) {
    // Deno's own message names the flag: `Requires read access to "x", run again with --allow-read`.
    return { lines: [prefix + error.message], exitCode: EXIT_FAILURE, internal: false };
  }
  if (error instanceof Deno.errors.BrokenPipe) {
    // `anyfs cat … | head`: the reader left; that is not a failure worth a message.
    return { lines: [], exitCode: EXIT_OK, internal: false };
  }
  const message = error instanceof Error ? error.message : String(error);
  return {
    lines: [
      `${prefix}unexpected error: ${message}`,
      "anyfs: this is a bug; run again with ANYFS_DEBUG=1 for the stack trace and report it",
    ],
    exitCode: EXIT_FAILURE,
    internal: true,
  };
}
