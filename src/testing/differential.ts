/**
 * The differential test: a seeded random sequence of file operations applied
 * to a storage and, in lockstep, to a real directory through Deno's own API.
 * Every result must agree — contents, types, sizes, modes, link counts,
 * directory listings and error codes.
 *
 * @module
 */

import { AssertionError } from "node:assert/strict";
import type { Capability } from "../core/backend.ts";
import type { FsApi } from "../storage/api.ts";
import { SeededRandom } from "./prng.ts";

/** One step inside an `open` operation. */
export type HandleStep =
  | { write: string }
  | { seek: number; whence: 0 | 1 | 2 }
  | { read: number }
  | { truncate: number }
  | { stat: true };

/** One generated operation; plain data, so a failing sequence prints as JSON. */
export type DiffOp =
  | {
    op: "writeFile";
    path: string;
    data: string;
    append?: boolean;
    create?: boolean;
    createNew?: boolean;
    mode?: number;
  }
  | { op: "readFile" | "stat" | "lstat" | "readDir" | "readLink" | "realPath"; path: string }
  | { op: "mkdir"; path: string; recursive?: boolean; mode?: number }
  | { op: "remove"; path: string; recursive?: boolean }
  | { op: "rename" | "copyFile" | "link"; from: string; to: string }
  | { op: "symlink"; target: string; path: string }
  | { op: "truncate"; path: string; len: number }
  | { op: "chmod"; path: string; mode: number }
  | { op: "open"; path: string; options: Deno.OpenOptions; steps: HandleStep[] };

/** What an operation produced: a normalized value, or an error code. */
export type Outcome = { ok: unknown } | { error: string };

/** Options of {@linkcode runDifferential} and {@linkcode differentialTest}. */
export interface DifferentialOptions {
  /** Seed of the operation sequence (default 1). The same seed replays the same sequence. */
  seed?: number;
  /** Number of operations (default 2,000). */
  ops?: number;
  /** Compare the whole tree every this many operations, and at the end (default 100). */
  snapshotEvery?: number;
  /**
   * What the candidate supports; operations needing a missing capability
   * (symlinks, hardlinks, permissions) are not generated. Default: all.
   */
  capabilities?: Iterable<Capability>;
  /** How many preceding operations a mismatch report shows (default 25). */
  historyTail?: number;
  /**
   * How many disagreeing results to collect before failing (default 1).
   * Above 1 the run goes on past a disagreement — useful to list several
   * bugs at once — but the first time the trees differ it stops, since
   * everything after would disagree for the same reason.
   */
  maxMismatches?: number;
}

/** What a finished run did, for tests that check the sequence really exercised things. */
export interface DifferentialReport {
  /** The seed used. */
  seed: number;
  /** Operations applied. */
  ops: number;
  /** Per operation kind: how many succeeded and how many failed (identically on both sides). */
  byKind: Record<string, { ok: number; error: number }>;
  /** How often each error code occurred. */
  errorCodes: Record<string, number>;
  /** Whole-tree comparisons made. */
  snapshots: number;
}

const NAMES = ["a", "b", "c"] as const;
/** Depth weights: directories are made near the top, files further down, so both kinds stay common. */
const MIXED = { 1: 4, 2: 4, 3: 2 } as const;
const SHALLOW = { 1: 6, 2: 3, 3: 1 } as const;
const DEEP = { 1: 1, 2: 4, 3: 4 } as const;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Short random text; now and then a few KiB, so sizes and offsets vary. */
function genData(r: SeededRandom): string {
  if (r.chance(0.05)) return "0123456789abcdefghij".repeat(100 + r.int(200)).slice(r.int(20));
  const len = r.int(13);
  let s = "";
  for (let i = 0; i < len; i++) s += r.pick(["x", "y", "z", "é", "\n", "0"]);
  return s;
}

/**
 * A path over a three-name alphabet, one to three levels deep, so that
 * collisions (EEXIST, ENOTEMPTY, ENOTDIR…) are frequent. Now and then a
 * trailing slash or a `..` that never climbs above the root — symlink
 * targets are generated without `..`, so resolution never goes up either
 * and the reference stays inside its directory.
 */
function genPath(r: SeededRandom, depths: Readonly<Record<1 | 2 | 3, number>> = MIXED): string {
  const depth = Number(r.weighted(depths));
  const parts: string[] = [];
  for (let i = 0; i < depth; i++) parts.push(r.pick(NAMES));
  if (parts.length >= 2 && r.chance(0.05)) parts.splice(1 + r.int(parts.length - 1), 0, "..");
  return "/" + parts.join("/") + (r.chance(0.05) ? "/" : "");
}

function genTarget(r: SeededRandom): string {
  const parts: string[] = [r.pick(NAMES)];
  if (r.chance(0.4)) parts.push(r.pick(NAMES));
  return parts.join("/");
}

const OPEN_OPTIONS: readonly Deno.OpenOptions[] = [
  { read: true },
  { write: true },
  { read: true, write: true },
  { write: true, create: true },
  { read: true, write: true, create: true },
  { write: true, createNew: true },
  { write: true, truncate: true },
  { append: true },
  { append: true, create: true },
  { read: true, write: true, create: true, truncate: true },
];

function genSteps(r: SeededRandom): HandleStep[] {
  const steps: HandleStep[] = [];
  const n = 1 + r.int(4);
  for (let i = 0; i < n; i++) {
    const kind = r.weighted({ write: 4, seek: 3, read: 4, truncate: 1, stat: 1 });
    if (kind === "write") steps.push({ write: genData(r) });
    else if (kind === "seek") {
      steps.push({ seek: r.int(24) - 4, whence: r.pick([0, 1, 2] as const) });
    } else if (kind === "read") {
      // Never a zero-length read: Deno answers it with 0 without asking the
      // kernel, so on a write-only file it is not what Linux says (EBADF).
      steps.push({ read: 1 + r.int(16) });
    } else if (kind === "truncate") steps.push({ truncate: r.int(20) });
    else steps.push({ stat: true });
  }
  return steps;
}

/** The whole operation sequence of `seed`, generated up front (it depends on nothing else). */
export function generateOps(
  seed: number,
  count: number,
  capabilities: ReadonlySet<Capability>,
): DiffOp[] {
  const r = new SeededRandom(seed);
  const weights: Record<DiffOp["op"], number> = {
    writeFile: 14,
    readFile: 7,
    stat: 6,
    lstat: 5,
    readDir: 6,
    mkdir: 13,
    remove: 8,
    rename: 9,
    copyFile: 4,
    symlink: capabilities.has("symlinks") ? 6 : 0,
    link: capabilities.has("hardlinks") ? 5 : 0,
    readLink: capabilities.has("symlinks") ? 3 : 0,
    realPath: 3,
    truncate: 4,
    chmod: capabilities.has("permissions") ? 4 : 0,
    open: 8,
  };
  const ops: DiffOp[] = [];
  for (let i = 0; i < count; i++) {
    const op = r.weighted(weights);
    switch (op) {
      case "writeFile": {
        const w: DiffOp = { op, path: genPath(r, DEEP), data: genData(r) };
        const flavor = r.weighted({ plain: 6, append: 2, noCreate: 1, createNew: 1 });
        if (flavor === "append") w.append = true;
        if (flavor === "noCreate") w.create = false;
        if (flavor === "createNew") w.createNew = true;
        if (capabilities.has("permissions") && r.chance(0.15)) {
          // Modes the reference's umask (022) leaves alone.
          w.mode = r.pick([0o600, 0o640, 0o644, 0o700, 0o755]);
        }
        ops.push(w);
        break;
      }
      case "mkdir": {
        const m: DiffOp = { op, path: genPath(r, SHALLOW) };
        if (r.chance(0.5)) m.recursive = true;
        if (capabilities.has("permissions") && r.chance(0.15)) {
          m.mode = r.pick([0o700, 0o750, 0o755]);
        }
        ops.push(m);
        break;
      }
      case "remove": {
        const path = genPath(r);
        // Never a recursive remove of `path/`: when `path` is a symlink to a
        // directory, Deno empties the target and then fails with ENOTDIR.
        // A storage that refuses up front is safer, not wrong, so this one
        // case is not compared.
        ops.push(
          r.chance(0.35)
            ? { op, path: path.endsWith("/") ? path.slice(0, -1) : path, recursive: true }
            : { op, path },
        );
        break;
      }
      case "rename":
      case "copyFile":
      case "link":
        ops.push({ op, from: genPath(r), to: genPath(r) });
        break;
      case "symlink":
        ops.push({ op, target: genTarget(r), path: genPath(r) });
        break;
      case "truncate":
        ops.push({ op, path: genPath(r), len: r.int(24) });
        break;
      case "chmod":
        ops.push({
          op,
          path: genPath(r),
          mode: r.pick([0o600, 0o644, 0o640, 0o700, 0o755, 0o777, 0o444, 0o555]),
        });
        break;
      case "open":
        ops.push({ op, path: genPath(r), options: r.pick(OPEN_OPTIONS), steps: genSteps(r) });
        break;
      case "stat":
      case "lstat":
      case "readDir":
        // The root is a fine place to look, never to change.
        ops.push({ op, path: r.chance(0.08) ? "/" : genPath(r) });
        break;
      default:
        ops.push({ op, path: genPath(r) });
    }
  }
  return ops;
}

function codeOf(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === "string") return code;
  return `(no code) ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
}

function typeOf(st: Deno.FileInfo): string {
  if (st.isFile) return "file";
  if (st.isDirectory) return "dir";
  if (st.isSymlink) return "symlink";
  if (st.isFifo) return "fifo";
  if (st.isSocket) return "socket";
  if (st.isCharDevice) return "chardev";
  if (st.isBlockDevice) return "blockdev";
  return "unknown";
}

/** The parts of metadata that two file systems must agree on (not inode numbers, owners, times, or directory sizes). */
function describe(st: Deno.FileInfo): Record<string, unknown> {
  const type = typeOf(st);
  return {
    type,
    mode: st.mode === null ? null : st.mode.toString(8),
    nlink: st.nlink,
    ...(type === "dir" ? {} : { size: st.size }),
  };
}

/** Bytes as comparable text: short ones verbatim, long ones as length and checksum. */
function digest(b: Uint8Array): string {
  if (b.length <= 48) return JSON.stringify(decoder.decode(b));
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
  return `${b.length} bytes, fnv1a ${h.toString(16)}`;
}

async function outcome(run: () => Promise<unknown>): Promise<Outcome> {
  try {
    // `undefined` and `null` both mean "nothing returned" (Deno's own
    // `FsFile.truncate` resolves to null where others resolve to undefined).
    return { ok: (await run()) ?? null };
  } catch (e) {
    return { error: codeOf(e) };
  }
}

async function runSteps(file: Awaited<ReturnType<FsApi["open"]>>, steps: HandleStep[]) {
  const results: Outcome[] = [];
  for (const step of steps) {
    results.push(
      await outcome(async () => {
        if ("write" in step) return await file.write(encoder.encode(step.write));
        if ("seek" in step) return await file.seek(step.seek, step.whence);
        if ("read" in step) {
          const buf = new Uint8Array(step.read);
          const n = await file.read(buf);
          return n === null ? null : digest(buf.subarray(0, n));
        }
        if ("truncate" in step) return await file.truncate(step.truncate);
        return describe(await file.stat());
      }),
    );
  }
  return results;
}

/** Apply one operation and normalize what it returned. */
export function applyOp(fs: FsApi, op: DiffOp): Promise<Outcome> {
  return outcome(async () => {
    switch (op.op) {
      case "writeFile": {
        const { path, data, op: _, ...options } = op;
        return await fs.writeFile(path, encoder.encode(data), options);
      }
      case "readFile":
        return digest(await fs.readFile(op.path));
      case "stat":
        return describe(await fs.stat(op.path));
      case "lstat":
        return describe(await fs.lstat(op.path));
      case "readDir": {
        const list: string[] = [];
        for await (const e of fs.readDir(op.path)) {
          list.push(`${e.name}:${e.isFile ? "f" : e.isDirectory ? "d" : e.isSymlink ? "l" : "?"}`);
        }
        return list.sort();
      }
      case "mkdir":
        return await fs.mkdir(op.path, { recursive: op.recursive, mode: op.mode });
      case "remove":
        return await fs.remove(op.path, { recursive: op.recursive });
      case "rename":
        return await fs.rename(op.from, op.to);
      case "copyFile":
        return await fs.copyFile(op.from, op.to);
      case "link":
        return await fs.link(op.from, op.to);
      case "symlink":
        return await fs.symlink(op.target, op.path);
      case "readLink":
        return await fs.readLink(op.path);
      case "realPath":
        return await fs.realPath(op.path);
      case "truncate":
        return await fs.truncate(op.path, op.len);
      case "chmod":
        return await fs.chmod(op.path, op.mode);
      case "open": {
        const file = await fs.open(op.path, op.options);
        try {
          // Linux lets a directory be opened for reading, but what seek and
          // read do on it then is up to each file system: not comparable.
          if ((await file.stat()).isDirectory) return "opened a directory";
          return await runSteps(file, op.steps);
        } finally {
          await file.close();
        }
      }
    }
  });
}

/** Everything under `/`, described: the state two file systems must share. */
export async function snapshot(fs: FsApi): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const walk = async (dir: string): Promise<void> => {
    const names: string[] = [];
    for await (const e of fs.readDir(dir)) names.push(e.name);
    names.sort();
    for (const name of names) {
      const path = dir === "/" ? `/${name}` : `${dir}/${name}`;
      const st = await fs.lstat(path);
      const entry: Record<string, unknown> = describe(st);
      if (st.isFile) entry.content = digest(await fs.readFile(path));
      if (st.isSymlink) entry.target = await fs.readLink(path);
      out[path] = entry;
      if (st.isDirectory) await walk(path);
    }
  };
  out["/"] = { nlink: (await fs.stat("/")).nlink };
  await walk("/");
  return out;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function show(value: unknown): string {
  return JSON.stringify(
    value,
    (_, v) => typeof v === "string" && v.length > 60 ? `${v.slice(0, 40)}…(${v.length} chars)` : v,
  );
}

/**
 * Apply the seeded sequence to `candidate` and `reference` in lockstep and
 * fail at the first disagreement (or after `maxMismatches`), with the seed,
 * the step, the operation and the operations before it, so the failure can
 * be replayed (`{ seed, ops: step + 1 }` stops right after it).
 *
 * Both file systems must start empty. The reference is meant to be a real
 * directory through {@linkcode denoFsAt}; both roots are set to mode 0o755
 * first (a temporary directory starts as 0o700).
 */
export async function runDifferential(
  candidate: FsApi,
  reference: FsApi,
  options: DifferentialOptions = {},
): Promise<DifferentialReport> {
  const seed = options.seed ?? 1;
  const count = options.ops ?? 2000;
  const every = options.snapshotEvery ?? 100;
  const tail = options.historyTail ?? 25;
  const capabilities = new Set(options.capabilities ?? ["symlinks", "hardlinks", "permissions"]);
  const ref = reference;
  await checkReference(ref);
  if (capabilities.has("permissions")) {
    await Promise.all([ref.chmod("/", 0o755), candidate.chmod("/", 0o755)]);
  }
  const ops = generateOps(seed, count, capabilities);
  const report: DifferentialReport = { seed, ops: 0, byKind: {}, errorCodes: {}, snapshots: 0 };
  const history: string[] = [];

  const maxMismatches = Math.max(1, options.maxMismatches ?? 1);
  const mismatches: string[] = [];
  const record = (step: number, what: string, mine: unknown, theirs: unknown): void => {
    mismatches.push([
      `differential mismatch at step ${step} (seed ${seed}): ${what}`,
      `  candidate: ${show(mine)}`,
      `  reference: ${show(theirs)}`,
      `replay with { seed: ${seed}, ops: ${step + 1} }; the operations before it:`,
      ...history.slice(-tail),
    ].join("\n"));
  };
  const fail = (): never => {
    throw new AssertionError({ message: mismatches.join("\n\n") });
  };

  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    const mine = await applyOp(candidate, op);
    const theirs = await applyOp(ref, op);
    const agreed = same(mine, theirs);
    if (!agreed) {
      record(i, show(op), mine, theirs);
      if (mismatches.length >= maxMismatches) fail();
    }
    history.push(`  #${i} ${show(op)} → ${show(theirs)}`);
    const tally = report.byKind[op.op] ??= { ok: 0, error: 0 };
    if ("error" in theirs) {
      tally.error++;
      report.errorCodes[theirs.error] = (report.errorCodes[theirs.error] ?? 0) + 1;
    } else {
      tally.ok++;
    }
    report.ops++;
    // After a tolerated disagreement, compare the trees at once: if the
    // states diverged, every later result is noise.
    if (!agreed || (i + 1) % every === 0 || i === ops.length - 1) {
      const [a, b] = await Promise.all([snapshot(candidate), snapshot(ref)]);
      report.snapshots++;
      if (!same(a, b)) {
        const paths = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
        const diff = paths.filter((p) => !same(a[p], b[p]));
        record(
          i,
          `trees differ after it at ${diff.slice(0, 5).join(", ")}`,
          Object.fromEntries(diff.slice(0, 5).map((p) => [p, a[p] ?? "(absent)"])),
          Object.fromEntries(diff.slice(0, 5).map((p) => [p, b[p] ?? "(absent)"])),
        );
        fail();
      }
    }
  }
  if (mismatches.length) fail();
  return report;
}

/** Refuse to run against a reference whose umask would make modes differ for the wrong reason. */
async function checkReference(ref: FsApi): Promise<void> {
  const probe = "/.anyfs-differential-probe";
  await ref.writeFile(probe, new Uint8Array(0));
  const mode = (await ref.stat(probe)).mode;
  await ref.remove(probe);
  if (mode !== null && (mode & 0o777) !== 0o644) {
    throw new Error(
      `the reference creates files with mode ${(mode & 0o777).toString(8)}, not 644: ` +
        "run the differential test with umask 022",
    );
  }
}
