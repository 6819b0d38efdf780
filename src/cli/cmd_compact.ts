/**
 * `anyfs compact`: give a `sqlite:` drive file's free space back to the host.
 *
 * @module
 */

import { SqliteBackend } from "../backends/sqlite.ts";
import { HELP_OPTION, parseCommandArgs } from "./args.ts";
import { parseBackendSpec } from "./backend_spec.ts";
import { type Command, help } from "./command.ts";
import { EXIT_OK, UsageError } from "./errors.ts";
import { formatBytes } from "./format.ts";
import { COMPACT_HELP } from "./help.ts";
import { openBackend } from "./open_backend.ts";
import type { CliContext } from "./output.ts";

/** `anyfs compact <sqlite-drive>`. */
export const compactCommand: Command = {
  name: "compact",
  summary: "Give a drive file's free space back to the host",
  help: COMPACT_HELP,
  async run(args: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseCommandArgs("compact", args, HELP_OPTION, {
      min: 1,
      max: 1,
      names: ["sqlite-drive"],
    });
    if (values.help) return await help(ctx, COMPACT_HELP);
    const spec = parseBackendSpec(positionals[0], "compact");
    if (spec.kind !== "sqlite") {
      throw new UsageError(
        `compact works on sqlite: drive files; ${positionals[0]} is a ${spec.kind}: backend`,
        "compact",
      );
    }
    const opened = await openBackend(spec, { create: false });
    try {
      if (!(opened.backend instanceof SqliteBackend)) throw new TypeError("not a SqliteBackend");
      const { before, after } = await opened.backend.compact();
      await ctx.stdout.write(
        `${opened.label}: ${formatBytes(before)} -> ${formatBytes(after)}\n`,
      );
      return EXIT_OK;
    } finally {
      await opened.close();
    }
  },
};
