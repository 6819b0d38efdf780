/**
 * The shape of one `anyfs` command, as the command table lists it.
 *
 * @module
 */

import { EXIT_OK } from "./errors.ts";
import type { CliContext } from "./output.ts";

/** One command of the `anyfs` command line. */
export interface Command {
  /** The name typed after `anyfs`. */
  readonly name: string;
  /** Other names for it (`umount` for `unmount`). */
  readonly aliases?: readonly string[];
  /** One line for the command list of `anyfs --help`. */
  readonly summary: string;
  /** The full `--help` text: usage, flags, examples. */
  readonly help: string;
  /**
   * Run with the arguments after the command name; resolves to the exit
   * status. Failures are thrown (see `errors.ts` for how they are shown).
   */
  run(args: string[], context: CliContext): Promise<number>;
}

/** Print a command's help text to stdout; resolves to exit status 0. */
export async function help(context: CliContext, text: string): Promise<number> {
  await context.stdout.write(text + "\n");
  return EXIT_OK;
}
