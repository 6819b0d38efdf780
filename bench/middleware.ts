/**
 * The cost of a middleware stack (issue 5's target: at most 15% overhead):
 * six permissive layers — quota with huge limits, path filter allowing
 * `/**`, restrictions denying nothing, rate limit with a huge rate, tracing
 * with no OpenTelemetry provider and no audit sink, metrics — over
 * MemoryBackend, against the bare MemoryBackend, both through FileStorage,
 * on small-file operations, in the same run. Each row is measured on both
 * subjects in turn, twice, and the best of each counts.
 *
 * Run alone: `deno run -A bench/middleware.ts`
 *
 * @module
 */

import {
  type Backend,
  BackendStack,
  type FileStorage,
  MemoryBackend,
  SqliteBackend,
} from "../mod.ts";
import { measure, printRatioTable, type Row } from "./_harness.ts";

const FILES = 2_000;
const DIR_ENTRIES = 1_000;
const DEEP_TREES = 300;
const ROUNDS = 5;
/** Each row is measured this many times on each subject, alternating. */
const PASSES = 2;
/** 15% overhead: the stack keeps at least 1 / 1.15 of the bare speed. */
const TARGET = 0.87;

function bare(storage: Backend): FileStorage {
  return BackendStack.from(storage).storage();
}

function sixLayers(storage: Backend): FileStorage {
  const huge = Number.MAX_SAFE_INTEGER;
  return BackendStack.from(storage)
    .limited({ maxTotalSize: huge, maxFileSize: huge, maxNodeCount: huge })
    .filtered({ allow: ["/**"] })
    .restricted({})
    .rateLimited({ maxOps: 1e12 })
    .traced()
    .metered()
    .storage();
}

type Body = (fs: FileStorage, i: number, round: number) => Promise<unknown>;

interface Case {
  name: string;
  count: number;
  /** Untimed, once per subject before the timed rounds. */
  prepare?: (fs: FileStorage, pass: number) => Promise<void>;
  /** Untimed, before each round. */
  setup?: (fs: FileStorage, round: number, pass: number) => Promise<void>;
  body: (pass: number) => Body;
}

const data = new Uint8Array(4096).fill(7);
const dir = (pass: number, round: number) => `/p${pass}w${round}`;

const CASES: Case[] = [
  {
    name: "write 4 KiB file",
    count: FILES,
    setup: (fs, r, p) => fs.mkdir(dir(p, r), { recursive: true }),
    body: (p) => (fs, i, r) => fs.writeFile(`${dir(p, r)}/f${i}`, data),
  },
  {
    name: "read 4 KiB file",
    count: FILES,
    body: (p) => (fs, i, r) => fs.readFile(`${dir(p, r)}/f${i}`),
  },
  {
    name: "stat",
    count: FILES,
    body: (p) => (fs, i, r) => fs.stat(`${dir(p, r)}/f${i}`),
  },
  {
    name: "readdir 1,000 entries",
    count: 50,
    prepare: async (fs, p) => {
      await fs.mkdir(`/big${p}`, { recursive: true });
      for (let i = 0; i < DIR_ENTRIES; i++) {
        await fs.writeFile(`/big${p}/entry-${i}`, data.subarray(0, 16));
      }
    },
    body: (p) => async (fs) => {
      const names = [];
      for await (const e of fs.readDir(`/big${p}`)) names.push(e.name);
      return names;
    },
  },
  {
    name: "mkdir -p 10 deep",
    count: DEEP_TREES,
    body: (p) => (fs, i, r) =>
      fs.mkdir(`/deep${p}-${r}/t${i}/a/b/c/d/e/f/g/h/i`, { recursive: true }),
  },
  {
    name: "rename",
    count: FILES,
    body: (p) => (fs, i, r) => fs.rename(`${dir(p, r)}/f${i}`, `${dir(p, r)}/g${i}`),
  },
  {
    name: "unlink",
    count: FILES,
    body: (p) => (fs, i, r) => fs.remove(`${dir(p, r)}/g${i}`),
  },
];

/** Measure every case on the bare storage and under six layers. */
async function measureRows(storage: () => Backend): Promise<Row[]> {
  const subjects: Record<string, FileStorage> = {
    bare: bare(storage()),
    "6 layers": sixLayers(storage()),
  };
  const best: Record<string, Record<string, number>> = { bare: {}, "6 layers": {} };
  for (let pass = 0; pass < PASSES; pass++) {
    for (const c of CASES) {
      // Alternate which subject goes first, so neither always runs on a warmer heap.
      const order = pass % 2 === 0 ? ["bare", "6 layers"] : ["6 layers", "bare"];
      for (const name of order) {
        const fs = subjects[name];
        await c.prepare?.(fs, pass);
        const body = c.body(pass);
        const ops = await measure(c.count, (i, r) => body(fs, i, r), {
          rounds: ROUNDS,
          setup: c.setup && ((r) => c.setup!(fs, r, pass)),
        });
        best[name][c.name] = Math.max(best[name][c.name] ?? 0, ops);
      }
    }
  }
  return CASES.map((c) => ({
    name: c.name,
    opsPerSec: { bare: best.bare[c.name], "6 layers": best["6 layers"][c.name] },
  }));
}

/** Run the benchmark and print the tables; returns the rows that missed the target. */
export async function main(): Promise<string[]> {
  const missed = printRatioTable(
    "Six permissive layers (quota, path filter, restrictions, rate limit, tracing, metrics) " +
      "over MemoryBackend vs bare MemoryBackend, through FileStorage (target: ≤ 15% overhead, " +
      `i.e. ≥ ${TARGET.toFixed(2)}×)`,
    await measureRows(() => new MemoryBackend()),
    "6 layers",
    ["bare"],
    TARGET,
  );
  // For information: the same layers over a backend that does real work per call.
  printRatioTable(
    "For information, not a target: the same six layers over SqliteBackend (in-memory database)",
    await measureRows(() => SqliteBackend.memory()),
    "6 layers",
    ["bare"],
    TARGET,
  );
  return missed;
}

if (import.meta.main) await main();
