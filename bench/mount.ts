/**
 * Mount benchmark: a non-JS workload (`mount_workload.py`, plain system
 * calls) runs on a mounted MemoryBackend under each cache policy, and on
 * tmpfs (`/dev/shm`) in the same run as the yardstick.
 *
 * Targets come from the reference figures in the project notes, as ratios
 * to tmpfs measured on the same kind of machine (so they transfer to any
 * machine): with `always`, at least the C caching passthrough's ratio on
 * every row it has; with `never`, at least the C zero-timeout file
 * system's. The C passthrough ran with the kernel's writeback cache, which
 * `always` leaves off (see `MountOptions.writebackCache`): `always+wb` shows
 * what that option adds, for information.
 *
 * The machine is shared, so every subject runs in several rounds,
 * interleaved (a load change hits all subjects of a round alike); each
 * round's ratios are taken against that round's tmpfs, and a target counts
 * as met when the median round meets it.
 *
 * Run alone: `deno run -A bench/mount.ts [--rounds 3] [--seq-mib 256]
 * [--files 5000]`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { MemoryBackend } from "../src/backends/memory.ts";
import { mount } from "../src/mount/handle.ts";
import type { MountOptions } from "../src/mount/options.ts";

/** The workload's figures: MiB/s for the first four, operations/s for the rest. */
export type Figures = Record<string, number>;

const ROWS: [key: string, label: string, unit: string][] = [
  ["seq_write_mib_s", "seq write 1 MiB blocks", "MiB/s"],
  ["seq_read_mib_s", "seq read 1 MiB blocks", "MiB/s"],
  ["write_4k_mib_s", "4 KiB writes", "MiB/s"],
  ["read_4k_random_mib_s", "4 KiB random reads", "MiB/s"],
  ["create_ops_s", "create small file", "ops/s"],
  ["stat_ops_s", "stat", "ops/s"],
  ["readdir_stat_ops_s", "readdir + stat", "ops/s"],
  ["open_read_close_ops_s", "open-read-close", "ops/s"],
  ["unlink_ops_s", "unlink", "ops/s"],
];

/** Reference figures from the notes: tmpfs, C zero-timeout FS, C caching passthrough. */
const REFERENCE: Record<string, { tmpfs: number; cNever: number; cAlways: number }> = {
  seq_write_mib_s: { tmpfs: 2560, cNever: 398, cAlways: 943 },
  seq_read_mib_s: { tmpfs: 4483, cNever: 1242, cAlways: 5032 },
  write_4k_mib_s: { tmpfs: 1894, cNever: 102, cAlways: 355 },
  stat_ops_s: { tmpfs: 505_000, cNever: 16_000, cAlways: 77_000 },
  create_ops_s: { tmpfs: 160_000, cNever: 6_300, cAlways: 7_000 },
};

/** Which subject answers to which reference. */
const TARGETS: [subject: string, reference: "cNever" | "cAlways", what: string][] = [
  ["never", "cNever", "C zero-timeout FS"],
  ["always", "cAlways", "C caching passthrough"],
];

const SUBJECTS: [name: string, options: MountOptions | null][] = [
  ["tmpfs", null],
  ["never", { cache: "never" }],
  ["auto", { cache: "auto" }],
  ["always", { cache: "always" }],
  ["always+wb", { cache: "always", writebackCache: true }],
];

async function runWorkload(dir: string, seqMib: number, smallFiles: number): Promise<Figures> {
  const script = new URL("./mount_workload.py", import.meta.url).pathname;
  const out = await new Deno.Command("python3", {
    args: [script, dir, String(seqMib), String(smallFiles)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`workload failed on ${dir}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

async function measureSubject(
  options: MountOptions | null,
  seqMib: number,
  smallFiles: number,
): Promise<Figures> {
  if (options === null) {
    const dir = await Deno.makeTempDir({ dir: "/dev/shm", prefix: "anyfs-bench-" });
    try {
      return await runWorkload(dir, seqMib, smallFiles);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  const dir = await Deno.makeTempDir({ prefix: "anyfs-bench-" });
  try {
    const m = await mount(new MemoryBackend(), dir, { handleSignals: false, ...options });
    try {
      return await runWorkload(dir, seqMib, smallFiles);
    } finally {
      await m.unmount({ force: true });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Settings of one benchmark run. */
export interface MountBenchOptions {
  /** Rounds of every subject (default 3). */
  rounds?: number;
  /** MiB of the sequential file (default 256). */
  seqMib?: number;
  /** Number of small files (default 5000). */
  smallFiles?: number;
}

/** Measure every subject `rounds` times; returns, per round, figures keyed by subject. */
export async function runMountBench(
  options: MountBenchOptions = {},
): Promise<Record<string, Figures>[]> {
  const { rounds = 3, seqMib = 256, smallFiles = 5000 } = options;
  const results: Record<string, Figures>[] = [];
  for (let round = 0; round < rounds; round++) {
    const figures: Record<string, Figures> = {};
    for (const [name, subject] of SUBJECTS) {
      figures[name] = await measureSubject(subject, seqMib, smallFiles);
    }
    results.push(figures);
  }
  return results;
}

function fmt(v: number): string {
  if (v >= 1e5) return `${(v / 1e3).toFixed(0)}k`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  return v.toFixed(0);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function range(values: number[], format: (v: number) => string): string {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return lo === hi ? format(lo) : `${format(lo)}–${format(hi)}`;
}

function printTable(lines: string[][]): void {
  const widths = lines[0].map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  for (const l of lines) {
    console.log(l.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join("  "));
  }
}

/** Print the figures and the target check; returns the targets missed. */
export function report(rounds: Record<string, Figures>[]): string[] {
  const names = Object.keys(rounds[0]);
  const subjects = names.filter((n) => n !== "tmpfs");
  const ratios = (subject: string, key: string) =>
    rounds.map((r) => r[subject][key] / r.tmpfs[key]);

  console.log(`Figures, ${rounds.length} round(s) (min–max):`);
  const figures: string[][] = [["row", ...names]];
  for (const [key, label, unit] of ROWS) {
    figures.push([
      `${label} (${unit})`,
      ...names.map((n) => range(rounds.map((r) => r[n][key]), fmt)),
    ]);
  }
  printTable(figures);

  console.log(`\nRatio to tmpfs of the same round (median, min–max):`);
  const ratioLines: string[][] = [["row", ...subjects]];
  for (const [key, label] of ROWS) {
    ratioLines.push([
      label,
      ...subjects.map((s) => {
        const r = ratios(s, key);
        return `${median(r).toFixed(3)} (${range(r, (v) => v.toFixed(3))})`;
      }),
    ]);
  }
  printTable(ratioLines);

  console.log(`\nTargets (a row is met when its median ratio reaches the reference's ratio):`);
  const misses: string[] = [];
  const check: string[][] = [["row", "subject", "ratio", "target", "reference", ""]];
  for (const [key, label, unit] of ROWS) {
    const ref = REFERENCE[key];
    if (!ref) continue;
    for (const [subject, which, what] of TARGETS) {
      const want = ref[which] / ref.tmpfs;
      const got = median(ratios(subject, key));
      const met = got >= want;
      check.push([
        label,
        subject,
        got.toFixed(3),
        `≥ ${want.toFixed(3)}`,
        `${what} ${fmt(ref[which])} / tmpfs ${fmt(ref.tmpfs)} ${unit}`,
        met ? "met" : "MISSED",
      ]);
      if (!met) {
        misses.push(
          `${label} with ${subject}: ${got.toFixed(3)} of tmpfs, target ${want.toFixed(3)}`,
        );
      }
    }
  }
  printTable(check);
  return misses;
}

/** Entry point for `bench/main.ts`: run, print, return the misses. */
export async function main(args: string[] = []): Promise<string[]> {
  const { values } = parseArgs({
    args,
    options: {
      rounds: { type: "string", default: "3" },
      "seq-mib": { type: "string", default: "256" },
      files: { type: "string", default: "5000" },
    },
  });
  const options = {
    rounds: Number(values.rounds),
    seqMib: Number(values["seq-mib"]),
    smallFiles: Number(values.files),
  };
  const load = () => Deno.loadavg().map((v) => v.toFixed(2)).join(" ");
  const before = load();
  const t0 = performance.now();
  const results = await runMountBench(options);
  console.log(
    `${options.rounds} round(s), ${options.seqMib} MiB sequential, ${options.smallFiles} small ` +
      `files; load average ${before} before, ${load()} after; ` +
      `${((performance.now() - t0) / 1000).toFixed(0)} s\n`,
  );
  const misses = report(results);
  if (misses.length) console.log(`\nmissed:\n  ${misses.join("\n  ")}`);
  return misses;
}

if (import.meta.main) await main(Deno.args);
