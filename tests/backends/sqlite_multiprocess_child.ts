// The child of sqlite_multiprocess_test.ts: one of several processes that
// run seeded random operations on the same SqliteBackend database file, on
// a namespace of 39 paths (names a, b, c, three levels deep) so that they
// collide all the time. Not a test on its own (the name does not end in
// _test.ts).
//
// It checks what it can see as it goes: every failure is an FsError with a
// code a real file system could give for that operation (EBUSY only after
// the busy timeout has passed), every file content it reads is whole cells
// (see _multiprocess_cells.ts) and none of its own failed writes, every
// xattr value it reads is one some process wrote, and an inode number never comes back with another birth
// time (numbers are never reused). Handles stay open across other
// operations, also on files other processes unlink meanwhile: a handle op
// must then still work (ENOENT there means content freed under a holder).
//
// Output on stdout, one line each: `bad <json>` for every violation,
// `stats <json>` every 250 operations and `end <json>` when it finishes
// (both carry every inode number it saw with its birth time).
//
// Usage: deno run --allow-read=DIR --allow-write=DIR sqlite_multiprocess_child.ts
//          DB WRITER SEED DURATION_MS [compact] [allow-all] [compact-probe] [busy=MS] [readonly]
// (`compact`: sometimes compact the database; `allow-all`: it runs with -A,
// so compact must work; `compact-probe`: only compact once and report.)

import { SqliteBackend } from "../../src/backends/sqlite.ts";
import { SeededRandom } from "../../src/testing/prng.ts";
import type { FileHandle } from "../../src/core/backend.ts";
import { isFsError } from "../../src/core/errors.ts";
import type { Metadata } from "../../src/core/types.ts";
import { ANYWHERE, CELL, cells, checkContent, writesIn } from "./_multiprocess_cells.ts";

const [file, writerArg, seedArg, durationArg, ...flags] = Deno.args;
const writer = Number(writerArg);
const rng = new SeededRandom(Number(seedArg));
const random = () => rng.next();
const durationMs = Number(durationArg);
const compactAllowed = flags.includes("compact");
/** Run with --allow-all: only then may compact (VACUUM) work in Deno. */
const allowAll = flags.includes("allow-all");
/** A read-only backend (run with --allow-read only): it only reads, beside writers. */
const readOnly = flags.includes("readonly");
/** `busy=N` sets the busy timeout (ms), to provoke EBUSY on purpose. */
const BUSY_TIMEOUT_MS = Number(
  flags.find((f) => f.startsWith("busy="))?.slice("busy=".length) ?? 5000,
);

const int = (n: number) => rng.int(n);
const pick = <T>(items: readonly T[]): T => rng.pick(items);

const NAMES = ["a", "b", "c"];
/** A path of the shared namespace; shallow ones more often, so deep ones have parents. */
function path(): string {
  const r = random();
  const depth = r < 0.35 ? 1 : r < 0.8 ? 2 : 3;
  let p = "";
  for (let i = 0; i < depth; i++) p += "/" + pick(NAMES);
  return p;
}

/** Cells per write: inline (≤ 4 KiB), just past inline, past one chunk, several chunks. */
function cellCount(): number {
  const r = random();
  if (r < 0.45) return 1 + int(63);
  if (r < 0.7) return 64 + int(200);
  if (r < 0.93) return 264 + int(1400);
  return 1664 + int(2400);
}

/** Codes a real file system could give each operation on this namespace. */
const ALLOWED: Record<string, readonly string[]> = {
  writeFile: ["ENOENT", "ENOTDIR", "EISDIR", "ELOOP"],
  appendFile: ["ENOENT", "ENOTDIR", "EISDIR", "ELOOP"],
  mkdir: ["ENOENT", "ENOTDIR", "EEXIST"],
  rename: ["ENOENT", "ENOTDIR", "EISDIR", "ENOTEMPTY", "EEXIST", "EINVAL"],
  unlink: ["ENOENT", "ENOTDIR", "EISDIR"],
  rmdir: ["ENOENT", "ENOTDIR", "ENOTEMPTY"],
  link: ["ENOENT", "ENOTDIR", "EEXIST", "EPERM"],
  symlink: ["ENOENT", "ENOTDIR", "EEXIST"],
  truncate: ["ENOENT", "ENOTDIR", "EISDIR", "EINVAL"],
  copyFile: ["ENOENT", "ENOTDIR", "EISDIR", "ELOOP"],
  setXattr: ["ENOENT", "ENOTDIR", "EEXIST", "ENODATA"],
  getXattr: ["ENOENT", "ENOTDIR", "ENODATA"],
  readFile: ["ENOENT", "ENOTDIR", "EISDIR", "ELOOP"],
  read: ["ENOENT", "ENOTDIR", "EISDIR", "ELOOP"],
  lstat: ["ENOENT", "ENOTDIR"],
  readDir: ["ENOENT", "ENOTDIR"],
  open: ["ENOENT", "ENOTDIR", "EISDIR", "EEXIST", "ELOOP"],
  // A handle keeps its inode alive whatever happens to its names.
  "handle.read": ["EISDIR"],
  "handle.write": [],
  "handle.truncate": [],
  "handle.stat": [],
  "handle.sync": [],
  "handle.close": [],
  fsync: ["ENOENT", "ENOTDIR"],
  sync: [],
  // Deno refuses VACUUM's attached database without --allow-all.
  compact: allowAll ? [] : ["EACCES"],
};
if (readOnly) {
  // A read-only backend cannot register its handles, so another process
  // may free a file it has open (documented on SqliteBackendOptions.readOnly).
  ALLOWED["handle.read"] = ["EISDIR", "ENOENT"];
  ALLOWED["handle.stat"] = ["ENOENT"];
}

const say = (word: string, value: unknown) => console.log(`${word} ${JSON.stringify(value)}`);
const bad = (what: string, details: Record<string, unknown> = {}) =>
  say("bad", { writer, seq, what, ...details });

/** Inode number → birth time, as seen by lstat and fstat. */
const births = new Map<number, number>();
function observe(meta: Metadata, where: string): void {
  const seen = births.get(meta.ino);
  if (seen === undefined) births.set(meta.ino, meta.birthtimeMs);
  else if (seen !== meta.birthtimeMs) {
    bad("inode number reused", { ino: meta.ino, where, before: seen, now: meta.birthtimeMs });
  }
  if (meta.type === "file" && meta.size % CELL !== 0) {
    bad("size not a whole number of cells", { where, size: meta.size });
  }
}

/** Seqs of this process's writes that failed: their bytes must never show up. */
const failedWrites = new Set<number>();

function checkRead(data: Uint8Array, where: string, position = 0): void {
  const problem = checkContent(data, position / CELL);
  if (problem !== undefined) bad("content", { where, problem, length: data.length });
  for (const key of writesIn(data)) {
    const [from, of] = key.split(":").map(Number);
    if (from === writer && failedWrites.has(of)) bad("bytes of a failed write", { where, key });
  }
}

/** An xattr value: writer, seq and a check word. */
function xattrValue(): Uint8Array {
  const out = new Uint8Array(12);
  const view = new DataView(out.buffer);
  view.setUint32(0, writer);
  view.setUint32(4, seq);
  view.setUint32(8, (writer * 0x9e3779b1 + seq) >>> 0);
  return out;
}
function checkXattr(value: Uint8Array, where: string): void {
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  if (
    value.length !== 12 ||
    view.getUint32(8) !== ((view.getUint32(0) * 0x9e3779b1 + view.getUint32(4)) >>> 0)
  ) {
    bad("xattr value", { where, length: value.length });
  }
}

/** Operations that write cells of their own (tagged with this process's seq). */
const WRITES = new Set(["writeFile", "appendFile", "handle.write"]);
const counts: Record<string, Record<string, number>> = {};
let busyCount = 0;
let seq = 0;

/** Run `op`, count its outcome and report any failure a real file system could not give. */
async function run(name: string, where: string, op: () => Promise<void>): Promise<void> {
  const started = performance.now();
  let outcome = "ok";
  try {
    await op();
  } catch (e) {
    if (!isFsError(e)) {
      outcome = "raw";
      bad("not an FsError", { op: name, where, error: String(e), stack: (e as Error)?.stack });
    } else {
      outcome = e.code;
      const waited = performance.now() - started;
      if (e.code === "EBUSY" && waited >= BUSY_TIMEOUT_MS * 0.95) {
        busyCount++;
      } else if (!ALLOWED[name].includes(e.code)) {
        bad("unexpected code", {
          op: name,
          where,
          code: e.code,
          message: e.message,
          waitedMs: Math.round(waited),
          stack: e.stack,
        });
      }
    }
  }
  if (outcome !== "ok" && WRITES.has(name)) failedWrites.add(seq);
  const byOutcome = counts[name] ??= {};
  byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1;
}

interface Open {
  handle: FileHandle;
  path: string;
  read: boolean;
  write: boolean;
  append: boolean;
}
const handles: Open[] = [];

/** Open, retrying EBUSY: with a tiny busy timeout, opening can lose the race too. */
function openBackend(): SqliteBackend {
  for (let attempt = 0;; attempt++) {
    try {
      return SqliteBackend.open(file, { busyTimeoutMs: BUSY_TIMEOUT_MS, readOnly });
    } catch (e) {
      if (!isFsError(e) || e.code !== "EBUSY" || attempt >= 1000) throw e;
    }
  }
}
const backend = openBackend();
say("ready", { writer });

if (flags.includes("compact-probe")) {
  // One compact and its outcome, for the test that pins the EACCES.
  try {
    await backend.compact();
    say("probe", { code: "ok" });
  } catch (e) {
    say("probe", { code: isFsError(e) ? e.code : "raw", message: String(e) });
  }
  backend.close();
  Deno.exit(0);
}

async function handleOp(h: Open): Promise<void> {
  const r = int(100);
  const where = `${h.path} (handle)`;
  if (r < 30 && h.read) {
    await run("handle.read", where, async () => {
      const meta = await h.handle.stat();
      const length = meta.size + int(3) * CELL;
      const data = await h.handle.read(0, length);
      if (data.length > length) bad("read more than asked", { where });
      checkRead(data, where);
    });
  } else if (r < 65 && h.write) {
    const count = cellCount();
    await run("handle.write", where, async () => {
      if (h.append) {
        await h.handle.write(cells(writer, seq, count, ANYWHERE), 0);
      } else {
        const at = int(3) === 0 ? int(300) * CELL : 0;
        await h.handle.write(cells(writer, seq, count, at), at);
      }
    });
  } else if (r < 75 && h.write) {
    await run("handle.truncate", where, () => h.handle.truncate(int(1200) * CELL));
  } else if (r < 97) {
    await run("handle.stat", where, async () => observe(await h.handle.stat(), where));
  } else {
    await run("handle.sync", where, () => h.handle.sync());
  }
}

async function step(): Promise<void> {
  // A reader picks among the reads, opens and handle operations only.
  const r = readOnly ? pick([615 + int(175), 790 + int(180)]) : int(1000);
  const p = path();
  if (r < 110) {
    const count = cellCount();
    await run("writeFile", p, () => backend.writeFile(p, cells(writer, seq, count, 0, true)));
  } else if (r < 150) {
    const count = cellCount();
    await run("appendFile", p, () => backend.appendFile(p, cells(writer, seq, count, ANYWHERE)));
  } else if (r < 195) {
    // Fewer mkdirs than removals: directories, once made, rarely go (rmdir
    // needs them empty), and a namespace of only directories collides less.
    await run("mkdir", p, () => backend.mkdir(p));
  } else if (r < 325) {
    const to = path();
    await run("rename", `${p} -> ${to}`, () => backend.rename(p, to));
  } else if (r < 380) {
    await run("unlink", p, () => backend.unlink(p));
  } else if (r < 440) {
    await run("rmdir", p, () => backend.rmdir(p));
  } else if (r < 480) {
    const to = path();
    await run("link", `${p} -> ${to}`, () => backend.link(p, to));
  } else if (r < 505) {
    await run("symlink", p, () => backend.symlink(pick(["a", "../b", "/c/a"]), p));
  } else if (r < 545) {
    await run("truncate", p, () => backend.truncate(p, int(1200) * CELL));
  } else if (r < 580) {
    const to = path();
    await run("copyFile", `${p} -> ${to}`, () => backend.copyFile(p, to));
  } else if (r < 615) {
    const name = pick(["user.x", "user.y"]);
    const flag = int(4);
    const options = flag === 0 ? { create: true } : flag === 1 ? { replace: true } : undefined;
    await run("setXattr", p, () => backend.setXattr(p, name, xattrValue(), options));
  } else if (r < 635) {
    await run("getXattr", p, async () => {
      checkXattr(await backend.getXattr(p, pick(["user.x", "user.y"])), p);
    });
  } else if (r < 705) {
    await run("readFile", p, async () => checkRead(await backend.readFile(p), p));
  } else if (r < 720) {
    await run("read", p, async () => {
      const at = int(1300) * CELL;
      checkRead(await backend.read(p, at, (1 + int(1300)) * CELL), `${p} @${at}`, at);
    });
  } else if (r < 770) {
    await run("lstat", p, async () => observe(await backend.lstat(p), p));
  } else if (r < 790) {
    await run("readDir", p, async () => {
      for (const entry of await backend.readDir(p)) {
        if (!NAMES.includes(entry.name)) bad("foreign name", { where: p, name: entry.name });
      }
    });
  } else if (r < 840) {
    if (handles.length >= 4) {
      const [h] = handles.splice(int(handles.length), 1);
      await run("handle.close", h.path, () => h.handle.close());
      return;
    }
    const kind = int(6);
    const options = [
      { read: true },
      { read: true, write: true },
      { read: true, write: true, create: true },
      { read: true, append: true, create: true },
      { read: true, write: true, create: true, truncate: true },
      { read: true, write: true, createNew: true },
    ][readOnly ? 0 : kind];
    await run("open", p, async () => {
      const handle = await backend.open(p, options);
      handles.push({
        handle,
        path: p,
        read: true,
        write: options.write === true || options.append === true,
        append: options.append === true,
      });
    });
  } else if (r < 970) {
    if (handles.length === 0) return;
    await handleOp(pick(handles));
  } else if (r < 985) {
    if (handles.length === 0) return;
    const [h] = handles.splice(int(handles.length), 1);
    await run("handle.close", h.path, () => h.handle.close());
  } else if (r < 993) {
    await run("fsync", p, () => backend.fsync(p));
  } else if (r < 998 || !compactAllowed) {
    await run("sync", "/", () => backend.sync());
  } else {
    await run("compact", "/", async () => void await backend.compact());
  }
}

const summary = () => ({
  writer,
  ops: seq,
  busy: busyCount,
  counts,
  failedWrites: [...failedWrites],
  births: [...births],
});

const deadline = performance.now() + durationMs;
while (performance.now() < deadline) {
  seq++;
  await step();
  if (seq % 250 === 0) say("stats", summary());
}
for (const h of handles.splice(0)) await run("handle.close", h.path, () => h.handle.close());
backend.close();
say("end", summary());
