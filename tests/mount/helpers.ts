// Shared helpers of the mount tests: a fresh mount point per test, always
// unmounted and removed in `finally`, and subprocesses to drive the mount
// with real programs.
import type { Backend } from "../../src/core/backend.ts";
import { mount, type MountHandle } from "../../src/mount/handle.ts";
import type { MountOptions } from "../../src/mount/options.ts";

/** Mount `backend` on a fresh temporary directory, run `fn`, always unmount and clean up. */
export async function withMount<T>(
  backend: Backend,
  options: MountOptions,
  fn: (mountPoint: string, handle: MountHandle) => Promise<T>,
): Promise<T> {
  const mountPoint = await Deno.makeTempDir({ prefix: "anyfs-mnt-test-" });
  let handle: MountHandle | undefined;
  try {
    handle = await mount(backend, mountPoint, { handleSignals: false, ...options });
    return await fn(mountPoint, handle);
  } finally {
    if (handle?.mounted) await handle.unmount({ force: true });
    await Deno.remove(mountPoint, { recursive: true }).catch(() => {});
  }
}

/** The outcome of a subprocess. */
export interface RunResult {
  /** Exit status. */
  code: number;
  /** Standard output as text. */
  stdout: string;
  /** Standard error as text. */
  stderr: string;
}

/** Run `script` with `sh -c` in `cwd` (never blocks this process's event loop). */
export async function sh(script: string, cwd?: string): Promise<RunResult> {
  // `cd` in the shell, not Deno.Command's `cwd` option: Deno checks that
  // directory synchronously on this thread, which hangs when it is inside a
  // mount this process serves.
  const full = cwd === undefined ? script : `cd '${cwd}' && ${script}`;
  const out = await new Deno.Command("sh", {
    args: ["-c", full],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { LC_ALL: "C", TZ: "UTC" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Run `script` and fail with its output unless it exits 0; returns stdout. */
export async function shOk(script: string, cwd?: string): Promise<string> {
  const r = await sh(script, cwd);
  if (r.code !== 0) {
    throw new Error(`sh -c ${JSON.stringify(script)} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  }
  return r.stdout;
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
