/**
 * The drive commands that change things: `mkdir`, `rm`, `mv`, `cp`.
 *
 * @module
 */

import { fsError, isFsError } from "../core/errors.ts";
import { copy } from "../storage/copy.ts";
import type { FileStorage } from "../storage/file_storage.ts";
import { parseCommandArgs } from "./args.ts";
import { type Command, help } from "./command.ts";
import { EXIT_OK, UsageError } from "./errors.ts";
import { CP_HELP, MKDIR_HELP, MV_HELP, RM_HELP } from "./help.ts";
import type { CliContext } from "./output.ts";
import { STORAGE_OPTIONS, withStorage } from "./storage_session.ts";

function baseName(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

/**
 * Where `source` goes when the user names `dest`: into `dest` when it is an
 * existing directory (as `mv` and `cp` do), else `dest` itself.
 */
async function destinationFor(fs: FileStorage, source: string, dest: string): Promise<string> {
  try {
    if ((await fs.stat(dest)).isDirectory) {
      return `${dest.replace(/\/+$/, "")}/${baseName(source)}`;
    }
  } catch (e) {
    if (!isFsError(e) || (e.code !== "ENOENT" && e.code !== "ENOTDIR")) throw e;
  }
  return dest;
}

function parseMode(text: string): number {
  if (!/^[0-7]{1,4}$/.test(text)) {
    throw new UsageError(
      `bad mode '${text}' for --mode: expected octal permission bits such as 755`,
      "mkdir",
    );
  }
  return parseInt(text, 8);
}

/** `anyfs mkdir`. */
export const mkdirCommand: Command = {
  name: "mkdir",
  summary: "Create directories",
  help: MKDIR_HELP,
  async run(args: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseCommandArgs("mkdir", args, {
      ...STORAGE_OPTIONS,
      parents: { type: "boolean", short: "p" },
      mode: { type: "string", short: "m" },
    }, { min: 2, max: Infinity, names: ["backend", "path"] });
    if (values.help) return await help(ctx, MKDIR_HELP);
    const mode = values.mode === undefined ? undefined : parseMode(values.mode);
    return await withStorage("mkdir", positionals[0], values, true, async ({ fs }) => {
      for (const path of positionals.slice(1)) {
        await fs.mkdir(path, { recursive: values.parents === true, mode });
        // mkdir's mode is reduced by the umask; an explicit -m is meant exactly.
        if (mode !== undefined) await fs.chmod(path, mode);
      }
      return EXIT_OK;
    }, ctx);
  },
};

/** `anyfs rm`. */
export const rmCommand: Command = {
  name: "rm",
  summary: "Remove files and directories",
  help: RM_HELP,
  async run(args: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseCommandArgs("rm", args, {
      ...STORAGE_OPTIONS,
      recursive: { type: "boolean", short: "r" },
      force: { type: "boolean", short: "f" },
    }, { min: 2, max: Infinity, names: ["backend", "path"] });
    if (values.help) return await help(ctx, RM_HELP);
    return await withStorage("rm", positionals[0], values, false, async ({ fs }) => {
      for (const path of positionals.slice(1)) {
        try {
          const info = await fs.lstat(path);
          if (info.isDirectory && !values.recursive) {
            throw fsError("EISDIR", "rm", path, {
              reason: "use -r to remove a directory and everything in it",
            });
          }
          await fs.remove(path, { recursive: values.recursive === true });
        } catch (e) {
          if (values.force && isFsError(e) && e.code === "ENOENT") continue;
          throw e;
        }
      }
      return EXIT_OK;
    }, ctx);
  },
};

/** `anyfs mv`. */
export const mvCommand: Command = {
  name: "mv",
  summary: "Move or rename",
  help: MV_HELP,
  async run(args: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseCommandArgs("mv", args, STORAGE_OPTIONS, {
      min: 3,
      max: 3,
      names: ["backend", "source", "destination"],
    });
    if (values.help) return await help(ctx, MV_HELP);
    const [spec, source, dest] = positionals;
    return await withStorage("mv", spec, values, false, async ({ fs }) => {
      await fs.rename(source, await destinationFor(fs, source, dest));
      return EXIT_OK;
    }, ctx);
  },
};

/** `anyfs cp`. */
export const cpCommand: Command = {
  name: "cp",
  summary: "Copy inside the drive",
  help: CP_HELP,
  async run(args: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseCommandArgs("cp", args, {
      ...STORAGE_OPTIONS,
      recursive: { type: "boolean", short: "r" },
      "no-clobber": { type: "boolean", short: "n" },
      preserve: { type: "boolean", short: "p" },
    }, { min: 3, max: 3, names: ["backend", "source", "destination"] });
    if (values.help) return await help(ctx, CP_HELP);
    const [spec, source, dest] = positionals;
    return await withStorage("cp", spec, values, false, async ({ fs }) => {
      const target = await destinationFor(fs, source, dest);
      if (values.recursive) {
        await copy(fs, source, target, {
          overwrite: values["no-clobber"] !== true,
          preserveTimestamps: values.preserve === true,
        });
        return EXIT_OK;
      }
      // Without -r, a source that is a link is copied as what it points to (as cp does).
      const info = await fs.stat(source);
      if (info.isDirectory) {
        throw fsError("EISDIR", "cp", source, {
          reason: "use -r to copy a directory and everything in it",
        });
      }
      if (values["no-clobber"] && await fs.exists(target)) {
        throw fsError("EEXIST", "cp", target, { reason: "-n: not replacing it" });
      }
      await fs.copyFile(source, target);
      if (values.preserve && info.atime && info.mtime) {
        await fs.utime(target, info.atime, info.mtime);
      }
      return EXIT_OK;
    }, ctx);
  },
};
