/**
 * Parsing a command's arguments with `node:util`'s `parseArgs` in strict
 * mode, turning its errors into {@linkcode UsageError}s that name the
 * command, and checking the number of positional arguments.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./errors.ts";

/** The option definitions `parseArgs` takes. */
export type OptionDefinitions = NonNullable<ParseArgsConfig["options"]>;

/** `--help`/`-h`, which every command takes. */
export const HELP_OPTION = { help: { type: "boolean", short: "h" } } as const;

/** The flag values `parseArgs` gives for the definitions `O` (its own result type). */
export type FlagValues<O extends OptionDefinitions> = ReturnType<
  typeof parseArgs<{ options: O; strict: true; allowPositionals: true }>
>["values"];

/** The result of {@linkcode parseCommandArgs}. */
export interface ParsedArgs<O extends OptionDefinitions> {
  /** Flag values by long name. */
  values: FlagValues<O>;
  /** The positional arguments. */
  positionals: string[];
}

function rewordParseError(e: unknown, command: string): UsageError {
  const code = (e as { code?: string }).code ?? "";
  const message = e instanceof Error ? e.message : String(e);
  const option = /Option '([^' ]+)/.exec(message)?.[1] ?? /option '([^']+)'/i.exec(message)?.[1];
  const where = command === "" ? "anyfs" : `'anyfs ${command}'`;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    return new UsageError(`unknown option '${option}' for ${where}`, command || undefined);
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    if (/does not take an argument/.test(message)) {
      return new UsageError(`option '${option}' takes no value`, command || undefined);
    }
    if (/argument missing/.test(message)) {
      return new UsageError(`option '${option}' needs a value`, command || undefined);
    }
    if (/ambiguous/.test(message)) {
      return new UsageError(
        `option '${option}' needs a value; to give one starting with '-' write ${option}=VALUE`,
        command || undefined,
      );
    }
  }
  return new UsageError(message.split("\n")[0], command || undefined);
}

/**
 * Parse `args` against `options` (strict: unknown flags are errors) and
 * check that there are between `min` and `max` positional arguments.
 * `names` describes the positionals for the error message
 * (`"mount point"`).
 *
 * @example
 * ```ts ignore
 * const { values, positionals } = parseCommandArgs("ls", args, { long: { type: "boolean" } }, {
 *   min: 1,
 *   max: Infinity,
 *   names: ["backend", "path"],
 * });
 * ```
 */
export function parseCommandArgs<const O extends OptionDefinitions>(
  command: string,
  args: string[],
  options: O,
  positionals: { min: number; max: number; names: string[] },
): ParsedArgs<O> {
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (e) {
    throw rewordParseError(e, command);
  }
  const values = parsed.values as FlagValues<O>;
  if ((parsed.values as { help?: boolean }).help) {
    return { values, positionals: parsed.positionals };
  }
  const count = parsed.positionals.length;
  if (count < positionals.min) {
    const missing = positionals.names[count] ?? "argument";
    throw new UsageError(`${command}: missing ${missing}`, command);
  }
  if (count > positionals.max) {
    const extra = parsed.positionals[positionals.max];
    throw new UsageError(`${command}: unexpected argument '${extra}'`, command);
  }
  return { values, positionals: parsed.positionals };
}
