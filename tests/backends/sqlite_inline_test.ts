// Adversarial tests of SqliteBackend's inline small files (format version 3):
// every way content can move between the inode row and the chunks table,
// checked against MemoryBackend (or a plain byte array) as the oracle, and
// the storage invariants the code relies on checked on the raw tables.

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { Overlay } from "../../src/backends/overlay.ts";
import { SqliteBackend } from "../../src/backends/sqlite.ts";
import {
  CHUNK_SIZE,
  INLINE_MAX,
  MIGRATIONS,
  SCHEMA_VERSION,
  SQLITE_APPLICATION_ID,
} from "../../src/backends/sqlite_schema.ts";
import type { Backend, FileHandle, OpenOptions } from "../../src/core/backend.ts";
import { isFsError } from "../../src/core/errors.ts";

/** `n` bytes of a position-dependent pattern, so offset mistakes show. */
function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff | 1;
  return out;
}

/** A temporary directory with a database path in it, removed afterwards. */
async function withDb(body: (file: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "anyfs_inline_" });
  try {
    await body(`${dir}/fs.anyfs`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * How often each storage invariant the backend relies on is broken, read
 * on a separate connection. Reads and writes trust these: chunks hold no
 * bytes at or past the size (a write merges with a chunk only below the
 * size, and `writeFile` of an empty file drops none), an inline file has
 * no chunks (moving it to chunks inserts chunk 0), and inline bytes are at
 * most INLINE_MAX and never longer than the size.
 */
function violations(file: string): Record<string, number> {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const count = (sql: string) => Number((db.prepare(sql).get() as { n: number }).n);
    return {
      chunkPastSize: count(
        `SELECT count(*) AS n FROM chunks c JOIN inodes i ON i.ino = c.ino
         WHERE c.idx * ${CHUNK_SIZE} + length(c.data) > i.size`,
      ),
      oversizedChunk: count(`SELECT count(*) AS n FROM chunks WHERE length(data) > ${CHUNK_SIZE}`),
      orphanChunk: count(
        "SELECT count(*) AS n FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM inodes i WHERE i.ino = c.ino)",
      ),
      inlineWithChunks: count(
        `SELECT count(*) AS n FROM inodes i WHERE i.data IS NOT NULL
         AND EXISTS (SELECT 1 FROM chunks c WHERE c.ino = i.ino)`,
      ),
      inlineTooLong: count(
        `SELECT count(*) AS n FROM inodes WHERE data IS NOT NULL
         AND (length(data) > ${INLINE_MAX} OR length(data) > size)`,
      ),
      inlineNotFile: count(
        `SELECT count(*) AS n FROM inodes WHERE data IS NOT NULL AND (mode & ${0o170000}) != ${0o100000}`,
      ),
    };
  } finally {
    db.close();
  }
}

const NO_VIOLATIONS = {
  chunkPastSize: 0,
  oversizedChunk: 0,
  orphanChunk: 0,
  inlineWithChunks: 0,
  inlineTooLong: 0,
  inlineNotFile: 0,
};

/** Whether inode `ino` keeps its content inline (`null`: no such inode). */
function isInline(file: string, ino: number): boolean | null {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const row = db.prepare("SELECT data IS NOT NULL AS inline FROM inodes WHERE ino = ?").get(
      ino,
    ) as { inline: number } | undefined;
    return row === undefined ? null : row.inline === 1;
  } finally {
    db.close();
  }
}

/** What an operation produced, comparable across backends. */
type Outcome = { ok: unknown } | { error: string };

async function outcome(run: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: (await run()) ?? null };
  } catch (e) {
    if (!isFsError(e)) throw e;
    return { error: e.code };
  }
}

/**
 * Assert equal bytes with a short message: `deepEqual`'s diff of two large
 * arrays that differ takes minutes to build.
 */
function assertBytes(actual: Uint8Array, expected: Uint8Array, message: string): void {
  let i = 0;
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++;
  if (i === actual.length && i === expected.length) return;
  assert.fail(
    `${message}: ${actual.length} bytes where ${expected.length} were expected; first difference at byte ${i} (${
      actual[i]
    }, expected ${expected[i]})`,
  );
}

/** Assert that two outcomes agree, comparing bytes with {@linkcode assertBytes}. */
function assertSame(got: Outcome, want: Outcome, message: string): void {
  if (
    "ok" in got && "ok" in want && got.ok instanceof Uint8Array && want.ok instanceof Uint8Array
  ) {
    assertBytes(got.ok, want.ok, message);
  } else {
    assert.deepEqual(got, want, message);
  }
}

/** Sizes and offsets around every boundary of the format, and now and then anywhere. */
function interesting(int: (n: number) => number): number {
  const points = [0, 1, 5, INLINE_MAX, CHUNK_SIZE, 2 * CHUNK_SIZE];
  if (int(5) === 0) return int(70_000);
  return Math.max(0, points[int(points.length)] + int(7) - 3);
}

function lengthOf(int: (n: number) => number): number {
  const r = int(10);
  if (r < 4) return 1 + int(64);
  if (r < 7) return Math.max(1, [INLINE_MAX, CHUNK_SIZE][int(2)] + int(7) - 3);
  return 1 + int(70_000);
}

/** mulberry32: small and seedable. */
function seeded(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n: number) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/**
 * Build a version-2 database (the v1 and v2 migrations plus rows, as
 * format 2 stored them: every file in chunks) holding `files` in `/`.
 */
function version2Database(file: string, files: Record<string, Uint8Array>): void {
  const db = new DatabaseSync(file);
  try {
    db.exec("PRAGMA journal_mode = WAL; BEGIN IMMEDIATE");
    for (const migration of MIGRATIONS.slice(0, 2)) {
      migration.up(db, { now: 1000, uid: 0, gid: 0 });
    }
    db.exec(`PRAGMA user_version = 2; PRAGMA application_id = ${SQLITE_APPLICATION_ID}`);
    const names = Object.keys(files);
    db.prepare("UPDATE inodes SET size = ? WHERE ino = 1").run((2 + names.length) * 20);
    let ino = 2;
    for (const name of names) {
      const data = files[name];
      db.prepare(
        `INSERT INTO inodes (ino, mode, uid, gid, nlink, size, atime, mtime, ctime, btime, rdev, target, parent)
         VALUES (?, ${0o100644}, 0, 0, 1, ?, 1000, 1000, 1000, 1000, 0, NULL, 1)`,
      ).run(ino, data.length);
      db.prepare("INSERT INTO entries (parent, name, ino) VALUES (1, ?, ?)").run(name, ino);
      // Chunks as format 2 may hold them: shorter than the size when the
      // tail is zeros (a write stores only what it covers), holes left out.
      for (let at = 0, idx = 0; at < data.length; at += CHUNK_SIZE, idx++) {
        let piece = data.subarray(at, Math.min(at + CHUNK_SIZE, data.length));
        let end = piece.length;
        while (end > 0 && piece[end - 1] === 0) end--;
        piece = piece.subarray(0, end);
        if (piece.length > 0) {
          db.prepare("INSERT INTO chunks (ino, idx, data) VALUES (?, ?, ?)").run(ino, idx, piece);
        }
      }
      ino++;
    }
    db.exec("COMMIT");
  } finally {
    db.close();
  }
}

/** A file whose stored bytes are shorter than its size: a sparse tail. */
function sparse(head: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(head);
  return out;
}

interface OpenPair {
  sqlite: FileHandle;
  memory: FileHandle;
  options: OpenOptions;
}

/**
 * The randomized differential: path and handle operations on a few files,
 * through two connections to one database file, with reopens, each
 * applied to MemoryBackend too; every result and every file must agree.
 */
async function differential(seed: number, steps: number, fromVersion2: boolean): Promise<void> {
  await withDb(async (file) => {
    const int = seeded(seed);
    const names = ["/a", "/b", "/c", "/d"];
    const memory = new MemoryBackend({ uid: 0, gid: 0 });
    if (fromVersion2) {
      // Old files in chunks: a small one, one of exactly INLINE_MAX bytes
      // whose chunk is shorter than its size, and a sparse large one.
      const files: Record<string, Uint8Array> = {
        a: pattern(5, 1),
        b: sparse(pattern(100, 2), INLINE_MAX),
        c: sparse(new Uint8Array(0), 3 * CHUNK_SIZE + 7),
      };
      files.c.set(pattern(10, 3), CHUNK_SIZE + 1);
      version2Database(file, files);
      for (const [name, data] of Object.entries(files)) await memory.writeFile(`/${name}`, data);
    }
    const open = () => SqliteBackend.open(file, { uid: 0, gid: 0 });
    let sqlite: [SqliteBackend, SqliteBackend] = [open(), open()];
    const raw = new DatabaseSync(file, { readOnly: true });
    const [version] = Object.values(raw.prepare("PRAGMA user_version").get() as object);
    raw.close();
    assert.equal(version, SCHEMA_VERSION);
    let handles: OpenPair[] = [];
    const history: string[] = [];
    /** Successful operations by kind, and the storage forms files were seen in. */
    const tally = new Map<string, number>();
    const count = (key: string) => tally.set(key, (tally.get(key) ?? 0) + 1);
    const sizes = () => interesting(int);

    const compareAll = async (label: string) => {
      for (const name of names) {
        for (const via of [0, 1] as const) {
          const want = await outcome(() => memory.readFile(name));
          const got = await outcome(() => sqlite[via].readFile(name));
          assertSame(got, want, `${label}: readFile ${name} via ${via}`);
        }
        const want = await outcome(async () => {
          const m = await memory.lstat(name);
          return [m.size, m.blocks, m.nlink];
        });
        const got = await outcome(async () => {
          const m = await sqlite[int(2)].lstat(name);
          const inline = isInline(file, m.ino);
          count(inline ? (m.size > INLINE_MAX ? "inline past the limit" : "inline") : "chunks");
          return [m.size, m.blocks, m.nlink];
        });
        assertSame(got, want, `${label}: lstat ${name}`);
      }
      for (const h of handles) {
        const want = await outcome(async () => (await h.memory.stat()).size);
        const got = await outcome(async () => (await h.sqlite.stat()).size);
        assertSame(got, want, `${label}: handle stat`);
      }
      assert.deepEqual(violations(file), NO_VIOLATIONS, label);
    };

    try {
      for (let step = 0; step < steps; step++) {
        const via = int(2) as 0 | 1;
        const b = sqlite[via];
        const name = names[int(names.length)];
        const other = names[int(names.length)];
        const kind = int(100);
        let description: string;
        let label: string;
        let pair: [() => Promise<unknown>, () => Promise<unknown>];
        const h = handles.length > 0 ? handles[int(handles.length)] : undefined;
        if (kind < 8 || (kind < 52 && handles.length === 0)) {
          const options: OpenOptions = [
            { read: true, write: true, create: true },
            { read: true },
            { append: true, create: true },
            { read: true, append: true, create: true },
            { write: true, truncate: true, create: true },
          ][int(5)];
          description = `open ${name} ${JSON.stringify(options)} via ${via}`;
          const [m, s] = [
            await outcome(() => memory.open(name, options)),
            await outcome(() => b.open(name, options)),
          ];
          history.push(description);
          if ("error" in m || "error" in s) {
            assert.deepEqual(
              "error" in s ? s.error : "ok",
              "error" in m ? m.error : "ok",
              `step ${step}: ${description}\n${history.slice(-30).join("\n")}`,
            );
            continue;
          }
          handles.push({ memory: m.ok as FileHandle, sqlite: s.ok as FileHandle, options });
          continue;
        } else if (kind < 30 && h) {
          label = "handle.write";
          const at = sizes();
          const data = pattern(lengthOf(int), step);
          description = `handle(${h.sqlite.path} ${
            JSON.stringify(h.options)
          }).write ${data.length}@${at}`;
          pair = [() => h.memory.write(data, at), () => h.sqlite.write(data, at)];
        } else if (kind < 42 && h) {
          label = "handle.read";
          const at = sizes();
          const length = int(3) === 0 ? 0 : lengthOf(int);
          description = `handle(${h.sqlite.path}).read ${length}@${at}`;
          pair = [() => h.memory.read(at, length), () => h.sqlite.read(at, length)];
        } else if (kind < 48 && h) {
          label = "handle.truncate";
          const length = sizes();
          description = `handle(${h.sqlite.path}).truncate ${length}`;
          pair = [() => h.memory.truncate(length), () => h.sqlite.truncate(length)];
        } else if (kind < 52 && h) {
          label = "handle.close";
          description = `handle(${h.sqlite.path}).close`;
          handles = handles.filter((x) => x !== h);
          pair = [() => h.memory.close(), () => h.sqlite.close()];
        } else if (kind < 58) {
          label = "writeFile";
          const data = pattern(sizes(), step);
          description = `writeFile ${name} ${data.length}`;
          pair = [() => memory.writeFile(name, data), () => b.writeFile(name, data)];
        } else if (kind < 63) {
          label = "appendFile";
          const data = pattern(int(3) === 0 ? lengthOf(int) : int(200), step);
          description = `appendFile ${name} ${data.length}`;
          pair = [() => memory.appendFile(name, data), () => b.appendFile(name, data)];
        } else if (kind < 69) {
          label = "truncate";
          const length = sizes();
          description = `truncate ${name} ${length}`;
          pair = [() => memory.truncate(name, length), () => b.truncate(name, length)];
        } else if (kind < 74) {
          label = "copyFile";
          description = `copyFile ${name} ${other}`;
          pair = [() => memory.copyFile(name, other), () => b.copyFile(name, other)];
        } else if (kind < 77) {
          label = "link";
          description = `link ${name} ${other}`;
          pair = [() => memory.link(name, other), () => b.link(name, other)];
        } else if (kind < 80) {
          label = "rename";
          description = `rename ${name} ${other}`;
          pair = [() => memory.rename(name, other), () => b.rename(name, other)];
        } else if (kind < 84) {
          label = "unlink";
          description = `unlink ${name}`;
          pair = [() => memory.unlink(name), () => b.unlink(name)];
        } else if (kind < 90) {
          label = "read";
          const at = sizes();
          const length = lengthOf(int);
          description = `read ${name} ${length}@${at}`;
          pair = [() => memory.read(name, at, length), () => b.read(name, at, length)];
        } else if (kind < 93) {
          label = "readFile";
          description = `readFile ${name}`;
          pair = [() => memory.readFile(name), () => b.readFile(name)];
        } else if (kind < 95) {
          // Reopen: every handle closes on both sides (an unlinked file goes).
          description = "reopen";
          history.push(description);
          for (const h of handles) await h.memory.close();
          handles = [];
          sqlite[0].close();
          sqlite[1].close();
          sqlite = [open(), open()];
          await compareAll(`step ${step} after reopen`);
          continue;
        } else {
          description = `compare all`;
          history.push(description);
          await compareAll(`step ${step}\n${history.slice(-30).join("\n")}\n`);
          continue;
        }
        history.push(description);
        const want = await outcome(pair[0]);
        const got = await outcome(pair[1]);
        count(`${label} ${"ok" in got ? "ok" : "error"}`);
        assertSame(
          got,
          want,
          `step ${step}: ${description}\n${history.slice(-30).join("\n")}`,
        );
      }
      await compareAll("end");
      for (const h of handles) {
        await h.memory.close();
        await h.sqlite.close();
      }
      handles = [];
      assert.deepEqual(sqlite[0].integrityCheck(), ["ok"]);
      sqlite[0].close();
      sqlite[1].close();
      // The last handles gone and the database reopened alone: nothing is left over.
      sqlite = [open(), open()];
      await compareAll("final reopen");
      assert.deepEqual(violations(file), NO_VIOLATIONS);
      // The run really exercised both forms and the moves between them.
      for (const key of ["inline", "inline past the limit", "chunks"]) {
        assert.ok((tally.get(key) ?? 0) >= 3, `${key}: ${JSON.stringify([...tally])}`);
      }
      for (
        const key of ["handle.write ok", "handle.read ok", "handle.truncate ok", "copyFile ok"]
      ) {
        assert.ok((tally.get(key) ?? 0) >= 20, `${key}: ${JSON.stringify([...tally])}`);
      }
    } finally {
      for (const h of handles) await h.sqlite.close().catch(() => {});
      sqlite[0].close();
      sqlite[1].close();
    }
  });
}

for (const seed of [1, 2, 3]) {
  Deno.test(`differential (seed ${seed}): handle and path operations around the inline limit agree with MemoryBackend, through two connections and reopens`, async () => {
    await differential(seed, 3000, false);
  });
}

for (const seed of [11, 12]) {
  Deno.test(`differential (seed ${seed}): a migrated version-2 database, its files in chunks, agrees with MemoryBackend`, async () => {
    await differential(seed, 2000, true);
  });
}

/** The child of the two-process test: runs the operations it is sent, one JSON line each. */
const CHILD_SOURCE = (module: string) => `
import { SqliteBackend } from ${JSON.stringify(module)};
const backend = SqliteBackend.open(Deno.args[0], { uid: 0, gid: 0 });
const rw = await backend.open("/f", { read: true, write: true });
const appender = await backend.open("/f", { append: true });
const fill = (n, seed) => {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = ((i * 31 + seed * 7 + (i >> 8)) & 0xff) | 1;
  return out;
};
const encoder = new TextEncoder();
// A writer writes all of a line (Deno.stdout.write may write part of it).
const out = Deno.stdout.writable.getWriter();
const say = (value) => out.write(encoder.encode(JSON.stringify(value) + "\\n"));
let buffer = "";
const decoder = new TextDecoder();
for await (const piece of Deno.stdin.readable) {
  buffer += decoder.decode(piece, { stream: true });
  let newline;
  while ((newline = buffer.indexOf("\\n")) >= 0) {
    const op = JSON.parse(buffer.slice(0, newline));
    buffer = buffer.slice(newline + 1);
    if (op.kind === "write") await rw.write(fill(op.length, op.seed), op.at);
    else if (op.kind === "append") await appender.write(fill(op.length, op.seed), 0);
    else if (op.kind === "truncate") await rw.truncate(op.length);
    else if (op.kind === "writeFile") await backend.writeFile("/f", fill(op.length, op.seed));
    if (op.kind === "read") {
      const data = await rw.read(0, op.length);
      await say({ read: Array.from(data) });
    } else if (op.kind === "churn") {
      // Move /g between its forms until killed; report each finished step.
      for (let step = 0; ; step++) {
        const length = [100, ${INLINE_MAX}, ${INLINE_MAX + 1}, 3000, ${
  CHUNK_SIZE + 1
}, 0, 10][step % 7];
        const h = await backend.open("/g", { read: true, write: true, create: true });
        if (step % 2 === 0) await h.truncate(length);
        else await h.write(fill(length + 1, step), 0);
        await h.close();
        await say({ churned: step });
      }
    } else {
      await say({ ok: op.kind });
    }
  }
}
`;

/** The content of /g after churn step `step` of the child (see CHILD_SOURCE). */
function churned(step: number): Uint8Array {
  let content = new Uint8Array(0);
  for (let s = 0; s <= step; s++) {
    const length = [100, INLINE_MAX, INLINE_MAX + 1, 3000, CHUNK_SIZE + 1, 0, 10][s % 7];
    if (s % 2 === 0) {
      const next = new Uint8Array(length);
      next.set(content.subarray(0, Math.min(length, content.length)));
      content = next;
    } else {
      const data = pattern(length + 1, s);
      const next = new Uint8Array(Math.max(content.length, data.length));
      next.set(content);
      next.set(data);
      content = next;
    }
  }
  return content;
}

Deno.test("two processes on one database: each one's writes move a file between its forms, the other's handles read and write it right; a SIGKILL mid-churn loses nothing committed", async () => {
  await withDb(async (file) => {
    const b = SqliteBackend.open(file, { uid: 0, gid: 0 });
    let model = pattern(10, 99);
    await b.writeFile("/f", model);
    const childFile = `${file}.child.ts`;
    await Deno.writeTextFile(
      childFile,
      CHILD_SOURCE(new URL("../../src/backends/sqlite.ts", import.meta.url).href),
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", `--allow-read`, `--allow-write`, childFile, file],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const writer = child.stdin.getWriter();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let pending = "";
    const nextLine = async (): Promise<Record<string, unknown>> => {
      while (!pending.includes("\n")) {
        const { value, done } = await lines.read();
        if (done) throw new Error("the child exited");
        pending += value;
      }
      const at = pending.indexOf("\n");
      const line = pending.slice(0, at);
      pending = pending.slice(at + 1);
      return JSON.parse(line);
    };
    const send = async (op: Record<string, unknown>) => {
      await writer.write(new TextEncoder().encode(JSON.stringify(op) + "\n"));
      return await nextLine();
    };
    const written = (at: number, data: Uint8Array) => {
      const next = new Uint8Array(Math.max(model.length, at + data.length));
      next.set(model);
      next.set(data, at);
      model = next;
    };
    // Opened before any of the child's changes, kept across all of them.
    const mine = await b.open("/f", { read: true, write: true });
    const myAppender = await b.open("/f", { append: true });
    let killed = false;
    try {
      const int = seeded(7);
      for (let step = 0; step < 120; step++) {
        // The child changes the file...
        const length = interesting(int) + 1;
        const at = interesting(int);
        const op = [
          { kind: "write", at, length, seed: step },
          { kind: "append", length: 1 + int(200), seed: step },
          { kind: "truncate", length: interesting(int) },
          { kind: "writeFile", length: interesting(int), seed: step },
        ][int(4)] as { kind: string; at?: number; length: number; seed?: number };
        assert.deepEqual(await send(op), { ok: op.kind });
        if (op.kind === "write") written(op.at!, pattern(op.length, op.seed));
        else if (op.kind === "append") written(model.length, pattern(op.length, op.seed));
        else if (op.kind === "writeFile") model = pattern(op.length, op.seed);
        else {
          const next = new Uint8Array(op.length);
          next.set(model.subarray(0, Math.min(op.length, model.length)));
          model = next;
        }
        // ...and this process reads it through old handles and by path.
        assertBytes(await mine.read(0, model.length + 10), model, `step ${step}`);
        assertBytes(await b.readFile("/f"), model, `step ${step}`);
        const from = int(model.length + 1);
        assertBytes(await b.read("/f", from, 5000), model.slice(from, from + 5000), `step ${step}`);
        // Then this process changes it, and the child reads it.
        const mineAt = interesting(int);
        const data = pattern(int(3) === 0 ? lengthOf(int) : 1 + int(100), 1000 + step);
        if (int(2) === 0) {
          await mine.write(data, mineAt);
          written(mineAt, data);
        } else {
          await myAppender.write(data, 0);
          written(model.length, data);
        }
        const reply = await send({ kind: "read", length: model.length + 10 });
        assertBytes(
          new Uint8Array(reply.read as number[]),
          model,
          `step ${step}: the child's read`,
        );
      }
      assert.deepEqual(violations(file), NO_VIOLATIONS);
      // The child churns /g between inline and chunks until it is killed.
      await writer.write(new TextEncoder().encode(JSON.stringify({ kind: "churn" }) + "\n"));
      let last = -1;
      while (last < 40) last = (await nextLine()).churned as number;
      child.kill("SIGKILL");
      killed = true;
      await child.status;
      // The child runs ahead of this reader (its reports wait in the pipe),
      // so the last step it finished is its last report, read only now. A
      // step's report is in the pipe before the next step starts.
      for (;;) {
        const report = await nextLine().catch(() => undefined);
        if (report === undefined) break;
        last = report.churned as number;
      }
      // Its handles on /f are gone with it; this process's still work.
      await b.unlink("/f");
      assertBytes(await mine.read(0, model.length), model, "after the kill");
      // /g holds what the child's last finished step made, or the next one's.
      const g = await b.readFile("/g");
      const candidates = [churned(last), churned(last + 1)];
      assert.ok(
        candidates.some((c) => c.length === g.length && c.every((x, i) => x === g[i])),
        `after step ${last}: /g has ${g.length} bytes`,
      );
      await mine.close();
      await myAppender.close();
      b.close();
      // Alone again: the dead child's holds are cleared, and /f with them.
      using again = SqliteBackend.open(file);
      assert.deepEqual(again.integrityCheck(), ["ok"]);
      await assert.rejects(again.readFile("/f"), (e) => isFsError(e) && e.code === "ENOENT");
      assert.equal((await again.statfs()).usedInodes, 2, "the root and /g");
      assert.deepEqual(violations(file), NO_VIOLATIONS);
    } finally {
      if (!killed) {
        child.kill("SIGKILL");
        await child.status;
      }
      await writer.close().catch(() => {});
      await lines.cancel().catch(() => {});
      if (!b.closed) b.close();
    }
  });
});

/** Contents of every shape the format has: inline, at the limits, chunked, sparse. */
function shapes(): Record<string, Uint8Array> {
  return {
    empty: new Uint8Array(0),
    one: pattern(1, 1),
    "4095": pattern(INLINE_MAX - 1, 2),
    "4096": pattern(INLINE_MAX, 3),
    "4097": pattern(INLINE_MAX + 1, 4),
    "65535": pattern(CHUNK_SIZE - 1, 5),
    "65536": pattern(CHUNK_SIZE, 6),
    "65537": pattern(CHUNK_SIZE + 1, 7),
    // Inline bytes shorter than the size (written, then truncated up).
    "sparse inline": sparse(pattern(10, 8), CHUNK_SIZE + 10),
    // Chunks with a hole in the middle.
    "sparse chunks": (() => {
      const out = sparse(pattern(100, 9), 2 * CHUNK_SIZE + 5);
      out.set(pattern(5, 10), 2 * CHUNK_SIZE);
      return out;
    })(),
  };
}

/** Give `path` the content `data` in the form a user would reach it in: sparse ones by truncating up. */
async function shape(b: SqliteBackend, path: string, name: string, data: Uint8Array) {
  if (name === "sparse inline") {
    await b.writeFile(path, data.subarray(0, 10));
    await b.truncate(path, data.length);
  } else if (name === "sparse chunks") {
    await b.writeFile(path, data.subarray(0, 100));
    const h = await b.open(path, { write: true });
    await h.write(data.subarray(2 * CHUNK_SIZE), 2 * CHUNK_SIZE);
    await h.close();
  } else {
    await b.writeFile(path, data);
  }
}

Deno.test("files of every size around the limits read back exactly, by path, range and handle, after reopen too", async () => {
  await withDb(async (file) => {
    const all = shapes();
    {
      using b = SqliteBackend.open(file);
      for (const [name, data] of Object.entries(all)) await shape(b, `/${name}`, name, data);
      assert.equal(isInline(file, (await b.lstat("/4096")).ino), true);
      assert.equal(isInline(file, (await b.lstat("/4097")).ino), false);
      assert.equal(isInline(file, (await b.lstat("/sparse inline")).ino), true);
    }
    using b = SqliteBackend.open(file);
    for (const [name, data] of Object.entries(all)) {
      const path = `/${name}`;
      assertBytes(await b.readFile(path), data, name);
      const meta = await b.lstat(path);
      assert.deepEqual([meta.size, meta.blocks], [data.length, Math.ceil(data.length / 512)], name);
      const h = await b.open(path, { read: true });
      for (
        const at of [0, 1, INLINE_MAX - 1, INLINE_MAX, CHUNK_SIZE - 1, CHUNK_SIZE, data.length]
      ) {
        for (const length of [1, 2, INLINE_MAX + 1, CHUNK_SIZE + 1]) {
          const want = data.slice(at, at + length);
          assertBytes(await h.read(at, length), want, `${name}: handle ${length}@${at}`);
          assertBytes(await b.read(path, at, length), want, `${name}: read ${length}@${at}`);
        }
      }
      await h.close();
    }
    assert.deepEqual(violations(file), NO_VIOLATIONS);
  });
});

Deno.test("copyFile of every shape onto every shape: the destination, its open handles and its other names get exactly the source's bytes", async () => {
  await withDb(async (file) => {
    using b = SqliteBackend.open(file);
    const all = Object.entries(shapes());
    for (const [sourceName, source] of all) {
      for (const [targetName, target] of all) {
        await shape(b, "/src", sourceName, source);
        await shape(b, "/dst", targetName, target);
        await b.link("/dst", "/dst-link");
        const h = await b.open("/dst", { read: true, write: true });
        const label = `${sourceName} onto ${targetName}`;
        await b.copyFile("/src", "/dst");
        assertBytes(await b.readFile("/dst"), source, label);
        assertBytes(await b.readFile("/dst-link"), source, `${label}: other name`);
        assertBytes(await h.read(0, source.length + 10), source, `${label}: open handle`);
        assert.equal((await h.stat()).size, source.length, label);
        // The copy is its own file: writing it leaves the source alone,
        // also when the write moves it between forms.
        const extra = pattern(INLINE_MAX, 77);
        await h.write(extra, 3);
        const expected = new Uint8Array(Math.max(source.length, 3 + extra.length));
        expected.set(source);
        expected.set(extra, 3);
        assertBytes(await b.readFile("/dst-link"), expected, `${label}: written`);
        assertBytes(await b.readFile("/src"), source, `${label}: source untouched`);
        await h.close();
        await b.unlink("/dst-link");
        assert.deepEqual(violations(file), NO_VIOLATIONS, label);
      }
    }
    assert.deepEqual(b.integrityCheck(), ["ok"]);
  });
});

Deno.test("Overlay over a SqliteBackend lower: copy-up of every shape keeps its bytes, whichever form the lower file has", async () => {
  await withDb(async (file) => {
    const all = shapes();
    {
      using lower = SqliteBackend.open(file);
      for (const [name, data] of Object.entries(all)) await shape(lower, `/${name}`, name, data);
    }
    using lower = SqliteBackend.open(file, { readOnly: true });
    const upper = SqliteBackend.memory();
    const overlay = new Overlay(lower as Backend, upper as Backend);
    try {
      for (const [name, data] of Object.entries(all)) {
        const path = `/${name}`;
        assertBytes(await overlay.readFile(path), data, `${name}: before copy-up`);
        // A one-byte write in the middle copies the whole file up first.
        const h = await overlay.open(path, { read: true, write: true });
        const at = Math.floor(data.length / 2);
        await h.write(new Uint8Array([0xee]), at);
        const expected = sparse(data, Math.max(data.length, at + 1));
        expected[at] = 0xee;
        assertBytes(await h.read(0, expected.length + 10), expected, `${name}: through the handle`);
        await h.close();
        assertBytes(await overlay.readFile(path), expected, `${name}: after copy-up`);
        assertBytes(await upper.readFile(path), expected, `${name}: in the upper layer`);
        assertBytes(await lower.readFile(path), data, `${name}: lower untouched`);
      }
    } finally {
      upper.close();
    }
  });
});

Deno.test("xattrs, permission bits, owner, link count and birth time stay with a file as its content moves between forms", async () => {
  await withDb(async (file) => {
    using b = SqliteBackend.open(file);
    await b.writeFile("/f", pattern(10));
    await b.setXattr("/f", "user.k", pattern(3000, 5));
    await b.chmod("/f", 0o600);
    await b.chown("/f", 7, 8);
    await b.link("/f", "/g");
    const before = await b.lstat("/f");
    const h = await b.open("/g", { read: true, write: true });
    for (const length of [CHUNK_SIZE + 1, 5, INLINE_MAX + 1, INLINE_MAX, 0, 2 * CHUNK_SIZE]) {
      await h.truncate(length);
      await h.write(pattern(length, length), 0);
      const meta = await b.lstat("/f");
      assert.deepEqual(
        [meta.ino, meta.mode, meta.uid, meta.gid, meta.nlink, meta.birthtimeMs, meta.size],
        [before.ino, before.mode, 7, 8, 2, before.birthtimeMs, length],
      );
      assertBytes(await b.getXattr("/f", "user.k"), pattern(3000, 5), `xattr at ${length}`);
      assertBytes(await b.readFile("/f"), pattern(length, length), `content at ${length}`);
    }
    await h.close();
    assert.deepEqual(violations(file), NO_VIOLATIONS);
  });
});
