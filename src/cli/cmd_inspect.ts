/**
 * The drive commands that only read: `ls`, `tree`, `cat`, `stat`, `du`.
 *
 * @module
 */

import { fsError } from "../core/errors.ts";
import type { FileStorage } from "../storage/file_storage.ts";
import { parseCommandArgs } from "./args.ts";
import { type Command, help } from "./command.ts";
import { EXIT_OK } from "./errors.ts";
import {
  formatBytes,
  formatModeString,
  formatOctalMode,
  formatShortTime,
  formatTime,
  padLeft,
} from "./format.ts";
import { typeOfInfo } from "../backends/host_common.ts";
import { CAT_HELP, DU_HELP, LS_HELP, STAT_HELP, TREE_HELP } from "./help.ts";
import { parseCount } from "./option_values.ts";
import type { CliContext } from "./output.ts";
import { STORAGE_OPTIONS, withStorage } from "./storage_session.ts";

function join(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

async function sortedNames(fs: FileStorage, dir: string, all: boolean): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of fs.readDir(dir)) {
    if (all || !entry.name.startsWith(".")) names.push(entry.name);
  }
  // Byte order, as `LC_ALL=C ls` sorts: stable across locales.
  return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

interface Described {
  name: string;
  path: string;
  info: Deno.FileInfo;
  target?: string;
}

async function describe(fs: FileStorage, path: string, name: string): Promise<Described> {
  const info = await fs.lstat(path);
  return { name, path, info, target: info.isSymlink ? await fs.readLink(path) : undefined };
}

function entryJson(d: Described): Record<string, unknown> {
  return {
    name: d.name,
    path: d.path,
    type: typeOfInfo(d.info),
    size: d.info.size,
    mode: formatOctalMode(d.info.mode),
    uid: d.info.uid,
    gid: d.info.gid,
    nlink: d.info.nlink,
    ino: d.info.ino,
    mtime: d.info.mtime?.toISOString() ?? null,
    atime: d.info.atime?.toISOString() ?? null,
    ...(d.target !== undefined ? { target: d.target } : {}),
  };
}

function longLines(entries: Described[]): string[] {
  const w = (f: (d: Described) => string | number) =>
    Math.max(0, ...entries.map((d) => String(f(d)).length));
  const links = w((d) => d.info.nlink ?? 0);
  const uid = w((d) => d.info.uid ?? 0);
  const gid = w((d) => d.info.gid ?? 0);
  const size = w((d) => d.info.size);
  return entries.map((d) =>
    [
      formatModeString(d.info),
      padLeft(d.info.nlink ?? 0, links),
      padLeft(d.info.uid ?? 0, uid),
      padLeft(d.info.gid ?? 0, gid),
      padLeft(d.info.size, size),
      formatShortTime(d.info.mtime),
      d.target !== undefined ? `${d.name} -> ${d.target}` : d.name,
    ].join(" ")
  );
}

/** `anyfs ls`. */
export const lsCommand: Command = {
  name: "ls",
  summary: "List directories",
  help: LS_HELP,
  async run(args: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseCommandArgs("ls", args, {
      ...STORAGE_OPTIONS,
      long: { type: "boolean", short: "l" },
      all: { type: "boolean", short: "a" },
      json: { type: "boolean" },
    }, { min: 1, max: Infinity, names: ["backend"] });
    if (values.help) return await help(ctx, LS_HELP);
    const paths = positionals.length > 1 ? positionals.slice(1) : ["/"];
    return await withStorage("ls", positionals[0], values, false, async ({ fs }) => {
      let first = true;
      for (const path of paths) {
        const top = await describe(fs, path, path);
        let entries: Described[];
        // A link to a directory is listed as the directory, except in long format (as ls does).
        const listIt = top.info.isDirectory ||
          (top.info.isSymlink && !values.long && (await fs.stat(path)).isDirectory);
        if (listIt) {
          entries = [];
          for (const name of await sortedNames(fs, path, values.all === true)) {
            entries.push(await describe(fs, join(path, name), name));
          }
        } else {
          entries = [top];
        }
        if (values.json) {
          for (const e of entries) await ctx.stdout.write(JSON.stringify(entryJson(e)) + "\n");
          continue;
        }
        let text = "";
        if (paths.length > 1 && listIt) text += `${first ? "" : "\n"}${path}:\n`;
        first = false;
        const lines = values.long ? longLines(entries) : entries.map((e) => e.name);
        if (lines.length) text += lines.join("\n") + "\n";
        await ctx.stdout.write(text);
      }
      return EXIT_OK;
    });
  },
};

/** `anyfs tree`. */
export const treeCommand: Command = {
  name: "tree",
  summary: "Show a directory tree",
  help: TREE_HELP,
  async run(args: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseCommandArgs("tree", args, {
      ...STORAGE_OPTIONS,
      all: { type: "boolean", short: "a" },
      depth: { type: "string", short: "L" },
    }, { min: 1, max: 2, names: ["backend", "path"] });
    if (values.help) return await help(ctx, TREE_HELP);
    const maxDepth = values.depth === undefined
      ? Infinity
      : parseCount(values.depth, "--depth", "tree", 1);
    const root = positionals[1] ?? "/";
    return await withStorage("tree", positionals[0], values, false, async ({ fs }) => {
      const info = await fs.stat(root);
      if (!info.isDirectory) throw fsError("ENOTDIR", "tree", root);
      const counts = { dirs: 0, files: 0 };
      const lines: string[] = [root];
      const walk = async (dir: string, prefix: string, depth: number) => {
        const names = await sortedNames(fs, dir, values.all === true);
        for (let i = 0; i < names.length; i++) {
          const last = i === names.length - 1;
          const d = await describe(fs, join(dir, names[i]), names[i]);
          const isDir = d.info.isDirectory;
          if (isDir) counts.dirs++;
          else counts.files++;
          const label = d.target !== undefined ? `${d.name} -> ${d.target}` : d.name;
          lines.push(`${prefix}${last ? "└── " : "├── "}${label}`);
          if (isDir && depth < maxDepth) {
            await walk(d.path, prefix + (last ? "    " : "│   "), depth + 1);
          }
        }
        // Flush now and then so a big tree starts showing at once.
        if (lines.length > 500) await ctx.stdout.write(lines.splice(0).join("\n") + "\n");
      };
      await walk(root, "", 1);
      lines.push(
        "",
        `${counts.dirs} director${counts.dirs === 1 ? "y" : "ies"}, ${counts.files} file${
          counts.files === 1 ? "" : "s"
        }`,
      );
      await ctx.stdout.write(lines.join("\n") + "\n");
      return EXIT_OK;
    });
  },
};

const CAT_CHUNK = 1 << 16;

/** `anyfs cat`. */
export const catCommand: Command = {
  name: "cat",
  summary: "Print files",
  help: CAT_HELP,
  async run(args: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseCommandArgs("cat", args, STORAGE_OPTIONS, {
      min: 2,
      max: Infinity,
      names: ["backend", "path"],
    });
    if (values.help) return await help(ctx, CAT_HELP);
    return await withStorage("cat", positionals[0], values, false, async ({ fs }) => {
      for (const path of positionals.slice(1)) {
        if ((await fs.stat(path)).isDirectory) {
          throw fsError("EISDIR", "cat", path, { reason: "use 'anyfs ls' to list a directory" });
        }
        // Chunk by chunk: a large file is never held whole in memory.
        const file = await fs.open(path, { read: true });
        try {
          const buffer = new Uint8Array(CAT_CHUNK);
          for (let n = await file.read(buffer); n !== null; n = await file.read(buffer)) {
            await ctx.stdout.writeBytes(buffer.subarray(0, n));
          }
        } finally {
          file.close();
        }
      }
      return EXIT_OK;
    });
  },
};

/** `anyfs stat`. */
export const statCommand: Command = {
  name: "stat",
  summary: "Show metadata",
  help: STAT_HELP,
  async run(args: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseCommandArgs("stat", args, {
      ...STORAGE_OPTIONS,
      dereference: { type: "boolean", short: "L" },
      json: { type: "boolean" },
    }, { min: 2, max: Infinity, names: ["backend", "path"] });
    if (values.help) return await help(ctx, STAT_HELP);
    return await withStorage("stat", positionals[0], values, false, async ({ fs }) => {
      for (const path of positionals.slice(1)) {
        const info = values.dereference ? await fs.stat(path) : await fs.lstat(path);
        const target = info.isSymlink ? await fs.readLink(path) : undefined;
        const d: Described = { name: path, path, info, target };
        if (values.json) {
          await ctx.stdout.write(JSON.stringify(entryJson(d)) + "\n");
          continue;
        }
        const mode = formatOctalMode(info.mode);
        await ctx.stdout.write(
          [
            `  Path: ${target !== undefined ? `${path} -> ${target}` : path}`,
            `  Type: ${typeOfInfo(info)}`,
            `  Size: ${info.size}  Blocks: ${info.blocks ?? 0}`,
            `  Mode: ${mode} (${formatModeString(info)})  Uid: ${info.uid ?? 0}  Gid: ${
              info.gid ?? 0
            }`,
            ` Inode: ${info.ino ?? 0}  Links: ${info.nlink ?? 0}`,
            `Access: ${formatTime(info.atime)}`,
            `Modify: ${formatTime(info.mtime)}`,
            `Change: ${formatTime(info.ctime)}`,
            ` Birth: ${formatTime(info.birthtime)}`,
          ].join("\n") + "\n",
        );
      }
      return EXIT_OK;
    });
  },
};

/** `anyfs du`. */
export const duCommand: Command = {
  name: "du",
  summary: "Show the space a tree takes",
  help: DU_HELP,
  async run(args: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseCommandArgs("du", args, {
      ...STORAGE_OPTIONS,
      summarize: { type: "boolean", short: "s" },
      human: { type: "boolean", short: "H" },
    }, { min: 1, max: 2, names: ["backend", "path"] });
    if (values.help) return await help(ctx, DU_HELP);
    const root = positionals[1] ?? "/";
    const show = (bytes: number) => (values.human ? formatBytes(bytes) : String(bytes));
    return await withStorage("du", positionals[0], values, false, async ({ fs }) => {
      const seen = new Set<number>();
      const lines: string[] = [];
      const sizeOf = async (path: string, info: Deno.FileInfo): Promise<number> => {
        if (!info.isDirectory) {
          if (!info.isFile) return 0;
          // A hard-linked file counts once, under the first name met.
          if ((info.nlink ?? 1) > 1 && info.ino !== null) {
            if (seen.has(info.ino)) return 0;
            seen.add(info.ino);
          }
          return info.size;
        }
        let total = 0;
        for (const name of await sortedNames(fs, path, true)) {
          const child = join(path, name);
          total += await sizeOf(child, await fs.lstat(child));
        }
        if (!values.summarize) lines.push(`${show(total)}\t${path}`);
        return total;
      };
      const total = await sizeOf(root, await fs.stat(root));
      if (values.summarize || !(await fs.stat(root)).isDirectory) {
        lines.push(`${show(total)}\t${root}`);
      }
      await ctx.stdout.write(lines.join("\n") + "\n");
      return EXIT_OK;
    });
  },
};
