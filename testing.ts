/**
 * The AnyFS conformance kit and differential test: one call runs the whole
 * suite against your backend.
 *
 * - {@linkcode conformanceSuite} registers ~280 cases as `Deno.test`s, each
 *   on a fresh subject, skipping (not passing) what the subject's
 *   capabilities do not cover.
 * - {@linkcode differentialTest} applies thousands of seeded random
 *   operations to your backend and to a real directory in lockstep and
 *   demands identical results and error codes.
 * - {@linkcode denoFsAt} and {@linkcode hostDirSubject} point the same cases
 *   at a real directory — or at a mounted AnyFS stack.
 *
 * @example Run the kit and the differential test on your backend
 * ```ts
 * import { MemoryBackend } from "@anyfs/anyfs";
 * import { conformanceSuite, differentialTest } from "@anyfs/anyfs/testing";
 *
 * conformanceSuite("MemoryBackend", () => new MemoryBackend());
 * differentialTest("MemoryBackend", () => new MemoryBackend(), { seed: 1, ops: 2000 });
 * ```
 *
 * @module
 */

export {
  backendSubject,
  conformanceSuite,
  type SubjectSuiteOptions,
} from "./src/testing/conformance.ts";
export {
  caseId,
  type ConformanceReport,
  registerConformance,
  type RegisterOptions,
  runCase,
  runConformance,
  type RunOptions,
} from "./src/testing/runner.ts";
export { CONFORMANCE_CASES } from "./src/testing/cases/mod.ts";
export {
  bytes,
  type CaseContext,
  type ConformanceCase,
  type ConformanceSubject,
  entries,
  names,
  rejects,
  skipReason,
  type SubjectFactory,
  text,
} from "./src/testing/kit.ts";
export { denoFsAt } from "./src/testing/deno_fs_at.ts";
export {
  DENO_FS_CAPABILITIES,
  hostDirSubject,
  type HostDirSubjectOptions,
} from "./src/testing/host_subject.ts";
export {
  applyOp,
  type DifferentialOptions,
  type DifferentialReport,
  type DiffOp,
  generateOps,
  type HandleStep,
  type Outcome,
  runDifferential,
  snapshot,
} from "./src/testing/differential.ts";
export { differentialTest } from "./src/testing/differential_suite.ts";
export { SeededRandom } from "./src/testing/prng.ts";
