import { deepStrictEqual, equal, ok, rejects } from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { FsError } from "../../src/core/errors.ts";
import { FileStorage } from "../../src/storage/file_storage.ts";
import { coreOnly, Counting, rejectsWith } from "./_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function storage(options?: ConstructorParameters<typeof FileStorage>[1]) {
  return new FileStorage(new MemoryBackend(), options);
}

async function names(fs: FileStorage, dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of fs.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("errors read like Deno's and belong to both families", async () => {
  const fs = storage();
  const e = await rejectsWith(fs.stat("/a"), "ENOENT");
  equal(e.message, "No such file or directory (os error 2): stat '/a'");
  ok(e instanceof Deno.errors.NotFound);
  ok(e instanceof FsError);
  equal(e.operation, "stat");
  equal(e.path, "/a");
  const r = await rejectsWith(fs.rename("/x", "/y"), "ENOENT");
  equal(r.message, "No such file or directory (os error 2): rename '/x' -> '/y'");
  equal(r.dest, "/y");
});

Deno.test("each method reports Deno's operation name and the caller's path as given", async () => {
  const fs = storage({ cwd: "/" });
  const cases: [string, () => Promise<unknown>][] = [
    ["readfile", () => fs.readFile("m")],
    ["readfile", () => fs.readTextFile("m")],
    ["writefile", () => fs.writeFile("d/m", enc.encode("x"))],
    ["writefile", () => fs.writeTextFile("d/m", "x")],
    ["stat", () => fs.stat("m")],
    ["lstat", () => fs.lstat("m")],
    ["readdir", () => Array.fromAsync(fs.readDir("m"))],
    ["mkdir", () => fs.mkdir("d/m")],
    ["mkdir", () => fs.mkdir("d/m/.")],
    ["remove", () => fs.remove("m")],
    ["rename", () => fs.rename("m", "n")],
    ["copy", () => fs.copyFile("m", "n")],
    ["symlink", () => fs.symlink("t", "d/m")],
    ["link", () => fs.link("m", "n")],
    ["readlink", () => fs.readLink("m")],
    ["realpath", () => fs.realPath("m")],
    ["chmod", () => fs.chmod("m", 0o600)],
    ["chown", () => fs.chown("m", 1, 1)],
    ["utime", () => fs.utime("m", 1, 1)],
    ["truncate", () => fs.truncate("m", 1)],
    ["open", () => fs.open("m")],
  ];
  for (const [operation, call] of cases) {
    const e = await rejectsWith(call, "ENOENT");
    equal(e.operation, operation, e.message);
    ok(e.path === "m" || e.path === "d/m" || e.path === "d/m/." || e.path === "t", e.message);
  }
});

Deno.test("relative paths resolve against cwd; chdir moves it", async () => {
  const fs = storage({ cwd: "/home/user" });
  equal(fs.cwd(), "/home/user");
  await fs.mkdir("/home/user", { recursive: true });
  await fs.writeTextFile("notes.txt", "n");
  equal(await fs.readTextFile("/home/user/notes.txt"), "n");
  equal(await fs.readTextFile("./notes.txt"), "n");
  equal(await fs.readTextFile("../user/notes.txt"), "n");
  await fs.chdir("..");
  equal(fs.cwd(), "/home");
  equal(await fs.readTextFile("user/notes.txt"), "n");
  await rejectsWith(fs.chdir("user/notes.txt"), "ENOTDIR");
  await rejectsWith(fs.chdir("nope"), "ENOENT");
  await fs.symlink("/home/user", "/u");
  await fs.chdir("/u");
  equal(fs.cwd(), "/home/user");
  equal(fs.normalize("a/../b/./c"), "/home/user/b/c");
});

Deno.test("constructor validates its options", () => {
  for (const options of [{ umask: -1 }, { umask: 0o1000 }, { umask: 1.5 }, { cwd: "rel" }]) {
    try {
      new FileStorage(new MemoryBackend(), options);
      ok(false, `accepted ${JSON.stringify(options)}`);
    } catch (e) {
      equal((e as FsError).code, "EINVAL");
    }
  }
});

Deno.test("file: URLs are accepted; other URLs are EINVAL", async () => {
  const fs = storage();
  await fs.writeTextFile(new URL("file:///a%20b.txt"), "url");
  equal(await fs.readTextFile("/a b.txt"), "url");
  ok((await fs.stat(new URL("file:///a%20b.txt"))).isFile);
  const e = await rejectsWith(fs.stat(new URL("https://example.com/a")), "EINVAL");
  ok(e instanceof TypeError);
});

Deno.test("bad paths: NUL is EINVAL, over-long is ENAMETOOLONG, empty is ENOENT", async () => {
  const fs = storage();
  await rejectsWith(fs.writeTextFile("/a\0b", "x"), "EINVAL");
  await rejectsWith(fs.stat("/" + "n".repeat(256)), "ENAMETOOLONG");
  await rejectsWith(fs.mkdir("/" + "é".repeat(128)), "ENAMETOOLONG");
  await rejectsWith(fs.stat(("/" + "d".repeat(200)).repeat(21)), "ENAMETOOLONG");
  await rejectsWith(fs.readFile(""), "ENOENT");
  await rejectsWith(fs.symlink("a\0b", "/l"), "EINVAL");
  // 255 bytes is fine.
  await fs.writeTextFile("/" + "n".repeat(255), "ok");
});

Deno.test("umask masks creation modes, not chmod or writeFile's explicit mode", async () => {
  const fs = storage({ umask: 0o027 });
  await fs.writeTextFile("/f", "x");
  equal((await fs.stat("/f")).mode! & 0o7777, 0o640);
  await fs.mkdir("/d");
  equal((await fs.stat("/d")).mode! & 0o7777, 0o750);
  await fs.mkdir("/e", { mode: 0o777 });
  equal((await fs.stat("/e")).mode! & 0o7777, 0o750);
  const file = await fs.open("/o", { write: true, create: true, mode: 0o666 });
  await file.close();
  equal((await fs.stat("/o")).mode! & 0o7777, 0o640);
  await fs.chmod("/f", 0o777);
  equal((await fs.stat("/f")).mode! & 0o7777, 0o777);
  await fs.writeTextFile("/w", "x", { mode: 0o666 });
  equal((await fs.stat("/w")).mode! & 0o7777, 0o666);
  equal(fs.umask(0), 0o027);
  await fs.writeTextFile("/g", "x");
  equal((await fs.stat("/g")).mode! & 0o7777, 0o666);
  await rejectsWith(() => Promise.resolve(fs.umask(0o1000)), "EINVAL");
});

Deno.test("stat and lstat return Deno.FileInfo", async () => {
  const backend = new MemoryBackend();
  const fs = new FileStorage(backend);
  await fs.writeTextFile("/f", "hello");
  await fs.symlink("f", "/l");
  const info = await fs.stat("/l");
  equal(info.isFile, true);
  equal(info.size, 5);
  equal(info.nlink, 1);
  ok(info.mtime instanceof Date && info.atime instanceof Date && info.ctime instanceof Date);
  equal(info.mode, 0o100644);
  equal(info.blksize, 4096);
  equal(info.isFifo, false);
  const meta = await backend.lstat("/f");
  equal(info.ino, meta.ino);
  equal(info.mtime!.getTime(), Math.trunc(meta.mtimeMs));
  const link = await fs.lstat("/l");
  equal(link.isSymlink, true);
  equal(link.size, 1);
  equal(info.dev, link.dev);
  ok(info.dev !== (await storage().stat("/")).dev, "different backends, different dev");
});

Deno.test("readFile and writeFile honour an abort signal", async () => {
  const fs = storage();
  const aborted = AbortSignal.abort(new Error("stop"));
  await rejects(fs.writeFile("/f", enc.encode("x"), { signal: aborted }), /stop/);
  equal(await fs.exists("/f"), false);
  await fs.writeTextFile("/f", "x");
  await rejects(fs.readFile("/f", { signal: aborted }), /stop/);
  // Aborting while a stream is being written stops the write.
  const controller = new AbortController();
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      c.enqueue(enc.encode("chunk"));
      controller.abort(new Error("midway"));
    },
  });
  await rejects(fs.writeFile("/s", stream, { signal: controller.signal }), /midway/);
});

Deno.test("writeFile from streams of bytes and of text", async () => {
  const fs = storage();
  await fs.writeFile("/b", ReadableStream.from([enc.encode("ab"), enc.encode("cd")]));
  equal(await fs.readTextFile("/b"), "abcd");
  await fs.writeFile("/b", ReadableStream.from([enc.encode("ef")]), { append: true });
  equal(await fs.readTextFile("/b"), "abcdef");
  await fs.writeTextFile("/t", ReadableStream.from(["hé", "llo"]));
  equal(await fs.readTextFile("/t"), "héllo");
  await rejectsWith(
    fs.writeFile("/b", ReadableStream.from([enc.encode("x")]), { createNew: true }),
    "EEXIST",
  );
  // deno-lint-ignore no-explicit-any
  await rejectsWith(fs.writeFile("/x", "not bytes" as any), "EINVAL");
  // deno-lint-ignore no-explicit-any
  await rejectsWith(fs.writeFile("/y", ReadableStream.from(["text"]) as any), "EINVAL");
});

Deno.test("writeFile options: create, createNew, append", async () => {
  const fs = storage();
  await rejectsWith(fs.writeTextFile("/n", "x", { create: false }), "ENOENT");
  await fs.writeTextFile("/n", "1", { createNew: true });
  await rejectsWith(fs.writeTextFile("/n", "2", { createNew: true }), "EEXIST");
  await fs.writeTextFile("/n", "2", { append: true, create: false });
  equal(await fs.readTextFile("/n"), "12");
  await fs.writeTextFile("/n", "3", { create: false });
  equal(await fs.readTextFile("/n"), "3");
});

Deno.test("readDir is lazy and can be left early", async () => {
  const fs = storage();
  const listing = fs.readDir("/missing"); // no error yet
  await rejectsWith(Array.fromAsync(listing), "ENOENT");
  for (let i = 0; i < 5; i++) await fs.writeTextFile(`/f${i}`, "");
  await fs.mkdir("/d");
  await fs.symlink("d", "/l");
  let seen = 0;
  for await (const _ of fs.readDir("/")) {
    if (++seen === 2) break;
  }
  equal(seen, 2);
  const entries = await Array.fromAsync(fs.readDir("/"));
  deepStrictEqual(
    entries.filter((e) => e.name === "d" || e.name === "l"),
    [
      { name: "d", isFile: false, isDirectory: true, isSymlink: false },
      { name: "l", isFile: false, isDirectory: false, isSymlink: true },
    ],
  );
  deepStrictEqual(await names(fs, "/l"), []);
});

Deno.test("exists follows links and checks types like @std/fs", async () => {
  const fs = storage();
  await fs.writeTextFile("/f", "");
  await fs.mkdir("/d");
  await fs.symlink("nowhere", "/dangling");
  await fs.symlink("d", "/dl");
  equal(await fs.exists("/f"), true);
  equal(await fs.exists("/nope"), false);
  equal(await fs.exists("/dangling"), false);
  equal(await fs.exists("/f", { isFile: true }), true);
  equal(await fs.exists("/f", { isDirectory: true }), false);
  equal(await fs.exists("/dl", { isDirectory: true }), true);
  await rejectsWith(fs.exists("/f/x"), "ENOTDIR");
  await rejectsWith(fs.exists("/f", { isFile: true, isDirectory: true }), "EINVAL");
});

Deno.test("mkdir recursive creates every level with the mode", async () => {
  const fs = storage();
  await fs.mkdir("/a/b/c/d", { recursive: true, mode: 0o700 });
  for (const p of ["/a", "/a/b", "/a/b/c", "/a/b/c/d"]) {
    equal((await fs.stat(p)).mode! & 0o777, 0o700, p);
  }
  await fs.mkdir("/a/b/c/d", { recursive: true }); // already there: fine
  await fs.mkdir("/a/b/../x/./y/", { recursive: true });
  deepStrictEqual(await names(fs, "/a"), ["b", "x"]);
});

Deno.test("remove: recursive trees, the root is EBUSY", async () => {
  const fs = storage();
  await fs.mkdir("/t/a/b", { recursive: true });
  await fs.writeTextFile("/t/a/b/f", "x");
  await fs.writeTextFile("/outside", "keep");
  await fs.symlink("/outside", "/t/a/link");
  await rejectsWith(fs.remove("/t"), "ENOTEMPTY");
  await fs.remove("/t", { recursive: true });
  equal(await fs.exists("/t"), false);
  equal(await fs.readTextFile("/outside"), "keep");
  await rejectsWith(fs.remove("/"), "EBUSY");
  await rejectsWith(fs.remove("/", { recursive: true }), "EBUSY");
  equal(await fs.readTextFile("/outside"), "keep");
  await rejectsWith(fs.rename("/", "/x"), "EBUSY");
  await rejectsWith(fs.rename("/outside", "/"), "EBUSY");
});

Deno.test("create() opens for read and write, truncating", async () => {
  const fs = storage();
  await fs.writeTextFile("/f", "old content");
  const f = await fs.create("/f");
  await f.write(enc.encode("new"));
  await f.seek(0, Deno.SeekMode.Start);
  const buf = new Uint8Array(10);
  const n = await f.read(buf);
  await f.close();
  equal(dec.decode(buf.subarray(0, n!)), "new");
});

Deno.test("open validates options like Deno.open", async () => {
  const fs = storage();
  await fs.writeTextFile("/f", "x");
  const cases: [Deno.OpenOptions, RegExp][] = [
    [{}, /at least one option/],
    [{ read: false }, /at least one option/],
    [{ read: true, truncate: true }, /'truncate' option requires 'write'/],
    [{ read: true, create: true }, /'create' or 'createNew' options require 'write' or 'append'/],
    [{ createNew: true }, /'create' or 'createNew'/],
  ];
  for (const [options, message] of cases) {
    const e = await rejectsWith(fs.open("/f", options), "EINVAL");
    ok(message.test(e.message), e.message);
  }
  await rejectsWith(fs.open("/f", { write: true, mode: -1, create: true }), "EINVAL");
});

Deno.test("argument validation: chmod, chown, utime, truncate lengths", async () => {
  const fs = storage();
  await fs.writeTextFile("/f", "hello");
  await rejectsWith(fs.chmod("/f", NaN), "EINVAL");
  await rejectsWith(fs.chmod("/f", -1), "EINVAL");
  await rejectsWith(fs.chown("/f", -1, null), "EINVAL");
  await rejectsWith(fs.chown("/f", 1.5, null), "EINVAL");
  await rejectsWith(fs.utime("/f", NaN, 1), "EINVAL");
  await rejectsWith(fs.utime("/f", new Date(NaN), 1), "EINVAL");
  await fs.chown("/f", null, 7);
  equal((await fs.stat("/f")).gid, 7);
  await fs.truncate("/f", 2.9);
  equal((await fs.stat("/f")).size, 2);
  await fs.utime("/f", 1700000000.25, new Date(5000));
  const s = await fs.stat("/f");
  equal(s.atime!.getTime(), 1700000000250);
  equal(s.mtime!.getTime(), 5000);
});

Deno.test("a core-only backend: derived operations work, links and metadata changes are EPERM", async () => {
  const mem = new MemoryBackend();
  const fs = new FileStorage(coreOnly(mem));
  await fs.mkdir("/d/e", { recursive: true });
  await fs.writeTextFile("/d/f", "abc");
  await fs.writeTextFile("/d/f", "def", { append: true });
  equal(await fs.readTextFile("/d/f"), "abcdef");
  await fs.truncate("/d/f", 2);
  equal(await fs.readTextFile("/d/f"), "ab");
  await fs.copyFile("/d/f", "/d/g");
  equal(await fs.readTextFile("/d/g"), "ab");
  await fs.rename("/d/g", "/d/e/h");
  equal(await fs.realPath("/d/e/../e/h"), "/d/e/h");
  const file = await fs.open("/d/e/h", { read: true, write: true });
  await file.seek(0, Deno.SeekMode.End);
  await file.write(enc.encode("!"));
  await file.close();
  equal(await fs.readTextFile("/d/e/h"), "ab!");
  const e = await rejectsWith(fs.symlink("/d/f", "/l"), "EPERM");
  ok(e instanceof Deno.errors.PermissionDenied);
  ok(/does not support symlinks/.test(e.message));
  await rejectsWith(fs.link("/d/f", "/h"), "EPERM");
  await rejectsWith(fs.chmod("/d/f", 0o600), "EPERM");
  await rejectsWith(fs.chown("/d/f", 1, 1), "EPERM");
  await rejectsWith(fs.utime("/d/f", 1, 1), "EPERM");
  // The path is checked first: a missing file is still ENOENT.
  await rejectsWith(fs.chmod("/nope", 0o600), "ENOENT");
  await rejectsWith(fs.readLink("/d/f"), "EINVAL");
  await fs.remove("/d", { recursive: true });
  deepStrictEqual(await names(fs, "/"), []);
});

Deno.test("one resolution per call: backend calls on the hot paths", async () => {
  const counting = new Counting(new MemoryBackend());
  const fs = new FileStorage(counting);
  await fs.mkdir("/a/b/c", { recursive: true });
  const data = enc.encode("data");
  const expect = async (call: () => Promise<unknown>, calls: Record<string, number>) => {
    counting.reset();
    await call();
    deepStrictEqual(Object.fromEntries(counting.calls), calls);
  };
  await expect(() => fs.writeFile("/a/b/c/f", data), { writeFile: 1 });
  await expect(() => fs.writeFile("/a/b/c/f", data), { writeFile: 1 });
  await expect(() => fs.readFile("/a/b/c/f"), { readFile: 1 });
  await expect(() => fs.stat("/a/b/c/f"), { lstat: 1 });
  await expect(() => fs.lstat("/a/b/c/f"), { lstat: 1 });
  await expect(() => Array.fromAsync(fs.readDir("/a/b/c")), { lstat: 1, readDir: 1 });
  await expect(() => fs.rename("/a/b/c/f", "/a/b/c/g"), { rename: 1 });
  await expect(() => fs.mkdir("/a/b/c/d"), { mkdir: 1 });
  await expect(() => fs.remove("/a/b/c/g"), { unlink: 1 });
  await expect(() => fs.mkdir("/a/b/x/y", { recursive: true }), { lstat: 3, mkdir: 2 });
  await expect(() => fs.exists("/a/b/c/d"), { lstat: 1 });
});

Deno.test("operations through links resolve the link once and then go direct", async () => {
  const counting = new Counting(new MemoryBackend());
  const fs = new FileStorage(counting);
  await fs.mkdir("/real");
  await fs.symlink("/real", "/link");
  await fs.writeTextFile("/link/f", "via link");
  equal(await fs.readTextFile("/real/f"), "via link");
  counting.reset();
  equal(await fs.readTextFile("/link/f"), "via link");
  equal(counting.count("readLink"), 1);
  equal(counting.count("readFile"), 2); // the optimistic try, then the resolved path
});

Deno.test("concurrent writers on different files", async () => {
  const fs = storage();
  await fs.mkdir("/c");
  await Promise.all(
    Array.from({ length: 50 }, (_, i) => fs.writeTextFile(`/c/f${i}`, `content ${i}`)),
  );
  const all = await Promise.all(
    Array.from({ length: 50 }, (_, i) => fs.readTextFile(`/c/f${i}`)),
  );
  deepStrictEqual(all, Array.from({ length: 50 }, (_, i) => `content ${i}`));
});

Deno.test("canonicalization methods on the storage", async () => {
  const fs = storage({ cwd: "/work" });
  await fs.mkdir("/work/real/sub", { recursive: true });
  await fs.symlink("real/sub", "/work/s");
  equal(await fs.canonicalize("s/.."), "/work/real");
  equal(await fs.realPath("s"), "/work/real/sub");
  equal(await fs.softCanonicalize("s/new/file"), "/work/real/sub/new/file");
  await rejectsWith(fs.canonicalize("s/new"), "ENOENT");
  equal(await fs.anchoredCanonicalize("../../../etc", "/work"), "/work/etc");
  equal(await fs.anchoredCanonicalize("/s/../x", "/work"), "/work/real/x");
  equal(fs.normalize("/a/../../b//c/"), "/b/c");
});

Deno.test("an unlinked file stays readable through an open handle", async () => {
  const fs = storage();
  await fs.writeTextFile("/f", "still here");
  const f = await fs.open("/f");
  await fs.remove("/f");
  equal(await fs.exists("/f"), false);
  const buf = new Uint8Array(20);
  const n = await f.read(buf);
  equal(dec.decode(buf.subarray(0, n!)), "still here");
  await f.close();
});
