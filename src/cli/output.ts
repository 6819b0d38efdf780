/**
 * Where the command line writes: stdout for results, stderr for progress,
 * live counters and errors. Tests swap in a recording sink.
 *
 * @module
 */

const encoder = new TextEncoder();

/** A place the command line writes text or bytes to. */
export interface OutputSink {
  /** Write `text` as UTF-8 (no newline is added). */
  write(text: string): Promise<void>;
  /** Write raw bytes (file contents for `cat`). */
  writeBytes(bytes: Uint8Array): Promise<void>;
  /** Whether a person is watching (a terminal), so redrawn lines and bars make sense. */
  readonly isTerminal: boolean;
}

/** What a command gets to talk to the world with. */
export interface CliContext {
  /** Results. */
  stdout: OutputSink;
  /** Progress, counters, warnings and errors. */
  stderr: OutputSink;
}

class StreamSink implements OutputSink {
  readonly #stream: typeof Deno.stdout;
  readonly isTerminal: boolean;

  constructor(stream: typeof Deno.stdout) {
    this.#stream = stream;
    this.isTerminal = stream.isTerminal();
  }

  write(text: string): Promise<void> {
    return this.writeBytes(encoder.encode(text));
  }

  async writeBytes(bytes: Uint8Array): Promise<void> {
    let done = 0;
    // write() may take only part of a large buffer (a pipe that is full).
    while (done < bytes.length) done += await this.#stream.write(bytes.subarray(done));
  }
}

/** The process's own stdout and stderr. */
export function processContext(): CliContext {
  return { stdout: new StreamSink(Deno.stdout), stderr: new StreamSink(Deno.stderr) };
}
