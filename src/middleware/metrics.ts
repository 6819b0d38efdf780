/**
 * Metrics: counters and a latency histogram of every operation, exposed in
 * the Prometheus text format from a method or an HTTP endpoint.
 *
 * | metric | type | labels |
 * | --- | --- | --- |
 * | `anyfs_operations_total` | counter | `operation` |
 * | `anyfs_errors_total` | counter | `operation`, `code` |
 * | `anyfs_read_bytes_total` | counter | — |
 * | `anyfs_written_bytes_total` | counter | — |
 * | `anyfs_operation_duration_seconds` | histogram | `operation` |
 *
 * Operations are named after backend methods (`readFile`, `lstat`, …) and
 * `handle.<method>` for calls on open handles; every call is counted, also
 * handle reads and writes. Read bytes are the data returned by `readFile`,
 * `read`, `getXattr` and handle reads; written bytes the data passed to
 * `writeFile`, `appendFile`, `setXattr` and handle writes. The `prefix`
 * option replaces `anyfs`, and `labels` adds constant labels to every
 * series (to tell several stacks apart in one process).
 *
 * The default histogram buckets run from 10 µs to 10 s: Prometheus's
 * default buckets start at 5 ms, where an in-memory operation never is.
 *
 * ## What timing costs
 * Counting is nearly free; timing an operation reads a high-resolution
 * clock twice, about a quarter of a microsecond in Deno — noise next to
 * SQLite, the host file system or a mount, but a fifth of an in-memory
 * operation. {@linkcode MetricsOptions.latency} chooses: time every
 * operation (the default), a sample of them, or none.
 *
 * @module
 */

import type { Backend, CreateOptions, Layer, WriteFileOptions } from "../core/backend.ts";
import { tryLstat } from "../core/derive.ts";
import { fsError } from "../core/errors.ts";
import type { DirEntry, Metadata } from "../core/types.ts";
import {
  errorCodeOf,
  Instrumented,
  type InstrumentedOperation,
  PROBE_MISSED,
  READ_OPERATIONS,
  WRITE_OPERATIONS,
} from "./instrumented.ts";

/** How a {@linkcode Metrics} middleware counts and names. */
export interface MetricsOptions {
  /** Prefix of every metric name (default `"anyfs"`); `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
  prefix?: string;
  /** Constant labels on every series, e.g. `{ stack: "sandbox" }`. */
  labels?: Record<string, string>;
  /** Upper bounds of the latency histogram's buckets, in seconds (default: 10 µs to 10 s). */
  buckets?: readonly number[];
  /**
   * Which operations are timed into the latency histogram; counters of
   * operations, errors and bytes are exact whatever this says.
   *
   * - `"all"` (default): every operation, so the histogram's `_count`
   *   equals the operations. The default because it is the exact answer,
   *   and for any backend doing real I/O the two clock readings per
   *   operation (~0.25 µs) do not show.
   * - `{ sampleEvery: n }`: the first call of each operation, then every
   *   `n`-th, for in-memory stacks in hot loops where the clock would be a
   *   fifth of the cost. Quantiles and the mean (`_sum / _count`) stay
   *   unbiased; `_count` is the number of timed calls (take call counts
   *   from `_operations_total`).
   * - `"off"`: no timing and no histogram in the exposition.
   */
  latency?: "all" | "off" | { sampleEvery: number };
}

/** Options of {@linkcode Metrics.serve}. */
export interface MetricsServeOptions {
  /** Port to listen on (default 9464, the usual port of OpenTelemetry's Prometheus exporter; 0 picks a free one). */
  port?: number;
  /** Address to listen on (default `"127.0.0.1"`: metrics stay local unless asked). */
  hostname?: string;
  /** URL path the metrics are served at (default `"/metrics"`). */
  path?: string;
  /** Called once listening, with the address (default: print nothing). */
  onListen?: (addr: Deno.NetAddr) => void;
}

/** Counts of one operation. */
export interface OperationStats {
  /** Calls, failed ones included. */
  count: number;
  /** Failed calls by error code. */
  errors: Record<string, number>;
  /** Calls timed into the histogram: all of them unless latency is sampled or off. */
  timed: number;
  /** Total time spent in the timed calls, in seconds. */
  seconds: number;
  /** Timed calls per histogram bucket: `buckets[i]` counts calls of at most `bucketBounds[i]` seconds (not cumulative). */
  buckets: number[];
}

/** Everything a {@linkcode Metrics} middleware counted. */
export interface MetricsSnapshot {
  /** Per operation, for operations called at least once. */
  operations: Record<string, OperationStats>;
  /** Bytes of file data read. */
  bytesRead: number;
  /** Bytes of file data written. */
  bytesWritten: number;
  /** Upper bounds of the histogram buckets, in seconds (the implicit `+Inf` not included). */
  bucketBounds: number[];
}

/** 10 µs to 10 s: the fast end for in-memory backends, Prometheus's own defaults above 5 ms. */
const DEFAULT_BUCKETS: readonly number[] = [
  0.00001,
  0.000025,
  0.00005,
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Counters of one operation; `buckets` has one more slot than the bounds, for `+Inf`. */
interface Counters {
  count: number;
  timed: number;
  seconds: number;
  buckets: Float64Array;
  errors: Map<string, number>;
  /** Calls to go until the next timed one (1: the next is timed; `Infinity` when none is). */
  untilTimed: number;
  /** Counts an untimed call that succeeded; made once, so such calls allocate no closure. */
  succeeded: <T>(result: T) => T;
  /** Counts an untimed call that failed. */
  failed: (error: unknown) => never;
}

/** The core operations, which {@linkcode Metrics} counts without going through `observe`. */
type CoreOperation =
  | "lstat"
  | "readDir"
  | "readFile"
  | "writeFile"
  | "mkdir"
  | "unlink"
  | "rmdir"
  | "rename";

/**
 * A middleware counting operations, errors, bytes and latency.
 *
 * @example Exposition from a method
 * ```ts
 * import { MemoryBackend, Metrics } from "@anyfs/anyfs";
 * const metrics = new Metrics(new MemoryBackend());
 * await metrics.writeFile("/a", new Uint8Array(4096));
 * await metrics.readFile("/missing").catch(() => {});
 * console.log(metrics.prometheus().includes('anyfs_errors_total{operation="readFile",code="ENOENT"} 1')); // true
 * ```
 *
 * @example Time one call in 16 in a hot in-memory loop (counters stay exact)
 * ```ts
 * import { MemoryBackend, Metrics } from "@anyfs/anyfs";
 * const metrics = new Metrics(new MemoryBackend(), { latency: { sampleEvery: 16 } });
 * for (let i = 0; i < 100; i++) await metrics.lstat("/");
 * const { count, timed } = metrics.snapshot().operations.lstat;
 * console.log(count, timed); // 100 7
 * ```
 *
 * @example An endpoint for Prometheus to scrape (needs `--allow-net=127.0.0.1:9464`)
 * ```ts ignore
 * import { MemoryBackend, Metrics } from "@anyfs/anyfs";
 * const metrics = new Metrics(new MemoryBackend());
 * const server = metrics.serve({ port: 9464 });
 * // … later
 * await server.shutdown();
 * ```
 */
export class Metrics<B extends Backend = Backend> extends Instrumented<B> {
  /** The options in force. */
  readonly options: Readonly<MetricsOptions>;
  readonly #prefix: string;
  readonly #bounds: readonly number[];
  readonly #constLabels: string;
  /** Time one call in this many (0: none). */
  readonly #timeEvery: number;
  #counters = new Map<InstrumentedOperation, Counters>();
  /** The counters of the core operations called so far, found without a map lookup. */
  #core: Partial<Record<CoreOperation, Counters>> = {};
  /**
   * Neither `observe` nor `isObserving` is overridden by a subclass, so an
   * untimed call of a core operation may be counted right here (see
   * {@linkcode Metrics.lstat}) instead of through `observe`.
   */
  readonly #plain: boolean;
  #bytesRead = 0;
  #bytesWritten = 0;

  /** Wrap `inner`; `EINVAL` for a bad prefix, label name or bucket list. */
  constructor(inner: B, options: MetricsOptions = {}) {
    super(inner);
    const prefix = options.prefix ?? "anyfs";
    if (!NAME.test(prefix)) {
      throw fsError("EINVAL", "metrics", "", {
        reason: `bad metric prefix ${JSON.stringify(prefix)}`,
      });
    }
    const bounds = [...(options.buckets ?? DEFAULT_BUCKETS)];
    for (let i = 0; i < bounds.length; i++) {
      if (
        !(Number.isFinite(bounds[i]) && bounds[i] > 0 && (i === 0 || bounds[i] > bounds[i - 1]))
      ) {
        throw fsError("EINVAL", "metrics", "", {
          reason: "buckets must be finite, positive and increasing",
        });
      }
    }
    const latency = options.latency ?? "all";
    let timeEvery: number;
    if (latency === "all") timeEvery = 1;
    else if (latency === "off") timeEvery = 0;
    else {
      timeEvery = (latency as { sampleEvery?: unknown } | null)?.sampleEvery as number;
      if (!Number.isSafeInteger(timeEvery) || timeEvery < 1) {
        throw fsError("EINVAL", "metrics", "", {
          reason: `latency must be "all", "off" or { sampleEvery: n } with a positive integer n`,
        });
      }
    }
    const labels = Object.entries(options.labels ?? {});
    for (const [name, value] of labels) {
      if (!LABEL_NAME.test(name) || name.startsWith("__") || name === "le") {
        throw fsError("EINVAL", "metrics", "", {
          reason: `bad label name ${JSON.stringify(name)}`,
        });
      }
      if (typeof value !== "string") {
        throw fsError("EINVAL", "metrics", "", { reason: `label ${name} must be a string` });
      }
    }
    this.options = { ...options };
    this.#prefix = prefix;
    this.#bounds = bounds;
    this.#constLabels = labels.map(([n, v]) => `${n}="${escapeLabel(v)}"`).join(",");
    this.#timeEvery = timeEvery;
    this.#plain = this.observe === Metrics.prototype.observe &&
      this.isObserving === Metrics.prototype.isObserving;
  }

  /**
   * A layer that wraps a backend in {@linkcode Metrics}.
   *
   * @example
   * ```ts
   * import { MemoryBackend, Metrics } from "@anyfs/anyfs";
   * const backend = new MemoryBackend().layer(Metrics.layer({ labels: { stack: "sandbox" } }));
   * console.log(backend.prometheus().startsWith("# HELP")); // true
   * ```
   */
  static layer(options: MetricsOptions = {}): MetricsLayer {
    return new MetricsLayer(options);
  }

  #countersOf(operation: InstrumentedOperation): Counters {
    let counters = this.#counters.get(operation);
    if (counters === undefined) {
      const reads = READ_OPERATIONS.has(operation);
      const c: Counters = {
        count: 0,
        timed: 0,
        seconds: 0,
        buckets: new Float64Array(this.#bounds.length + 1),
        errors: new Map(),
        untilTimed: this.#timeEvery === 0 ? Infinity : 1,
        succeeded: <T>(result: T): T => {
          c.count++;
          if (reads) this.#bytesRead += (result as Uint8Array).length;
          // A tryLstat probe that found nothing counts as lstat's ENOENT.
          else if (result === null) this.#countError(c, PROBE_MISSED);
          return result;
        },
        failed: (error: unknown): never => {
          c.count++;
          this.#countError(c, error);
          throw error;
        },
      };
      this.#counters.set(operation, c);
      counters = c;
    }
    return counters;
  }

  #countError(counters: Counters, error: unknown): void {
    const code = errorCodeOf(error ?? "error");
    counters.errors.set(code, (counters.errors.get(code) ?? 0) + 1);
  }

  #time(counters: Counters, t0: number): void {
    const seconds = (performance.now() - t0) / 1000;
    counters.timed++;
    counters.seconds += seconds;
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]) i++;
    counters.buckets[i]++;
  }

  /** Whether this call of the operation `c` counts is timed; if so, start over towards the next. */
  #timesThisCall(c: Counters): boolean {
    if (--c.untilTimed > 0) return false;
    c.untilTimed = this.#timeEvery;
    return true;
  }

  /** Counts the operation, and times it when it is one of those timed. */
  protected override observe<T>(
    operation: InstrumentedOperation,
    _path: string,
    _dest: string | undefined,
    bytes: number,
    run: () => Promise<T>,
  ): Promise<T> {
    const c = this.#countersOf(operation);
    const timed = this.#timesThisCall(c);
    if (!timed && (bytes === 0 || !WRITE_OPERATIONS.has(operation))) {
      // The common untimed case: handlers made once per operation.
      let promise: Promise<T>;
      try {
        promise = run();
      } catch (e) {
        return c.failed(e);
      }
      return promise.then(c.succeeded, c.failed);
    }
    const t0 = timed ? performance.now() : 0;
    let promise: Promise<T>;
    try {
      promise = run();
    } catch (e) {
      if (timed) this.#time(c, t0);
      return c.failed(e);
    }
    return promise.then(
      (result) => {
        if (timed) this.#time(c, t0);
        if (WRITE_OPERATIONS.has(operation)) this.#bytesWritten += bytes;
        return c.succeeded(result);
      },
      (e) => {
        if (timed) this.#time(c, t0);
        return c.failed(e);
      },
    );
  }

  // The core operations are counted here, not through Instrumented's
  // closure and `observe`: in a stack over an in-memory backend, where a
  // whole operation takes about a microsecond, the closure, the map lookup
  // and the extra calls per operation showed as several percent. A timed
  // call still goes through `observe`.

  /**
   * The counters of core `operation` when this call is an untimed one that
   * may be counted on the spot, else `undefined` (then `observe` counts it,
   * and times it).
   */
  #untimedCall(operation: CoreOperation): Counters | undefined {
    if (!this.#plain) return undefined;
    const c = this.#core[operation] ?? (this.#core[operation] = this.#countersOf(operation));
    if (c.untilTimed <= 1) return undefined;
    c.untilTimed--;
    return c;
  }

  /** Counted (and timed when its turn comes), then forwarded. */
  override lstat(path: string): Promise<Metadata> {
    const c = this.#untimedCall("lstat");
    if (c === undefined) return super.lstat(path);
    try {
      return this.inner.lstat(path).then(c.succeeded, c.failed);
    } catch (e) {
      return c.failed(e);
    }
  }
  /** Counted as an `lstat` (a miss as `ENOENT`), then forwarded as a probe. */
  override tryLstat(path: string): Promise<Metadata | null> {
    const c = this.#untimedCall("lstat");
    if (c === undefined) return super.tryLstat(path);
    const inner = this.inner;
    try {
      return (inner.tryLstat !== undefined ? inner.tryLstat(path) : tryLstat(inner, path))
        .then(c.succeeded, c.failed);
    } catch (e) {
      return c.failed(e);
    }
  }
  /** Counted (and timed when its turn comes), then forwarded. */
  override readDir(path: string): Promise<DirEntry[]> {
    const c = this.#untimedCall("readDir");
    if (c === undefined) return super.readDir(path);
    try {
      return this.inner.readDir(path).then(c.succeeded, c.failed);
    } catch (e) {
      return c.failed(e);
    }
  }
  /** Counted (and timed when its turn comes), then forwarded. */
  override readFile(path: string): Promise<Uint8Array> {
    const c = this.#untimedCall("readFile");
    if (c === undefined) return super.readFile(path);
    try {
      return this.inner.readFile(path).then(c.succeeded, c.failed);
    } catch (e) {
      return c.failed(e);
    }
  }
  /** Counted (and timed when its turn comes), then forwarded. */
  override writeFile(path: string, data: Uint8Array, options?: WriteFileOptions): Promise<void> {
    const c = this.#untimedCall("writeFile");
    if (c === undefined) return super.writeFile(path, data, options);
    const bytes = data.length;
    try {
      return this.inner.writeFile(path, data, options).then((result) => {
        this.#bytesWritten += bytes;
        return c.succeeded(result);
      }, c.failed);
    } catch (e) {
      return c.failed(e);
    }
  }
  /** Counted (and timed when its turn comes), then forwarded. */
  override mkdir(path: string, options?: CreateOptions): Promise<void> {
    const c = this.#untimedCall("mkdir");
    if (c === undefined) return super.mkdir(path, options);
    try {
      return this.inner.mkdir(path, options).then(c.succeeded, c.failed);
    } catch (e) {
      return c.failed(e);
    }
  }
  /** Counted (and timed when its turn comes), then forwarded. */
  override unlink(path: string): Promise<void> {
    const c = this.#untimedCall("unlink");
    if (c === undefined) return super.unlink(path);
    try {
      return this.inner.unlink(path).then(c.succeeded, c.failed);
    } catch (e) {
      return c.failed(e);
    }
  }
  /** Counted (and timed when its turn comes), then forwarded. */
  override rmdir(path: string): Promise<void> {
    const c = this.#untimedCall("rmdir");
    if (c === undefined) return super.rmdir(path);
    try {
      return this.inner.rmdir(path).then(c.succeeded, c.failed);
    } catch (e) {
      return c.failed(e);
    }
  }
  /** Counted (and timed when its turn comes), then forwarded. */
  override rename(from: string, to: string): Promise<void> {
    const c = this.#untimedCall("rename");
    if (c === undefined) return super.rename(from, to);
    try {
      return this.inner.rename(from, to).then(c.succeeded, c.failed);
    } catch (e) {
      return c.failed(e);
    }
  }

  /** Everything counted so far, as plain data. */
  snapshot(): MetricsSnapshot {
    const operations: Record<string, OperationStats> = {};
    for (const [operation, c] of this.#counters) {
      operations[operation] = {
        count: c.count,
        errors: Object.fromEntries(c.errors),
        timed: c.timed,
        seconds: c.seconds,
        buckets: [...c.buckets],
      };
    }
    return {
      operations,
      bytesRead: this.#bytesRead,
      bytesWritten: this.#bytesWritten,
      bucketBounds: [...this.#bounds],
    };
  }

  /** Forget everything counted (e.g. between test cases). */
  reset(): void {
    this.#counters = new Map();
    this.#core = {};
    this.#bytesRead = 0;
    this.#bytesWritten = 0;
  }

  /**
   * The metrics in the Prometheus text exposition format (version 0.0.4),
   * as served with content type `text/plain; version=0.0.4`.
   */
  prometheus(): string {
    const p = this.#prefix;
    const constLabels = this.#constLabels;
    const labels = (own: string) => {
      const all = constLabels && own ? `${constLabels},${own}` : constLabels || own;
      return all ? `{${all}}` : "";
    };
    const operations = [...this.#counters.keys()].sort();
    const out: string[] = [];

    out.push(
      `# HELP ${p}_operations_total File system operations, failed ones included.`,
      `# TYPE ${p}_operations_total counter`,
    );
    for (const op of operations) {
      const c = this.#counters.get(op)!;
      out.push(`${p}_operations_total${labels(`operation="${escapeLabel(op)}"`)} ${c.count}`);
    }

    out.push(
      `# HELP ${p}_errors_total Failed file system operations by error code.`,
      `# TYPE ${p}_errors_total counter`,
    );
    for (const op of operations) {
      const errors = [...this.#counters.get(op)!.errors].sort(([a], [b]) => a < b ? -1 : 1);
      for (const [code, n] of errors) {
        out.push(
          `${p}_errors_total${
            labels(`operation="${escapeLabel(op)}",code="${escapeLabel(code)}"`)
          } ${n}`,
        );
      }
    }

    out.push(
      `# HELP ${p}_read_bytes_total Bytes of file data read.`,
      `# TYPE ${p}_read_bytes_total counter`,
      `${p}_read_bytes_total${labels("")} ${this.#bytesRead}`,
      `# HELP ${p}_written_bytes_total Bytes of file data written.`,
      `# TYPE ${p}_written_bytes_total counter`,
      `${p}_written_bytes_total${labels("")} ${this.#bytesWritten}`,
    );

    if (this.#timeEvery === 0) return out.join("\n") + "\n";
    const h = `${p}_operation_duration_seconds`;
    const sampled = this.#timeEvery === 1
      ? ""
      : ` (sampled: the first call of each operation, then one in ${this.#timeEvery})`;
    out.push(
      `# HELP ${h} Duration of file system operations in seconds${sampled}.`,
      `# TYPE ${h} histogram`,
    );
    for (const op of operations) {
      const c = this.#counters.get(op)!;
      const opLabel = `operation="${escapeLabel(op)}"`;
      let cumulative = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += c.buckets[i];
        out.push(
          `${h}_bucket${labels(`${opLabel},le="${formatValue(this.#bounds[i])}"`)} ${cumulative}`,
        );
      }
      cumulative += c.buckets[this.#bounds.length];
      out.push(`${h}_bucket${labels(`${opLabel},le="+Inf"`)} ${cumulative}`);
      out.push(`${h}_sum${labels(opLabel)} ${formatValue(c.seconds)}`);
      out.push(`${h}_count${labels(opLabel)} ${c.timed}`);
    }
    return out.join("\n") + "\n";
  }

  /**
   * Serve {@linkcode Metrics.prometheus} over HTTP at `path` (default
   * `/metrics`) for Prometheus to scrape; other paths get 404. Returns the
   * server: `await server.shutdown()` stops it. Needs
   * `--allow-net=<hostname>:<port>`; without it, `EACCES` naming the flag.
   */
  serve(options: MetricsServeOptions = {}): Deno.HttpServer<Deno.NetAddr> {
    const hostname = options.hostname ?? "127.0.0.1";
    const port = options.port ?? 9464;
    const path = options.path ?? "/metrics";
    const host = port === 0 ? hostname : `${hostname}:${port}`;
    if (Deno.permissions.querySync({ name: "net", host }).state !== "granted") {
      throw fsError("EACCES", "serve", "", {
        reason: `serving metrics needs network access: run again with --allow-net=${host}`,
      });
    }
    return Deno.serve({
      hostname,
      port,
      onListen: options.onListen ?? (() => {}),
    }, (request) => {
      if (new URL(request.url).pathname !== path) {
        return new Response("not found\n", { status: 404 });
      }
      return new Response(this.prometheus(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    });
  }
}

/** A label value with `\`, `"` and newlines escaped, as the text format requires. */
function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : `\\${c}`);
}

/** A sample value or bucket bound: Go-style float formatting, `+Inf` for infinity. */
function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  if (Number.isNaN(value)) return "NaN";
  return String(value);
}

/** The layer of {@linkcode Metrics}. */
export class MetricsLayer implements Layer<Backend, Metrics> {
  /** The options each wrapped backend gets. */
  readonly options: Readonly<MetricsOptions>;

  /** A layer with `options`. */
  constructor(options: MetricsOptions = {}) {
    this.options = { ...options };
  }

  /**
   * Wrap `inner` in {@linkcode Metrics}. Each wrapped backend counts on its
   * own.
   */
  layer<B extends Backend>(inner: B): Metrics<B> {
    return new Metrics(inner, this.options);
  }
}
