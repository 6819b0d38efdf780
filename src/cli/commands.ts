/**
 * The command table of the `anyfs` command line: every command, in the
 * order `anyfs --help` lists them, and lookup by name or alias.
 *
 * @module
 */

import type { Command } from "./command.ts";
import { compactCommand } from "./cmd_compact.ts";
import { catCommand, duCommand, lsCommand, statCommand, treeCommand } from "./cmd_inspect.ts";
import { cpCommand, mkdirCommand, mvCommand, rmCommand } from "./cmd_modify.ts";
import { mountCommand } from "./cmd_mount.ts";
import { statusCommand } from "./cmd_status.ts";
import { exportCommand, importCommand } from "./cmd_transfer.ts";
import { unmountCommand } from "./cmd_unmount.ts";

/** Every command. */
export const COMMANDS: readonly Command[] = [
  mountCommand,
  unmountCommand,
  statusCommand,
  lsCommand,
  treeCommand,
  catCommand,
  statCommand,
  duCommand,
  mkdirCommand,
  rmCommand,
  mvCommand,
  cpCommand,
  importCommand,
  exportCommand,
  compactCommand,
];

/** The command called `name` (or with that alias), if any. */
export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
}
