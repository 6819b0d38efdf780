/**
 * Tiny measurement helpers shared by the benchmarks. Speed targets are
 * ratios against a reference measured in the same run, never absolute
 * times, so they hold on any machine.
 *
 * @module
 */

/** One measured row: operations per second for each subject. */
export interface Row {
  /** What was measured, e.g. "write 4 KiB file". */
  name: string;
  /** Operations per second, keyed by subject name. */
  opsPerSec: Record<string, number>;
}

/**
 * Run `body(i)` for `count` iterations and return operations per second.
 * `setup` runs untimed before each round; the best of `rounds` rounds counts,
 * which filters out garbage-collection and scheduling noise on a shared
 * machine.
 */
export async function measure(
  count: number,
  body: (i: number, round: number) => Promise<unknown> | unknown,
  options: { rounds?: number; setup?: (round: number) => Promise<void> | void } = {},
): Promise<number> {
  const rounds = options.rounds ?? 5;
  let best = 0;
  for (let round = 0; round < rounds; round++) {
    await options.setup?.(round);
    const t0 = performance.now();
    for (let i = 0; i < count; i++) await body(i, round);
    const ms = performance.now() - t0;
    best = Math.max(best, count / (ms / 1000));
  }
  return best;
}

/** Format a number of operations per second compactly. */
export function formatOps(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return value.toFixed(0);
}

/**
 * Print rows as a table: one column per subject, then `subject / peer`
 * ratio columns for `subject` against each of `peers`, marking rows below
 * `target`. Returns the rows that missed the target.
 */
export function printRatioTable(
  title: string,
  rows: Row[],
  subject: string,
  peers: string[],
  target: number,
  unit = "ops/s",
): string[] {
  const subjects = Object.keys(rows[0]?.opsPerSec ?? {});
  const header = [
    "operation",
    ...subjects.map((s) => `${s} (${unit})`),
    ...peers.map((p) => `× ${p}`),
  ];
  const lines: string[][] = [header];
  const missed: string[] = [];
  for (const row of rows) {
    const cells = [row.name, ...subjects.map((s) => formatOps(row.opsPerSec[s]))];
    for (const peer of peers) {
      const ratio = row.opsPerSec[subject] / row.opsPerSec[peer];
      const ok = ratio >= target;
      if (!ok) missed.push(`${row.name} vs ${peer}: ${ratio.toFixed(2)}×`);
      cells.push(`${ratio.toFixed(2)}×${ok ? "" : " (below target)"}`);
    }
    lines.push(cells);
  }
  const widths = header.map((_, c) => Math.max(...lines.map((l) => l[c].length)));
  console.log(`\n${title}`);
  for (const [i, l] of lines.entries()) {
    console.log(
      "  " +
        l.map((cell, c) => c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])).join("  "),
    );
    if (i === 0) console.log("  " + widths.map((w) => "-".repeat(w)).join("  "));
  }
  console.log(
    `  target: ${subject} ≥ ${target}× each of ${peers.join(", ")} — ${
      missed.length ? `missed on ${missed.length} row(s)` : "met on every row"
    }`,
  );
  return missed;
}
