/**
 * The entry of the `anyfs` command line: global flags, dispatch to a
 * command, and the one place errors are turned into a message and an exit
 * status (never a stack trace for a user's mistake; `ANYFS_DEBUG=1` shows
 * it).
 *
 * @module
 */

import denoConfig from "../../deno.json" with { type: "json" };
import { findCommand } from "./commands.ts";
import { reportError, UsageError } from "./errors.ts";
import { mainHelp } from "./help.ts";
import { type CliContext, processContext } from "./output.ts";

/** The AnyFS version, from `deno.json`. */
export const VERSION: string = denoConfig.version;

function debugEnabled(): boolean {
  if (Deno.permissions.querySync({ name: "env", variable: "ANYFS_DEBUG" }).state !== "granted") {
    return false;
  }
  const value = Deno.env.get("ANYFS_DEBUG");
  return value !== undefined && value !== "" && value !== "0";
}

async function dispatch(args: string[], ctx: CliContext): Promise<number> {
  const [first, ...rest] = args;
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    if (first === "help" && rest.length) {
      const command = findCommand(rest[0]);
      if (!command) throw new UsageError(`unknown command '${rest[0]}'`);
      await ctx.stdout.write(command.help + "\n");
      return 0;
    }
    await ctx.stdout.write(mainHelp(VERSION) + "\n");
    // Bare `anyfs` is a usage mistake (status 2), but still shows the help.
    return first === undefined ? 2 : 0;
  }
  if (first === "--version" || first === "-V") {
    await ctx.stdout.write(`anyfs ${VERSION}\n`);
    return 0;
  }
  if (first.startsWith("-")) {
    throw new UsageError(`unknown option '${first}' (a command comes first, e.g. anyfs ls --help)`);
  }
  const command = findCommand(first);
  if (!command) {
    throw new UsageError(`unknown command '${first}'`);
  }
  return await command.run(rest, ctx);
}

/**
 * Run the command line with `args` (what follows `anyfs`), writing to
 * `context` (default: this process's stdout and stderr). Resolves to the
 * exit status; never rejects.
 *
 * @example
 * ```ts ignore
 * import { main } from "./src/cli/main.ts";
 * Deno.exit(await main(["ls", "sqlite:./drive.db", "/"]));
 * ```
 */
export async function main(args: string[], context?: CliContext): Promise<number> {
  const ctx = context ?? processContext();
  try {
    return await dispatch(args, ctx);
  } catch (error) {
    const commandName = findCommand(args[0] ?? "")?.name;
    const report = reportError(error, commandName);
    let text = report.lines.map((l) => l + "\n").join("");
    if (debugEnabled() && error instanceof Error && error.stack) text += error.stack + "\n";
    try {
      await ctx.stderr.write(text);
    } catch {
      // stderr is gone too; the exit status still tells
    }
    return report.exitCode;
  }
}
