/**
 * `anyfs import` and `anyfs export`: whole trees between the host and a
 * drive, with progress and a summary (see `tree_copy.ts` for what is
 * kept).
 *
 * @module
 */

import { type Backend, supports } from "../core/backend.ts";
import { MemoryBackend } from "../backends/memory.ts";
import { StdFsBackend } from "../backends/std_fs.ts";
import { DryRun } from "../middleware/dry_run.ts";
import { parseCommandArgs } from "./args.ts";
import { type Command, help } from "./command.ts";
import { CliError, EXIT_OK } from "./errors.ts";
import { EXPORT_HELP, IMPORT_HELP } from "./help.ts";
import { absoluteHostPath, isInside, lstatOrUndefined, requireHostAccess } from "./host_paths.ts";
import type { OpenedBackend } from "./open_backend.ts";
import type { CliContext } from "./output.ts";
import { ProgressBar, summaryLine } from "./progress.ts";
import { dryRunSummary } from "./middleware_flags.ts";
import { STORAGE_OPTIONS, withStorage } from "./storage_session.ts";
import { copyTree, planTree, type TreeCopySummary, type TreePlan } from "./tree_copy.ts";

const TRANSFER_OPTIONS = {
  ...STORAGE_OPTIONS,
  overwrite: { type: "boolean" },
  owners: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
} as const;

/** The host path a path of the host backend rooted at `hostDir` stands for. */
function hostName(hostDir: string, path: string): string {
  if (path === "/") return hostDir;
  return hostDir === "/" ? path : hostDir + path;
}

/** The drive's own files (a SQLite file and its journal) as paths below `hostDir`. */
function driveFilesBelow(opened: OpenedBackend, hostDir: string): Set<string> {
  const below = new Set<string>();
  for (const p of opened.hostPaths) {
    if (!isInside(p, hostDir) || p === hostDir) continue;
    const relative = hostDir === "/" ? p : p.slice(hostDir.length);
    for (const suffix of ["", "-wal", "-shm", "-journal"]) below.add(relative + suffix);
  }
  return below;
}

/** Refuse a host directory that is (or holds, or is inside) a `dir:` backend's own directory. */
async function refuseOverlap(opened: OpenedBackend, hostDir: string, verb: string) {
  for (const p of opened.hostPaths) {
    const isDir = (await lstatOrUndefined(p))?.isDirectory === true;
    if (isDir && (isInside(p, hostDir) || isInside(hostDir, p))) {
      throw new CliError(
        `cannot ${verb} ${hostDir}: it overlaps the drive's own directory ${p}`,
        "choose a host directory outside it",
      );
    }
  }
}

async function syncIfPossible(backend: Backend): Promise<void> {
  // One durable commit at the end instead of one per file.
  if (supports(backend, "sync")) await backend.sync();
}

async function report(
  ctx: CliContext,
  command: string,
  verb: string,
  summary: TreeCopySummary,
  started: number,
  quiet: boolean,
): Promise<void> {
  const shown = summary.skipped.slice(0, 10);
  for (const s of shown) {
    await ctx.stderr.write(`anyfs: ${command}: skipped ${s.path}: ${s.reason}\n`);
  }
  if (summary.skipped.length > shown.length) {
    await ctx.stderr.write(
      `anyfs: ${command}: … and ${summary.skipped.length - shown.length} more skipped\n`,
    );
  }
  if (summary.notKept.length) {
    await ctx.stderr.write(
      `anyfs: ${command}: the destination cannot store ${summary.notKept.join(", ")}; ` +
        `those were not kept\n`,
    );
  }
  if (!quiet) {
    await ctx.stdout.write(summaryLine(verb, summary, performance.now() - started) + "\n");
  }
}

async function transfer(
  ctx: CliContext,
  command: string,
  plan: (bar: ProgressBar) => Promise<TreePlan>,
  copy: (plan: TreePlan, bar: ProgressBar) => Promise<TreeCopySummary>,
): Promise<TreeCopySummary> {
  const bar = new ProgressBar(ctx.stderr, command);
  try {
    return await copy(await plan(bar), bar);
  } finally {
    await bar.done();
  }
}

/** `anyfs import`. */
export const importCommand: Command = {
  name: "import",
  summary: "Copy a host directory tree into the drive",
  help: IMPORT_HELP,
  async run(args: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseCommandArgs("import", args, TRANSFER_OPTIONS, {
      min: 2,
      max: 3,
      names: ["backend", "host directory"],
    });
    if (values.help) return await help(ctx, IMPORT_HELP);
    const started = performance.now();
    const given = absoluteHostPath(positionals[1]);
    requireHostAccess(given, "read");
    const info = await lstatOrUndefined(given);
    if (!info) throw new CliError(`${given} does not exist`, "give the host directory to import");
    const hostDir = await Deno.realPath(given);
    if (!(await Deno.stat(hostDir)).isDirectory) {
      throw new CliError(
        `${given} is not a directory`,
        "import copies a directory tree; to add one file, import its directory",
      );
    }
    return await withStorage("import", positionals[0], values, true, async (s) => {
      await refuseOverlap(s.opened, hostDir, "import");
      const own = driveFilesBelow(s.opened, hostDir);
      const destText = positionals[2] ?? "/";
      await s.fs.mkdir(destText, { recursive: true });
      const destRoot = await s.fs.realPath(destText);
      const host = new StdFsBackend({ root: hostDir });
      const summary = await transfer(
        ctx,
        "import",
        (bar) => planTree(host, "/", (p) => own.has(p), (n) => bar.scanning(n)),
        (plan, bar) =>
          copyTree(plan, host, "/", s.backend, destRoot, {
            names: { source: (p) => hostName(hostDir, p), dest: (p) => `${s.opened.label}:${p}` },
            overwrite: values.overwrite === true,
            owners: values.owners === true,
            onProgress: (p) => bar.update(p),
          }),
      );
      for (const p of own) {
        if (await lstatOrUndefined(hostDir + p)) {
          summary.skipped.push({
            path: hostName(hostDir, p),
            reason: "it is the drive's own file",
          });
        }
      }
      await syncIfPossible(s.backend);
      await report(ctx, "import", "imported", summary, started, values.quiet === true);
      return EXIT_OK;
    }, ctx);
  },
};

/** `anyfs export`. */
export const exportCommand: Command = {
  name: "export",
  summary: "Copy a tree out of the drive to the host",
  help: EXPORT_HELP,
  async run(args: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseCommandArgs("export", args, TRANSFER_OPTIONS, {
      min: 3,
      max: 3,
      names: ["backend", "path in the drive", "host directory"],
    });
    if (values.help) return await help(ctx, EXPORT_HELP);
    const started = performance.now();
    const given = absoluteHostPath(positionals[2]);
    requireHostAccess(given, "write");
    const existing = await lstatOrUndefined(given);
    if (existing && !(await Deno.stat(given)).isDirectory) {
      throw new CliError(
        `${given} exists and is not a directory`,
        "export into a directory; it is created when missing",
      );
    }
    const dryRun = values["dry-run"] === true;
    return await withStorage("export", positionals[0], values, false, async (s) => {
      const srcRoot = await s.fs.realPath(positionals[1]);
      if (!existing && !dryRun) await Deno.mkdir(given, { recursive: true });
      const hostDir = existing || !dryRun ? await Deno.realPath(given) : given;
      await refuseOverlap(s.opened, hostDir, "export into");
      const own = driveFilesBelow(s.opened, hostDir);
      // The host is what export changes, so that is where a dry run must
      // hold the changes back (a missing directory is simulated as empty).
      const hostDryRun = dryRun
        ? new DryRun(existing ? new StdFsBackend({ root: hostDir }) : new MemoryBackend(), {
          simulate: true,
        })
        : undefined;
      const host: Backend = hostDryRun ?? new StdFsBackend({ root: hostDir });
      const summary = await transfer(
        ctx,
        "export",
        async (bar) => {
          const plan = await planTree(s.backend, srcRoot, undefined, (n) => bar.scanning(n));
          for (const { relative } of plan.entries) {
            if (own.has(`/${relative}`)) {
              throw new CliError(
                `exporting would overwrite the drive's own file ${hostDir}/${relative}`,
                "export into another directory",
              );
            }
          }
          return plan;
        },
        (plan, bar) =>
          copyTree(plan, s.backend, srcRoot, host, "/", {
            names: { source: (p) => `${s.opened.label}:${p}`, dest: (p) => hostName(hostDir, p) },
            overwrite: values.overwrite === true,
            owners: values.owners === true,
            onProgress: (p) => bar.update(p),
          }),
      );
      await report(ctx, "export", "exported", summary, started, values.quiet === true);
      if (hostDryRun) {
        await ctx.stderr.write(`anyfs: export: ${dryRunSummary(hostDryRun)} in ${hostDir}\n`);
      }
      return EXIT_OK;
    });
  },
};
