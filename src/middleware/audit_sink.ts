/**
 * Audit records and where they go: one plain object per operation, written
 * as JSON lines to a file or handed to a callback. The audit trail of
 * {@linkcode Tracing} for people without an OpenTelemetry collector.
 *
 * @module
 */

import { fsError, toFsError } from "../core/errors.ts";
import type { InstrumentedOperation } from "./instrumented.ts";

/**
 * One operation as the audit trail records it, e.g.
 * `{"ts":"2025-01-01T12:00:00.000Z","op":"writeFile","path":"/a","bytes":4096,"ok":true,"ms":0.12}`
 * or, for a failure, `{…,"ok":false,"error":"ENOSPC",…}`.
 */
export interface AuditRecord {
  /** When the operation started, as an ISO 8601 timestamp. */
  ts: string;
  /** The operation: a backend method name, or `handle.<method>` for an open handle. */
  op: InstrumentedOperation;
  /** The backend path (`""` for `sync`/`statfs`, `#<ino>` for inode operations). */
  path: string;
  /** The second path of `rename`, `link`, `copyFile`; the target of `symlink`. */
  dest?: string;
  /** Bytes of file data read or written, where data moved. */
  bytes?: number;
  /** Whether the operation succeeded. */
  ok: boolean;
  /** The error code when it failed, e.g. `"ENOENT"`. */
  error?: string;
  /** How long it took, in milliseconds. */
  ms: number;
  /** `handle.close` in summary mode: reads made through the handle. */
  reads?: number;
  /** `handle.close` in summary mode: writes made through the handle. */
  writes?: number;
  /** `handle.close` in summary mode: bytes read through the handle. */
  bytesRead?: number;
  /** `handle.close` in summary mode: bytes written through the handle. */
  bytesWritten?: number;
  /** `handle.close` in summary mode: how long the handle was open, in milliseconds. */
  openMs?: number;
}

/** Something that takes audit records. `record` must not throw and should return quickly. */
export interface AuditSink {
  /** Take one record. */
  record(entry: AuditRecord): void;
}

const encoder = new TextEncoder();

/**
 * An {@linkcode AuditSink} writing one JSON object per line, to a file
 * ({@linkcode JsonLinesSink.toFile}) or to a callback
 * ({@linkcode JsonLinesSink.toCallback}).
 *
 * A file is opened once and appended to. Lines are batched and written in
 * the background, in order; pending writes keep the process alive, so a
 * program that ends normally loses nothing. Before `Deno.exit()` call
 * {@linkcode JsonLinesSink.close} (or use `await using`): lines still
 * buffered at exit are written synchronously, but a batch in flight may be
 * cut short. Do not put the log inside a mount served by the same process:
 * that synchronous last write would wait on itself.
 *
 * @example Audit a sandbox to a file (needs `--allow-write=audit.jsonl`)
 * ```ts ignore
 * import { JsonLinesSink, MemoryBackend, Tracing } from "@anyfs/anyfs";
 *
 * await using sink = await JsonLinesSink.toFile("audit.jsonl");
 * const backend = new Tracing(new MemoryBackend(), { audit: sink });
 * await backend.writeFile("/a", new Uint8Array(4096));
 * // audit.jsonl: {"ts":"…","op":"writeFile","path":"/a","bytes":4096,"ok":true,"ms":0.05}
 * ```
 *
 * @example Lines to a callback
 * ```ts
 * import { JsonLinesSink, MemoryBackend, Tracing } from "@anyfs/anyfs";
 * const lines: string[] = [];
 * const backend = new Tracing(new MemoryBackend(), {
 *   audit: JsonLinesSink.toCallback((line) => lines.push(line)),
 * });
 * await backend.mkdir("/d");
 * console.log(JSON.parse(lines[0]).op); // "mkdir"
 * ```
 */
export class JsonLinesSink implements AuditSink, AsyncDisposable {
  readonly #file: Deno.FsFile | undefined;
  readonly #name: string;
  readonly #callback: ((line: string) => void) | undefined;
  #pending: string[] = [];
  #writing: Promise<void> | undefined;
  #closed = false;
  #error: unknown;
  readonly #onUnload = () => this.#flushSync();

  private constructor(
    name: string,
    file: Deno.FsFile | undefined,
    callback?: (line: string) => void,
  ) {
    this.#name = name;
    this.#file = file;
    this.#callback = callback;
    if (file) globalThis.addEventListener("unload", this.#onUnload);
  }

  /**
   * A sink appending to the file at `path`, created (mode 0o644) when
   * missing. Needs `--allow-write=<path>`; without it, `EACCES` naming the
   * flag. A file that cannot be opened is an `FsError` with the
   * system's code: `ENOENT` when its directory does not exist, `EISDIR`
   * when `path` is a directory.
   */
  static async toFile(path: string | URL): Promise<JsonLinesSink> {
    const name = path instanceof URL ? path.pathname : String(path);
    if (Deno.permissions.querySync({ name: "write", path }).state !== "granted") {
      throw fsError("EACCES", "open", name, {
        reason: `the audit log needs write access: run again with --allow-write=${name}`,
      });
    }
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { write: true, append: true, create: true, mode: 0o644 });
    } catch (e) {
      // Callers handle AnyFS failures as FsErrors; Deno's NotFound is not one.
      throw toFsError(e, "open", name);
    }
    return new JsonLinesSink(name, file);
  }

  /**
   * A sink calling `write` with each line (one JSON object, no newline),
   * synchronously, in order.
   */
  static toCallback(write: (line: string) => void): JsonLinesSink {
    return new JsonLinesSink("audit callback", undefined, write);
  }

  /** Write `entry` as one line. Records after {@linkcode JsonLinesSink.close} are dropped. */
  record(entry: AuditRecord): void {
    if (this.#closed) return;
    const line = JSON.stringify(entry);
    if (this.#callback) {
      this.#callback(line);
      return;
    }
    this.#pending.push(line + "\n");
    // Batch the lines of one turn of the event loop into one write.
    this.#writing ??= Promise.resolve().then(() => this.#drain());
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending.length) {
        const chunk = encoder.encode(this.#pending.join(""));
        this.#pending = [];
        let done = 0;
        while (done < chunk.length) done += await this.#file!.write(chunk.subarray(done));
      }
    } catch (e) {
      // Keep the first failure for flush() to report; later lines have nowhere to go.
      this.#error ??= e;
      this.#pending = [];
    } finally {
      this.#writing = undefined;
    }
  }

  #flushSync(): void {
    if (!this.#file || !this.#pending.length) return;
    try {
      const chunk = encoder.encode(this.#pending.join(""));
      this.#pending = [];
      let done = 0;
      while (done < chunk.length) done += this.#file.writeSync(chunk.subarray(done));
    } catch {
      // The process is exiting: there is nobody left to tell.
    }
  }

  /**
   * Wait until every line recorded so far is written. Rejects with the
   * write error (its code, or `EIO`) if the file could not be written.
   */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
    if (this.#error !== undefined) {
      throw toFsError(this.#error, "write", this.#name);
    }
  }

  /** Flush, then close the file. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.flush();
    } finally {
      this.#closed = true;
      if (this.#file) {
        globalThis.removeEventListener("unload", this.#onUnload);
        this.#file.close();
      }
    }
  }

  /** {@linkcode JsonLinesSink.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
