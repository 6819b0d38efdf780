/**
 * Tracing: every operation as an OpenTelemetry span, and optionally as a
 * line of an audit trail.
 *
 * ## Spans
 * Spans go through `npm:@opentelemetry/api`, named `anyfs.<operation>`
 * (`anyfs.writeFile`, `anyfs.handle.read`, …) with the attributes
 * `anyfs.operation`, `anyfs.path`, `anyfs.dest` (rename, link, copy; a
 * symlink's target), `anyfs.bytes` (data read or written) and
 * `anyfs.result` (`"ok"` or the error code); a failed operation also has
 * `error.type` (the code) and status `ERROR`. The duration is the span's
 * own. Each span's parent is the span active where the operation was
 * called, so file operations nest under the request that caused them.
 *
 * Deno exports these spans itself when OpenTelemetry is switched on:
 * `OTEL_DENO=true deno run …` sends them over OTLP to
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (default `http://localhost:4318`). Any
 * other provider registered with `@opentelemetry/api` (or a tracer passed
 * as {@linkcode TracingOptions.tracer}) works too. With no provider
 * registered (and no audit trail) tracing creates no span at all and costs
 * a property lookup per operation; a provider registered later — even
 * after the middleware was created — is used from its next operation on.
 *
 * ## Audit trail
 * With {@linkcode TracingOptions.audit}, every operation also becomes an
 * {@linkcode AuditRecord} — e.g. a line of a {@linkcode JsonLinesSink} —
 * whether or not spans are exported.
 *
 * ## Handle I/O
 * Reads and writes through open handles are many and small (a mount passes
 * every `read(2)` as one), so by default (`handleIO: "summary"`) they are
 * counted per handle and reported once, when the handle closes: the
 * `handle.close` span and record carry `reads`, `writes`, `bytesRead`,
 * `bytesWritten` and how long the handle was open. A failed read or write
 * is always reported on its own. `handleIO: "each"` reports every call.
 * Other handle operations (`truncate`, `sync`, `stat`, locks) are always
 * reported one by one.
 *
 * ## Position in a stack
 * Outermost, tracing sees what callers asked for, including requests that
 * inner policies refuse (with their error codes); innermost, only what
 * reached the storage.
 *
 * @module
 */

import { SpanStatusCode, trace } from "@opentelemetry/api";
import type { Backend, FileHandle, Layer } from "../core/backend.ts";
import denoConfig from "../../deno.json" with { type: "json" };
import type { AuditRecord, AuditSink } from "./audit_sink.ts";
import {
  errorCodeOf,
  Instrumented,
  InstrumentedHandle,
  type InstrumentedOperation,
  type ObserveHandle,
  PROBE_MISSED,
  READ_OPERATIONS,
  WRITE_OPERATIONS,
} from "./instrumented.ts";

/** A value of a span attribute, as OpenTelemetry accepts it. */
export type SpanAttributeValue =
  | string
  | number
  | boolean
  | Array<null | undefined | string>
  | Array<null | undefined | number>
  | Array<null | undefined | boolean>;

/** Span attributes by name. */
export type SpanAttributes = Record<string, SpanAttributeValue | undefined>;

/**
 * The part of an OpenTelemetry span {@linkcode Tracing} uses; every span of
 * `@opentelemetry/api` has it.
 */
export interface SpanLike {
  /** Whether anything records this span (false for the API's no-op spans). */
  isRecording(): boolean;
  /** Set one attribute. */
  setAttribute(key: string, value: SpanAttributeValue): unknown;
  /** Set several attributes. */
  setAttributes(attributes: SpanAttributes): unknown;
  /** Set the status (`code` 2 is `ERROR`). */
  setStatus(status: { code: number; message?: string }): unknown;
  /** End the span. */
  end(): void;
}

/**
 * The part of an OpenTelemetry tracer {@linkcode Tracing} uses; every
 * `Tracer` of `@opentelemetry/api` (e.g. `provider.getTracer("anyfs")` of a
 * test's own provider) fits.
 */
export interface TracerLike {
  /** Start a span, child of the active one; `startTime` in milliseconds since the epoch. */
  startSpan(name: string, options?: { startTime?: number }): SpanLike;
}

/** How a {@linkcode Tracing} middleware reports. */
export interface TracingOptions {
  /**
   * The tracer spans come from. Default: `trace.getTracer("anyfs", version)`
   * of `@opentelemetry/api`, which follows whatever provider is registered
   * (Deno's own with `OTEL_DENO=true`).
   */
  tracer?: TracerLike;
  /** Create spans at all (default `true`); `false` leaves only the audit trail. */
  spans?: boolean;
  /** Where audit records go: a sink such as {@linkcode JsonLinesSink}, or a function. */
  audit?: AuditSink | ((record: AuditRecord) => void);
  /** `"summary"` (default): handle reads and writes reported once per handle, at close; `"each"`: every call. */
  handleIO?: "summary" | "each";
  /** Attributes added to every span, e.g. `{ "tenant.id": "t-42" }`. */
  attributes?: SpanAttributes;
}

/** The version of AnyFS spans are attributed to. */
const VERSION: string = denoConfig.version;

/**
 * Where `@opentelemetry/api` 1.x keeps its global registrations, shared by
 * every copy of the API in the process; Deno's built-in OpenTelemetry
 * (`OTEL_DENO=true`) registers its provider there at startup as well.
 */
const OTEL_API_GLOBAL = Symbol.for("opentelemetry.js.api.1");

/**
 * The tracer provider registered with `@opentelemetry/api`, or `undefined`
 * when there is none (then the API's tracers only make non-recording
 * spans, and creating one is wasted work).
 */
function registeredTracerProvider(): unknown {
  // The registry object, once it exists, is kept for good (registering and
  // disabling only set and delete its fields), and a field of a plain
  // object is cheaper to read than a property of the global object.
  otelApi ??= (globalThis as { [OTEL_API_GLOBAL]?: { trace?: unknown } })[OTEL_API_GLOBAL];
  return otelApi?.trace;
}
let otelApi: { trace?: unknown } | undefined;

const SPAN_NAMES = new Map<string, string>();
function spanName(operation: InstrumentedOperation): string {
  let name = SPAN_NAMES.get(operation);
  if (name === undefined) SPAN_NAMES.set(operation, name = `anyfs.${operation}`);
  return name;
}

/** What a {@linkcode TracedHandle} counted. */
interface HandleSummary {
  reads: number;
  writes: number;
  bytesRead: number;
  bytesWritten: number;
}

/**
 * A middleware reporting every operation as an OpenTelemetry span and, when
 * asked, as an audit record.
 *
 * @example Spans through Deno's built-in export (run with `OTEL_DENO=true`)
 * ```ts
 * import { MemoryBackend, Tracing } from "@anyfs/anyfs";
 * const backend = new MemoryBackend().layer(Tracing.layer());
 * await backend.writeFile("/hello.txt", new TextEncoder().encode("hi"));
 * ```
 *
 * @example An audit trail without a collector
 * ```ts
 * import { type AuditRecord, MemoryBackend, Tracing } from "@anyfs/anyfs";
 * const records: AuditRecord[] = [];
 * const backend = new Tracing(new MemoryBackend(), { audit: (r) => records.push(r) });
 * await backend.readFile("/missing").catch(() => {});
 * console.log(records[0].op, records[0].error); // "readFile" "ENOENT"
 * ```
 */
export class Tracing<B extends Backend = Backend> extends Instrumented<B> {
  /** The options in force. */
  readonly options: Readonly<TracingOptions>;
  /** Spans are wanted at all (`spans` is not `false`). */
  readonly #spans: boolean;
  /** The tracer given in the options; when absent, the API's default one is followed. */
  readonly #givenTracer: TracerLike | undefined;
  /** The API's tracer for {@linkcode #provider}. */
  #tracer: TracerLike | undefined;
  /** The registered provider {@linkcode #tracer} was taken from. */
  #provider: unknown = undefined;
  readonly #audit: ((record: AuditRecord) => void) | undefined;
  readonly #attributes: SpanAttributes | undefined;

  /** Wrap `inner`. */
  constructor(inner: B, options: TracingOptions = {}) {
    super(inner);
    this.options = { ...options };
    this.#spans = options.spans !== false;
    this.#givenTracer = options.tracer;
    const audit = options.audit;
    this.#audit = audit === undefined
      ? undefined
      : typeof audit === "function"
      ? audit
      : (record) => audit.record(record);
    this.#attributes = options.attributes;
  }

  /**
   * A layer that wraps a backend in {@linkcode Tracing}.
   *
   * @example
   * ```ts
   * import { MemoryBackend, Tracing } from "@anyfs/anyfs";
   * const backend = new MemoryBackend().layer(Tracing.layer({ handleIO: "each" }));
   * ```
   */
  static layer(options: TracingOptions = {}): TracingLayer {
    return new TracingLayer(options);
  }

  /**
   * The tracer to start spans with, or `undefined` when there is nothing to
   * record them: spans are off, or no tracer was given and no provider is
   * registered. Checked per operation, so a provider registered later is
   * picked up at once.
   */
  #currentTracer(): TracerLike | undefined {
    if (!this.#spans) return undefined;
    if (this.#givenTracer !== undefined) return this.#givenTracer;
    const provider = registeredTracerProvider();
    if (provider === undefined) return undefined;
    if (provider !== this.#provider) {
      // A provider appeared or was replaced: take a tracer that follows it.
      this.#tracer = trace.getTracer("anyfs", VERSION);
      this.#provider = provider;
    }
    return this.#tracer;
  }

  /** A span for `operation`, or `undefined` when nothing would record it. */
  #startSpan(
    operation: InstrumentedOperation,
    path: string,
    dest: string | undefined,
    startTime?: number,
  ): SpanLike | undefined {
    const tracer = this.#currentTracer();
    if (tracer === undefined) return undefined;
    const span = tracer.startSpan(
      spanName(operation),
      startTime === undefined ? undefined : { startTime },
    );
    // A non-recording span (no provider, or sampled out) costs nothing more.
    if (!span.isRecording()) return undefined;
    if (this.#attributes) span.setAttributes(this.#attributes);
    span.setAttribute("anyfs.operation", operation);
    if (path) span.setAttribute("anyfs.path", path);
    if (dest !== undefined) span.setAttribute("anyfs.dest", dest);
    return span;
  }

  /** End `span` and write the audit record of one finished operation. */
  #finish(
    span: SpanLike | undefined,
    t0: number,
    operation: InstrumentedOperation,
    path: string,
    dest: string | undefined,
    bytes: number | undefined,
    error: unknown,
    extra?: Partial<AuditRecord>,
  ): void {
    const failed = error !== undefined;
    const code = failed ? errorCodeOf(error) : undefined;
    if (span) {
      if (bytes !== undefined) span.setAttribute("anyfs.bytes", bytes);
      if (extra) {
        for (const [key, value] of Object.entries(extra)) {
          if (typeof value === "number") span.setAttribute(`anyfs.${snake(key)}`, value);
        }
      }
      if (failed) {
        span.setAttribute("anyfs.result", code!);
        span.setAttribute("error.type", code!);
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: String((error as { message?: unknown } | null)?.message ?? error),
        });
      } else {
        span.setAttribute("anyfs.result", "ok");
      }
      span.end();
    }
    if (this.#audit) {
      // Built field by field so the JSON reads in a fixed, natural order.
      const record = {
        ts: new Date(performance.timeOrigin + t0).toISOString(),
        op: operation,
        path,
      } as AuditRecord;
      if (dest !== undefined) record.dest = dest;
      if (bytes !== undefined) record.bytes = bytes;
      record.ok = !failed;
      if (failed) record.error = code;
      record.ms = round3(performance.now() - t0);
      if (extra) Object.assign(record, extra);
      try {
        this.#audit(record);
      } catch {
        // An audit callback that throws must not turn a done operation into a failure.
      }
    }
  }

  /** Only while a span or an audit record would be made: otherwise operations just pass. */
  protected override isObserving(): boolean {
    return this.#audit !== undefined || this.#currentTracer() !== undefined;
  }

  /** Runs the operation inside a span, and records it. */
  protected override observe<T>(
    operation: InstrumentedOperation,
    path: string,
    dest: string | undefined,
    bytes: number,
    run: () => Promise<T>,
  ): Promise<T> {
    const span = this.#startSpan(operation, path, dest);
    if (span === undefined && this.#audit === undefined) return run();
    return this.#traced(span, operation, path, dest, bytes, run);
  }

  async #traced<T>(
    span: SpanLike | undefined,
    operation: InstrumentedOperation,
    path: string,
    dest: string | undefined,
    bytes: number,
    run: () => Promise<T>,
  ): Promise<T> {
    const t0 = performance.now();
    let result: T;
    try {
      result = await run();
    } catch (e) {
      this.#finish(span, t0, operation, path, dest, undefined, e ?? "error");
      throw e;
    }
    if (result === null && operation === "lstat") {
      // A tryLstat probe that found nothing.
      this.#finish(span, t0, operation, path, dest, undefined, PROBE_MISSED);
      return result;
    }
    const moved = READ_OPERATIONS.has(operation)
      ? (result as Uint8Array).length
      : WRITE_OPERATIONS.has(operation)
      ? bytes
      : undefined;
    this.#finish(span, t0, operation, path, dest, moved, undefined);
    return result;
  }

  /** Handles report per call, or summarize their reads and writes at close. */
  protected override wrapHandle(handle: FileHandle): FileHandle {
    const observe: ObserveHandle = (operation, bytes, run) =>
      this.observe(operation, handle.path, undefined, bytes, run);
    if (this.options.handleIO === "each") return new InstrumentedHandle(handle, observe);
    return new TracedHandle(handle, observe, {
      failed: (operation, t0, error) => {
        const span = this.#startSpan(
          operation,
          handle.path,
          undefined,
          performance.timeOrigin + t0,
        );
        this.#finish(span, t0, operation, handle.path, undefined, undefined, error);
      },
      closed: (t0, openedAt, summary, error) => {
        const span = this.#startSpan(
          "handle.close",
          handle.path,
          undefined,
          performance.timeOrigin + t0,
        );
        this.#finish(
          span,
          t0,
          "handle.close",
          handle.path,
          undefined,
          summary.bytesRead + summary.bytesWritten,
          error,
          { ...summary, openMs: round3(t0 - openedAt) },
        );
      },
      active: () => this.#audit !== undefined || this.#currentTracer() !== undefined,
    });
  }
}

/** What a {@linkcode TracedHandle} reports to its {@linkcode Tracing}. */
interface HandleReports {
  /** A read or write failed. */
  failed(operation: InstrumentedOperation, t0: number, error: unknown): void;
  /** The handle was closed (successfully unless `error`). */
  closed(t0: number, openedAt: number, summary: HandleSummary, error: unknown): void;
  /** Whether anything listens; when not, the handle does not even read the clock. */
  active(): boolean;
}

/** A handle that counts its reads and writes and reports them at close. */
class TracedHandle extends InstrumentedHandle {
  readonly #reports: HandleReports;
  readonly #openedAt: number;
  readonly #active: boolean;
  readonly #summary: HandleSummary = { reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0 };

  constructor(inner: FileHandle, observe: ObserveHandle, reports: HandleReports) {
    super(inner, observe);
    this.#reports = reports;
    this.#active = reports.active();
    this.#openedAt = this.#active ? performance.now() : 0;
  }

  /** Counted; a failure is reported on its own. */
  override read(position: number, length: number): Promise<Uint8Array> {
    const t0 = this.#active ? performance.now() : 0;
    return this.inner.read(position, length).then(
      (data) => {
        this.#summary.reads++;
        this.#summary.bytesRead += data.length;
        return data;
      },
      (e) => {
        this.#reports.failed("handle.read", t0, e);
        throw e;
      },
    );
  }

  /** Counted; a failure is reported on its own. */
  override write(data: Uint8Array, position: number): Promise<number> {
    const t0 = this.#active ? performance.now() : 0;
    return this.inner.write(data, position).then(
      (written) => {
        this.#summary.writes++;
        this.#summary.bytesWritten += written;
        return written;
      },
      (e) => {
        this.#reports.failed("handle.write", t0, e);
        throw e;
      },
    );
  }

  /** Forwarded; the summary of the handle's reads and writes is reported. */
  override async close(): Promise<void> {
    const t0 = performance.now();
    try {
      await this.inner.close();
    } catch (e) {
      this.#reports.closed(t0, this.#openedAt, { ...this.#summary }, e ?? "error");
      throw e;
    }
    this.#reports.closed(t0, this.#openedAt, { ...this.#summary }, undefined);
  }
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** `bytesRead` → `bytes_read`, for span attribute names. */
function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** The layer of {@linkcode Tracing}. */
export class TracingLayer implements Layer<Backend, Tracing> {
  /** The options each wrapped backend gets. */
  readonly options: Readonly<TracingOptions>;

  /** A layer with `options`. */
  constructor(options: TracingOptions = {}) {
    this.options = { ...options };
  }

  /** Wrap `inner` in {@linkcode Tracing}. */
  layer<B extends Backend>(inner: B): Tracing<B> {
    return new Tracing(inner, this.options);
  }
}
