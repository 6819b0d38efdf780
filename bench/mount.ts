/**
 * Mount benchmark: a non-JS workload (`mount_workload.py`, plain system
 * calls) runs on a mounted MemoryBackend under each cache policy, and on
 * tmpfs (`/dev/shm`) in the same run as the yardstick.
 *
 * Targets come from the reference figures in the project notes, as ratios
 * to tmpfs measured on the same kind of machine (so they transfer to any
 * machine): with `always`, at least the C caching passthrough's ratio on
 * every row it has; with `never`, at least the C zero-timeout file
 * system's.
 *
 * Run alone: `deno run -A bench/mount.ts [SEQ_MIB] [SMALL_FILES]`.
 *
 * @module
 */

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

const SUBJECTS: [name: string, options: MountOptions | null][] = [
  ["tmpfs", null],
  ["never", { cache: "never" }],
  ["auto", { cache: "auto" }],
  ["always", { cache: "always" }],
  ["always+wb", { cache: "always", writebackCache: true }],
  // The C reference's configuration: writeback cache, no extended attributes.
  ["always+wb-xa", { cache: "always", writebackCache: true, xattrs: false }],
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

/** Measure every subject; returns figures keyed by subject name. */
export async function runMountBench(
  seqMib = 256,
  smallFiles = 5000,
): Promise<Record<string, Figures>> {
  const results: Record<string, Figures> = {};
  for (const [name, options] of SUBJECTS) {
    if (options === null) {
      const dir = await Deno.makeTempDir({ dir: "/dev/shm", prefix: "anyfs-bench-" });
      try {
        results[name] = await runWorkload(dir, seqMib, smallFiles);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
      continue;
    }
    const dir = await Deno.makeTempDir({ prefix: "anyfs-bench-" });
    try {
      const m = await mount(new MemoryBackend(), dir, { handleSignals: false, ...options });
      try {
        results[name] = await runWorkload(dir, seqMib, smallFiles);
      } finally {
        await m.unmount({ force: true });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  return results;
}

function fmt(v: number): string {
  if (v >= 1e5) return `${(v / 1e3).toFixed(0)}k`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  return v.toFixed(0);
}

/** Print the table and return the targets missed. */
export function report(results: Record<string, Figures>): string[] {
  const names = Object.keys(results);
  const header = ["row", ...names, ...names.filter((n) => n !== "tmpfs").map((n) => `${n}/tmpfs`)];
  const lines = [header];
  const misses: string[] = [];
  for (const [key, label, unit] of ROWS) {
    const tmpfs = results.tmpfs[key];
    const line = [`${label} (${unit})`, ...names.map((n) => fmt(results[n][key]))];
    for (const n of names) if (n !== "tmpfs") line.push((results[n][key] / tmpfs).toFixed(3));
    lines.push(line);
    const ref = REFERENCE[key];
    if (!ref) continue;
    const checks: [string, number][] = [["never", ref.cNever], ["always", ref.cAlways]];
    for (const [subject, refValue] of checks) {
      const want = refValue / ref.tmpfs;
      const got = results[subject][key] / tmpfs;
      if (got < want) {
        misses.push(
          `${label} with ${subject}: ${got.toFixed(3)} of tmpfs, reference C file system ` +
            `${want.toFixed(3)} (${fmt(refValue)} vs tmpfs ${fmt(ref.tmpfs)} ${unit})`,
        );
      }
    }
  }
  const widths = header.map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  for (const l of lines) {
    console.log(l.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join("  "));
  }
  console.log(
    "\nReference (notes, as ratio to tmpfs): C zero-timeout → target for never; " +
      "C caching passthrough → target for always.",
  );
  for (const [key, ref] of Object.entries(REFERENCE)) {
    const label = ROWS.find((r) => r[0] === key)![1];
    console.log(
      `  ${label.padEnd(24)} never ≥ ${(ref.cNever / ref.tmpfs).toFixed(3)}  ` +
        `always ≥ ${(ref.cAlways / ref.tmpfs).toFixed(3)}`,
    );
  }
  return misses;
}

/** Entry point for `bench/main.ts`: run, print, return the misses. */
export async function main(args: string[] = []): Promise<string[]> {
  const seqMib = Number(args[0] ?? 256);
  const smallFiles = Number(args[1] ?? 5000);
  const results = await runMountBench(seqMib, smallFiles);
  const misses = report(results);
  if (misses.length) console.log(`\nmissed:\n  ${misses.join("\n  ")}`);
  return misses;
}

if (import.meta.main) await main(Deno.args);
