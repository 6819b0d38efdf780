/**
 * AnyFS: keep files in any storage — memory, one SQLite file, a contained
 * host directory, an overlay of two — behind one Deno-shaped file API, wrap
 * that storage in composable middleware, and mount any such stack as a real
 * file system.
 *
 * Importing this module and using the memory backend needs no permissions.
 *
 * @example Quick start
 * ```ts
 * import { FileStorage, MemoryBackend } from "@anyfs/anyfs";
 *
 * const fs = new FileStorage(new MemoryBackend());
 * await fs.mkdir("/docs", { recursive: true });
 * await fs.writeTextFile("/docs/hello.txt", "Hello!");
 * console.log(await fs.readTextFile("/docs/hello.txt"));
 * ```
 *
 * @module
 */

export * from "./src/core/mod.ts";
export type { FsApi, FsDirEntry, FsFileLike } from "./src/storage/api.ts";
export { HandleWrapper, Middleware } from "./src/middleware/middleware.ts";
export {
  Quota,
  QuotaLayer,
  type QuotaLimits,
  type QuotaRemaining,
  type QuotaUsage,
} from "./src/middleware/quota.ts";
export {
  Restrictions,
  RestrictionsLayer,
  type RestrictionsOptions,
} from "./src/middleware/restrictions.ts";
export {
  PathFilter,
  PathFilterLayer,
  type PathFilterOptions,
} from "./src/middleware/path_filter.ts";
export { ReadOnly, ReadOnlyLayer } from "./src/middleware/read_only.ts";
export {
  RateLimit,
  type RateLimitClock,
  type RateLimitedOperation,
  RateLimitLayer,
  type RateLimitOptions,
} from "./src/middleware/rate_limit.ts";
export {
  errorCodeOf,
  Instrumented,
  InstrumentedHandle,
  type InstrumentedOperation,
  type ObserveHandle,
  PROBE_MISSED,
  READ_OPERATIONS,
  WRITE_OPERATIONS,
} from "./src/middleware/instrumented.ts";
export { type AuditRecord, type AuditSink, JsonLinesSink } from "./src/middleware/audit_sink.ts";
export {
  type SpanAttributes,
  type SpanAttributeValue,
  type SpanLike,
  type TracerLike,
  Tracing,
  TracingLayer,
  type TracingOptions,
} from "./src/middleware/tracing.ts";
export {
  DryRun,
  DryRunLayer,
  type DryRunOperation,
  type DryRunOperationName,
  type DryRunOptions,
} from "./src/middleware/dry_run.ts";
export { Cache, CacheLayer, type CacheOptions, type CacheStats } from "./src/middleware/cache.ts";
export {
  Metrics,
  MetricsLayer,
  type MetricsOptions,
  type MetricsServeOptions,
  type MetricsSnapshot,
  type OperationStats,
} from "./src/middleware/metrics.ts";
export {
  BackendStack,
  type LayerConfig,
  layerFromConfig,
  type LayerKind,
} from "./src/middleware/stack.ts";
export { MemoryBackend, type MemoryBackendOptions } from "./src/backends/memory.ts";
export {
  SqliteBackend,
  type SqliteBackendOptions,
  type SqliteMemoryOptions,
} from "./src/backends/sqlite.ts";
export { StdFsBackend, type StdFsBackendOptions } from "./src/backends/std_fs.ts";
export {
  type Containment,
  VRootFsBackend,
  type VRootFsBackendOptions,
} from "./src/backends/vroot_fs.ts";
export { Overlay } from "./src/backends/overlay.ts";
export { DUAL_POLICIES, DualBackend, type DualPolicy } from "./src/backends/dual.ts";
export * from "./src/storage/mod.ts";
