import assert from "node:assert/strict";
import { statfsSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { SqliteBackend } from "../../src/backends/sqlite.ts";
import {
  CHUNK_SIZE,
  INLINE_MAX,
  MIGRATIONS,
  SCHEMA_VERSION,
  SQLITE_APPLICATION_ID,
} from "../../src/backends/sqlite_schema.ts";
import { ALL_CAPABILITIES, supports } from "../../src/core/backend.ts";
import { type FsError, isFsError } from "../../src/core/errors.ts";
import { S_IFCHR, S_IFIFO } from "../../src/core/types.ts";

import { bytes, fails, text } from "./_fs_assert.ts";

/** Same as `fails`, for synchronous calls. */
function failsSync(fn: () => unknown, code: string): FsError {
  try {
    fn();
  } catch (e) {
    assert.ok(isFsError(e), `expected an FsError, got ${e}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

/** `n` bytes of a position-dependent pattern, so offset mistakes show. */
function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 7 + (i >> 16)) & 0xff;
  return out;
}

/** A temporary directory with a database path in it, removed afterwards. */
async function withDb(
  body: (file: string, dir: string) => Promise<void> | void,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "anyfs_sqlite_" });
  try {
    await body(`${dir}/fs.anyfs`, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Read-only raw SQL on the database, as a second connection. */
function rawQuery<T>(file: string, sql: string, ...params: (number | string)[]): T[] {
  const db = new DatabaseSync(file);
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

function chunkCount(file: string, ino: number): number {
  return rawQuery<{ n: number }>(file, "SELECT count(*) AS n FROM chunks WHERE ino = ?", ino)[0].n;
}

/** The inline content of inode `ino` as text, or `null` when its content is in chunks. */
function inlineText(file: string, ino: number): string | null {
  const [row] = rawQuery<{ data: Uint8Array | null }>(
    file,
    "SELECT data FROM inodes WHERE ino = ?",
    ino,
  );
  return row.data === null ? null : text(row.data);
}

Deno.test("SqliteBackend has every capability and they are inferred the same way", () => {
  const b = SqliteBackend.memory();
  try {
    for (const cap of ALL_CAPABILITIES) assert.ok(supports(b, cap), cap);
  } finally {
    b.close();
  }
});

Deno.test("a file database keeps files, directories, links, modes, times and xattrs across reopen", async () => {
  await withDb(async (file) => {
    const big = pattern(3 * CHUNK_SIZE + 123);
    let fileIno: number;
    {
      using b = SqliteBackend.open(file);
      await b.mkdir("/docs", { mode: 0o750 });
      await b.writeFile("/docs/a.txt", bytes("hello"), { mode: 0o600 });
      await b.writeFile("/big.bin", big);
      await b.symlink("docs/a.txt", "/link");
      await b.link("/docs/a.txt", "/hard");
      await b.setXattr("/docs/a.txt", "user.tag", bytes("blue"));
      await b.mknod("/fifo", S_IFIFO | 0o644, 0);
      await b.mknod("/tty", S_IFCHR | 0o620, 0x0501);
      await b.utime("/docs/a.txt", 1_000_000.5, 2_000_000.25);
      await b.chown("/docs", 123, 456);
      fileIno = (await b.lstat("/docs/a.txt")).ino;
    }
    using b = SqliteBackend.open(file);
    assert.deepEqual(
      (await b.readDir("/")).map((e) => [e.name, e.type]),
      [["big.bin", "file"], ["docs", "dir"], ["fifo", "fifo"], ["hard", "file"], [
        "link",
        "symlink",
      ], ["tty", "chardev"]],
    );
    assert.equal(text(await b.readFile("/hard")), "hello");
    assert.deepEqual(await b.readFile("/big.bin"), big);
    assert.equal(await b.readLink("/link"), "docs/a.txt");
    const meta = await b.lstat("/docs/a.txt");
    assert.equal(meta.ino, fileIno);
    assert.equal(meta.mode, 0o100600);
    assert.equal(meta.nlink, 2);
    assert.equal(meta.atimeMs, 1_000_000.5);
    assert.equal(meta.mtimeMs, 2_000_000.25);
    const docs = await b.lstat("/docs");
    assert.equal(docs.mode, 0o040750);
    assert.deepEqual([docs.uid, docs.gid], [123, 456]);
    assert.equal((await b.lstat("/tty")).rdev, 0x0501);
    assert.equal(text(await b.getXattr("/docs/a.txt", "user.tag")), "blue");
    assert.deepEqual(b.integrityCheck(), ["ok"]);
  });
});

Deno.test("in-memory databases are private and gone when closed", async () => {
  const a = SqliteBackend.memory();
  const b = SqliteBackend.memory();
  await a.writeFile("/only-in-a", bytes("x"));
  await fails(b.lstat("/only-in-a"), "ENOENT");
  a.close();
  b.close();
  await fails(a.lstat("/"), "EBADF");
  assert.equal(a.closed, true);
});

Deno.test("content is stored in chunks: reads, writes and truncation touch only their chunks", async () => {
  await withDb(async (file) => {
    using b = SqliteBackend.open(file);
    const data = pattern(5 * CHUNK_SIZE + 77);
    await b.writeFile("/f", data);
    const ino = (await b.lstat("/f")).ino;
    assert.equal(chunkCount(file, ino), 6);

    // Range reads across and at chunk boundaries.
    for (
      const [off, len] of [
        [0, 10],
        [CHUNK_SIZE - 3, 6],
        [CHUNK_SIZE, CHUNK_SIZE],
        [
          2 * CHUNK_SIZE - 1,
          2 * CHUNK_SIZE + 2,
        ],
        [5 * CHUNK_SIZE + 70, 100],
        [data.length, 5],
        [data.length + 10, 5],
      ]
    ) {
      assert.deepEqual(
        await b.read("/f", off, len),
        data.slice(off, Math.min(off + len, data.length)),
        `read ${off}+${len}`,
      );
    }

    // A positional write that spans two chunks changes exactly those bytes.
    const h = await b.open("/f", { read: true, write: true });
    const patch = pattern(20, 9);
    await h.write(patch, 2 * CHUNK_SIZE - 10);
    data.set(patch, 2 * CHUNK_SIZE - 10);
    assert.deepEqual(await b.readFile("/f"), data);
    assert.equal(chunkCount(file, ino), 6);

    // Shrinking drops the chunks past the end and trims the last one …
    await b.truncate("/f", CHUNK_SIZE + 5);
    assert.equal(chunkCount(file, ino), 2);
    const lastLen = rawQuery<{ n: number }>(
      file,
      "SELECT length(data) AS n FROM chunks WHERE ino = ? AND idx = 1",
      ino,
    )[0].n;
    assert.equal(lastLen, 5);
    // … so growing again reads zeros, never the old bytes.
    await b.truncate("/f", 3 * CHUNK_SIZE);
    const grown = await b.readFile("/f");
    assert.deepEqual(grown.subarray(0, CHUNK_SIZE + 5), data.subarray(0, CHUNK_SIZE + 5));
    assert.ok(grown.subarray(CHUNK_SIZE + 5).every((v) => v === 0));
    assert.equal(chunkCount(file, ino), 2, "growing stores nothing");
    await h.close();
  });
});

Deno.test("a write far past the end of a file stores one chunk, not the hole", async () => {
  await withDb(async (file) => {
    using b = SqliteBackend.open(file);
    const h = await b.open("/sparse", { write: true, create: true, read: true });
    const gib = 1024 * 1024 * 1024;
    await h.write(bytes("end"), gib);
    const meta = await h.stat();
    assert.equal(meta.size, gib + 3);
    assert.equal(chunkCount(file, meta.ino), 1);
    assert.deepEqual(await h.read(gib - 2, 10), new Uint8Array([0, 0, ...bytes("end")]));
    assert.deepEqual(await h.read(12345, 4), new Uint8Array(4));
    // Shrinking a 1 GiB file costs one statement, not a pass over its bytes.
    await h.truncate(10);
    assert.equal(chunkCount(file, meta.ino), 0);
    await h.close();
  });
});

Deno.test("data handed to writeFile and write is copied", async () => {
  const b = SqliteBackend.memory();
  try {
    const data = bytes("abcdef");
    await b.writeFile("/f", data.subarray(1, 4));
    data[2] = 0x5a;
    assert.equal(text(await b.readFile("/f")), "bcd");
    const h = await b.open("/f", { write: true });
    const more = bytes("XY");
    await h.write(more, 3);
    more[0] = 0;
    assert.equal(text(await b.readFile("/f")), "bcdXY");
    await h.close();
  } finally {
    b.close();
  }
});

Deno.test("an unlinked file stays readable through open handles, and is freed on the last close", async () => {
  await withDb(async (file) => {
    using b = SqliteBackend.open(file);
    const data = pattern(CHUNK_SIZE * 2 + 1);
    await b.writeFile("/f", data);
    const h1 = await b.open("/f", { read: true });
    const h2 = await b.open("/f", { read: true, write: true });
    const ino = (await h1.stat()).ino;
    await b.unlink("/f");
    await fails(b.lstat("/f"), "ENOENT");
    assert.equal((await h1.stat()).nlink, 0);
    assert.equal((await b.statIno(ino)).nlink, 0);
    await fails(b.inodePath(ino), "ENOENT");
    await h2.write(bytes("!"), 0);
    assert.equal(text(await h1.read(0, 1)), "!");
    await h1.close();
    assert.equal(chunkCount(file, ino), 3, "still held by h2");
    await h2.close();
    assert.equal(chunkCount(file, ino), 0);
    await fails(b.statIno(ino), "ENOENT");
    // A replaced file behaves the same way.
    await b.writeFile("/g", bytes("old"));
    await b.writeFile("/h", bytes("new"));
    const hg = await b.open("/g", { read: true });
    await b.rename("/h", "/g");
    assert.equal(text(await hg.read(0, 10)), "old");
    assert.equal(text(await b.readFile("/g")), "new");
    await hg.close();
    assert.equal(
      rawQuery<{ n: number }>(file, "SELECT count(*) AS n FROM inodes WHERE nlink = 0")[0].n,
      0,
    );
  });
});

Deno.test("closing the backend closes its handles and frees what they held", async () => {
  await withDb(async (file) => {
    const b = SqliteBackend.open(file);
    await b.writeFile("/f", bytes("data"));
    const h = await b.open("/f", { read: true });
    await b.unlink("/f");
    b.close();
    await fails(h.read(0, 1), "EBADF");
    await fails(b.readFile("/g"), "EBADF");
    assert.equal(rawQuery<{ n: number }>(file, "SELECT count(*) AS n FROM inodes")[0].n, 1);
    assert.equal(rawQuery<{ n: number }>(file, "SELECT count(*) AS n FROM holders")[0].n, 0);
  });
});

Deno.test("opening a file again writes nothing: the holder row stays while the file has a name", async () => {
  await withDb(async (file) => {
    const b = SqliteBackend.open(file);
    const watcher = new DatabaseSync(file);
    const version = () =>
      (watcher.prepare("PRAGMA data_version").get() as { data_version: number }).data_version;
    try {
      await b.writeFile("/f", bytes("data"));
      const first = await b.open("/f", { read: true });
      await first.close();
      const before = version();
      for (let i = 0; i < 10; i++) {
        const h = await b.open("/f", { read: true });
        assert.equal(text(await h.read(0, 10)), "data");
        await h.close();
      }
      assert.equal(version(), before, "no commit by open/close of a file held before");
      // Its own unlink frees the file at once, row and all.
      const ino = (await b.lstat("/f")).ino;
      await b.unlink("/f");
      assert.equal(rawQuery(file, "SELECT 1 FROM inodes WHERE ino = ?", ino).length, 0);
      assert.equal(chunkCount(file, ino), 0);
      assert.equal(rawQuery(file, "SELECT 1 FROM holders").length, 0);
    } finally {
      watcher.close();
      b.close();
    }
  });
});

Deno.test("a file another backend unlinks while this one holds it idle is freed by this one's next write or handle close", async () => {
  await withDb(async (file) => {
    const a = SqliteBackend.open(file);
    const b = SqliteBackend.open(file);
    const exists = (ino: number) =>
      rawQuery(file, "SELECT 1 FROM inodes WHERE ino = ?", ino).length;
    const heldIdle = async (path: string, size: number) => {
      await a.writeFile(path, pattern(size));
      await (await a.open(path, { read: true })).close();
      return (await a.lstat(path)).ino;
    };
    try {
      await a.writeFile("/f", bytes("kept"));
      const ino = (await a.lstat("/f")).ino;
      const h = await a.open("/f", { read: true });
      await b.unlink("/f");
      // Open in a: the content stays, and a's handle reads it.
      assert.equal(text(await h.read(0, 10)), "kept");
      await h.close();
      // a's closed handle freed it: nlink was 0, and b holds nothing.
      assert.equal(exists(ino), 0);

      // Held idle (opened and closed before) while b unlinks: b cannot tell
      // a's row from a live handle, so a frees it at its next write.
      const g = await heldIdle("/g", CHUNK_SIZE + 1);
      await b.unlink("/g");
      assert.equal(exists(g), 1, "b left it to a");
      await a.mkdir("/unrelated");
      assert.equal(exists(g), 0, "a's next write freed it");
      assert.equal(chunkCount(file, g), 0);

      // ... or at the next close of any of a's handles, with no write of a's own.
      await a.writeFile("/other", bytes("other"));
      const k = await heldIdle("/k", CHUNK_SIZE + 1);
      await b.unlink("/k");
      await (await a.open("/other", { read: true })).close();
      assert.equal(exists(k), 0, "a's next handle close freed it");
      assert.equal(chunkCount(file, k), 0);

      // a removes a file it holds idle while b has it open: a gives its row
      // up, so b's last close frees it.
      const m = await heldIdle("/m", 10);
      const hb = await b.open("/m", { read: true });
      await a.unlink("/m");
      assert.equal(exists(m), 1, "b's handle keeps it");
      await hb.close();
      assert.equal(exists(m), 0, "b's close freed it");

      assert.deepEqual(
        rawQuery<{ ino: number }>(file, "SELECT ino FROM holders ORDER BY ino").map((r) => r.ino),
        [(await a.lstat("/other")).ino],
        "only a's idle row on a file that still has a name is left",
      );
      a.close();
      assert.equal(rawQuery(file, "SELECT 1 FROM holders").length, 0);
    } finally {
      a.close();
      b.close();
    }
  });
});

Deno.test("reopening a held file writes nothing even after another backend committed something unrelated", async () => {
  await withDb(async (file) => {
    const a = SqliteBackend.open(file);
    const b = SqliteBackend.open(file);
    const watcher = new DatabaseSync(file);
    const version = () =>
      (watcher.prepare("PRAGMA data_version").get() as { data_version: number }).data_version;
    try {
      await a.writeFile("/f", bytes("data"));
      await (await a.open("/f", { read: true })).close();
      await b.writeFile("/by-b", bytes("b"));
      const before = version();
      for (let i = 0; i < 3; i++) {
        const h = await a.open("/f", { read: true });
        assert.equal(text(await h.read(0, 10)), "data");
        await h.close();
      }
      assert.equal(
        version(),
        before,
        "a looked for removed files, found none, and committed nothing",
      );
    } finally {
      watcher.close();
      a.close();
      b.close();
    }
  });
});

Deno.test("idle holder rows stay bounded however many files were opened", async () => {
  await withDb(async (file) => {
    const b = SqliteBackend.open(file);
    try {
      for (let i = 0; i < 1100; i++) {
        await b.writeFile(`/f${i}`, bytes("x"));
        await (await b.open(`/f${i}`, { read: true })).close();
      }
      const rows = rawQuery<{ n: number }>(file, "SELECT count(*) AS n FROM holders")[0].n;
      assert.ok(rows > 0 && rows <= 1025, `${rows} holder rows`);
    } finally {
      b.close();
    }
    assert.equal(rawQuery(file, "SELECT 1 FROM holders").length, 0);
  });
});

Deno.test("compact() gives deleted content's space back and keeps every file, even open ones", async () => {
  await withDb(async (file) => {
    const b = SqliteBackend.open(file);
    try {
      await b.mkdir("/d");
      for (let i = 0; i < 50; i++) await b.writeFile(`/d/f${i}`, new Uint8Array(100_000).fill(i));
      await b.writeFile("/keep", bytes("keep"));
      await b.writeFile("/gone-but-open", bytes("still here"));
      const h = await b.open("/gone-but-open", { read: true });
      await b.unlink("/gone-but-open");
      for (let i = 0; i < 50; i++) await b.unlink(`/d/f${i}`);
      const { before, after } = await b.compact();
      assert.ok(before > 5_000_000 && after < 100_000, `${before} -> ${after}`);
      assert.ok((await Deno.stat(file)).size <= after);
      assert.equal((await Deno.stat(`${file}-wal`)).size, 0);
      assert.equal(text(await b.readFile("/keep")), "keep");
      assert.equal(text(await h.read(0, 20)), "still here");
      await h.close();
      await b.writeFile("/d/new", bytes("after"));
      assert.equal(text(await b.readFile("/d/new")), "after");
    } finally {
      b.close();
    }
    await fails(b.compact(), "EBADF");
    const ro = SqliteBackend.open(file, { readOnly: true });
    try {
      await fails(ro.compact(), "EROFS");
    } finally {
      ro.close();
    }
  });
});

Deno.test("inode numbers are never reused", async () => {
  const b = SqliteBackend.memory();
  try {
    await b.writeFile("/a", bytes("1"));
    const first = (await b.lstat("/a")).ino;
    await b.unlink("/a");
    await b.writeFile("/a", bytes("2"));
    assert.ok((await b.lstat("/a")).ino > first);
    assert.equal((await b.lstat("/")).ino, 1);
  } finally {
    b.close();
  }
});

Deno.test("a failing step rolls the whole operation back", async () => {
  await withDb(async (file) => {
    {
      using b = SqliteBackend.open(file);
      await b.mkdir("/d");
      await b.writeFile("/d/old", bytes("keep me"));
    }
    // Inject failures with triggers: a third chunk of any file cannot be
    // stored, and no entry may move into /target.
    const raw = new DatabaseSync(file);
    raw.exec(`
      CREATE TRIGGER fail_chunk AFTER INSERT ON chunks WHEN NEW.idx = 2
        BEGIN SELECT RAISE(ABORT, 'injected chunk failure'); END;
      CREATE TRIGGER fail_move AFTER UPDATE ON entries WHEN NEW.name = 'target'
        BEGIN SELECT RAISE(ABORT, 'injected rename failure'); END;
    `);
    raw.close();
    using b = SqliteBackend.open(file);
    const e = await fails(b.writeFile("/d/new", pattern(3 * CHUNK_SIZE)), "EIO");
    assert.match(e.message, /injected chunk failure/);
    await fails(b.lstat("/d/new"), "ENOENT");
    await fails(b.writeFile("/d/old", pattern(3 * CHUNK_SIZE)), "EIO");
    assert.equal(text(await b.readFile("/d/old")), "keep me");
    await fails(b.rename("/d/old", "/d/target"), "EIO");
    assert.equal(text(await b.readFile("/d/old")), "keep me");
    await fails(b.lstat("/d/target"), "ENOENT");
    assert.equal((await b.lstat("/d")).nlink, 2);
    assert.deepEqual((await b.readDir("/d")).map((x) => x.name), ["old"]);
    assert.deepEqual(b.integrityCheck(), ["ok"]);
  });
});

Deno.test("a new database records its format; a newer one is refused with ENOTSUP", async () => {
  await withDb((file) => {
    SqliteBackend.open(file).close();
    const [row] = rawQuery<Record<string, number>>(file, "PRAGMA user_version");
    assert.equal(Object.values(row)[0], SCHEMA_VERSION);
    const [app] = rawQuery<Record<string, number>>(file, "PRAGMA application_id");
    assert.equal(Object.values(app)[0], SQLITE_APPLICATION_ID);
    const [mode] = rawQuery<Record<string, string>>(file, "PRAGMA journal_mode");
    assert.equal(Object.values(mode)[0], "wal");
    const raw = new DatabaseSync(file);
    raw.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    const e = failsSync(() => SqliteBackend.open(file), "ENOTSUP");
    assert.match(e.message, /newer/);
  });
});

Deno.test("a SQLite file of another application is refused and left untouched", async () => {
  await withDb(async (file) => {
    const raw = new DatabaseSync(file);
    raw.exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine')");
    raw.close();
    const e = failsSync(() => SqliteBackend.open(file), "EINVAL");
    assert.match(e.message, /not an AnyFS database/);
    assert.deepEqual(rawQuery(file, "SELECT body FROM notes").map((r) => ({ ...r as object })), [{
      body: "mine",
    }]);
    const [mode] = rawQuery<Record<string, string>>(file, "PRAGMA journal_mode");
    assert.equal(Object.values(mode)[0], "delete", "journal mode unchanged");
    await Deno.writeTextFile(file, "this is not a database at all, just text");
    failsSync(() => SqliteBackend.open(file), "EINVAL");
  });
});

Deno.test("a database recording another chunk size is refused", async () => {
  await withDb((file) => {
    SqliteBackend.open(file).close();
    const raw = new DatabaseSync(file);
    raw.exec("UPDATE meta SET value = 4096 WHERE key = 'chunk_size'");
    raw.close();
    failsSync(() => SqliteBackend.open(file), "ENOTSUP");
  });
});

Deno.test("open: create false and readOnly need an existing file; bad options are EINVAL", async () => {
  await withDb((file, dir) => {
    failsSync(() => SqliteBackend.open(file, { create: false }), "ENOENT");
    failsSync(() => SqliteBackend.open(file, { readOnly: true }), "ENOENT");
    failsSync(() => SqliteBackend.open(`${dir}/no/such/dir/x.db`), "ENOENT");
    failsSync(() => SqliteBackend.open(file, { busyTimeoutMs: -1 }), "EINVAL");
    failsSync(() => SqliteBackend.open(file, { uid: -5 }), "EINVAL");
    failsSync(() => SqliteBackend.open(""), "EINVAL");
    SqliteBackend.open(new URL(`file://${file}`)).close();
    SqliteBackend.open(file, { create: false }).close();
  });
});

Deno.test("a read-only backend reads everything and refuses every change with EROFS", async () => {
  await withDb(async (file) => {
    {
      using b = SqliteBackend.open(file);
      await b.writeFile("/f", bytes("content"));
    }
    using b = SqliteBackend.open(file, { readOnly: true });
    assert.equal(text(await b.readFile("/f")), "content");
    await fails(b.writeFile("/f", bytes("x")), "EROFS");
    await fails(b.mkdir("/d"), "EROFS");
    await fails(b.unlink("/f"), "EROFS");
    await fails(b.open("/f", { write: true }), "EROFS");
    const h = await b.open("/f", { read: true });
    assert.equal(text(await h.read(0, 100)), "content");
    await fails(h.truncate(0), "EINVAL");
    await h.close();
    await b.sync();
  });
});

Deno.test("a writer blocked past busyTimeoutMs fails with EBUSY and nothing is damaged", async () => {
  await withDb(async (file) => {
    using b = SqliteBackend.open(file, { busyTimeoutMs: 50 });
    await b.writeFile("/f", bytes("before"));
    const other = new DatabaseSync(file);
    other.exec("BEGIN IMMEDIATE");
    try {
      const e = await fails(b.writeFile("/f", bytes("during")), "EBUSY");
      assert.match(e.message, /50 ms/);
      await fails(b.mkdir("/d"), "EBUSY");
      // Readers are not blocked by a writer in WAL mode.
      assert.equal(text(await b.readFile("/f")), "before");
    } finally {
      other.exec("ROLLBACK");
      other.close();
    }
    await b.writeFile("/f", bytes("after"));
    assert.equal(text(await b.readFile("/f")), "after");
    assert.deepEqual(b.integrityCheck(), ["ok"]);
  });
});

Deno.test("two backends on one file see each other's changes, and one's handle survives the other's unlink", async () => {
  await withDb(async (file) => {
    using a = SqliteBackend.open(file);
    using b = SqliteBackend.open(file);
    await a.writeFile("/shared", bytes("from a"));
    assert.equal(text(await b.readFile("/shared")), "from a");
    const h = await b.open("/shared", { read: true });
    await a.unlink("/shared");
    await fails(b.lstat("/shared"), "ENOENT");
    assert.equal(text(await h.read(0, 100)), "from a", "b's handle keeps the data");
    const ino = (await h.stat()).ino;
    await h.close();
    await fails(a.statIno(ino), "ENOENT");
  });
});

Deno.test("handles: whole-file flock locks between handles of this process", async () => {
  const b = SqliteBackend.memory();
  try {
    await b.writeFile("/f", bytes("x"));
    const h1 = await b.open("/f", { read: true });
    const h2 = await b.open("/f", { read: true });
    const h3 = await b.open("/f", { read: true });
    await h1.lock!("shared", false);
    await h2.lock!("shared", false);
    await fails(h3.lock!("exclusive", false), "EAGAIN");
    let granted = false;
    const waiting = h3.lock!("exclusive", true).then(() => granted = true);
    await h1.unlock!();
    await Promise.resolve();
    assert.equal(granted, false, "h2 still holds a shared lock");
    await h2.close();
    await waiting;
    assert.equal(granted, true);
    await fails(h1.lock!("shared", false), "EAGAIN");
    await h3.unlock!();
    await h1.lock!("exclusive", false);
    // A waiter whose handle closes is rejected with EBADF.
    const pending = h3.lock!("shared", true);
    await h3.close();
    await fails(pending, "EBADF");
    await h1.close();
    await fails(h1.lock!("shared", false), "EBADF");
  } finally {
    b.close();
  }
});

Deno.test("locks: two shared holders upgrading at once do not deadlock; a downgrade is immediate", async () => {
  const b = SqliteBackend.memory();
  try {
    await b.writeFile("/f", bytes("x"));
    const h1 = await b.open("/f", { read: true });
    const h2 = await b.open("/f", { read: true });
    const h3 = await b.open("/f", { read: true });
    await h1.lock!("shared", false);
    await h2.lock!("shared", false);
    const order: string[] = [];
    const up1 = h1.lock!("exclusive", true).then(() => order.push("h1"));
    const up2 = h2.lock!("exclusive", true).then(() => order.push("h2"));
    // h2's upgrade releases its shared lock first, which lets the older
    // waiter h1 in; h2 then waits for h1.
    await up1;
    assert.deepEqual(order, ["h1"]);
    await h1.unlock!();
    await up2;
    assert.deepEqual(order, ["h1", "h2"]);
    // Downgrade: h2 keeps a lock throughout, and a shared waiter joins.
    const joined = h3.lock!("shared", true);
    await h2.lock!("shared", false);
    await joined;
    await fails(h1.lock!("exclusive", false), "EAGAIN");
    for (const h of [h1, h2, h3]) await h.close();
    // Everything released: a fresh handle gets an exclusive lock at once.
    const h4 = await b.open("/f", { read: true });
    await h4.lock!("exclusive", false);
    const h5 = await b.open("/f", { read: true });
    await fails(h5.lock!("shared", false), "EAGAIN");
    await h4.close();
    await h5.lock!("exclusive", false);
    await h5.close();
  } finally {
    b.close();
  }
});

Deno.test("sync and fsync succeed on every kind of backend; fsync of a missing path is ENOENT", async () => {
  await withDb(async (file) => {
    for (
      const b of [
        SqliteBackend.open(file),
        SqliteBackend.memory(),
      ]
    ) {
      await b.writeFile("/f", bytes("x"));
      await b.sync();
      await b.fsync("/f");
      await fails(b.fsync("/missing"), "ENOENT");
      const h = await b.open("/f", { write: true });
      await h.write(bytes("y"), 0);
      await h.sync();
      await h.close();
      b.close();
    }
    using always = SqliteBackend.open(file, { durability: "always" });
    await always.writeFile("/g", bytes("z"));
    await always.fsync("/g");
    assert.equal(text(await always.readFile("/f")), "y");
  });
});

Deno.test("statfs counts pages and inodes and reports no limit of its own", async () => {
  const b = SqliteBackend.memory();
  try {
    const before = await b.statfs();
    await b.writeFile("/f", pattern(4 * CHUNK_SIZE));
    await b.mkdir("/d");
    const after = await b.statfs();
    assert.equal(after.totalBytes, 0);
    assert.equal(after.usedInodes, before.usedInodes + 2);
    assert.ok(after.usedBytes >= before.usedBytes + 4 * CHUNK_SIZE);
    assert.equal(after.availableBytes, Number.MAX_SAFE_INTEGER);
    assert.equal(after.maxNameLength, 255);
  } finally {
    b.close();
  }
});

Deno.test("statfs of a file database reports the free space of the disk it lives on", async () => {
  await withDb(async (file, dir) => {
    using b = SqliteBackend.open(file);
    await b.writeFile("/f", pattern(4 * CHUNK_SIZE));
    const stats = await b.statfs();
    const host = statfsSync(dir);
    const hostAvailable = host.bavail * host.bsize;
    // The disk is shared with everything else on the machine: allow drift.
    const slack = 256 * 1024 * 1024;
    assert.ok(
      Math.abs(stats.availableBytes - hostAvailable) < slack,
      `${stats.availableBytes} vs host ${hostAvailable}`,
    );
    assert.equal(stats.totalBytes, stats.usedBytes + stats.availableBytes);
    assert.ok(stats.usedBytes >= 4 * CHUNK_SIZE);
    assert.equal(stats.availableInodes, Number.MAX_SAFE_INTEGER);
  });
});

Deno.test("statfs of a file database without --allow-sys=statfs reports no limit instead of failing", async () => {
  await withDb(async (file, dir) => {
    const module = new URL("../../src/backends/sqlite.ts", import.meta.url).href;
    const script = `
      import { SqliteBackend } from ${JSON.stringify(module)};
      const b = SqliteBackend.open(${JSON.stringify(file)});
      const s = await b.statfs();
      b.close();
      console.log(JSON.stringify([s.totalBytes, s.availableBytes]));
    `;
    // `deno eval` would grant every permission: run a script file instead.
    const probe = `${dir}/probe.ts`;
    await Deno.writeTextFile(probe, script);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", `--allow-read=${dir}`, `--allow-write=${dir}`, probe],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), [
      0,
      Number.MAX_SAFE_INTEGER,
    ]);
  });
});

Deno.test("inodePath finds a name of an inode, also deep and after renames", async () => {
  const b = SqliteBackend.memory();
  try {
    await b.mkdir("/a");
    await b.mkdir("/a/b");
    await b.writeFile("/a/b/f", bytes("x"));
    const ino = (await b.lstat("/a/b/f")).ino;
    assert.equal(await b.inodePath(ino), "/a/b/f");
    await b.rename("/a", "/z");
    assert.equal(await b.inodePath(ino), "/z/b/f");
    assert.equal(await b.inodePath(1), "/");
    await fails(b.inodePath(999_999), "ENOENT");
  } finally {
    b.close();
  }
});

Deno.test("copyFile copies content and permission bits inside the database", async () => {
  await withDb(async (file) => {
    using b = SqliteBackend.open(file);
    const data = pattern(2 * CHUNK_SIZE + 9);
    await b.writeFile("/src", data, { mode: 0o640 });
    await b.copyFile("/src", "/dst");
    assert.deepEqual(await b.readFile("/dst"), data);
    assert.equal((await b.lstat("/dst")).mode, 0o100640);
    assert.equal(chunkCount(file, (await b.lstat("/dst")).ino), 3);
    await b.writeFile("/other", bytes("short"));
    await b.copyFile("/other", "/dst");
    assert.equal(text(await b.readFile("/dst")), "short");
    // The copy of an inline file is inline: the old chunks are gone.
    assert.equal(chunkCount(file, (await b.lstat("/dst")).ino), 0);
    assert.equal(inlineText(file, (await b.lstat("/dst")).ino), "short");
    await b.copyFile("/src", "/fresh");
    assert.deepEqual(await b.readFile("/fresh"), data);
    assert.equal(inlineText(file, (await b.lstat("/fresh")).ino), null);
    await b.copyFile("/src", "/src");
    assert.deepEqual(await b.readFile("/src"), data);
  });
});

Deno.test("opening a database file needs only read and write permission on it, and says which flag is missing", async () => {
  await withDb(async (file, dir) => {
    const script = `
      import { SqliteBackend } from ${
      JSON.stringify(new URL("../../src/backends/sqlite.ts", import.meta.url).href)
    };
      const m = SqliteBackend.memory();
      await m.writeFile("/x", new Uint8Array([1]));
      m.close();
      try { SqliteBackend.open(${JSON.stringify(file)}); console.log("opened"); }
      catch (e) { console.log(e.code + " " + e.message); }
    `;
    const run = async (...flags: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-lock", ...flags, "-"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
        cwd: dir,
      }).spawn();
      const w = out.stdin.getWriter();
      await w.write(bytes(script));
      await w.close();
      const { stdout, stderr, code } = await out.output();
      assert.equal(code, 0, text(stderr));
      return text(stdout).trim();
    };
    const none = await run();
    assert.match(none, /^EACCES .*--allow-read=.*--allow-write=/);
    const readOnly = await run(`--allow-read=${file}`);
    assert.match(readOnly, /^EACCES /);
    assert.doesNotMatch(readOnly, /--allow-read/);
    assert.match(readOnly, /--allow-write=/);
    assert.equal(await run(`--allow-read=${file}`, `--allow-write=${file}`), "opened");
  });
});

Deno.test("orphans of a crashed process are removed by the next backend that opens the database alone", async () => {
  await withDb(async (file) => {
    {
      using b = SqliteBackend.open(file);
      await b.writeFile("/victim", pattern(3 * CHUNK_SIZE));
    }
    // A child opens the file, unlinks it while holding it open, reports, and is killed.
    const script = `
      import { SqliteBackend } from ${
      JSON.stringify(new URL("../../src/backends/sqlite.ts", import.meta.url).href)
    };
      const b = SqliteBackend.open(${JSON.stringify(file)});
      const h = await b.open("/victim", { read: true });
      await b.unlink("/victim");
      console.log("held " + (await h.stat()).ino);
      setInterval(() => {}, 1000); // stay alive until killed
    `;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-lock", "-A", "-"],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(bytes(script));
    await w.close();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let line = "";
    while (!line.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      line += value;
    }
    const ino = Number(/held (\d+)/.exec(line)?.[1]);
    assert.ok(ino > 1, `child said: ${line}`);
    {
      // While the child lives, its orphan must survive another opener.
      using b = SqliteBackend.open(file);
      assert.equal((await b.statIno(ino)).nlink, 0);
    }
    child.kill("SIGKILL");
    await child.status;
    await reader.cancel();
    assert.equal(chunkCount(file, ino), 3, "the crash left the orphan behind");
    using b = SqliteBackend.open(file);
    await fails(b.statIno(ino), "ENOENT");
    assert.equal(chunkCount(file, ino), 0);
    assert.deepEqual(b.integrityCheck(), ["ok"]);
  });
});

Deno.test("paths that are not absolute are EINVAL; NUL bytes and overlong names are refused", async () => {
  const b = SqliteBackend.memory();
  try {
    await fails(b.lstat("relative"), "EINVAL");
    await fails(b.writeFile("/a\0b", bytes("x")), "EINVAL");
    await fails(b.writeFile("/" + "n".repeat(256), bytes("x")), "ENAMETOOLONG");
    await fails(b.lstat("/" + "n".repeat(256)), "ENAMETOOLONG");
    await b.writeFile("/" + "n".repeat(255), bytes("x"));
    await fails(b.lstat("/a/../b"), "ENOENT");
  } finally {
    b.close();
  }
});

Deno.test("path walks: deep paths, files and symlinks as directories, missing middles", async () => {
  const b = SqliteBackend.memory();
  try {
    // Deeper than one joined statement can walk (60 components).
    let dir = "";
    for (let i = 0; i < 70; i++) {
      dir += `/d${i}`;
      await b.mkdir(dir);
    }
    await b.writeFile(`${dir}/leaf`, bytes("deep"));
    assert.equal(text(await b.readFile(`${dir}/leaf`)), "deep");
    assert.equal((await b.lstat(dir)).type, "dir");
    await b.rename(`${dir}/leaf`, "/d0/shallow");
    assert.equal(text(await b.readFile("/d0/shallow")), "deep");
    await fails(b.readFile(`${dir}/leaf`), "ENOENT");
    await fails(b.writeFile(`${dir}/missing/x`, bytes("x")), "ENOENT");
    // A file or a symlink in the middle of a path is not a directory.
    await b.writeFile("/d0/file", bytes("f"));
    await b.symlink("/d0", "/link");
    for (const path of ["/d0/file/x", "/link/file", "/d0/file/x/y"]) {
      await fails(b.lstat(path), "ENOTDIR", path);
      await fails(b.readFile(path), "ENOTDIR", path);
      await fails(b.writeFile(path, bytes("x")), "ENOTDIR", path);
      await fails(b.mkdir(path), "ENOTDIR", path);
      await fails(b.rename("/d0/shallow", path), "ENOTDIR", path);
    }
    await fails(b.lstat("/nope/d1"), "ENOENT");
    await fails(b.readFile("/d0/nope/d2"), "ENOENT");
    await fails(b.readFile("/d0"), "EISDIR");
    await fails(b.readFile("/link"), "ELOOP");
    await fails(b.readFile("/"), "EISDIR");
  } finally {
    b.close();
  }
});

Deno.test("inode numbers are not reused even after the largest one is freed and the database reopened", async () => {
  await withDb(async (file) => {
    let last: number;
    {
      using b = SqliteBackend.open(file);
      await b.writeFile("/a", bytes("1"));
      await b.writeFile("/b", bytes("2"));
      last = (await b.lstat("/b")).ino;
      await b.unlink("/b");
      await b.unlink("/a");
    }
    using b = SqliteBackend.open(file);
    await b.writeFile("/c", bytes("3"));
    assert.ok((await b.lstat("/c")).ino > last);
  });
});

Deno.test("inodePath follows the most recent name and survives removal of hard links", async () => {
  const b = SqliteBackend.memory();
  try {
    await b.mkdir("/x");
    await b.mkdir("/y");
    await b.writeFile("/x/f", bytes("x"));
    const ino = (await b.lstat("/x/f")).ino;
    await b.link("/x/f", "/y/g");
    assert.equal(await b.inodePath(ino), "/y/g");
    await b.unlink("/y/g");
    assert.equal(await b.inodePath(ino), "/x/f");
    await b.rename("/x", "/z");
    assert.equal(await b.inodePath(ino), "/z/f");
    assert.equal(await b.inodePath((await b.lstat("/z")).ino), "/z");
  } finally {
    b.close();
  }
});

/** Every directory's size is `(2 + entries) * 20`, as tmpfs (and MemoryBackend) report it. */
async function assertDirSizes(b: SqliteBackend, dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    const entries = await b.readDir(dir);
    assert.equal((await b.lstat(dir)).size, (2 + entries.length) * 20, dir);
  }
}

Deno.test("a directory's size follows its entries through every kind of change", async () => {
  const b = SqliteBackend.memory();
  try {
    const dirs = ["/", "/a", "/b"];
    await b.mkdir("/a");
    await b.mkdir("/b");
    await assertDirSizes(b, dirs);
    await b.writeFile("/a/f", bytes("f"));
    await b.appendFile("/a/g", bytes("g"));
    await b.symlink("f", "/a/s");
    await b.mknod("/a/p", S_IFIFO | 0o644, 0);
    await (await b.open("/a/h", { write: true, create: true })).close();
    await b.copyFile("/a/f", "/b/copy");
    await b.link("/a/f", "/b/hard");
    await b.mkdir("/a/sub");
    await assertDirSizes(b, dirs);
    await b.rename("/a/f", "/a/f2"); // same directory
    await b.rename("/a/g", "/b/g"); // across
    await b.rename("/a/h", "/b/copy"); // across, replacing
    await b.rename("/a/f2", "/a/s"); // same directory, replacing
    await b.rename("/a/sub", "/b/sub"); // a directory across
    await assertDirSizes(b, [...dirs, "/b/sub"]);
    await b.unlink("/b/hard");
    await b.rmdir("/b/sub");
    await fails(b.unlink("/a/missing"), "ENOENT"); // a failed change changes nothing
    await fails(b.mkdir("/b/g"), "EEXIST");
    await assertDirSizes(b, dirs);
    assert.equal((await b.lstat("/a")).size, (2 + 2) * 20);
  } finally {
    b.close();
  }
});

/**
 * A database exactly as AnyFS of format `version` (1 or 2) wrote it: the
 * schema from that version's own migrations, then rows inserted by SQL.
 * Root (1) holds `d` (dir, 2) and `link` (symlink to `/d/small`, 6); `/d`
 * holds `small` (3, "hello", also named `hard`), `big` (4, a chunk and 10
 * bytes more) and `sparse` (5, 3 chunks long, only bytes 100-199 of chunk 1
 * stored). Version 1 kept directory sizes at 0.
 */
function oldDatabase(file: string, version: 1 | 2): { big: Uint8Array; middle: Uint8Array } {
  const db = new DatabaseSync(file);
  const big = pattern(CHUNK_SIZE + 10, 5);
  const middle = pattern(100, 6);
  try {
    db.exec("PRAGMA journal_mode = WAL; BEGIN IMMEDIATE");
    for (const migration of MIGRATIONS.slice(0, version)) {
      migration.up(db, { now: 1000, uid: 0, gid: 0 });
    }
    db.exec(`PRAGMA user_version = ${version}; PRAGMA application_id = ${SQLITE_APPLICATION_ID}`);
    const dirSize = (entries: number) => version === 1 ? 0 : (2 + entries) * 20;
    db.prepare("UPDATE inodes SET nlink = 3, size = ? WHERE ino = 1").run(dirSize(2));
    const inode = db.prepare(
      `INSERT INTO inodes (ino, mode, uid, gid, nlink, size, atime, mtime, ctime, btime, rdev, target, parent)
       VALUES (?, ?, 0, 0, ?, ?, 1000, 1000, 1000, 1000, 0, ?, ?)`,
    );
    inode.run(2, 0o040755, 2, dirSize(4), null, 1);
    inode.run(3, 0o100644, 2, 5, null, 2);
    inode.run(4, 0o100600, 1, big.length, null, 2);
    inode.run(5, 0o100644, 1, 3 * CHUNK_SIZE, null, 2);
    inode.run(6, 0o120777, 1, 8, "/d/small", 1);
    const entry = db.prepare("INSERT INTO entries (parent, name, ino) VALUES (?, ?, ?)");
    for (
      const [parent, name, ino] of [[1, "d", 2], [1, "link", 6], [2, "small", 3], [2, "hard", 3], [
        2,
        "big",
        4,
      ], [2, "sparse", 5]] as const
    ) {
      entry.run(parent, name, ino);
    }
    const chunk = db.prepare("INSERT INTO chunks (ino, idx, data) VALUES (?, ?, ?)");
    chunk.run(3, 0, bytes("hello"));
    chunk.run(4, 0, big.subarray(0, CHUNK_SIZE));
    chunk.run(4, 1, big.subarray(CHUNK_SIZE));
    const stored = new Uint8Array(200);
    stored.set(middle, 100);
    chunk.run(5, 1, stored);
    db.prepare("INSERT INTO xattrs (ino, name, value) VALUES (3, 'user.k', ?)").run(bytes("v"));
    db.exec("COMMIT");
  } finally {
    db.close();
  }
  return { big, middle };
}

Deno.test("opening a version-1 database records every directory's size (migration 2)", async () => {
  await withDb(async (file) => {
    oldDatabase(file, 1);
    using b = SqliteBackend.open(file);
    const [row] = rawQuery<Record<string, number>>(file, "PRAGMA user_version");
    assert.equal(Object.values(row)[0], SCHEMA_VERSION);
    assert.equal((await b.lstat("/d")).size, (2 + 4) * 20);
    assert.equal((await b.lstat("/")).size, (2 + 2) * 20);
    await b.mkdir("/d/e");
    await b.writeFile("/d/new", bytes("y"));
    await assertDirSizes(b, ["/", "/d", "/d/e"]);
  });
});

Deno.test("a version-2 database opens and reads as before, and its files change correctly (migration 3)", async () => {
  await withDb(async (file) => {
    const { big, middle } = oldDatabase(file, 2);
    {
      using b = SqliteBackend.open(file);
      const [row] = rawQuery<Record<string, number>>(file, "PRAGMA user_version");
      assert.equal(Object.values(row)[0], SCHEMA_VERSION);
      assert.deepEqual(b.integrityCheck(), ["ok"]);
      // Everything reads as version 2 stored it, through every read path.
      assert.equal(text(await b.readFile("/d/small")), "hello");
      assert.equal(text(await b.readFile("/d/hard")), "hello");
      assert.deepEqual(await b.readFile("/d/big"), big);
      assert.deepEqual(
        await b.read("/d/big", CHUNK_SIZE - 2, 5),
        big.slice(CHUNK_SIZE - 2, CHUNK_SIZE + 3),
      );
      const sparse = new Uint8Array(3 * CHUNK_SIZE);
      sparse.set(middle, CHUNK_SIZE + 100);
      assert.deepEqual(await b.readFile("/d/sparse"), sparse);
      const h = await b.open("/d/sparse", { read: true });
      assert.deepEqual(
        await h.read(CHUNK_SIZE + 50, 200),
        sparse.slice(CHUNK_SIZE + 50, CHUNK_SIZE + 250),
      );
      await h.close();
      assert.equal(await b.readLink("/link"), "/d/small");
      assert.equal(text(await b.getXattr("/d/hard", "user.k")), "v");
      assert.deepEqual((await b.readDir("/d")).map((e) => e.name), [
        "big",
        "hard",
        "small",
        "sparse",
      ]);
      const small = await b.lstat("/d/small");
      assert.deepEqual([small.size, small.nlink, small.mode], [5, 2, 0o100644]);
      assert.equal((await b.lstat("/d")).size, (2 + 4) * 20);
      // Old files are in chunks, and change correctly from there.
      assert.equal(inlineText(file, 3), null);
      const w = await b.open("/d/small", { write: true, append: true });
      await w.write(bytes(" world"), 0);
      await w.close();
      assert.equal(text(await b.readFile("/d/hard")), "hello world");
      await b.truncate("/d/big", 3);
      assert.deepEqual(await b.readFile("/d/big"), big.slice(0, 3));
      assert.equal(chunkCount(file, 4), 0, "a file truncated small becomes inline");
      assert.deepEqual(await b.readFile("/d/big"), big.slice(0, 3));
      await b.writeFile("/d/sparse", bytes("now small"));
      assert.equal(chunkCount(file, 5), 0);
      assert.equal(inlineText(file, 5), "now small");
      await b.writeFile("/d/new", bytes("new"));
      assert.ok((await b.lstat("/d/new")).ino > 6);
      await assertDirSizes(b, ["/", "/d"]);
      assert.deepEqual(b.integrityCheck(), ["ok"]);
    }
    // And it all persists.
    using again = SqliteBackend.open(file);
    assert.equal(text(await again.readFile("/d/small")), "hello world");
    assert.equal(text(await again.readFile("/d/sparse")), "now small");
    assert.equal(text(await again.readFile("/d/new")), "new");
  });
});

Deno.test("tryLstat: lstat's answer, or null when nothing is there; other errors still reject", async () => {
  const b = SqliteBackend.memory();
  try {
    let deep = "";
    for (let i = 0; i < 65; i++) deep += `/d${i}`; // deeper than one joined statement walks
    await b.mkdir("/d");
    await b.writeFile("/d/f", bytes("f"));
    await b.symlink("/d", "/link");
    for (const path of ["/", "/d", "/d/f", "/link"]) {
      assert.deepEqual(await b.tryLstat(path), await b.lstat(path), path);
    }
    for (const path of ["/nope", "/d/nope", "/nope/f", "/d/nope/f", deep, `/d${deep}`]) {
      assert.equal(await b.tryLstat(path), null, path);
      await fails(b.lstat(path), "ENOENT", path);
    }
    for (const path of ["/d/f/x", "/link/f", "/d/f/x/y"]) {
      await fails(b.tryLstat(path), "ENOTDIR", path);
    }
    let present = "/d";
    for (let i = 0; i < 65; i++) await b.mkdir(present += `/e${i}`);
    assert.equal((await b.tryLstat(present))?.ino, (await b.lstat(present)).ino);
    assert.equal(await b.tryLstat(`${present}/missing`), null);
    assert.equal(await b.tryLstat(`${present}/missing/deeper`), null);
    await fails(b.tryLstat("relative"), "EINVAL");
    await fails(b.tryLstat("/d/a\0b"), "EINVAL");
    await fails(b.tryLstat("/a\0b/c"), "EINVAL");
    await fails(b.tryLstat(`/d/${"x".repeat(256)}`), "ENAMETOOLONG");
    await fails(b.tryLstat(`/${"x".repeat(256)}/c`), "ENAMETOOLONG");
    b.close();
    await fails(b.tryLstat("/d"), "EBADF");
  } finally {
    b.close();
  }
});

Deno.test("lstat, tryLstat, statIno and a handle's stat describe a node identically", async () => {
  const b = SqliteBackend.memory();
  try {
    let deep = "";
    for (let i = 0; i < 62; i++) await b.mkdir(deep += `/d${i}`); // past one joined statement
    await b.writeFile("/f", pattern(70_000));
    await b.writeFile(`${deep}/f`, bytes("deep"));
    await b.symlink("/f", "/s");
    await b.mknod("/c", S_IFCHR | 0o600, 0x0501);
    await b.chown("/f", 12, 34);
    await b.utime("/f", 1_000.5, 2_000.25);
    for (const path of ["/", "/f", "/s", "/c", "/d0", deep, `${deep}/f`]) {
      const meta = await b.lstat(path);
      assert.deepEqual(await b.tryLstat(path), meta, path);
      assert.deepEqual(await b.statIno(meta.ino), meta, path);
      if (meta.type === "file" || meta.type === "dir") {
        const handle = await b.open(path, { read: true });
        assert.deepEqual(await handle.stat(), meta, path);
        await handle.close();
      }
    }
    const f = await b.lstat("/f");
    assert.deepEqual([f.uid, f.gid, f.size, f.atimeMs, f.mtimeMs], [
      12,
      34,
      70_000,
      1_000.5,
      2_000.25,
    ]);
    assert.equal((await b.lstat("/c")).rdev, 0x0501);
  } finally {
    b.close();
  }
});

Deno.test("a handle reads any range: across chunks, over holes, short chunks and the end", async () => {
  await withDb(async (file) => {
    using b = SqliteBackend.open(file);
    const h = await b.open("/f", { read: true, write: true, create: true });
    // Chunk 0 full, chunks 1-2 a hole, chunk 3 stored short, size inside chunk 4.
    const expected = new Uint8Array(4 * CHUNK_SIZE + 100);
    const head = pattern(CHUNK_SIZE, 3);
    const middle = pattern(500, 4);
    await h.write(head, 0);
    await h.write(middle, 3 * CHUNK_SIZE + 10);
    await h.truncate(expected.length);
    expected.set(head, 0);
    expected.set(middle, 3 * CHUNK_SIZE + 10);
    const points = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, 2 * CHUNK_SIZE + 7, 3 * CHUNK_SIZE + 400];
    const lengths = [0, 1, 100, CHUNK_SIZE, 3 * CHUNK_SIZE, 8 * CHUNK_SIZE];
    for (const at of [...points, expected.length - 1, expected.length, expected.length + 5]) {
      for (const length of lengths) {
        assert.deepEqual(
          await h.read(at, length),
          expected.slice(at, Math.min(at + length, expected.length)),
          `read ${at}+${length}`,
        );
      }
    }
    await h.close();
    const dir = await b.open("/", { read: true });
    await fails(dir.read(0, 10), "EISDIR");
    await dir.close();
  });
});

/** Files whose inline content breaks the format's rules: chunks too, or longer than a chunk. */
function inlineViolations(file: string): number {
  return rawQuery<{ n: number }>(
    file,
    `SELECT count(*) AS n FROM inodes i WHERE i.data IS NOT NULL
       AND (length(i.data) > ${CHUNK_SIZE} OR EXISTS (SELECT 1 FROM chunks c WHERE c.ino = i.ino))`,
  )[0].n;
}

Deno.test("small files live inline in their inode row, and move to chunks and back as they grow and shrink", async () => {
  await withDb(async (file) => {
    using b = SqliteBackend.open(file);
    await b.writeFile("/a", bytes("0123456789"));
    const ino = (await b.lstat("/a")).ino;
    assert.equal(inlineText(file, ino), "0123456789");
    assert.equal(chunkCount(file, ino), 0);
    const model = new Uint8Array(3 * CHUNK_SIZE);
    model.set(bytes("0123456789"));
    const h = await b.open("/a", { read: true, write: true });
    // A write that ends exactly at the limit stays inline, leaving a hole of zeros.
    await h.write(bytes("xy"), INLINE_MAX - 2);
    model.set(bytes("xy"), INLINE_MAX - 2);
    assert.equal(chunkCount(file, ino), 0);
    assert.equal(inlineText(file, ino)?.length, INLINE_MAX);
    assert.deepEqual(await b.readFile("/a"), model.slice(0, INLINE_MAX));
    // One byte more moves the content to chunk 0, in the same write.
    await h.write(bytes("z"), INLINE_MAX);
    model.set(bytes("z"), INLINE_MAX);
    assert.equal(inlineText(file, ino), null);
    assert.equal(chunkCount(file, ino), 1);
    assert.deepEqual(await b.readFile("/a"), model.slice(0, INLINE_MAX + 1));
    // Shrinking to the limit or less makes it inline again.
    await b.truncate("/a", 5);
    model.fill(0, 5);
    assert.equal(inlineText(file, ino), "01234");
    assert.equal(chunkCount(file, ino), 0);
    // Growing an inline file stores nothing: the rest reads as zeros.
    await h.truncate(3 * CHUNK_SIZE);
    assert.equal(inlineText(file, ino), "01234");
    const meta = await h.stat();
    assert.deepEqual([meta.size, meta.blocks], [3 * CHUNK_SIZE, 3 * CHUNK_SIZE / 512]);
    assert.deepEqual(await b.readFile("/a"), model);
    assert.deepEqual(
      await h.read(2 * CHUNK_SIZE - 3, 10),
      model.slice(2 * CHUNK_SIZE - 3, 2 * CHUNK_SIZE + 7),
    );
    assert.deepEqual(await b.read("/a", 2, 10), model.slice(2, 12));
    // A write far past the inline bytes: chunk 0 keeps them, the middle stays a hole.
    await h.write(bytes("far"), 2 * CHUNK_SIZE + 1);
    model.set(bytes("far"), 2 * CHUNK_SIZE + 1);
    assert.equal(inlineText(file, ino), null);
    assert.equal(chunkCount(file, ino), 2);
    assert.deepEqual(await b.readFile("/a"), model);
    assert.deepEqual(await h.read(0, 3 * CHUNK_SIZE), model);
    await h.close();

    // Appending across the limit, by path and through an append handle.
    await b.writeFile("/log", pattern(INLINE_MAX - 1));
    await b.appendFile("/log", bytes("ab"));
    const log = new Uint8Array(INLINE_MAX + 1);
    log.set(pattern(INLINE_MAX - 1));
    log.set(bytes("ab"), INLINE_MAX - 1);
    assert.deepEqual(await b.readFile("/log"), log);
    const logIno = (await b.lstat("/log")).ino;
    assert.equal(chunkCount(file, logIno), 1);
    // Opening with truncate empties it inline.
    const t = await b.open("/log", { write: true, truncate: true });
    assert.equal(inlineText(file, logIno), "");
    assert.equal(chunkCount(file, logIno), 0);
    await t.close();
    const ap = await b.open("/log", { append: true });
    await ap.write(bytes("one,"), 0);
    await ap.write(pattern(INLINE_MAX), 0);
    await ap.close();
    const appended = new Uint8Array(4 + INLINE_MAX);
    appended.set(bytes("one,"));
    appended.set(pattern(INLINE_MAX), 4);
    assert.deepEqual(await b.readFile("/log"), appended);
    // A new, empty file made by open is inline from the start.
    const fresh = await b.open("/fresh", { write: true, create: true });
    assert.equal(inlineText(file, (await fresh.stat()).ino), "");
    await fresh.write(bytes("abc"), 2);
    await fresh.close();
    assert.deepEqual(await b.readFile("/fresh"), new Uint8Array([0, 0, 97, 98, 99]));
    assert.equal(inlineText(file, (await b.lstat("/fresh")).ino), "\0\0abc");
    // A write that moves inline bytes to chunks and spans chunks 0 and 1.
    const spanning = pattern(CHUNK_SIZE + 100, 8);
    await b.appendFile("/fresh", spanning);
    const both = new Uint8Array(5 + spanning.length);
    both.set(bytes("\0\0abc"));
    both.set(spanning, 5);
    assert.deepEqual(await b.readFile("/fresh"), both);
    assert.equal(chunkCount(file, (await b.lstat("/fresh")).ino), 2);
    assert.equal(inlineViolations(file), 0);
    assert.deepEqual(b.integrityCheck(), ["ok"]);
  });
});

Deno.test("an inline file keeps its content through rename, hard links, and unlink while open", async () => {
  await withDb(async (file) => {
    using b = SqliteBackend.open(file);
    await b.mkdir("/d");
    await b.writeFile("/d/f", bytes("inline bytes"));
    const ino = (await b.lstat("/d/f")).ino;
    await b.rename("/d/f", "/g");
    await b.link("/g", "/d/h");
    assert.equal(text(await b.readFile("/d/h")), "inline bytes");
    const h = await b.open("/g", { read: true, write: true });
    await b.unlink("/g");
    await b.unlink("/d/h");
    // Unlinked but open: still readable and writable, across the limit too.
    assert.equal(text(await h.read(0, 100)), "inline bytes");
    await h.write(pattern(INLINE_MAX), 6);
    const expected = new Uint8Array(6 + INLINE_MAX);
    expected.set(bytes("inline"));
    expected.set(pattern(INLINE_MAX), 6);
    assert.deepEqual(await h.read(0, 2 * INLINE_MAX), expected);
    assert.equal(chunkCount(file, ino), 1);
    await h.close();
    // The last handle gone, so is everything of the inode.
    assert.equal(rawQuery(file, "SELECT 1 FROM inodes WHERE ino = ?", ino).length, 0);
    assert.equal(chunkCount(file, ino), 0);
    assert.deepEqual(b.integrityCheck(), ["ok"]);
  });
});

Deno.test("random writes, appends and truncations around the inline limit read back like a plain byte array", async () => {
  await withDb(async (file) => {
    using b = SqliteBackend.open(file);
    let seed = 12345;
    const random = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const models = new Map<string, Uint8Array>();
    const names = ["/a", "/b", "/c"];
    for (const name of names) {
      await b.writeFile(name, new Uint8Array(0));
      models.set(name, new Uint8Array(0));
    }
    // Sizes cluster around the limit, with now and then a far one.
    const around = () =>
      random(10) === 0 ? random(2 * CHUNK_SIZE) : Math.max(0, INLINE_MAX - 300 + random(600));
    for (let step = 0; step < 400; step++) {
      const name = names[random(names.length)];
      let model = models.get(name)!;
      const kind = random(6);
      if (kind <= 1) {
        const at = around();
        const data = pattern(1 + random(kind === 0 ? 50 : 700), step);
        const h = await b.open(name, { write: true });
        await h.write(data, at);
        await h.close();
        const next = new Uint8Array(Math.max(model.length, at + data.length));
        next.set(model);
        next.set(data, at);
        model = next;
      } else if (kind === 2) {
        const data = pattern(random(400), step);
        await b.appendFile(name, data);
        const next = new Uint8Array(model.length + data.length);
        next.set(model);
        next.set(data, model.length);
        model = next;
      } else if (kind === 3) {
        const length = around();
        await b.truncate(name, length);
        const next = new Uint8Array(length);
        next.set(model.subarray(0, Math.min(length, model.length)));
        model = next;
      } else if (kind === 4) {
        model = pattern(around(), step);
        await b.writeFile(name, model);
      } else {
        const other = names[random(names.length)];
        if (other !== name) {
          await b.copyFile(other, name);
          model = models.get(other)!.slice();
        }
      }
      models.set(name, model);
      assert.deepEqual(await b.readFile(name), model, `step ${step} (${kind}) on ${name}`);
      const at = random(model.length + 10);
      assert.deepEqual(await b.read(name, at, 300), model.slice(at, at + 300), `step ${step} read`);
    }
    assert.equal(inlineViolations(file), 0);
    assert.deepEqual(b.integrityCheck(), ["ok"]);
  });
});

Deno.test("an older database is upgraded only while no other process has it open", async () => {
  await withDb(async (file) => {
    oldDatabase(file, 2);
    // Another user of the database, as an older AnyFS would be: it has read
    // it and keeps it open.
    const other = new DatabaseSync(file);
    try {
      other.prepare("SELECT count(*) AS n FROM inodes").get();
      const e = failsSync(() => SqliteBackend.open(file, { busyTimeoutMs: 50 }), "EBUSY");
      assert.match(e.message, /format version 2/);
      const [row] = rawQuery<Record<string, number>>(file, "PRAGMA user_version");
      assert.equal(Object.values(row)[0], 2, "nothing changed");
    } finally {
      other.close();
    }
    using b = SqliteBackend.open(file);
    assert.equal(text(await b.readFile("/d/small")), "hello");
    const [row] = rawQuery<Record<string, number>>(file, "PRAGMA user_version");
    assert.equal(Object.values(row)[0], SCHEMA_VERSION);
  });
});
