/**
 * {@linkcode conformanceSuite}: the one call a backend author makes to run the
 * whole conformance kit on their backend.
 *
 * @module
 */

import { type Backend, capabilitiesOf } from "../core/backend.ts";
import { FileStorage } from "../storage/file_storage.ts";
import type { ConformanceSubject, SubjectFactory } from "./kit.ts";
import { registerConformance, type RegisterOptions } from "./runner.ts";

/** Options of {@linkcode conformanceSuite}'s lower-level form. */
export interface SubjectSuiteOptions extends RegisterOptions {
  /** Makes a fresh, empty subject for each case. */
  subject: SubjectFactory;
}

/**
 * A subject factory for a backend: each call makes a fresh backend with
 * `factory`, wraps it in a {@linkcode FileStorage}, and claims the
 * backend's capabilities. A backend with a `close()` method is closed after
 * its case.
 */
export function backendSubject(factory: () => Backend | Promise<Backend>): SubjectFactory {
  return async (): Promise<ConformanceSubject> => {
    const backend = await factory();
    const closable = backend as Backend & { close?: () => unknown };
    return {
      fs: new FileStorage(backend),
      capabilities: capabilitiesOf(backend),
      backend,
      dispose: async () => {
        if (typeof closable.close === "function") await closable.close();
      },
    };
  };
}

/**
 * Register the AnyFS conformance kit as `Deno.test`s: one test per area
 * (`"<name> › rename"`, `"<name> › symlink"`, …) with one step per case.
 * Every case runs on a fresh, empty subject and pins results and error
 * codes against Linux semantics: trailing slashes, `.` and `..`, name
 * limits, NUL bytes, rename over files and directories, hard and symbolic
 * links, truncation, open files (also after unlink), streams, permissions,
 * ownership, times, concurrency, extended attributes and special files.
 *
 * Cases needing a capability the subject does not claim are reported as
 * ignored, with the reason in the step name — never passed silently.
 *
 * Give a backend factory to test a backend through {@linkcode FileStorage},
 * or `{ subject }` to test anything with the Deno-shaped API — a real
 * directory, a mounted AnyFS stack ({@linkcode hostDirSubject}).
 *
 * @param name Prefix of the registered test names.
 * @param target A factory of fresh backends, or options with a `subject` factory.
 * @param options Filter and sanitizer options (backend form).
 *
 * @example Your own backend (in a `*_test.ts` file, run with `deno test`)
 * ```ts
 * import { MemoryBackend } from "@anyfs/anyfs";
 * import { conformanceSuite } from "@anyfs/anyfs/testing";
 * conformanceSuite("MemoryBackend", () => new MemoryBackend());
 * ```
 *
 * @example A real directory of the host (needs `--allow-read --allow-write`)
 * ```ts
 * import { conformanceSuite, hostDirSubject } from "@anyfs/anyfs/testing";
 * conformanceSuite("host directory", { subject: hostDirSubject() });
 * ```
 */
export function conformanceSuite(
  name: string,
  target: (() => Backend | Promise<Backend>) | SubjectSuiteOptions,
  options: RegisterOptions = {},
): void {
  if (typeof target === "function") {
    registerConformance(name, backendSubject(target), options);
  } else {
    const { subject, ...rest } = target;
    registerConformance(name, subject, { ...options, ...rest });
  }
}
