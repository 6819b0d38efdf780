/**
 * Opening the backend a {@linkcode BackendSpec} names, with errors that
 * say what to do (a missing drive file, a missing directory, a file that
 * is not a drive).
 *
 * @module
 */

import type { Backend } from "../core/backend.ts";
import { isFsError } from "../core/errors.ts";
import { MemoryBackend } from "../backends/memory.ts";
import { Overlay } from "../backends/overlay.ts";
import { SqliteBackend } from "../backends/sqlite.ts";
import { VRootFsBackend } from "../backends/vroot_fs.ts";
import { type BackendSpec, formatBackendSpec, type LayerSpec } from "./backend_spec.ts";
import { CliError } from "./errors.ts";
import { absoluteHostPath, lstatOrUndefined } from "./host_paths.ts";

/** A backend opened from a spec, and how to close it. */
export interface OpenedBackend {
  /** The backend. */
  backend: Backend;
  /** The spec with absolute paths, e.g. `sqlite:/home/me/drive.db`. */
  label: string;
  /** The host files and directories it keeps its data in (absolute). */
  hostPaths: string[];
  /** Close it (release the database, the directory's descriptor). Idempotent. */
  close(): Promise<void>;
}

/** How {@linkcode openBackend} opens. */
export interface OpenBackendOptions {
  /**
   * Create a missing `sqlite:` drive file (commands that write: mount,
   * import, mkdir). Otherwise a missing file is an error, so a typo does
   * not leave an empty drive behind.
   */
  create: boolean;
  /**
   * A dry run: a missing `sqlite:` drive that `create` would make is stood
   * in for by an empty memory backend instead, so nothing is left behind.
   */
  dryRun?: boolean;
}

interface OpenedLayer {
  backend: Backend;
  hostPath?: string;
  close(): Promise<void>;
}

async function openLayer(
  spec: LayerSpec,
  create: boolean,
  readOnly: boolean,
  text: string,
  dryRun = false,
): Promise<OpenedLayer> {
  switch (spec.kind) {
    case "mem":
      return { backend: new MemoryBackend(), close: () => Promise.resolve() };
    case "sqlite": {
      const file = absoluteHostPath(spec.path);
      if (dryRun && create && !readOnly && (await lstatOrUndefined(file)) === undefined) {
        return { backend: new MemoryBackend(), hostPath: file, close: () => Promise.resolve() };
      }
      let backend: SqliteBackend;
      try {
        backend = SqliteBackend.open(file, { create: create && !readOnly, readOnly });
      } catch (e) {
        if (isFsError(e) && e.code === "ENOENT") {
          throw new CliError(
            `${text}: the drive file ${file} does not exist`,
            "check the path; 'anyfs mount', 'import' and 'mkdir' create a new drive",
          );
        }
        if (isFsError(e) && (e.code === "EISDIR" || e.code === "EINVAL")) {
          throw new CliError(`${text}: ${file} is not an AnyFS drive: ${e.reason ?? e.message}`);
        }
        throw e;
      }
      return {
        backend,
        hostPath: file,
        close: () => Promise.resolve(backend.close()),
      };
    }
    case "dir": {
      const dir = absoluteHostPath(spec.path);
      let backend: VRootFsBackend;
      try {
        backend = await VRootFsBackend.open(dir);
      } catch (e) {
        // Checked by code, not class: the root's lookup may surface Deno's own error.
        if (codeOf(e) === "ENOENT") {
          throw new CliError(`${text}: the directory ${dir} does not exist`, `mkdir -p ${dir}`);
        }
        if (codeOf(e) === "ENOTDIR") {
          throw new CliError(`${text}: ${dir} is not a directory`);
        }
        throw e;
      }
      return { backend, hostPath: dir, close: () => backend.close() };
    }
  }
}

/**
 * Open the backend `spec` names.
 *
 * Needs `--allow-read`/`--allow-write` on the drive file or directory;
 * a missing flag fails with a message naming it.
 *
 * @example
 * ```ts ignore
 * const opened = await openBackend(parseBackendSpec("sqlite:./drive.db"), { create: false });
 * try {
 *   console.log(await opened.backend.readDir("/"));
 * } finally {
 *   await opened.close();
 * }
 * ```
 */
export async function openBackend(
  spec: BackendSpec,
  options: OpenBackendOptions,
): Promise<OpenedBackend> {
  const label = formatBackendSpec(spec, labelCwd());
  if (spec.kind !== "overlay") {
    const layer = await openLayer(spec, options.create, false, label, options.dryRun);
    return {
      backend: layer.backend,
      label,
      hostPaths: layer.hostPath ? [layer.hostPath] : [],
      close: once(layer.close),
    };
  }
  // The lower layer is only ever read: open it read-only, and never create it.
  const lower = await openLayer(spec.lower, false, spec.lower.kind === "sqlite", label);
  let upper: OpenedLayer;
  try {
    upper = await openLayer(spec.upper, options.create, false, label, options.dryRun);
  } catch (e) {
    await lower.close();
    throw e;
  }
  if (lower.hostPath !== undefined && lower.hostPath === upper.hostPath) {
    await upper.close();
    await lower.close();
    throw new CliError(`${label}: the lower and upper layers are the same (${lower.hostPath})`);
  }
  return {
    backend: new Overlay(lower.backend, upper.backend),
    label,
    hostPaths: [lower.hostPath, upper.hostPath].filter((p): p is string => p !== undefined),
    close: once(async () => {
      await upper.close();
      await lower.close();
    }),
  };
}

/**
 * The host paths `spec` names (drive files, directories), absolute — known
 * before anything is opened, so a command can refuse a bad combination
 * without creating a drive file first.
 */
export function specHostPaths(spec: BackendSpec): string[] {
  const layers = spec.kind === "overlay" ? [spec.lower, spec.upper] : [spec];
  return layers.flatMap((layer) => layer.kind === "mem" ? [] : [absoluteHostPath(layer.path)]);
}

function labelCwd(): string | undefined {
  return Deno.permissions.querySync({ name: "read" }).state === "granted" ? Deno.cwd() : undefined;
}

function codeOf(e: unknown): unknown {
  return (e as { code?: unknown } | null)?.code;
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}
