/**
 * The frame every drive command runs in: parse the backend spec and the
 * middleware flags, open the backend, wrap it in the stack, hand a
 * {@linkcode FileStorage} to the command, and close everything afterwards
 * whatever happened.
 *
 * @module
 */

import type { Backend } from "../core/backend.ts";
import { FileStorage } from "../storage/file_storage.ts";
import { HELP_OPTION } from "./args.ts";
import { parseBackendSpec } from "./backend_spec.ts";
import {
  buildStack,
  dryRunSummary,
  MIDDLEWARE_OPTIONS,
  type MiddlewareFlagValues,
  parseMiddlewareFlags,
} from "./middleware_flags.ts";
import { openBackend, type OpenedBackend } from "./open_backend.ts";
import type { CliContext } from "./output.ts";

/** The flags every drive command takes: help, `--read-only` and the middleware flags. */
export const STORAGE_OPTIONS = {
  ...HELP_OPTION,
  ...MIDDLEWARE_OPTIONS,
  "read-only": { type: "boolean" },
} as const;

/** What a drive command works with. */
export interface StorageSession {
  /** The Deno-shaped API over the whole stack. */
  fs: FileStorage;
  /** The outermost backend (for operations FileStorage does not offer, such as `lutimes`). */
  backend: Backend;
  /** The opened storage under the middleware. */
  opened: OpenedBackend;
}

/**
 * Run `fn` on the drive `specText` names, with the middleware `values` ask
 * for. `create` makes a missing `sqlite:` drive file (commands that write).
 * Flags and the spec are checked before anything is opened. With `ctx`, a
 * dry run ends with a line on its stderr saying what was held back.
 */
export async function withStorage<T>(
  command: string,
  specText: string,
  values: MiddlewareFlagValues & { "read-only"?: boolean },
  create: boolean,
  fn: (session: StorageSession) => Promise<T>,
  ctx?: CliContext,
): Promise<T> {
  const spec = parseBackendSpec(specText, command);
  const settings = parseMiddlewareFlags(values, command, values["read-only"] === true);
  const opened = await openBackend(spec, { create, dryRun: settings.dryRun });
  try {
    const stack = await buildStack(opened.backend, settings);
    try {
      const result = await fn({
        fs: new FileStorage(stack.backend),
        backend: stack.backend,
        opened,
      });
      if (stack.dryRun && ctx) {
        await ctx.stderr.write(`anyfs: ${command}: ${dryRunSummary(stack.dryRun)}\n`);
      }
      return result;
    } finally {
      await stack.close();
    }
  } finally {
    await opened.close();
  }
}
