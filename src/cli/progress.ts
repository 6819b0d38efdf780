/**
 * The progress bar of `anyfs import`/`export` and the summary line they end
 * with.
 *
 * The bar is drawn on stderr only when stderr is a terminal, redrawn in
 * place at most ten times a second and erased when done; in a pipe or a
 * log nothing is drawn, so logs hold only the summary.
 *
 * @module
 */

import { formatBytes, formatSeconds } from "./format.ts";
import type { OutputSink } from "./output.ts";
import type { TreeCopyProgress, TreeCopySummary } from "./tree_copy.ts";

const REDRAW_MS = 100;
const BAR_WIDTH = 24;

/**
 * A one-line progress display that redraws itself in place.
 *
 * @example
 * ```ts ignore
 * const bar = new ProgressBar(context.stderr, "import");
 * bar.scanning(120);
 * bar.update({ entriesDone: 10, entriesTotal: 120, bytesDone: 4096, bytesTotal: 65536 });
 * await bar.done();
 * ```
 */
export class ProgressBar {
  readonly #sink: OutputSink;
  readonly #label: string;
  readonly #started = performance.now();
  #lastDraw = -Infinity;
  #drawn = false;
  #writing: Promise<void> = Promise.resolve();

  /** A bar labelled `label` on `sink` (drawn only if `sink` is a terminal). */
  constructor(sink: OutputSink, label: string) {
    this.#sink = sink;
    this.#label = label;
  }

  #draw(text: string, force = false): void {
    if (!this.#sink.isTerminal) return;
    const now = performance.now();
    if (!force && now - this.#lastDraw < REDRAW_MS) return;
    this.#lastDraw = now;
    this.#drawn = true;
    // Writes are chained so redraws never interleave.
    this.#writing = this.#writing.then(() => this.#sink.write(`\r\x1b[2K${text}`)).catch(() => {});
  }

  /** Show how many entries the scan has found so far. */
  scanning(count: number): void {
    this.#draw(`${this.#label}: scanning… ${count} entries`);
  }

  /** Show `progress`. */
  update(progress: TreeCopyProgress): void {
    const entries = progress.entriesTotal ? progress.entriesDone / progress.entriesTotal : 1;
    const bytes = progress.bytesTotal ? progress.bytesDone / progress.bytesTotal : entries;
    // Half entries, half bytes: neither many tiny files nor one huge one stalls the bar.
    const fraction = Math.min(1, (entries + bytes) / 2);
    const filled = Math.round(fraction * BAR_WIDTH);
    const seconds = formatSeconds(performance.now() - this.#started);
    this.#draw(
      `${this.#label} [${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ` +
        `${String(Math.floor(fraction * 100)).padStart(3)}%  ` +
        `${progress.entriesDone}/${progress.entriesTotal} entries  ` +
        `${formatBytes(progress.bytesDone)}/${formatBytes(progress.bytesTotal)}  ${seconds}`,
    );
  }

  /** Erase the bar. */
  async done(): Promise<void> {
    if (this.#drawn) {
      this.#writing = this.#writing.then(() => this.#sink.write("\r\x1b[2K")).catch(() => {});
    }
    await this.#writing;
  }
}

/**
 * The summary line of a finished copy, e.g. `imported 1000 files, 42
 * directories, 5 symlinks, 12.3 MiB in 0.84 s`.
 */
export function summaryLine(verb: string, summary: TreeCopySummary, elapsedMs: number): string {
  const n = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;
  let line = `${verb} ${n(summary.files, "file", "files")}, ${
    n(summary.dirs, "directory", "directories")
  }, ${n(summary.symlinks, "symlink", "symlinks")}, ${formatBytes(summary.bytes)} in ${
    formatSeconds(elapsedMs)
  }`;
  if (summary.skipped.length) line += `; skipped ${summary.skipped.length}`;
  return line;
}
