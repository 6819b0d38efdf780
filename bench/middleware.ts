/**
 * The cost of a middleware stack (issue 5's target: at most 15% overhead):
 * six permissive layers — quota with huge limits, path filter allowing
 * `/**`, restrictions denying nothing, rate limit with a huge rate, tracing
 * with no OpenTelemetry provider and no audit sink, metrics timing one call
 * in 16 — over MemoryBackend, against the bare MemoryBackend, both through
 * FileStorage, on small-file operations, in the same run. For information
 * the same stack with Metrics' default (every call timed) is measured too,
 * and so is the floor: six stand-in layers that enforce nothing — four
 * only forward, two observe results as a quota and a metrics layer must
 * (see `_floor_layers.ts`) — the least six layers cost on this
 * runtime, whatever they do. Where the floor itself misses the target, no
 * stack of six can meet it over this backend.
 *
 * The subjects take turns round by round (each round on a fresh directory,
 * the order rotating), and each subject's best round counts, so a load
 * spike from other processes on the machine hits one round, not one
 * subject. The load average is printed with the tables.
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
  type MetricsOptions,
  SqliteBackend,
} from "../mod.ts";
import { measure, printRatioTable, type Row } from "./_harness.ts";
import {
  ForwardA,
  ForwardB,
  ForwardC,
  ForwardD,
  ObserveAll,
  ObserveMutations,
} from "./_floor_layers.ts";

const FILES = 2_000;
const DIR_ENTRIES = 1_000;
const DEEP_TREES = 300;
/** Rounds per row and subject; the subjects take turns each round. */
const ROUNDS = 15;
/** 15% overhead: the stack keeps at least 1 / 1.15 of the bare speed. */
const TARGET = 0.87;
/** Metrics' latency option in the measured stack (its default is `"all"`). */
const LATENCY: MetricsOptions["latency"] = { sampleEvery: 16 };

const BARE = "bare";
const STACK = "6 layers";
const STACK_TIMING_ALL = "6 layers, latency all";
const FLOOR = "6 stand-ins";

function bare(storage: Backend): FileStorage {
  return BackendStack.from(storage).storage();
}

function sixLayers(storage: Backend, latency: MetricsOptions["latency"]): FileStorage {
  const huge = Number.MAX_SAFE_INTEGER;
  return BackendStack.from(storage)
    .limited({ maxTotalSize: huge, maxFileSize: huge, maxNodeCount: huge })
    .filtered({ allow: ["/**"] })
    .restricted({})
    .rateLimited({ maxOps: 1e12 })
    .traced()
    .metered({ latency })
    .storage();
}

/**
 * The floor: six layers that only do what any six must — be called, and
 * (two of them) see each result. The observing ones sit where Quota and
 * Metrics sit in {@linkcode sixLayers}.
 */
function floorLayers(storage: Backend): FileStorage {
  const layered = new ObserveAll(
    new ForwardD(new ForwardC(new ForwardB(new ForwardA(new ObserveMutations(storage))))),
  );
  return BackendStack.from(layered).storage();
}

interface Case {
  name: string;
  count: number;
  /** Untimed, once per subject before the timed rounds. */
  prepare?: (fs: FileStorage) => Promise<void>;
  /** Untimed, before each round. */
  setup?: (fs: FileStorage, round: number) => Promise<void>;
  /** One timed operation: the `i`-th of round `round`. */
  body: (fs: FileStorage, i: number, round: number) => Promise<unknown>;
}

const data = new Uint8Array(4096).fill(7);
const dir = (round: number) => `/w${round}`;

const CASES: Case[] = [
  {
    name: "write 4 KiB file",
    count: FILES,
    setup: (fs, r) => fs.mkdir(dir(r), { recursive: true }),
    body: (fs, i, r) => fs.writeFile(`${dir(r)}/f${i}`, data),
  },
  {
    name: "read 4 KiB file",
    count: FILES,
    body: (fs, i, r) => fs.readFile(`${dir(r)}/f${i}`),
  },
  {
    name: "stat",
    count: FILES,
    body: (fs, i, r) => fs.stat(`${dir(r)}/f${i}`),
  },
  {
    name: "readdir 1,000 entries",
    count: 50,
    prepare: async (fs) => {
      await fs.mkdir("/big", { recursive: true });
      for (let i = 0; i < DIR_ENTRIES; i++) {
        await fs.writeFile(`/big/entry-${i}`, data.subarray(0, 16));
      }
    },
    body: async (fs) => {
      const names = [];
      for await (const e of fs.readDir("/big")) names.push(e.name);
      return names;
    },
  },
  {
    name: "mkdir -p 10 deep",
    count: DEEP_TREES,
    body: (fs, i, r) => fs.mkdir(`/deep${r}/t${i}/a/b/c/d/e/f/g/h/i`, { recursive: true }),
  },
  {
    name: "rename",
    count: FILES,
    body: (fs, i, r) => fs.rename(`${dir(r)}/f${i}`, `${dir(r)}/g${i}`),
  },
  {
    name: "unlink",
    count: FILES,
    body: (fs, i, r) => fs.remove(`${dir(r)}/g${i}`),
  },
];

/**
 * Measure every case on the bare storage and under six layers (and, with
 * `timingAll`, under six layers whose Metrics time every call; with
 * `floor`, under the six stand-ins), the subjects taking turns.
 */
async function measureRows(
  storage: () => Backend,
  extras: { timingAll: boolean; floor: boolean },
): Promise<Row[]> {
  const subjects: [string, FileStorage][] = [
    [BARE, bare(storage())],
    [STACK, sixLayers(storage(), LATENCY)],
  ];
  if (extras.timingAll) subjects.push([STACK_TIMING_ALL, sixLayers(storage(), "all")]);
  if (extras.floor) subjects.push([FLOOR, floorLayers(storage())]);
  const best: Record<string, Record<string, number>> = {};
  for (const c of CASES) {
    for (const [, fs] of subjects) await c.prepare?.(fs);
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate who goes first, so no subject always runs on a warmer (or fuller) heap.
      for (let k = 0; k < subjects.length; k++) {
        const [name, fs] = subjects[(k + round) % subjects.length];
        await c.setup?.(fs, round);
        const ops = await measure(c.count, (i) => c.body(fs, i, round), { rounds: 1 });
        best[name] ??= {};
        best[name][c.name] = Math.max(best[name][c.name] ?? 0, ops);
      }
    }
  }
  return CASES.map((c) => ({
    name: c.name,
    opsPerSec: Object.fromEntries(subjects.map(([name]) => [name, best[name][c.name]])),
  }));
}

/** The rows with only the given subjects. */
function only(rows: Row[], names: string[]): Row[] {
  return rows.map((row) => ({
    name: row.name,
    opsPerSec: Object.fromEntries(names.map((n) => [n, row.opsPerSec[n]])),
  }));
}

function loadAverage(): string {
  try {
    return Deno.loadavg().map((n) => n.toFixed(2)).join(", ");
  } catch {
    return "unknown";
  }
}

/** Run the benchmark and print the tables; returns the rows that missed the target. */
export async function main(): Promise<string[]> {
  const loadBefore = loadAverage();
  const memory = await measureRows(() => new MemoryBackend(), { timingAll: true, floor: true });
  const missed = printRatioTable(
    "Six permissive layers (quota, path filter, restrictions, rate limit, tracing, metrics " +
      `with latency ${JSON.stringify(LATENCY)}) over MemoryBackend vs bare MemoryBackend, ` +
      `through FileStorage (target: ≤ 15% overhead, i.e. ≥ ${TARGET.toFixed(2)}×)`,
    only(memory, [BARE, STACK]),
    STACK,
    [BARE],
    TARGET,
  );
  printRatioTable(
    'For information, not the target: the same stack with Metrics\' default latency "all" ' +
      "(two clock readings per call)",
    only(memory, [BARE, STACK_TIMING_ALL]),
    STACK_TIMING_ALL,
    [BARE],
    TARGET,
  );
  const floorMissed = printRatioTable(
    "The floor, for information: six stand-in layers enforcing nothing (four forward, two " +
      "observe results as Quota and Metrics must) over MemoryBackend vs bare",
    only(memory, [BARE, FLOOR]),
    FLOOR,
    [BARE],
    TARGET,
  );
  if (floorMissed.length) {
    console.log(
      `  the floor misses the target on ${floorMissed.length} row(s): there no stack of six ` +
        "layers can meet it over MemoryBackend on this runtime",
    );
  }
  // For information: the same layers over a backend that does real work per call.
  printRatioTable(
    "For information, not a target: the same six layers over SqliteBackend (in-memory database)",
    await measureRows(() => SqliteBackend.memory(), { timingAll: false, floor: false }),
    STACK,
    [BARE],
    TARGET,
  );
  console.log(`  load average before: ${loadBefore}; after: ${loadAverage()}`);
  return missed;
}

if (import.meta.main) await main();
