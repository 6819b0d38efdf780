/**
 * The middleware flags every backend command takes (`--quota-size`,
 * `--allow`, `--rate`, `--trace-file`, …) and the stack they build.
 *
 * Values are checked before anything is opened, so a bad flag never
 * creates a drive file. The stack is built in the order the middleware
 * documentation recommends, inner to outer:
 *
 * storage → DryRun → Quota → Cache → PathFilter → ReadOnly → RateLimit → Tracing
 *
 * so a dry run still enforces every policy, the quota sees every file, the
 * cache sits under the policies, the rate limit charges every attempt and
 * tracing records what callers asked for, with the error they got. On an
 * overlay (without a dry run) the quota wraps the upper layer instead, so
 * it bounds the changes rather than the template below them.
 *
 * @module
 */

import { posix } from "node:path";
import { Overlay } from "../backends/overlay.ts";
import type { Backend } from "../core/backend.ts";
import { JsonLinesSink } from "../middleware/audit_sink.ts";
import { Cache } from "../middleware/cache.ts";
import { DryRun } from "../middleware/dry_run.ts";
import { PathFilter } from "../middleware/path_filter.ts";
import { Quota, type QuotaLimits } from "../middleware/quota.ts";
import { RateLimit } from "../middleware/rate_limit.ts";
import { ReadOnly } from "../middleware/read_only.ts";
import { Tracing } from "../middleware/tracing.ts";
import { CliError, UsageError } from "./errors.ts";
import { formatBytes } from "./format.ts";
import { absoluteHostPath } from "./host_paths.ts";
import { parseCount, parseRate, parseSize, type Rate } from "./option_values.ts";

/** The `parseArgs` definitions of the middleware flags. */
export const MIDDLEWARE_OPTIONS = {
  "quota-size": { type: "string" },
  "quota-files": { type: "string" },
  "max-file-size": { type: "string" },
  allow: { type: "string", multiple: true },
  deny: { type: "string", multiple: true },
  rate: { type: "string" },
  "trace-file": { type: "string" },
  otel: { type: "boolean" },
  "dry-run": { type: "boolean" },
  "cache-size": { type: "string" },
} as const;

/** The help lines for the middleware flags. */
export const MIDDLEWARE_HELP = `Middleware:
  --quota-size SIZE     Most bytes of file content in total (e.g. 100M; K/M/G/T = 1024^n);
                        more fails with "No space left on device". On an overlay it
                        bounds the changes (what UPPER holds), not LOWER
  --quota-files N       Most files, directories and links in total (overlay: in UPPER)
  --max-file-size SIZE  Largest single file (more fails with "File too large")
  --allow GLOB          Only paths matching GLOB exist (repeatable; e.g. '/workspace/**')
  --deny GLOB           Paths matching GLOB are hidden and refused (repeatable; e.g. .env);
                        deny wins over allow
  --rate N[/s]          At most N operations per second (also /m, /h); excess waits
  --trace-file FILE     Append one JSON line per operation to FILE (an audit trail)
  --otel                Emit an OpenTelemetry span per operation (run with OTEL_DENO=true;
                        spans go to OTEL_EXPORTER_OTLP_ENDPOINT, default localhost:4318)
  --dry-run             Pretend: changes are made in memory only and never stored; at the
                        end a line says how many there were
  --cache-size SIZE     Cache file data and metadata in memory, up to SIZE`;

/** The middleware flag values as `parseArgs` returns them. */
export interface MiddlewareFlagValues {
  "quota-size"?: string;
  "quota-files"?: string;
  "max-file-size"?: string;
  allow?: string[];
  deny?: string[];
  rate?: string;
  "trace-file"?: string;
  otel?: boolean;
  "dry-run"?: boolean;
  "cache-size"?: string;
}

/** The middleware a command asked for, checked. */
export interface MiddlewareSettings {
  /** Quota limits, when any was given. */
  quota?: QuotaLimits;
  /** Globs of allowed paths. */
  allow: string[];
  /** Globs of denied paths. */
  deny: string[];
  /** The rate limit. */
  rate?: Rate;
  /** The absolute path of the JSON-lines audit file. */
  traceFile?: string;
  /** Whether to emit OpenTelemetry spans. */
  otel: boolean;
  /** Whether changes are only recorded. */
  dryRun: boolean;
  /** Bytes of cache. */
  cacheBytes?: number;
  /** Add a ReadOnly layer (storage commands; a mount uses its own read-only option). */
  readOnly: boolean;
}

/**
 * Refuse a trace file that cannot be created, before anything is opened (a
 * new drive file would otherwise be left behind). What cannot be checked
 * here, for lack of read permission, `JsonLinesSink.toFile` reports later.
 */
function checkTraceFile(path: string): string {
  const dir = posix.dirname(path);
  if (Deno.permissions.querySync({ name: "read", path: dir }).state !== "granted") return path;
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(dir);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new CliError(
        `cannot create the trace file ${path}: the directory ${dir} does not exist`,
        `create it first: mkdir -p ${dir}`,
      );
    }
    return path;
  }
  if (!info.isDirectory) {
    throw new CliError(`cannot create the trace file ${path}: ${dir} is not a directory`);
  }
  try {
    if (Deno.statSync(path).isDirectory) {
      throw new CliError(
        `the trace file ${path} is a directory`,
        `name a file, e.g. --trace-file ${posix.join(path, "trace.jsonl")}`,
      );
    }
  } catch (e) {
    if (e instanceof CliError) throw e;
  }
  return path;
}

/**
 * Check the middleware flags of `command`. `--otel` needs `OTEL_DENO=true`
 * in the environment, because Deno's exporter starts with the process.
 */
export function parseMiddlewareFlags(
  values: MiddlewareFlagValues,
  command: string,
  readOnly = false,
): MiddlewareSettings {
  const quota: QuotaLimits = {};
  if (values["quota-size"] !== undefined) {
    quota.maxTotalSize = parseSize(values["quota-size"], "--quota-size", command);
  }
  if (values["quota-files"] !== undefined) {
    quota.maxNodeCount = parseCount(values["quota-files"], "--quota-files", command);
  }
  if (values["max-file-size"] !== undefined) {
    quota.maxFileSize = parseSize(values["max-file-size"], "--max-file-size", command);
  }
  for (const flag of ["allow", "deny"] as const) {
    for (const glob of values[flag] ?? []) {
      if (glob.trim() === "") throw new UsageError(`--${flag} needs a non-empty glob`, command);
    }
  }
  const otel = values.otel === true;
  if (
    otel && Deno.permissions.querySync({ name: "env", variable: "OTEL_DENO" }).state === "granted"
  ) {
    if (Deno.env.get("OTEL_DENO") !== "true") {
      throw new UsageError(
        "--otel exports through Deno's built-in OpenTelemetry, which is switched on when the " +
          "process starts: run with OTEL_DENO=true in the environment " +
          "(e.g. OTEL_DENO=true anyfs mount …)",
        command,
      );
    }
  }
  return {
    quota: Object.keys(quota).length ? quota : undefined,
    allow: values.allow ?? [],
    deny: values.deny ?? [],
    rate: values.rate === undefined ? undefined : parseRate(values.rate, "--rate", command),
    traceFile: values["trace-file"] === undefined
      ? undefined
      : checkTraceFile(absoluteHostPath(values["trace-file"])),
    otel,
    dryRun: values["dry-run"] === true,
    cacheBytes: values["cache-size"] === undefined
      ? undefined
      : parseSize(values["cache-size"], "--cache-size", command),
    readOnly,
  };
}

/** A backend wrapped in the middleware a command asked for. */
export interface BuiltStack {
  /** The outermost backend. */
  backend: Backend;
  /** One short phrase per layer, for the mount's status line (e.g. `quota 100.0 MiB`). */
  layers: string[];
  /** Flush and close what the stack opened (the audit file). */
  close(): Promise<void>;
  /** The dry-run layer, when `--dry-run` asked for one: what would have changed. */
  dryRun?: DryRun;
}

/**
 * One line saying what a dry run held back, e.g. `dry run: nothing was
 * stored; 2 changes (1 rmdir, 1 unlink)`.
 */
export function dryRunSummary(dryRun: DryRun): string {
  const counts = new Map<string, number>();
  for (const { op } of dryRun.operations()) counts.set(op, (counts.get(op) ?? 0) + 1);
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  if (total === 0) return "dry run: nothing would have changed";
  const parts = [...counts].map(([op, n]) => `${n} ${op}`).join(", ");
  return `dry run: nothing was stored; ${total} change${total === 1 ? "" : "s"} (${parts})`;
}

/**
 * Wrap `storage` in the middleware `settings` describe (see the module
 * documentation for the order). Waits for the quota's usage scan, so a
 * drive that is already over its quota is reported at once.
 */
export async function buildStack(
  storage: Backend,
  settings: MiddlewareSettings,
): Promise<BuiltStack> {
  let backend = storage;
  const layers: string[] = [];
  let dryRun: DryRun | undefined;
  if (settings.dryRun) {
    // Simulated: programs read back what they "wrote" (cp -r, import and
    // `mkdir -p` build on their own changes), and still nothing is stored.
    backend = dryRun = new DryRun(backend, { simulate: true });
    layers.push("dry run");
  }
  if (settings.quota) {
    if (backend instanceof Overlay) {
      // An overlay's quota bounds its changes (UPPER), as a container's
      // size limit bounds its writable layer: counting LOWER too would leave
      // an agent over a big project unable to write a byte. (After DryRun,
      // `backend` is no Overlay: a dry run never writes UPPER.)
      backend = new Overlay(backend.lower, await Quota.create(backend.upper, settings.quota));
    } else {
      backend = await Quota.create(backend, settings.quota);
    }
    const q = settings.quota;
    const parts = [
      q.maxTotalSize !== undefined ? formatBytes(q.maxTotalSize) : undefined,
      q.maxNodeCount !== undefined ? `${q.maxNodeCount} files` : undefined,
      q.maxFileSize !== undefined ? `${formatBytes(q.maxFileSize)} per file` : undefined,
    ].filter((p) => p !== undefined);
    layers.push(`quota ${parts.join(", ")}`);
  }
  if (settings.cacheBytes !== undefined) {
    backend = new Cache(backend, { maxBytes: settings.cacheBytes });
    layers.push(`cache ${formatBytes(settings.cacheBytes)}`);
  }
  if (settings.allow.length || settings.deny.length) {
    backend = new PathFilter(backend, { allow: settings.allow, deny: settings.deny });
    const rules = [
      ...settings.allow.map((g) => `+${g}`),
      ...settings.deny.map((g) => `-${g}`),
    ];
    layers.push(`filter ${rules.join(" ")}`);
  }
  if (settings.readOnly) {
    backend = new ReadOnly(backend);
    layers.push("read-only");
  }
  if (settings.rate) {
    // A mount passes on every system call: waiting keeps programs working
    // where failing with EAGAIN would break most of them.
    backend = new RateLimit(backend, { ...settings.rate, mode: "wait" });
    const per = settings.rate.windowMs === 1000
      ? "s"
      : settings.rate.windowMs === 60_000
      ? "min"
      : "h";
    layers.push(`rate ${settings.rate.maxOps}/${per}`);
  }
  let sink: JsonLinesSink | undefined;
  if (settings.traceFile !== undefined || settings.otel) {
    if (settings.traceFile !== undefined) sink = await JsonLinesSink.toFile(settings.traceFile);
    backend = new Tracing(backend, { spans: settings.otel, audit: sink });
    layers.push(
      [settings.otel ? "OpenTelemetry" : "", sink ? `trace to ${settings.traceFile}` : ""]
        .filter(Boolean).join(", "),
    );
  }
  return {
    backend,
    layers,
    close: async () => {
      await sink?.close();
    },
    dryRun,
  };
}
