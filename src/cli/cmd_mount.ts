/**
 * `anyfs mount`: serve a backend stack as a real directory in the
 * foreground until Ctrl+C, SIGTERM or `anyfs unmount`.
 *
 * @module
 */

import { isAvailable } from "../mount/availability.ts";
import { MountError } from "../mount/errors.ts";
import { mount, type MountHandle } from "../mount/handle.ts";
import type { MountOptions } from "../mount/options.ts";
import { isNotConnected, mountAt } from "../mount/system.ts";
import { HELP_OPTION, parseCommandArgs } from "./args.ts";
import { looksLikeBackendSpec, parseBackendSpec } from "./backend_spec.ts";
import { type Command, help } from "./command.ts";
import { CliError, EXIT_FAILURE, EXIT_OK, UsageError } from "./errors.ts";
import { MOUNT_HELP } from "./help.ts";
import { absoluteHostPath, isInside, lstatOrUndefined } from "./host_paths.ts";
import { startLiveStats } from "./live_stats.ts";
import {
  buildStack,
  dryRunSummary,
  MIDDLEWARE_OPTIONS,
  parseMiddlewareFlags,
} from "./middleware_flags.ts";
import { registerMount } from "./mount_registry.ts";
import { openBackend, specHostPaths } from "./open_backend.ts";
import { parseCachePolicy, parseId, parseSeconds } from "./option_values.ts";
import type { CliContext } from "./output.ts";

const MOUNT_OPTIONS = {
  ...HELP_OPTION,
  ...MIDDLEWARE_OPTIONS,
  "read-only": { type: "boolean" },
  "allow-other": { type: "boolean" },
  uid: { type: "string" },
  gid: { type: "string" },
  cache: { type: "string" },
  "entry-timeout": { type: "string" },
  "attr-timeout": { type: "string" },
  "fs-name": { type: "string" },
  "writeback-cache": { type: "boolean" },
  debug: { type: "boolean" },
  stats: { type: "boolean" },
  nonempty: { type: "boolean" },
  "no-auto-unmount": { type: "boolean" },
} as const;

/** The file system name `mount` and `df` show: the spec, made safe for libfuse's `-o`. */
function fsNameFor(label: string): string {
  // libfuse splits -o on commas and treats backslashes as escapes.
  return label.replace(/,/g, "+").replace(/[\\\0]/g, "_");
}

async function checkMountPoint(path: string, allowNonEmpty: boolean): Promise<void> {
  let info: Deno.FileInfo | undefined;
  try {
    info = await lstatOrUndefined(path);
  } catch (e) {
    // A dead FUSE mount: mount() cleans it up and says so.
    if (isNotConnected(e)) return;
    throw e;
  }
  if (!info) {
    throw new CliError(`mount point ${path} does not exist`, `create it first: mkdir -p ${path}`);
  }
  const target = info.isSymlink ? await Deno.stat(path) : info;
  if (!target.isDirectory) {
    throw new CliError(
      `mount point ${path} is not a directory`,
      "mount on an empty directory",
    );
  }
  // Something mounted there is mount()'s to report (listing a stuck mount could hang here).
  if (allowNonEmpty || await mountAt(path)) return;
  // FUSE 3 mounts over a non-empty directory without a word; what was in it
  // (often the very project the user meant to work on) vanishes from view
  // until unmount, which looks like lost data.
  for await (const entry of Deno.readDir(path)) {
    throw new CliError(
      `mount point ${path} is not empty (${entry.name} is in it); mounting would hide ` +
        `its contents until unmount`,
      "choose an empty directory, or add --nonempty to hide its contents on purpose",
    );
  }
}

/**
 * The signals that stop a mount cleanly. SIGHUP is among them because
 * closing the terminal (or an ssh session) sends it, and its default action
 * kills the process without unmounting, as libfuse's own servers avoid.
 */
const STOP_SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** Wait for a stop signal; `next()` settles on the second one; `dispose()` removes the listeners. */
function signalWaiter(): { signal: Promise<Deno.Signal>; dispose(): void; next(): Promise<void> } {
  let deliver: (s: Deno.Signal) => void = () => {};
  let again: () => void = () => {};
  let count = 0;
  const signal = new Promise<Deno.Signal>((resolve) => (deliver = resolve));
  const second = new Promise<void>((resolve) => (again = resolve));
  const listeners = STOP_SIGNALS.map((name) => {
    const listener = () => (count++ === 0 ? deliver(name) : again());
    Deno.addSignalListener(name, listener);
    return { name, listener };
  });
  return {
    signal,
    next: () => second,
    dispose() {
      // A listener keeps the process alive: remove them all when done.
      for (const { name, listener } of listeners) Deno.removeSignalListener(name, listener);
    },
  };
}

/** How often a busy mount is tried again after a stop signal. */
const BUSY_RETRY_MS = 500;

async function unmountOnSignal(
  handle: MountHandle,
  ctx: CliContext,
  nextSignal: Promise<void>,
): Promise<void> {
  const forced = nextSignal.then(() => handle.unmount({ force: true }));
  let told = false;
  for (;;) {
    try {
      await Promise.race([handle.unmount(), forced]);
      return;
    } catch (e) {
      if (!(e instanceof MountError) || e.kind !== "MountPointBusy") throw e;
    }
    // Not detached: the moment a mount is detached, absolute paths under the
    // mount point lead to the host directory underneath, and a busy program
    // (npm mid-install) goes on writing there, past every quota and filter.
    // So the mount stays until its users are done or a second signal comes.
    if (!told) {
      told = true;
      await ctx.stderr.write(
        `anyfs: ${handle.mountPoint} is in use (open files or a shell inside it); it stays ` +
          `mounted until those programs are done. Press Ctrl+C again to detach it and cut ` +
          `them off now\n`,
      ).catch(() => {}); // after SIGHUP the terminal may be gone: keep going regardless
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const next = await Promise.race([
      new Promise<"retry">((resolve) => timer = setTimeout(() => resolve("retry"), BUSY_RETRY_MS)),
      forced.then(() => "forced" as const),
    ]);
    clearTimeout(timer);
    if (next === "forced") return;
  }
}

/** `anyfs mount`. */
export const mountCommand: Command = {
  name: "mount",
  summary: "Mount a backend as a directory",
  help: MOUNT_HELP,
  async run(args: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseCommandArgs("mount", args, MOUNT_OPTIONS, {
      min: 1,
      max: 2,
      names: ["mount point", "backend"],
    });
    if (values.help) return await help(ctx, MOUNT_HELP);
    let [mountPointText, specText = "mem:"] = positionals;
    // `anyfs mount ./drive.db /mnt/x` reads naturally too: a mount point is never a spec.
    if (
      positionals.length === 2 && looksLikeBackendSpec(mountPointText) &&
      !looksLikeBackendSpec(specText)
    ) {
      [mountPointText, specText] = [specText, mountPointText];
    }
    if (mountPointText === "") throw new UsageError("mount: missing mount point", "mount");
    const spec = parseBackendSpec(specText, "mount");
    const settings = parseMiddlewareFlags(values, "mount");
    if (
      values["writeback-cache"] === true &&
      (settings.quota?.maxTotalSize !== undefined || settings.quota?.maxFileSize !== undefined)
    ) {
      // With the writeback cache a write(2) returns before AnyFS sees it; the
      // quota's ENOSPC/EFBIG comes at some later flush, where most programs
      // never look, so bytes they were told were written are dropped.
      throw new UsageError(
        "--writeback-cache cannot be combined with --quota-size or --max-file-size: the kernel " +
          "would accept writes past the limit and drop them later, reporting the error only " +
          "to a later close or fsync",
        "mount",
      );
    }
    const fsName = values["fs-name"];
    if (fsName !== undefined && (fsName === "" || /[,\\\0]/.test(fsName))) {
      throw new UsageError(
        `bad value '${fsName}' for --fs-name: it must be non-empty, without ',' or '\\'`,
        "mount",
      );
    }
    const options: MountOptions = {
      readOnly: values["read-only"] === true,
      allowOther: values["allow-other"] === true,
      uid: values.uid === undefined ? undefined : parseId(values.uid, "--uid", "mount"),
      gid: values.gid === undefined ? undefined : parseId(values.gid, "--gid", "mount"),
      cache: values.cache === undefined
        ? undefined
        : parseCachePolicy(values.cache, "--cache", "mount"),
      entryTimeout: values["entry-timeout"] === undefined
        ? undefined
        : parseSeconds(values["entry-timeout"], "--entry-timeout", "mount"),
      attrTimeout: values["attr-timeout"] === undefined
        ? undefined
        : parseSeconds(values["attr-timeout"], "--attr-timeout", "mount"),
      writebackCache: values["writeback-cache"] === true,
      autoUnmount: values["no-auto-unmount"] !== true,
      debug: values.debug === true,
      // The CLI unmounts on signals itself, then exits 0 (the library would exit 130/143).
      handleSignals: false,
    };

    const mountPoint = absoluteHostPath(mountPointText);
    // Before anything is opened or created: no drive file is left behind when mounting cannot work.
    const availability = isAvailable();
    if (!availability.available) {
      throw new CliError(`cannot mount: ${availability.reason}`, availability.fix);
    }
    await checkMountPoint(mountPoint, values.nonempty === true);
    if (settings.traceFile !== undefined && isInside(settings.traceFile, mountPoint)) {
      throw new CliError(
        `the trace file ${settings.traceFile} is inside the mount point ${mountPoint}`,
        "put it outside: writing it would wait on the very mount it records",
      );
    }

    // Checked on the spec, before opening: opening creates a missing drive file.
    for (const p of specHostPaths(spec)) {
      if (isInside(p, mountPoint) || isInside(mountPoint, p)) {
        throw new CliError(
          `the backend's ${p} and the mount point ${mountPoint} overlap`,
          "keep the drive outside the directory it is mounted on",
        );
      }
    }

    const opened = await openBackend(spec, { create: true, dryRun: settings.dryRun });
    try {
      const stack = await buildStack(opened.backend, settings);
      try {
        const status = await serve(
          ctx,
          stack.backend,
          mountPoint,
          {
            ...options,
            fsName: fsName ?? fsNameFor(opened.label),
          },
          opened.label,
          [
            ...(options.readOnly ? ["read-only"] : []),
            ...stack.layers,
          ],
          values.stats === true,
        );
        if (stack.dryRun) {
          await ctx.stderr.write(`anyfs: mount: ${dryRunSummary(stack.dryRun)}\n`).catch(() => {});
        }
        return status;
      } finally {
        await stack.close();
      }
    } finally {
      await opened.close();
    }
  },
};

async function serve(
  ctx: CliContext,
  backend: Parameters<typeof mount>[0],
  mountPoint: string,
  options: MountOptions,
  label: string,
  layers: string[],
  stats: boolean,
): Promise<number> {
  const handle = await mount(backend, mountPoint, options);
  const signals = signalWaiter();
  const unregister = await registerMount({
    mountPoint,
    backend: label,
    layers,
    pid: Deno.pid,
    started: new Date().toISOString(),
  });
  const ticker = stats ? startLiveStats(ctx.stderr, () => handle.stats) : undefined;
  try {
    const described = layers.length ? `${label} (${layers.join(", ")})` : label;
    await ctx.stdout.write(
      `anyfs: mounted ${described} at ${mountPoint}; stop with Ctrl+C or ` +
        `'anyfs unmount ${mountPoint}'\n`,
    );
    const first = await Promise.race([
      handle.finished.then(() => undefined),
      signals.signal,
    ]);
    if (first !== undefined) await unmountOnSignal(handle, ctx, signals.next());
    const end = await handle.finished;
    if (end.reason === "error") {
      await ctx.stderr.write(
        `anyfs: mount: the mount at ${mountPoint} failed: ${
          end.error?.message ?? "unknown error"
        }\n`,
      );
      return EXIT_FAILURE;
    }
    return EXIT_OK;
  } finally {
    await ticker?.stop();
    signals.dispose();
    await unregister();
    if (handle.mounted) await handle.unmount({ force: true }).catch(() => {});
  }
}
