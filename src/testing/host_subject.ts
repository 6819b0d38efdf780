/**
 * {@linkcode hostDirSubject}: conformance subjects that are fresh directories
 * of the host — a real file system, or a mounted AnyFS stack.
 *
 * @module
 */

import type { Capability } from "../core/backend.ts";
import { denoFsAt } from "./deno_fs_at.ts";
import type { ConformanceSubject, SubjectFactory } from "./kit.ts";

/**
 * What Deno's own file API offers on a Linux file system, except
 * `ownership`, which needs root (see {@linkcode hostDirSubject}). Extended
 * attributes and special files are missing because Deno has no call for
 * them.
 */
export const DENO_FS_CAPABILITIES: readonly Capability[] = [
  "ranges",
  "truncate",
  "append",
  "copy",
  "symlinks",
  "hardlinks",
  "permissions",
  "times",
  "sync",
  "handles",
];

/** Options of {@linkcode hostDirSubject}. */
export interface HostDirSubjectOptions {
  /**
   * Where each subject's fresh directory is made (default: the system's
   * temporary directory). Point it at a mount point to run the kit through
   * a mount.
   */
  parent?: string;
  /**
   * What the subjects claim. Default: {@linkcode DENO_FS_CAPABILITIES}, plus
   * `ownership` when the process runs as root (only root may give files
   * away) and may read its uid (`--allow-sys=uid`).
   */
  capabilities?: Iterable<Capability>;
}

function runsAsRoot(): boolean {
  if (Deno.build.os === "windows") return false;
  if (Deno.permissions.querySync({ name: "sys", kind: "uid" }).state !== "granted") return false;
  return Deno.uid() === 0;
}

/** Remove a tree even when a failed case left a directory without write or search bits. */
async function removeTree(dir: string): Promise<void> {
  try {
    await Deno.remove(dir, { recursive: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    if (!(e instanceof Deno.errors.PermissionDenied)) throw e;
    await restoreAccess(dir);
    await Deno.remove(dir, { recursive: true });
  }
}

async function restoreAccess(dir: string): Promise<void> {
  await Deno.chmod(dir, 0o700);
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory) await restoreAccess(`${dir}/${entry.name}`);
  }
}

/**
 * A factory of subjects that are fresh, empty directories of the host seen
 * through {@linkcode denoFsAt}; each is removed after its case.
 *
 * Needs `--allow-read --allow-write` (for `parent`, or the temp directory).
 *
 * @example Check that the kit's expectations hold on the real file system
 * ```ts
 * import { conformanceSuite, hostDirSubject } from "@anyfs/anyfs/testing";
 * conformanceSuite("host directory", { subject: hostDirSubject() });
 * ```
 *
 * @example Run the kit through a mount
 * ```ts ignore
 * import { conformanceSuite, DENO_FS_CAPABILITIES, hostDirSubject } from "@anyfs/anyfs/testing";
 * const mountPoint = "/mnt/anyfs"; // where your test mounted a MemoryBackend
 * conformanceSuite("MemoryBackend via mount", {
 *   subject: hostDirSubject({ parent: mountPoint, capabilities: [...DENO_FS_CAPABILITIES, "ownership"] }),
 * });
 * ```
 */
export function hostDirSubject(options: HostDirSubjectOptions = {}): SubjectFactory {
  let capabilities: Capability[] | undefined;
  return async (): Promise<ConformanceSubject> => {
    capabilities ??= options.capabilities
      ? [...options.capabilities]
      : [...DENO_FS_CAPABILITIES, ...(runsAsRoot() ? ["ownership" as const] : [])];
    const dir = await Deno.makeTempDir({ dir: options.parent, prefix: "anyfs-kit-" });
    return {
      fs: denoFsAt(dir),
      capabilities,
      dispose: () => removeTree(dir),
    };
  };
}
