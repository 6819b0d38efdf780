/**
 * {@linkcode differentialTest}: the one call that runs the differential test
 * on a backend, against a real temporary directory.
 *
 * @module
 */

import { type Backend, capabilitiesOf } from "../core/backend.ts";
import { FileStorage } from "../storage/file_storage.ts";
import { denoFsAt } from "./deno_fs_at.ts";
import { type DifferentialOptions, runDifferential } from "./differential.ts";

/**
 * Register a `Deno.test` that runs the differential test on a backend
 * (wrapped in a {@linkcode FileStorage}) against a fresh temporary directory
 * of the host. Operations the backend's capabilities do not cover are not
 * generated. A backend with a `close()` method is closed afterwards.
 *
 * Needs `--allow-read --allow-write` for the temporary directory.
 *
 * @example In a `*_test.ts` file (needs `--allow-read --allow-write`)
 * ```ts
 * import { MemoryBackend } from "@anyfs/anyfs";
 * import { differentialTest } from "@anyfs/anyfs/testing";
 * differentialTest("MemoryBackend", () => new MemoryBackend(), { seed: 7, ops: 2000 });
 * ```
 */
export function differentialTest(
  name: string,
  backend: () => Backend | Promise<Backend>,
  options: DifferentialOptions = {},
): void {
  const seed = options.seed ?? 1;
  const ops = options.ops ?? 2000;
  Deno.test(`differential › ${name} (seed ${seed}, ${ops} ops)`, async () => {
    const b = await backend();
    const dir = await Deno.makeTempDir({ prefix: "anyfs-differential-" });
    try {
      await runDifferential(new FileStorage(b), denoFsAt(dir), {
        ...options,
        capabilities: options.capabilities ?? capabilitiesOf(b),
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
      const closable = b as Backend & { close?: () => unknown };
      if (typeof closable.close === "function") await closable.close();
    }
  });
}
