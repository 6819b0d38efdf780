/**
 * SqliteBackend remembers the inode number of directories it created files
 * in, and the next inode number, so that a create skips the path walk.
 * These tests pin every way those caches could go stale — a directory
 * renamed, removed or replaced, by this backend or by another connection or
 * process between two creates — and check that a create whose name exists
 * behaves exactly as without the cache.
 */

import assert from "node:assert/strict";
import { SqliteBackend } from "../../src/backends/sqlite.ts";
import { isFsError } from "../../src/core/errors.ts";

import { bytes, fails, text } from "./_fs_assert.ts";

/** The code `p` rejects with, or "ok". */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    assert.ok(isFsError(e), `expected an FsError, got ${e}`);
    return e.code;
  }
}

/** A temporary directory with a database path in it, removed afterwards. */
async function withDb(body: (file: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "anyfs_sqlite_cache_" });
  try {
    await body(`${dir}/fs.anyfs`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Run `body` on an in-memory backend and on a file backend. */
async function onEachKind(body: (b: SqliteBackend) => Promise<void>): Promise<void> {
  {
    using b = SqliteBackend.memory();
    await body(b);
  }
  await withDb(async (file) => {
    using b = SqliteBackend.open(file);
    await body(b);
  });
}

/** The ways of creating a name that can take the cached fast path. */
const CREATORS: Record<string, (b: SqliteBackend, path: string) => Promise<void>> = {
  writeFile: (b, path) => b.writeFile(path, bytes("new")),
  "open(create)": async (b, path) => {
    await (await b.open(path, { write: true, create: true })).close();
  },
  mkdir: (b, path) => b.mkdir(path),
};

/** Names in the directory at `path`. */
async function names(b: SqliteBackend, path: string): Promise<string[]> {
  return (await b.readDir(path)).map((e) => e.name);
}

Deno.test("a directory this backend renames: later creates land in what is now at the path", async () => {
  for (const [how, create] of Object.entries(CREATORS)) {
    await onEachKind(async (b) => {
      await b.mkdir("/a");
      await b.mkdir("/other");
      await b.writeFile("/a/warm", bytes("w")); // the backend now knows /a
      await b.rename("/a", "/b");
      await fails(create(b, "/a/x"), "ENOENT", how);
      await b.rename("/other", "/a");
      await create(b, "/a/x");
      assert.deepEqual(await names(b, "/a"), ["x"], how);
      assert.deepEqual(await names(b, "/b"), ["warm"], how);
    });
  }
});

Deno.test("a directory this backend renames over another: creates land in the moved one", async () => {
  for (const [how, create] of Object.entries(CREATORS)) {
    await onEachKind(async (b) => {
      await b.mkdir("/a");
      await b.writeFile("/a/warm", bytes("w"));
      await b.unlink("/a/warm"); // /a is known and empty
      await b.mkdir("/c");
      const moved = (await b.lstat("/c")).ino;
      await b.rename("/c", "/a");
      await create(b, "/a/x");
      assert.equal((await b.lstat("/a")).ino, moved, how);
      assert.deepEqual(await names(b, "/a"), ["x"], how);
    });
  }
});

Deno.test("an ancestor this backend renames: the old path is gone for creates", async () => {
  for (const [how, create] of Object.entries(CREATORS)) {
    await onEachKind(async (b) => {
      await b.mkdir("/p");
      await b.mkdir("/p/q");
      await b.writeFile("/p/q/warm", bytes("w"));
      await b.rename("/p", "/r");
      await fails(create(b, "/p/q/x"), "ENOENT", how);
      assert.deepEqual(await names(b, "/r/q"), ["warm"], how);
    });
  }
});

Deno.test("a directory this backend removes: creates in it are ENOENT, and land in a new one", async () => {
  for (const [how, create] of Object.entries(CREATORS)) {
    await onEachKind(async (b) => {
      await b.mkdir("/a");
      await b.writeFile("/a/warm", bytes("w"));
      await b.unlink("/a/warm");
      await b.rmdir("/a");
      await fails(create(b, "/a/x"), "ENOENT", how);
      assert.deepEqual(await names(b, "/"), [], how);
      await b.mkdir("/a");
      await create(b, "/a/x");
      assert.deepEqual(await names(b, "/a"), ["x"], how);
      assert.deepEqual(b.integrityCheck(), ["ok"]);
    });
  }
});

Deno.test("a directory this backend replaces with a file: creates under it are ENOTDIR", async () => {
  for (const [how, create] of Object.entries(CREATORS)) {
    await onEachKind(async (b) => {
      await b.mkdir("/a");
      await b.writeFile("/a/warm", bytes("w"));
      await b.unlink("/a/warm");
      await b.rmdir("/a");
      await b.writeFile("/a", bytes("a file now"));
      await fails(create(b, "/a/x"), "ENOTDIR", how);
      assert.equal(text(await b.readFile("/a")), "a file now");
    });
  }
});

Deno.test("a directory made by mkdir is known at once, and still exact after it moves", async () => {
  await onEachKind(async (b) => {
    await b.mkdir("/top");
    await b.writeFile("/top/warm", bytes("w"));
    await b.mkdir("/top/sub"); // known from here on
    await b.writeFile("/top/sub/f", bytes("1"));
    await b.rename("/top/sub", "/moved");
    await fails(b.writeFile("/top/sub/g", bytes("2")), "ENOENT");
    await b.writeFile("/moved/g", bytes("2"));
    assert.deepEqual(await names(b, "/moved"), ["f", "g"]);
    assert.deepEqual(await names(b, "/top"), ["warm"]);
  });
});

Deno.test("a name that exists behaves as without the cache: replaced, EEXIST, or left alone", async () => {
  await onEachKind(async (b) => {
    await b.mkdir("/d");
    await b.writeFile("/d/warm", bytes("w"));
    await b.writeFile("/d/f", bytes("first"));
    const ino = (await b.lstat("/d/f")).ino;
    await b.writeFile("/d/f", bytes("second"));
    assert.equal(text(await b.readFile("/d/f")), "second");
    assert.equal((await b.lstat("/d/f")).ino, ino, "replaced in place, not a new inode");
    await fails(b.writeFile("/d/f", bytes("third"), { createNew: true }), "EEXIST");
    assert.equal(text(await b.readFile("/d/f")), "second");
    const h = await b.open("/d/f", { write: true, create: true });
    await h.close();
    assert.equal(text(await b.readFile("/d/f")), "second", "open(create) keeps the content");
    await fails(b.open("/d/f", { write: true, createNew: true }), "EEXIST");
    await fails(b.mkdir("/d/f"), "EEXIST");
    await b.mkdir("/d/sub");
    await fails(b.writeFile("/d/sub", bytes("x")), "EISDIR");
    await fails(b.open("/d/sub", { write: true, create: true }), "EISDIR");
    await fails(b.mkdir("/d/sub"), "EEXIST");
    await fails(b.writeFile("/d/none", bytes("x"), { create: false }), "ENOENT");
    assert.deepEqual(await names(b, "/d"), ["f", "sub", "warm"]);
    assert.equal((await b.lstat("/d")).size, 5 * 20, "the directory counts each entry once");
  });
});

Deno.test("odd names in a known directory fail exactly as in an unknown one", async () => {
  const paths = ["/d/.", "/d/..", "/d/", "/d//x", "/d/a\0b", `/d/${"n".repeat(256)}`, "/d/./x"];
  const cold = SqliteBackend.memory();
  const warm = SqliteBackend.memory();
  try {
    for (const b of [cold, warm]) await b.mkdir("/d");
    await warm.writeFile("/d/warm", bytes("w"));
    for (const path of paths) {
      for (const [how, create] of Object.entries(CREATORS)) {
        assert.equal(
          await outcome(create(warm, path)),
          await outcome(create(cold, path)),
          `${how} ${JSON.stringify(path)}`,
        );
      }
    }
    assert.deepEqual(await names(warm, "/d"), ["warm"]);
  } finally {
    cold.close();
    warm.close();
  }
});

Deno.test("a create that fails after claiming its name leaves nothing behind", async () => {
  await onEachKind(async (b) => {
    await b.mkdir("/d");
    await b.writeFile("/d/warm", bytes("w"));
    await fails(b.writeFile("/d/bad", bytes("x"), { uid: -5 }), "EINVAL");
    await fails(b.mkdir("/d/bad", { gid: 1.5 }), "EINVAL");
    await fails(b.lstat("/d/bad"), "ENOENT");
    await b.writeFile("/d/good", bytes("ok"));
    assert.deepEqual(await names(b, "/d"), ["good", "warm"]);
    assert.equal((await b.lstat("/d")).size, 4 * 20);
    assert.deepEqual(b.integrityCheck(), ["ok"]);
  });
});

/** Two backends on one file: separate connections, as two processes would have. */
async function withTwo(body: (a: SqliteBackend, b: SqliteBackend) => Promise<void>) {
  await withDb(async (file) => {
    using a = SqliteBackend.open(file);
    using b = SqliteBackend.open(file);
    await body(a, b);
    assert.deepEqual(a.integrityCheck(), ["ok"]);
  });
}

Deno.test("another connection renames a known directory and makes a new one: creates land in the new one", async () => {
  for (const [how, create] of Object.entries(CREATORS)) {
    await withTwo(async (a, b) => {
      await a.mkdir("/d");
      await a.writeFile("/d/warm", bytes("w"));
      await b.rename("/d", "/e");
      await b.mkdir("/d");
      await create(a, "/d/x");
      assert.deepEqual(await names(b, "/d"), ["x"], how);
      assert.deepEqual(await names(b, "/e"), ["warm"], how);
    });
  }
});

Deno.test("another connection removes a known directory: creates in it are ENOENT", async () => {
  for (const [how, create] of Object.entries(CREATORS)) {
    await withTwo(async (a, b) => {
      await a.mkdir("/d");
      await a.writeFile("/d/warm", bytes("w"));
      await b.unlink("/d/warm");
      await b.rmdir("/d");
      await fails(create(a, "/d/x"), "ENOENT", how);
      assert.deepEqual(await names(b, "/"), [], how);
    });
  }
});

Deno.test("another connection replaces a known directory with a file: creates under it are ENOTDIR", async () => {
  for (const [how, create] of Object.entries(CREATORS)) {
    await withTwo(async (a, b) => {
      await a.mkdir("/d");
      await a.writeFile("/d/warm", bytes("w"));
      await b.unlink("/d/warm");
      await b.rmdir("/d");
      await b.writeFile("/d", bytes("file"));
      await fails(create(a, "/d/x"), "ENOTDIR", how);
      assert.equal(text(await a.readFile("/d")), "file");
    });
  }
});

Deno.test("another connection's creates and deletes: inode numbers are still never reused", async () => {
  await withTwo(async (a, b) => {
    await a.mkdir("/d");
    await a.writeFile("/d/x", bytes("x"));
    // b takes the next number and frees it again (the largest ever: a floor).
    await b.writeFile("/d/gone", bytes("g"));
    const gone = (await b.lstat("/d/gone")).ino;
    await b.unlink("/d/gone");
    await a.writeFile("/d/y", bytes("y"));
    assert.ok((await a.lstat("/d/y")).ino > gone, "a reused a number b had handed out");
    // b takes a number and keeps it: a must not collide with it.
    await b.writeFile("/d/kept", bytes("k"));
    const kept = (await b.lstat("/d/kept")).ino;
    await a.mkdir("/d/z");
    assert.ok((await a.lstat("/d/z")).ino > kept);
    assert.deepEqual(await names(b, "/d"), ["kept", "x", "y", "z"]);
  });
});

Deno.test("another process renames, removes and creates between two creates of this one", async () => {
  await withDb(async (file) => {
    using a = SqliteBackend.open(file);
    await a.mkdir("/d");
    await a.mkdir("/gone");
    await a.writeFile("/d/warm", bytes("w"));
    await a.writeFile("/gone/warm", bytes("w"));
    const script = `
      import { SqliteBackend } from ${
      JSON.stringify(new URL("../../src/backends/sqlite.ts", import.meta.url).href)
    };
      using b = SqliteBackend.open(${JSON.stringify(file)});
      await b.rename("/d", "/e");
      await b.mkdir("/d");
      await b.unlink("/gone/warm");
      await b.rmdir("/gone");
      await b.writeFile("/taken", new Uint8Array(1));
      await b.writeFile("/freed", new Uint8Array(1));
      console.log((await b.lstat("/freed")).ino);
      await b.unlink("/freed");
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
    const { code, stdout } = await child.output();
    assert.equal(code, 0);
    const freed = Number(text(stdout).trim());
    assert.ok(freed > 1, `child said: ${text(stdout)}`);
    await a.writeFile("/d/x", bytes("x"));
    assert.deepEqual(await names(a, "/d"), ["x"]);
    assert.deepEqual(await names(a, "/e"), ["warm"]);
    await fails(a.writeFile("/gone/x", bytes("x")), "ENOENT");
    assert.ok((await a.lstat("/d/x")).ino > freed);
    assert.deepEqual(a.integrityCheck(), ["ok"]);
  });
});
