/**
 * Composition of middleware: the {@linkcode BackendStack} builder and stacks
 * chosen at run time from configuration.
 *
 * Every middleware is a {@linkcode Backend} wrapping another, with a layer
 * object (`Quota.layer(limits)`, `new QuotaLayer(limits)`, …) whose
 * `layer(inner)` wraps a backend. Layers compose with `.layer()`, inner
 * first, so a stack reads top to bottom in the order requests travel back
 * up from the storage:
 *
 * ```ts
 * import { MemoryBackend, PathFilter, Quota, RateLimit } from "@anyfs/anyfs";
 * const backend = new MemoryBackend()
 *   .layer(Quota.layer({ maxTotalSize: 50 * 1024 * 1024 })) // next to the storage
 *   .layer(PathFilter.layer({ allow: ["/workspace/**"] }))
 *   .layer(RateLimit.layer({ maxOps: 1000 }));            // what callers reach first
 * ```
 *
 * Every middleware keeps the capabilities of what it wraps: a quota over a
 * backend with hard links still offers hard links.
 *
 * ## Where order matters
 * - **Quota** innermost: its usage scan then sees every file, and filters
 *   above it reject requests before they are counted.
 * - **PathFilter** above the quota; below it, the quota's scan would miss
 *   hidden files.
 * - **RateLimit** outermost charges every attempt, including denied ones;
 *   lower down it charges only what got past the checks above it.
 * - **ReadOnly** and **Restrictions** can go anywhere; the position only
 *   decides which error a request that several layers refuse sees first.
 * - **Cache** directly above the storage, below the policies: above them,
 *   cache hits would skip the rate limit and tracing.
 * - **Tracing** and **Metrics** outermost see every request with the error
 *   an inner policy gave it; innermost, only what reached the storage.
 * - **DryRun** innermost keeps the policies in force (a denied write still
 *   fails) while nothing reaches the storage.
 *
 * @module
 */

import type { Backend, Layer } from "../core/backend.ts";
import { fsError } from "../core/errors.ts";
import { FileStorage, type FileStorageOptions } from "../storage/file_storage.ts";
import { PathFilter, type PathFilterOptions } from "./path_filter.ts";
import { Cache, type CacheOptions } from "./cache.ts";
import { DryRun, type DryRunOptions } from "./dry_run.ts";
import { Metrics, type MetricsOptions } from "./metrics.ts";
import { Quota, type QuotaLimits } from "./quota.ts";
import { RateLimit, type RateLimitOptions } from "./rate_limit.ts";
import { ReadOnly } from "./read_only.ts";
import { Restrictions, type RestrictionsOptions } from "./restrictions.ts";
import { Tracing, type TracingOptions } from "./tracing.ts";

/**
 * One layer of a stack described as plain data (e.g. read from a JSON
 * configuration file), for {@linkcode BackendStack.fromConfig}.
 */
export type LayerConfig =
  | ({ kind: "quota" } & QuotaLimits)
  | ({ kind: "restrictions" } & RestrictionsOptions)
  | ({ kind: "pathFilter" } & PathFilterOptions)
  | { kind: "readOnly" }
  | ({ kind: "rateLimit" } & RateLimitOptions)
  | ({ kind: "tracing" } & TracingOptions)
  | ({ kind: "dryRun" } & DryRunOptions)
  | ({ kind: "cache" } & CacheOptions)
  | ({ kind: "metrics" } & MetricsOptions);

/** The `kind`s {@linkcode LayerConfig} knows. */
export type LayerKind = LayerConfig["kind"];

/**
 * The layer a {@linkcode LayerConfig} describes; `EINVAL` for an unknown
 * `kind` or bad options.
 *
 * @example
 * ```ts
 * import { layerFromConfig, MemoryBackend } from "@anyfs/anyfs";
 * const backend = new MemoryBackend().layer(layerFromConfig({ kind: "readOnly" }));
 * ```
 */
export function layerFromConfig(config: LayerConfig): Layer<Backend, Backend> {
  const { kind, ...options } = config as LayerConfig & Record<string, unknown>;
  switch (kind) {
    case "quota":
      return Quota.layer(options as QuotaLimits);
    case "restrictions":
      return Restrictions.layer(options as RestrictionsOptions);
    case "pathFilter":
      return PathFilter.layer(options as PathFilterOptions);
    case "readOnly":
      return ReadOnly.layer();
    case "rateLimit":
      return RateLimit.layer(options as unknown as RateLimitOptions);
    case "tracing":
      return Tracing.layer(options as TracingOptions);
    case "dryRun":
      return DryRun.layer(options as DryRunOptions);
    case "cache":
      return Cache.layer(options as CacheOptions);
    case "metrics":
      return Metrics.layer(options as MetricsOptions);
    default:
      throw fsError("EINVAL", "stack", "", {
        reason: `unknown middleware kind ${JSON.stringify(kind)}`,
      });
  }
}

/**
 * A fluent builder for a stack of middleware over a backend. Each method
 * wraps the stack built so far in one more layer, so the first call is the
 * innermost layer; `build()` returns the outermost backend, fully typed.
 *
 * Adding a middleware to the builder is one method that calls
 * {@linkcode BackendStack.layer} with the middleware's layer, plus a `kind`
 * in {@linkcode LayerConfig} and a case in {@linkcode layerFromConfig}:
 *
 * ```ts ignore
 * traced(options?: TracingOptions): BackendStack<Tracing<B>> {
 *   // The explicit type argument keeps `B` precise: TypeScript infers
 *   // `Tracing<Backend>` from a layer's generic `layer()` method otherwise.
 *   return this.layer<Tracing<B>>(Tracing.layer(options));
 * }
 * ```
 *
 * @example The agent sandbox of the design
 * ```ts
 * import { BackendStack, MemoryBackend } from "@anyfs/anyfs";
 *
 * const backend = BackendStack.from(new MemoryBackend())
 *   .limited({ maxTotalSize: 50 * 1024 * 1024, maxFileSize: 5 * 1024 * 1024 })
 *   .filtered({ allow: ["/workspace/**"], deny: [".env", "secrets"] })
 *   .restricted({ denyHardLinks: true, denyPermissions: true })
 *   .rateLimited({ maxOps: 1000 })
 *   .build();
 * await backend.mkdir("/workspace");
 * ```
 *
 * @example Straight to the Deno-shaped API
 * ```ts
 * import { BackendStack, MemoryBackend } from "@anyfs/anyfs";
 * const fs = BackendStack.from(new MemoryBackend())
 *   .filtered({ deny: [".env"] })
 *   .storage();
 * await fs.writeTextFile("/notes.txt", "hello");
 * ```
 *
 * @example A stack chosen at run time
 * ```ts
 * import { BackendStack, type LayerConfig, MemoryBackend } from "@anyfs/anyfs";
 *
 * const config: LayerConfig[] = JSON.parse(
 *   '[{"kind":"quota","maxTotalSize":1048576},{"kind":"readOnly"}]',
 * );
 * const backend = BackendStack.fromConfig(new MemoryBackend(), config);
 * ```
 */
export class BackendStack<B extends Backend> {
  readonly #backend: B;

  private constructor(backend: B) {
    this.#backend = backend;
  }

  /** Start a stack on `backend` (the storage at the bottom). */
  static from<B extends Backend>(backend: B): BackendStack<B> {
    return new BackendStack(backend);
  }

  /**
   * Wrap `backend` in the layers `config` describes, first entry innermost.
   * The result is typed only as a {@linkcode Backend}: what it is depends on
   * data. `EINVAL` for an unknown `kind` or bad options.
   */
  static fromConfig(backend: Backend, config: readonly LayerConfig[]): Backend {
    let stack: Backend = backend;
    for (const entry of config) stack = layerFromConfig(entry).layer(stack);
    return stack;
  }

  /** Wrap the stack in any layer, e.g. one of your own middleware. */
  layer<Out extends Backend>(layer: Layer<B, Out>): BackendStack<Out> {
    return new BackendStack(layer.layer(this.#backend));
  }

  /** Add a {@linkcode Quota} with `limits`. Put it first, next to the storage. */
  limited(limits: QuotaLimits): BackendStack<Quota<B>> {
    return this.layer<Quota<B>>(Quota.layer(limits));
  }

  /** Add {@linkcode Restrictions} denying the features set in `options`. */
  restricted(options: RestrictionsOptions): BackendStack<Restrictions<B>> {
    return this.layer<Restrictions<B>>(Restrictions.layer(options));
  }

  /** Add a {@linkcode PathFilter} with glob rules. */
  filtered(options: PathFilterOptions): BackendStack<PathFilter<B>> {
    return this.layer<PathFilter<B>>(PathFilter.layer(options));
  }

  /** Add {@linkcode ReadOnly}. */
  readOnly(): BackendStack<ReadOnly<B>> {
    return this.layer<ReadOnly<B>>(ReadOnly.layer());
  }

  /** Add a {@linkcode RateLimit}. Last (outermost) charges every attempt. */
  rateLimited(options: RateLimitOptions): BackendStack<RateLimit<B>> {
    return this.layer<RateLimit<B>>(RateLimit.layer(options));
  }

  /** Add {@linkcode Tracing}: OpenTelemetry spans and, optionally, an audit trail. */
  traced(options?: TracingOptions): BackendStack<Tracing<B>> {
    return this.layer<Tracing<B>>(Tracing.layer(options));
  }

  /** Add a {@linkcode DryRun}: mutations are recorded, not done. */
  dryRun(options?: DryRunOptions): BackendStack<DryRun<B>> {
    return this.layer<DryRun<B>>(DryRun.layer(options));
  }

  /** Add a {@linkcode Cache}. Put it right above the storage, below the policies. */
  cached(options?: CacheOptions): BackendStack<Cache<B>> {
    return this.layer<Cache<B>>(Cache.layer(options));
  }

  /** Add {@linkcode Metrics}; keep the built backend (or this layer's output) to read them. */
  metered(options?: MetricsOptions): BackendStack<Metrics<B>> {
    return this.layer<Metrics<B>>(Metrics.layer(options));
  }

  /** The outermost backend of the stack. */
  build(): B {
    return this.#backend;
  }

  /**
   * A {@linkcode FileStorage} (the Deno-shaped API) over the stack.
   *
   * @example
   * ```ts
   * import { BackendStack, MemoryBackend } from "@anyfs/anyfs";
   * const fs = BackendStack.from(new MemoryBackend()).limited({ maxTotalSize: 1 << 20 }).storage();
   * await fs.writeTextFile("/hello.txt", "hi");
   * ```
   */
  storage(options?: FileStorageOptions): FileStorage {
    return new FileStorage(this.#backend, options);
  }
}
