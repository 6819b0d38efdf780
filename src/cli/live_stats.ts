/**
 * `anyfs mount --stats`: the mount's live counters on stderr once a
 * second — operations per second, bytes read and written per second,
 * errors, requests in flight, open files.
 *
 * On a terminal the line is redrawn in place; in a pipe or a log one line
 * is written per second.
 *
 * @module
 */

import type { MountStats } from "../mount/adapter.ts";
import { formatBytes } from "./format.ts";
import type { OutputSink } from "./output.ts";

/** The counters of one interval, as {@linkcode statsLine} shows them. */
export function statsLine(previous: MountStats, current: MountStats, elapsedMs: number): string {
  const perSecond = (now: number, before: number) =>
    elapsedMs > 0 ? ((now - before) * 1000) / elapsedMs : 0;
  const ops = Math.round(perSecond(current.operations, previous.operations));
  const read = perSecond(current.bytesRead, previous.bytesRead);
  const written = perSecond(current.bytesWritten, previous.bytesWritten);
  return `ops/s ${ops}  read ${formatBytes(Math.round(read))}/s  ` +
    `written ${formatBytes(Math.round(written))}/s  errors ${current.errors}  ` +
    `in flight ${current.inFlight}  open ${current.openHandles}  ` +
    `total ops ${current.operations}`;
}

/**
 * Print `read()`'s counters to `sink` every `intervalMs`; `stop()` ends it
 * (and finishes the redrawn line on a terminal).
 *
 * @example
 * ```ts ignore
 * const ticker = startLiveStats(context.stderr, () => handle.stats);
 * await handle.finished;
 * await ticker.stop();
 * ```
 */
export function startLiveStats(
  sink: OutputSink,
  read: () => MountStats,
  intervalMs = 1000,
): { stop(): Promise<void> } {
  let previous = read();
  let at = performance.now();
  let writing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    const current = read();
    const now = performance.now();
    const line = statsLine(previous, current, now - at);
    previous = current;
    at = now;
    const text = sink.isTerminal ? `\r\x1b[2K${line}` : `${line}\n`;
    writing = writing.then(() => sink.write(text)).catch(() => {});
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await writing;
      if (sink.isTerminal) await sink.write("\n").catch(() => {});
    },
  };
}
