import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { ALL_CAPABILITIES, type FileHandle, supports } from "../../src/core/backend.ts";
import { isFsError } from "../../src/core/errors.ts";
import {
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFREG,
  S_IFSOCK,
} from "../../src/core/types.ts";

import { bytes, fails, text } from "./_fs_assert.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Let the clock move on, so that a later timestamp is strictly greater. */
const tick = () => new Promise((r) => setTimeout(r, 3));

async function nlink(b: MemoryBackend, path: string) {
  return (await b.lstat(path)).nlink;
}

/** Sum of what the backend should charge: file and symlink sizes plus xattrs, over all names. */
async function chargedBytes(b: MemoryBackend): Promise<number> {
  const seen = new Set<number>();
  let total = 0;
  const visit = async (path: string) => {
    const meta = await b.lstat(path);
    if (!seen.has(meta.ino)) {
      seen.add(meta.ino);
      if (meta.type === "file" || meta.type === "symlink") total += meta.size;
      for (const name of await b.listXattr(path)) {
        total += enc.encode(name).length + (await b.getXattr(path, name)).length;
      }
    }
    if (meta.type === "dir") {
      for (const e of await b.readDir(path)) {
        await visit(path === "/" ? `/${e.name}` : `${path}/${e.name}`);
      }
    }
  };
  await visit("/");
  return total;
}

// ------------------------------------------------------------------ basics

Deno.test("capabilities: every capability incl. locks, in a set nobody can change", () => {
  const b = new MemoryBackend();
  for (const cap of ALL_CAPABILITIES) assert.ok(supports(b, cap), cap);
  assert.equal(b.capabilities.size, ALL_CAPABILITIES.length);
  assert.ok(Object.isFrozen(b.capabilities));
  const set = b.capabilities as Set<string>;
  assert.throws(() => set.add("x"), TypeError);
  assert.throws(() => set.delete("locks"), TypeError);
  assert.throws(() => set.clear(), TypeError);
  assert.ok(new MemoryBackend().capabilities.has("locks"));
});

Deno.test("root: inode 1, a 0755 directory with nlink 2", async () => {
  const b = new MemoryBackend({ uid: 5, gid: 6 });
  const root = await b.lstat("/");
  assert.equal(root.ino, 1);
  assert.equal(root.type, "dir");
  assert.equal(root.mode, S_IFDIR | 0o755);
  assert.equal(root.nlink, 2);
  assert.equal(root.uid, 5);
  assert.equal(root.gid, 6);
  assert.deepEqual(await b.readDir("/"), []);
});

Deno.test("root: mkdir EEXIST, rmdir EBUSY, unlink EISDIR, rename of or over it EBUSY", async () => {
  const b = new MemoryBackend();
  await b.mkdir("/d");
  await fails(b.mkdir("/"), "EEXIST");
  await fails(b.rmdir("/"), "EBUSY");
  await fails(b.unlink("/"), "EISDIR");
  await fails(b.rename("/", "/x"), "EBUSY");
  await fails(b.rename("/d", "/"), "EBUSY");
  await fails(b.writeFile("/", bytes("x")), "EISDIR");
  await fails(b.readFile("/"), "EISDIR");
  await fails(b.link("/d", "/"), "EEXIST");
  await fails(b.symlink("x", "/"), "EEXIST");
  await fails(b.mknod("/", S_IFIFO | 0o644, 0), "EEXIST");
});

Deno.test("constructor: owner defaults and options are validated", async () => {
  const b = new MemoryBackend({ uid: 1000, gid: 100 });
  await b.writeFile("/f", bytes("x"));
  await b.mkdir("/d", { uid: 7, gid: 8 });
  assert.equal((await b.lstat("/f")).uid, 1000);
  assert.equal((await b.lstat("/f")).gid, 100);
  assert.equal((await b.lstat("/d")).uid, 7);
  assert.equal((await b.lstat("/d")).gid, 8);
  // Tests run with --allow-all: the process's own ids are readable.
  const d = new MemoryBackend();
  assert.equal((await d.lstat("/")).uid, Deno.uid() ?? 0);
  assert.equal((await d.lstat("/")).gid, Deno.gid() ?? 0);
  for (const bad of [{ capacity: -1 }, { maxInodes: 1.5 }, { uid: -1 }, { gid: 2 ** 32 }]) {
    assert.throws(
      () => new MemoryBackend(bad),
      (e: unknown) => isFsError(e) && e.code === "EINVAL",
    );
  }
  await fails(b.writeFile("/g", bytes("x"), { uid: -5 }), "EINVAL");
  await assert.rejects(b.lstat("/g"));
});

Deno.test("importing and using the backend needs no permission and gives owner 0", async () => {
  const code = `
    import { MemoryBackend } from ${
    JSON.stringify(new URL("../../src/backends/memory.ts", import.meta.url).href)
  };
    const b = new MemoryBackend();
    await b.writeFile("/a", new Uint8Array([1, 2, 3]));
    const m = await b.lstat("/a");
    const sys = Deno.permissions.querySync({ name: "sys", kind: "uid" }).state;
    console.log(JSON.stringify([m.uid, m.gid, m.size, sys]));
  `;
  // `deno run` (unlike `deno eval`) starts with no permissions; --no-prompt
  // turns any permission request into a failure instead of a question.
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--no-config", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(enc.encode(code));
  await writer.close();
  const out = await child.output();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  assert.equal(dec.decode(out.stdout).trim(), '[0,0,3,"prompt"]');
});

// ------------------------------------------------------------------ files

Deno.test("writeFile/readFile: content round-trips and both directions are copies", async () => {
  const b = new MemoryBackend();
  const data = bytes("hello");
  await b.writeFile("/f", data);
  data[0] = 0x4a; // the caller's buffer is not the stored one
  const read = await b.readFile("/f");
  assert.equal(text(read), "hello");
  read[0] = 0x4a; // neither is the returned one
  assert.equal(text(await b.readFile("/f")), "hello");
  // A view into a larger buffer stores only the view.
  const big = bytes("xxABCyy");
  await b.writeFile("/v", big.subarray(2, 5));
  assert.equal(text(await b.readFile("/v")), "ABC");
  const m = await b.lstat("/f");
  assert.equal(m.type, "file");
  assert.equal(m.mode, S_IFREG | 0o644);
  assert.equal(m.size, 5);
  assert.equal(m.nlink, 1);
  assert.equal(m.blocks, 1);
});

Deno.test("writeFile: over an existing file replaces content (longer, shorter, empty)", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/f", bytes("a long first version"));
  const ino = (await b.lstat("/f")).ino;
  await b.writeFile("/f", bytes("short"));
  assert.equal(text(await b.readFile("/f")), "short");
  await b.writeFile("/f", bytes("a much longer second version of it"));
  assert.equal(text(await b.readFile("/f")), "a much longer second version of it");
  await b.writeFile("/f", new Uint8Array());
  assert.equal((await b.readFile("/f")).length, 0);
  assert.equal((await b.lstat("/f")).ino, ino, "same inode");
  assert.equal((await b.statfs()).usedBytes, 0);
});

Deno.test("writeFile: create, createNew, mode and owner options", async () => {
  const b = new MemoryBackend();
  await fails(b.writeFile("/f", bytes("x"), { create: false }), "ENOENT");
  await b.writeFile("/f", bytes("x"), { mode: 0o600, uid: 3, gid: 4 });
  const m = await b.lstat("/f");
  assert.equal(m.mode, S_IFREG | 0o600);
  assert.equal([m.uid, m.gid].join(), "3,4");
  await fails(b.writeFile("/f", bytes("y"), { createNew: true }), "EEXIST");
  await b.writeFile("/f", bytes("z"), { create: false, mode: 0o777 });
  assert.equal(text(await b.readFile("/f")), "z");
  assert.equal((await b.lstat("/f")).mode, S_IFREG | 0o600, "mode only applies on creation");
  await b.writeFile("/g", bytes("x"), { create: false, createNew: true });
  assert.equal(text(await b.readFile("/g")), "x");
  await b.writeFile("/h", bytes(""), { mode: 0o107755 });
  assert.equal((await b.lstat("/h")).mode, S_IFREG | 0o7755, "type bits of mode are ignored");
});

Deno.test("writeFile/readFile: directory EISDIR, symlink ELOOP, special file ENXIO, bad data EINVAL", async () => {
  const b = new MemoryBackend();
  await b.mkdir("/d");
  await b.symlink("/d", "/l");
  await b.mknod("/p", S_IFIFO | 0o644, 0);
  await fails(b.writeFile("/d", bytes("x")), "EISDIR");
  await fails(b.readFile("/d"), "EISDIR");
  await fails(b.writeFile("/l", bytes("x")), "ELOOP");
  await fails(b.readFile("/l"), "ELOOP");
  await fails(b.writeFile("/p", bytes("x")), "ENXIO");
  await fails(b.readFile("/p"), "ENXIO");
  await fails(b.writeFile("/x", "text" as unknown as Uint8Array), "EINVAL");
  await fails(b.lstat("/x"), "ENOENT");
});

Deno.test("lookups: ENOENT, ENOTDIR, ENAMETOOLONG, EINVAL for NUL and relative paths", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/f", bytes("x"));
  await b.mkdir("/d");
  await fails(b.lstat("/missing"), "ENOENT");
  await fails(b.lstat("/missing/x"), "ENOENT");
  await fails(b.lstat("/f/x"), "ENOTDIR");
  await fails(b.readFile("/f/x"), "ENOTDIR");
  await fails(b.writeFile("/f/x", bytes("y")), "ENOTDIR");
  await fails(b.mkdir("/f/x"), "ENOTDIR");
  await fails(b.mkdir("/missing/x"), "ENOENT");
  await fails(b.lstat("/" + "n".repeat(256)), "ENAMETOOLONG");
  await fails(b.lstat("/d/" + "é".repeat(128)), "ENAMETOOLONG");
  await fails(b.lstat("/" + "a/".repeat(2100) + "a"), "ENAMETOOLONG");
  await fails(b.lstat("/a\0b"), "EINVAL");
  await fails(b.lstat("relative"), "EINVAL");
  await fails(b.writeFile("relative", bytes("x")), "EINVAL");
  assert.equal(await b.lstat("/d/" + "é".repeat(127)).catch((e) => e.code), "ENOENT");
});

Deno.test("creating ops check the new name: empty, ., .., NUL, too long", async () => {
  const b = new MemoryBackend();
  await b.mkdir("/d");
  const ops: [string, (p: string) => Promise<unknown>][] = [
    ["writeFile", (p) => b.writeFile(p, bytes("x"))],
    ["mkdir", (p) => b.mkdir(p)],
    ["symlink", (p) => b.symlink("t", p)],
    ["mknod", (p) => b.mknod(p, S_IFIFO | 0o644, 0)],
    ["open", (p) => b.open(p, { write: true, create: true })],
    ["appendFile", (p) => b.appendFile(p, bytes("x"))],
  ];
  for (const [name, op] of ops) {
    await fails(op("/d/" + "x".repeat(256)), "ENAMETOOLONG", name);
    await fails(op("/d/a\0b"), "EINVAL", name);
    await fails(op("/d/."), "EEXIST", name);
    await fails(op("/d/.."), "EEXIST", name);
  }
  await b.writeFile("/f", bytes("x"));
  await fails(b.link("/f", "/d/" + "x".repeat(256)), "ENAMETOOLONG");
  await fails(b.link("/f", "/d/a\0b"), "EINVAL");
  await fails(b.copyFile("/f", "/d/" + "x".repeat(256)), "ENAMETOOLONG");
  await fails(b.rename("/f", "/d/" + "x".repeat(256)), "ENAMETOOLONG");
  // A name of exactly 255 bytes is fine.
  await b.writeFile("/d/" + "x".repeat(255), bytes("ok"));
  await b.mkdir("/d/" + "é".repeat(127));
  assert.equal((await b.readDir("/d")).length, 2);
  assert.deepEqual(
    await b.readDir("/d").then((l) => l.map((e) => e.name).sort()),
    [
      "x".repeat(255),
      "é".repeat(127),
    ].sort(),
  );
});

Deno.test("mkdir/rmdir/unlink: EEXIST, ENOTEMPTY, ENOTDIR, EISDIR, ENOENT", async () => {
  const b = new MemoryBackend();
  await b.mkdir("/d", { mode: 0o700 });
  assert.equal((await b.lstat("/d")).mode, S_IFDIR | 0o700);
  await b.writeFile("/d/f", bytes("x"));
  await fails(b.mkdir("/d"), "EEXIST");
  await fails(b.mkdir("/d/f"), "EEXIST");
  await fails(b.rmdir("/d"), "ENOTEMPTY");
  await fails(b.rmdir("/d/f"), "ENOTDIR");
  await fails(b.unlink("/d"), "EISDIR");
  await fails(b.unlink("/d/missing"), "ENOENT");
  await fails(b.rmdir("/d/missing"), "ENOENT");
  await fails(b.rmdir("/d/f/x"), "ENOTDIR");
  await b.unlink("/d/f");
  await fails(b.lstat("/d/f"), "ENOENT");
  await b.rmdir("/d");
  await fails(b.lstat("/d"), "ENOENT");
  assert.deepEqual(await b.readDir("/"), []);
});

Deno.test("readDir: insertion order, fresh arrays, types and inode numbers", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/c", bytes("x"));
  await b.mkdir("/a");
  await b.symlink("c", "/b");
  await b.mknod("/s", S_IFSOCK | 0o600, 0);
  const list = await b.readDir("/");
  assert.deepEqual(list.map((e) => [e.name, e.type]), [
    ["c", "file"],
    ["a", "dir"],
    ["b", "symlink"],
    ["s", "socket"],
  ]);
  for (const e of list) assert.equal(e.ino, (await b.lstat("/" + e.name)).ino);
  list.pop();
  assert.equal((await b.readDir("/")).length, 4);
  await b.rename("/c", "/c2"); // a rename within a directory moves the name to the end
  assert.deepEqual((await b.readDir("/")).map((e) => e.name), ["a", "b", "s", "c2"]);
  await b.writeFile("/z", bytes("z"));
  await b.rename("/z", "/b"); // replacing a name keeps its place
  assert.deepEqual((await b.readDir("/")).map((e) => [e.name, e.type]), [
    ["a", "dir"],
    ["b", "file"],
    ["s", "socket"],
    ["c2", "file"],
  ]);
  await fails(b.readDir("/c2"), "ENOTDIR");
  await fails(b.readDir("/nope"), "ENOENT");
});

Deno.test("inode numbers are never reused", async () => {
  const b = new MemoryBackend();
  const seen = new Set<number>([1]);
  for (let i = 0; i < 50; i++) {
    await b.writeFile("/f", bytes("x"));
    const ino = (await b.lstat("/f")).ino;
    assert.ok(!seen.has(ino), `ino ${ino} reused`);
    seen.add(ino);
    await b.unlink("/f");
    await b.mkdir("/d");
    const dino = (await b.lstat("/d")).ino;
    assert.ok(!seen.has(dino));
    seen.add(dino);
    await b.rmdir("/d");
  }
});

// ------------------------------------------------------------------ nlink

Deno.test("nlink: directories count 2 + subdirectories", async () => {
  const b = new MemoryBackend();
  await b.mkdir("/a");
  await b.mkdir("/a/b");
  await b.mkdir("/a/c");
  await b.writeFile("/a/f", bytes("x"));
  await b.symlink("b", "/a/l");
  assert.equal(await nlink(b, "/"), 3);
  assert.equal(await nlink(b, "/a"), 4);
  assert.equal(await nlink(b, "/a/b"), 2);
  await b.rmdir("/a/c");
  assert.equal(await nlink(b, "/a"), 3);
  await b.rename("/a/b", "/b"); // moved across parents
  assert.equal(await nlink(b, "/a"), 2);
  assert.equal(await nlink(b, "/"), 4);
  await b.mkdir("/a/e");
  await b.rename("/b", "/a/e"); // over an empty directory
  assert.equal(await nlink(b, "/"), 3);
  assert.equal(await nlink(b, "/a"), 3);
  await b.rename("/a/e", "/a/e2"); // within one parent
  assert.equal(await nlink(b, "/a"), 3);
  await b.rename("/a/f", "/f"); // files do not count
  assert.equal(await nlink(b, "/a"), 3);
  assert.equal(await nlink(b, "/"), 3);
});

Deno.test("nlink: hard links share the inode and count every name", async () => {
  const b = new MemoryBackend();
  await b.mkdir("/d");
  await b.writeFile("/f", bytes("one"));
  await b.link("/f", "/g");
  await b.link("/g", "/d/h");
  const ino = (await b.lstat("/f")).ino;
  for (const p of ["/f", "/g", "/d/h"]) {
    const m = await b.lstat(p);
    assert.equal(m.ino, ino);
    assert.equal(m.nlink, 3);
  }
  await b.writeFile("/d/h", bytes("two"));
  assert.equal(text(await b.readFile("/f")), "two");
  await b.unlink("/f");
  assert.equal(await nlink(b, "/g"), 2);
  await b.writeFile("/x", bytes("other"));
  await b.rename("/x", "/g"); // replacing one name
  assert.equal(await nlink(b, "/d/h"), 1);
  assert.equal(text(await b.readFile("/d/h")), "two");
  assert.equal((await b.statfs()).usedBytes, 8);
  // Links to symlinks and special files link the node itself.
  await b.symlink("t", "/l");
  await b.link("/l", "/l2");
  assert.equal((await b.lstat("/l2")).type, "symlink");
  assert.equal(await nlink(b, "/l"), 2);
  await b.mknod("/p", S_IFIFO | 0o600, 0);
  await b.link("/p", "/p2");
  assert.equal(await nlink(b, "/p"), 2);
});

Deno.test("link: EPERM for a directory, EEXIST, ENOENT, ENOTDIR", async () => {
  const b = new MemoryBackend();
  await b.mkdir("/d");
  await b.writeFile("/f", bytes("x"));
  await fails(b.link("/d", "/d2"), "EPERM");
  await fails(b.link("/f", "/d"), "EEXIST");
  await fails(b.link("/f", "/f"), "EEXIST");
  await fails(b.link("/missing", "/m"), "ENOENT");
  await fails(b.link("/f", "/missing/m"), "ENOENT");
  await fails(b.link("/f", "/f/m"), "ENOTDIR");
  const e = await fails(b.link("/d", "/d2"), "EPERM");
  assert.equal(e.path, "/d");
  assert.equal(e.dest, "/d2");
  assert.equal(await nlink(b, "/f"), 1);
});

// ------------------------------------------------------------------ rename

Deno.test("rename: moves files and directories with their content", async () => {
  const b = new MemoryBackend();
  await b.mkdir("/a");
  await b.mkdir("/a/sub");
  await b.writeFile("/a/sub/f", bytes("deep"));
  const ino = (await b.lstat("/a")).ino;
  await b.rename("/a", "/b");
  await fails(b.lstat("/a"), "ENOENT");
  assert.equal((await b.lstat("/b")).ino, ino);
  assert.equal(text(await b.readFile("/b/sub/f")), "deep");
  await b.rename("/b/sub/f", "/f");
  assert.equal(text(await b.readFile("/f")), "deep");
  assert.deepEqual(await b.readDir("/b/sub"), []);
});

Deno.test("rename: over a file replaces it and frees it", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/a", bytes("aaa"));
  await b.writeFile("/b", bytes("bbbbb"));
  const ino = (await b.lstat("/a")).ino;
  await b.rename("/a", "/b");
  assert.equal((await b.lstat("/b")).ino, ino);
  assert.equal(text(await b.readFile("/b")), "aaa");
  const fs = await b.statfs();
  assert.equal(fs.usedBytes, 3);
  assert.equal(fs.usedInodes, 2);
});

Deno.test("rename: Linux error codes for every conflict", async () => {
  const b = new MemoryBackend();
  await b.mkdir("/d");
  await b.mkdir("/d/sub");
  await b.mkdir("/e");
  await b.mkdir("/full");
  await b.writeFile("/full/x", bytes("x"));
  await b.writeFile("/f", bytes("x"));
  await b.writeFile("/d/g", bytes("g"));
  await fails(b.rename("/d", "/f"), "ENOTDIR", "dir over file");
  await fails(b.rename("/f", "/e"), "EISDIR", "file over dir");
  await fails(b.rename("/d", "/full"), "ENOTEMPTY", "over non-empty dir");
  await fails(b.rename("/d", "/d/sub/x"), "EINVAL", "into own subtree");
  await fails(b.rename("/d", "/d/x"), "EINVAL", "into itself");
  await fails(b.rename("/d/sub", "/d"), "ENOTEMPTY", "onto its own ancestor");
  await fails(b.rename("/d/g", "/d"), "ENOTEMPTY", "a file onto its own parent");
  await fails(b.rename("/missing", "/x"), "ENOENT");
  await fails(b.rename("/f", "/missing/x"), "ENOENT");
  await fails(b.rename("/f", "/f/x"), "ENOTDIR");
  await fails(b.rename("/f/x", "/y"), "ENOTDIR");
  const e = await fails(b.rename("/d", "/f"), "ENOTDIR");
  assert.equal(e.path, "/d");
  assert.equal(e.dest, "/f");
  // Nothing moved.
  assert.deepEqual((await b.readDir("/")).map((x) => x.name), ["d", "e", "full", "f"]);
  assert.equal(await nlink(b, "/"), 5);
  // A directory may replace an empty one, and a file's name may grow longer.
  await b.rename("/d", "/e");
  assert.equal(text(await b.readFile("/e/g")), "g");
});

Deno.test("rename: onto itself or another name of the same inode does nothing", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/f", bytes("x"));
  await b.link("/f", "/g");
  await tick();
  const before = await b.lstat("/");
  await b.rename("/f", "/g");
  await b.rename("/f", "/f");
  assert.equal(await nlink(b, "/f"), 2);
  assert.equal(await nlink(b, "/g"), 2);
  assert.deepEqual(await b.lstat("/"), { ...before, atimeMs: (await b.lstat("/")).atimeMs });
  await fails(b.rename("/nope", "/nope"), "ENOENT");
  await b.mkdir("/d");
  await b.rename("/d", "/d");
  assert.equal((await b.lstat("/d")).type, "dir");
});

// ------------------------------------------------------------------ symlinks

Deno.test("symlink: target stored verbatim, size in UTF-8 bytes, mode 0777, never followed", async () => {
  const b = new MemoryBackend();
  await b.mkdir("/d");
  await b.symlink("../d/./x//y", "/l");
  await b.symlink("dangling/nowhere", "/dangling");
  await b.symlink("é", "/u", { uid: 9 });
  assert.equal(await b.readLink("/l"), "../d/./x//y");
  assert.equal(await b.readLink("/dangling"), "dangling/nowhere");
  const m = await b.lstat("/u");
  assert.equal(m.type, "symlink");
  assert.equal(m.mode, S_IFLNK | 0o777);
  assert.equal(m.size, 2);
  assert.equal(m.uid, 9);
  assert.equal(m.nlink, 1);
  await b.symlink("/d", "/dl");
  await fails(b.lstat("/dl/x"), "ENOTDIR", "a symlink is not a directory to a backend");
  await fails(b.readDir("/dl"), "ENOTDIR");
  await fails(b.readLink("/d"), "EINVAL");
  await fails(b.readLink("/missing"), "ENOENT");
  await fails(b.symlink("x", "/l"), "EEXIST");
  await fails(b.symlink("", "/e"), "ENOENT");
  await fails(b.symlink("a\0b", "/e"), "EINVAL");
  await fails(b.symlink("x".repeat(4096), "/e"), "ENAMETOOLONG");
  await b.symlink("x".repeat(4095), "/long");
  assert.equal((await b.lstat("/long")).size, 4095);
  await b.unlink("/l");
  assert.equal((await b.lstat("/d")).type, "dir", "unlinking a link leaves its target");
  assert.equal((await b.statfs()).usedBytes, 16 + 2 + 2 + 4095);
});

// ------------------------------------------------------------------ attributes

Deno.test("chmod/chown/utime: change what they say and nothing else", async () => {
  const b = new MemoryBackend({ uid: 1, gid: 1 });
  await b.writeFile("/f", bytes("x"));
  await b.chmod("/f", 0o4751);
  assert.equal((await b.lstat("/f")).mode, S_IFREG | 0o4751);
  await b.chmod("/f", 0o170640); // type bits are ignored
  assert.equal((await b.lstat("/f")).mode, S_IFREG | 0o640);
  await b.chown("/f", 10, null);
  assert.deepEqual([(await b.lstat("/f")).uid, (await b.lstat("/f")).gid], [10, 1]);
  await b.chown("/f", null, 20);
  assert.deepEqual([(await b.lstat("/f")).uid, (await b.lstat("/f")).gid], [10, 20]);
  await b.utime("/f", 1000.5, 2000.25);
  const m = await b.lstat("/f");
  assert.equal(m.atimeMs, 1000.5);
  assert.equal(m.mtimeMs, 2000.25);
  await b.utime("/f", null, 3000);
  assert.equal((await b.lstat("/f")).atimeMs, 1000.5);
  assert.equal((await b.lstat("/f")).mtimeMs, 3000);
  await fails(b.chmod("/missing", 0o644), "ENOENT");
  await fails(b.chown("/f", -1, null), "EINVAL");
  await fails(b.utime("/f", NaN, null), "EINVAL");
  await fails(b.chmod("/f", "644" as unknown as number), "EINVAL");
  // Directories and symlinks too (never following the link).
  await b.symlink("/f", "/l");
  await b.chown("/l", 5, 5);
  assert.equal((await b.lstat("/l")).uid, 5);
  assert.equal((await b.lstat("/f")).uid, 10);
  await b.utime("/", 1, 1);
  assert.equal((await b.lstat("/")).mtimeMs, 1);
});

Deno.test("chown clears set-user-ID (and group-executable set-group-ID) of non-directories, as Linux", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/f", bytes("x"), { mode: 0o6755 });
  await b.chown("/f", 1, 1);
  assert.equal((await b.lstat("/f")).mode & 0o7777, 0o755);
  await b.writeFile("/g", bytes("x"), { mode: 0o6745 }); // not group-executable: sgid means locking
  await b.chown("/g", null, null);
  assert.equal((await b.lstat("/g")).mode & 0o7777, 0o2745);
  await b.mkdir("/d");
  await b.chmod("/d", 0o2775);
  await b.chown("/d", 3, 3);
  assert.equal((await b.lstat("/d")).mode & 0o7777, 0o2775, "directories keep sgid");
});

// ------------------------------------------------------------------ times

Deno.test("times: creating sets all four on the node and mtime/ctime on the parent", async () => {
  const b = new MemoryBackend();
  await b.mkdir("/d");
  await tick();
  const parent = await b.lstat("/d");
  await b.writeFile("/d/f", bytes("x"));
  const m = await b.lstat("/d/f");
  assert.equal(m.atimeMs, m.mtimeMs);
  assert.equal(m.ctimeMs, m.mtimeMs);
  assert.equal(m.birthtimeMs, m.mtimeMs);
  const after = await b.lstat("/d");
  assert.ok(after.mtimeMs > parent.mtimeMs);
  assert.ok(after.ctimeMs > parent.ctimeMs);
  assert.equal(after.atimeMs, parent.atimeMs);
  assert.equal(after.birthtimeMs, parent.birthtimeMs);
  assert.ok(after.mtimeMs >= m.mtimeMs);
  for (
    const create of [
      () => b.mkdir("/d/sub"),
      () => b.symlink("x", "/d/l"),
      () => b.mknod("/d/p", S_IFIFO | 0o644, 0),
      () => b.open("/d/o", { write: true, create: true }).then((h) => h.close()),
      () => b.appendFile("/d/a", bytes("x")),
      () => b.copyFile("/d/f", "/d/c"),
    ]
  ) {
    const before = await b.lstat("/d");
    await tick();
    await create();
    const now = await b.lstat("/d");
    assert.ok(now.mtimeMs > before.mtimeMs, String(create));
    assert.ok(now.ctimeMs > before.ctimeMs, String(create));
  }
});

Deno.test("times: write and truncate set mtime+ctime, not atime; no-op changes set nothing", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/f", bytes("x"));
  const steps: [string, () => Promise<unknown>, boolean][] = [
    ["writeFile", () => b.writeFile("/f", bytes("yy")), true],
    ["writeFile same bytes", () => b.writeFile("/f", bytes("yy")), true],
    ["writeFile empty", () => b.writeFile("/f", new Uint8Array()), true],
    ["appendFile", () => b.appendFile("/f", bytes("z")), true],
    ["appendFile empty", () => b.appendFile("/f", new Uint8Array()), false],
    ["truncate grow", () => b.truncate("/f", 10), true],
    ["truncate shrink", () => b.truncate("/f", 2), true],
    ["truncate same size", () => b.truncate("/f", 2), false],
  ];
  for (const [name, step, changes] of steps) {
    const before = await b.lstat("/f");
    await tick();
    await step();
    const after = await b.lstat("/f");
    assert.equal(after.atimeMs, before.atimeMs, name);
    if (changes) {
      assert.ok(after.mtimeMs > before.mtimeMs, name);
      assert.equal(after.ctimeMs, after.mtimeMs, name);
    } else {
      assert.equal(after.mtimeMs, before.mtimeMs, name);
      assert.equal(after.ctimeMs, before.ctimeMs, name);
    }
  }
});

Deno.test("times: chmod, chown, utime, xattrs, link and unlink set only ctime of the node", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/f", bytes("x"));
  await b.link("/f", "/keep");
  const steps: [string, () => Promise<unknown>][] = [
    ["chmod", () => b.chmod("/f", 0o600)],
    ["chown", () => b.chown("/f", 1, 2)],
    ["setXattr", () => b.setXattr("/f", "user.a", bytes("1"))],
    ["removeXattr", () => b.removeXattr("/f", "user.a")],
    ["link", () => b.link("/f", "/g")],
    ["unlink (names remain)", () => b.unlink("/g")],
    ["unlink (names remain)", () => b.unlink("/f")],
  ];
  for (const [name, step] of steps) {
    const before = await b.lstat("/keep");
    await tick();
    await step();
    const after = await b.lstat("/keep");
    assert.ok(after.ctimeMs > before.ctimeMs, name);
    assert.equal(after.mtimeMs, before.mtimeMs, name);
    assert.equal(after.atimeMs, before.atimeMs, name);
  }
  const before = await b.lstat("/keep");
  await tick();
  await b.utime("/keep", 5, 6);
  const after = await b.lstat("/keep");
  assert.ok(after.ctimeMs > before.ctimeMs);
  assert.deepEqual([after.atimeMs, after.mtimeMs], [5, 6]);
  // Failed operations change nothing.
  await fails(b.removeXattr("/keep", "user.none"), "ENODATA");
  assert.equal((await b.lstat("/keep")).ctimeMs, after.ctimeMs);
});

Deno.test("times: link and unlink set the parent's mtime+ctime", async () => {
  const b = new MemoryBackend();
  await b.mkdir("/d");
  await b.writeFile("/f", bytes("x"));
  for (const step of [() => b.link("/f", "/d/g"), () => b.unlink("/d/g")]) {
    const before = await b.lstat("/d");
    await tick();
    await step();
    const after = await b.lstat("/d");
    assert.ok(after.mtimeMs > before.mtimeMs);
    assert.ok(after.ctimeMs > before.ctimeMs);
  }
  await b.mkdir("/d/s");
  const before = await b.lstat("/d");
  await tick();
  await b.rmdir("/d/s");
  assert.ok((await b.lstat("/d")).mtimeMs > before.mtimeMs);
});

Deno.test("times: rename sets the moved node's ctime, both parents' mtime+ctime and a replaced target's ctime", async () => {
  const b = new MemoryBackend();
  await b.mkdir("/a");
  await b.mkdir("/b");
  await b.writeFile("/a/f", bytes("x"));
  await b.writeFile("/b/t", bytes("old"));
  const target = await b.open("/b/t", { read: true });
  await tick();
  const [a0, b0, f0, t0] = await Promise.all(
    ["/a", "/b", "/a/f", "/b/t"].map((p) => b.lstat(p)),
  );
  await b.rename("/a/f", "/b/t");
  const [a1, b1, f1] = await Promise.all(["/a", "/b", "/b/t"].map((p) => b.lstat(p)));
  const t1 = await target.stat();
  assert.ok(a1.mtimeMs > a0.mtimeMs && a1.ctimeMs > a0.ctimeMs, "old parent");
  assert.ok(b1.mtimeMs > b0.mtimeMs && b1.ctimeMs > b0.ctimeMs, "new parent");
  assert.ok(f1.ctimeMs > f0.ctimeMs, "moved node ctime");
  assert.equal(f1.mtimeMs, f0.mtimeMs, "moved node mtime unchanged");
  assert.equal(f1.atimeMs, f0.atimeMs);
  assert.ok(t1.ctimeMs > t0.ctimeMs, "replaced target ctime");
  assert.equal(t1.nlink, 0);
  assert.equal(t1.mtimeMs, t0.mtimeMs);
  assert.equal(text(await target.read(0, 10)), "old");
  await target.close();
});

Deno.test("times: reads update atime with relatime rules", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/f", bytes("data"));
  const created = await b.lstat("/f");
  await tick();
  await b.readFile("/f"); // atime == mtime: updated
  const read1 = await b.lstat("/f");
  assert.ok(read1.atimeMs > created.atimeMs);
  assert.equal(read1.mtimeMs, created.mtimeMs);
  assert.equal(read1.ctimeMs, created.ctimeMs, "reading never changes ctime");
  await tick();
  await b.readFile("/f"); // atime > mtime and ctime, and recent: left alone
  await b.read("/f", 0, 2);
  assert.equal((await b.lstat("/f")).atimeMs, read1.atimeMs);
  await tick();
  await b.writeFile("/f", bytes("new"));
  await tick();
  await b.read("/f", 1, 1); // modified since the last access: updated
  const read2 = await b.lstat("/f");
  assert.ok(read2.atimeMs > read2.mtimeMs);
  // An atime newer than both mtime and ctime (and recent) stays.
  await b.utime("/f", Date.now() + 60_000, null);
  const future = (await b.lstat("/f")).atimeMs;
  await b.readFile("/f");
  assert.equal((await b.lstat("/f")).atimeMs, future);
  // Directories (readDir) and symlinks (readLink) follow the same rule.
  await b.mkdir("/d");
  await b.symlink("t", "/l");
  const d0 = await b.lstat("/d");
  const l0 = await b.lstat("/l");
  await tick();
  await b.readDir("/d");
  await b.readLink("/l");
  assert.ok((await b.lstat("/d")).atimeMs > d0.atimeMs);
  assert.ok((await b.lstat("/l")).atimeMs > l0.atimeMs);
});

// ------------------------------------------------------------------ content

Deno.test("truncate: grows with zeros, shrinks, and a shrink then grow reads zeros", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/f", bytes("abcdef"));
  await b.truncate("/f", 3);
  assert.equal(text(await b.readFile("/f")), "abc");
  await b.truncate("/f", 6);
  assert.deepEqual([...await b.readFile("/f")], [97, 98, 99, 0, 0, 0]);
  await b.truncate("/f", 0);
  assert.equal((await b.readFile("/f")).length, 0);
  await b.truncate("/f", 100_000);
  const big = await b.readFile("/f");
  assert.equal(big.length, 100_000);
  assert.ok(big.every((x) => x === 0));
  assert.equal((await b.lstat("/f")).size, 100_000);
  assert.equal((await b.statfs()).usedBytes, 100_000);
  // Appends after a shrink see zeros where old bytes were, never stale data.
  await b.writeFile("/g", bytes("0123456789"));
  await b.truncate("/g", 2);
  const h = await b.open("/g", { write: true });
  await h.write(bytes("X"), 8);
  await h.close();
  assert.deepEqual([...await b.readFile("/g")], [48, 49, 0, 0, 0, 0, 0, 0, 88]);
  await b.mkdir("/d");
  await b.mknod("/p", S_IFIFO | 0o644, 0);
  await b.symlink("f", "/l");
  await fails(b.truncate("/d", 0), "EISDIR");
  await fails(b.truncate("/p", 0), "EINVAL");
  await fails(b.truncate("/l", 0), "EINVAL");
  await fails(b.truncate("/f", -1), "EINVAL");
  await fails(b.truncate("/f", 1.5), "EINVAL");
  await fails(b.truncate("/missing", 0), "ENOENT");
});

Deno.test("large files: grown by many writes, shrunk, regrown and cloned, they read back exactly", async () => {
  // Files past 1 MiB grow in place; stale bytes past the end must still
  // read as zeros after a shrink, whichever way the file grows again.
  const MIB = 1 << 20;
  const b = new MemoryBackend();
  const block = (i: number) => new Uint8Array(MIB / 4).fill(i + 1);
  const h = await b.open("/big", { read: true, write: true, create: true });
  for (let i = 0; i < 24; i++) assert.equal(await h.write(block(i), i * (MIB / 4)), MIB / 4);
  assert.equal((await h.stat()).size, 6 * MIB);
  for (let i = 0; i < 24; i++) {
    const got = await h.read(i * (MIB / 4), MIB / 4);
    assert.ok(got.length === MIB / 4 && got.every((x) => x === i + 1), `block ${i}`);
  }
  const before = b.clone();
  // Shrink to 5.5 MiB, then write far past the end (the storage must
  // grow): the gap reads as zeros.
  await h.truncate(5.5 * MIB);
  await h.write(bytes("end"), 20 * MIB);
  const gap = await h.read(5.5 * MIB, 14.5 * MIB);
  assert.equal(gap.length, 14.5 * MIB);
  assert.ok(gap.every((x) => x === 0), "the gap after a shrink and a sparse write is zero");
  assert.equal(text(await h.read(20 * MIB, 3)), "end");
  // Shrink again and grow by truncate beyond the storage: zeros as well.
  await h.truncate(5 * MIB + 1);
  await h.truncate(40 * MIB);
  assert.ok((await h.read(5 * MIB + 1, 35 * MIB - 1)).every((x) => x === 0));
  assert.equal((await b.statfs()).usedBytes, 40 * MIB);
  await h.close();
  // The clone taken before kept the old content.
  const old = await before.readFile("/big");
  assert.equal(old.length, 6 * MIB);
  assert.equal(old[5.5 * MIB], 23);
  assert.equal(old[6 * MIB - 1], 24);
});

Deno.test("read: ranges copy the requested bytes; past the end is short or empty", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/f", bytes("hello world"));
  assert.equal(text(await b.read("/f", 6, 5)), "world");
  assert.equal(text(await b.read("/f", 6, 100)), "world");
  assert.equal((await b.read("/f", 11, 5)).length, 0);
  assert.equal((await b.read("/f", 1000, 5)).length, 0);
  assert.equal((await b.read("/f", 0, 0)).length, 0);
  const r = await b.read("/f", 0, 5);
  r[0] = 0;
  assert.equal(text(await b.readFile("/f")), "hello world");
  await fails(b.read("/f", -1, 2), "EINVAL");
  await fails(b.read("/f", 0, NaN), "EINVAL");
  await b.mkdir("/d");
  await fails(b.read("/d", 0, 1), "EISDIR");
});

Deno.test("appendFile: creates with options, appends in order, many small appends stay exact", async () => {
  const b = new MemoryBackend();
  await b.appendFile("/log", bytes("a"), { mode: 0o600, uid: 4 });
  const m = await b.lstat("/log");
  assert.equal(m.mode, S_IFREG | 0o600);
  assert.equal(m.uid, 4);
  let expected = "a";
  for (let i = 0; i < 2000; i++) {
    const piece = String(i % 10);
    await b.appendFile("/log", bytes(piece));
    expected += piece;
  }
  assert.equal(text(await b.readFile("/log")), expected);
  assert.equal((await b.statfs()).usedBytes, expected.length);
  await b.appendFile("/empty", new Uint8Array());
  assert.equal((await b.lstat("/empty")).size, 0);
  await b.mkdir("/d");
  await fails(b.appendFile("/d", bytes("x")), "EISDIR");
  await fails(b.appendFile("/missing/x", bytes("x")), "ENOENT");
});

Deno.test("copyFile: content and permission bits; the copy is independent of the source", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/src", bytes("original"), { mode: 0o640 });
  await b.setXattr("/src", "user.k", bytes("v"));
  await b.copyFile("/src", "/dst");
  const m = await b.lstat("/dst");
  assert.equal(text(await b.readFile("/dst")), "original");
  assert.equal(m.mode, S_IFREG | 0o640);
  assert.notEqual(m.ino, (await b.lstat("/src")).ino);
  assert.equal(m.nlink, 1);
  assert.deepEqual(await b.listXattr("/dst"), [], "xattrs are not copied");
  // Both directions, by whole-file writes, handle writes, appends and truncates.
  await b.writeFile("/src", bytes("changed"));
  assert.equal(text(await b.readFile("/dst")), "original");
  await b.copyFile("/src", "/dst2");
  const h = await b.open("/dst2", { write: true });
  await h.write(bytes("X"), 0);
  await h.close();
  assert.equal(text(await b.readFile("/src")), "changed");
  await b.appendFile("/src", bytes("!"));
  await b.truncate("/dst", 4);
  assert.equal(text(await b.readFile("/src")), "changed!");
  assert.equal(text(await b.readFile("/dst")), "orig");
  assert.equal(text(await b.readFile("/dst2")), "Xhanged");
  // Over an existing file: same inode, new content and mode.
  await b.writeFile("/over", bytes("a much longer old content"), { mode: 0o600 });
  const ino = (await b.lstat("/over")).ino;
  await b.copyFile("/src", "/over");
  assert.equal((await b.lstat("/over")).ino, ino);
  assert.equal(text(await b.readFile("/over")), "changed!");
  assert.equal((await b.lstat("/over")).mode, S_IFREG | 0o640);
  assert.equal((await b.statfs()).usedBytes, await chargedBytes(b));
  // Onto itself or another of its names: nothing changes, nothing is lost.
  await b.link("/src", "/src2");
  await b.copyFile("/src", "/src");
  await b.copyFile("/src", "/src2");
  assert.equal(text(await b.readFile("/src")), "changed!");
  await b.mkdir("/d");
  await fails(b.copyFile("/d", "/x"), "EISDIR");
  await fails(b.copyFile("/src", "/d"), "EISDIR");
  await fails(b.copyFile("/missing", "/x"), "ENOENT");
  await fails(b.copyFile("/src", "/missing/x"), "ENOENT");
});

// ------------------------------------------------------------------ handles

Deno.test("open: positional read and write, create with mode and owner", async () => {
  const b = new MemoryBackend();
  const h = await b.open("/f", {
    read: true,
    write: true,
    create: true,
    mode: 0o600,
    uid: 2,
    gid: 3,
  });
  assert.equal(h.path, "/f");
  assert.equal(await h.write(bytes("hello"), 0), 5);
  assert.equal(await h.write(bytes("J"), 0), 1);
  assert.equal(await h.write(bytes("!"), 7), 1); // a gap reads as zeros
  assert.deepEqual([...await h.read(0, 100)], [...bytes("Jello"), 0, 0, 33]);
  assert.equal(text(await h.read(1, 3)), "ell");
  assert.equal((await h.read(8, 10)).length, 0);
  assert.equal((await h.read(100, 10)).length, 0);
  const m = await h.stat();
  assert.equal(m.size, 8);
  assert.equal(m.mode, S_IFREG | 0o600);
  assert.deepEqual([m.uid, m.gid], [2, 3]);
  await h.sync();
  await h.close();
  assert.equal((await b.readFile("/f")).length, 8);
});

Deno.test("open: write copies the caller's data", async () => {
  const b = new MemoryBackend();
  const h = await b.open("/f", { write: true, read: true, create: true });
  const data = bytes("abc");
  await h.write(data, 0);
  data[0] = 0x7a;
  assert.equal(text(await h.read(0, 3)), "abc");
  await h.close();
});

Deno.test("open: append mode writes at the end whatever the position", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/f", bytes("ab"));
  const h = await b.open("/f", { append: true });
  await h.write(bytes("c"), 0);
  await h.write(bytes("d"), 0);
  await fails(h.read(0, 1), "EBADF", "append implies write-only unless read is asked for");
  await h.close();
  assert.equal(text(await b.readFile("/f")), "abcd");
  const rw = await b.open("/f", { append: true, read: true });
  await rw.write(bytes("e"), 1);
  assert.equal(text(await rw.read(0, 10)), "abcde");
  await rw.close();
});

Deno.test("open: truncate, create, createNew and their errors", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/f", bytes("content"));
  const t = await b.open("/f", { write: true, truncate: true });
  assert.equal((await t.stat()).size, 0);
  await t.close();
  assert.equal((await b.statfs()).usedBytes, 0);
  await fails(b.open("/missing", { read: true }), "ENOENT");
  await fails(b.open("/missing", { write: true }), "ENOENT");
  await fails(b.open("/f", { write: true, createNew: true }), "EEXIST");
  await fails(b.open("/f", { read: false }), "EINVAL");
  await fails(b.open("/f", { read: true, truncate: true }), "EINVAL");
  await fails(b.open("/missing/x", { write: true, create: true }), "ENOENT");
  await fails(b.open("/f/x", { write: true, create: true }), "ENOTDIR");
  const n = await b.open("/new", { write: true, createNew: true });
  await n.close();
  assert.equal((await b.lstat("/new")).size, 0);
  const r = await b.open("/ro", { read: true, create: true }); // O_RDONLY|O_CREAT is allowed
  await r.close();
  assert.equal((await b.lstat("/ro")).type, "file");
  await b.symlink("/f", "/l");
  await fails(b.open("/l", { read: true }), "ELOOP");
  await b.mknod("/p", S_IFIFO | 0o644, 0);
  await fails(b.open("/p", { read: true }), "ENXIO");
});

Deno.test("open: directories read-only, their reads EISDIR", async () => {
  const b = new MemoryBackend();
  await b.mkdir("/d");
  await fails(b.open("/d", { write: true }), "EISDIR");
  await fails(b.open("/d", { append: true }), "EISDIR");
  await fails(b.open("/d", { read: true, create: true }), "EISDIR");
  await fails(b.open("/", { write: true }), "EISDIR");
  await fails(b.open("/d", { read: true, createNew: true }), "EEXIST");
  const h = await b.open("/d", { read: true });
  assert.equal((await h.stat()).type, "dir");
  await fails(h.read(0, 10), "EISDIR");
  await fails(h.write(bytes("x"), 0), "EBADF");
  await fails(h.truncate(0), "EINVAL");
  await h.close();
  const root = await b.open("/", { read: true });
  assert.equal((await root.stat()).ino, 1);
  await root.close();
});

Deno.test("handles: EBADF after close and when writing a read-only handle; ftruncate read-only EINVAL", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/f", bytes("x"));
  const ro = await b.open("/f", { read: true });
  await fails(ro.write(bytes("y"), 0), "EBADF");
  await fails(ro.truncate(0), "EINVAL");
  await ro.close();
  const wo = await b.open("/f", { write: true });
  await fails(wo.read(0, 1), "EBADF");
  await fails(wo.write(bytes("x"), -1), "EINVAL");
  await fails(wo.write("s" as unknown as Uint8Array, 0), "EINVAL");
  await fails(wo.truncate(-3), "EINVAL");
  await wo.close();
  for (const h of [ro, wo]) {
    await fails(h.read(0, 1), "EBADF");
    await fails(h.write(bytes("x"), 0), "EBADF");
    await fails(h.truncate(0), "EBADF");
    await fails(h.stat(), "EBADF");
    await fails(h.sync(), "EBADF");
    await fails(h.close(), "EBADF");
    await fails(h.lock!("shared", false), "EBADF");
    await fails(h.unlock!(), "EBADF");
  }
  assert.equal(text(await b.readFile("/f")), "x");
});

Deno.test("handles: follow the inode across renames; times on handle writes", async () => {
  const b = new MemoryBackend();
  await b.mkdir("/a");
  await b.writeFile("/a/f", bytes("x"));
  const h = await b.open("/a/f", { read: true, write: true });
  await b.rename("/a", "/b");
  await b.rename("/b/f", "/b/g");
  await h.write(bytes("yz"), 1);
  assert.equal(text(await b.readFile("/b/g")), "xyz");
  const before = await h.stat();
  await tick();
  assert.equal(await h.write(new Uint8Array(), 0), 0);
  assert.equal((await h.stat()).mtimeMs, before.mtimeMs, "an empty write changes nothing");
  await h.write(bytes("!"), 3);
  const after = await h.stat();
  assert.ok(after.mtimeMs > before.mtimeMs);
  assert.equal(after.ctimeMs, after.mtimeMs);
  await tick();
  await h.read(0, 4);
  assert.ok((await h.stat()).atimeMs > after.atimeMs);
  await h.truncate(1);
  assert.equal(text(await b.readFile("/b/g")), "x");
  await h.close();
  // O_TRUNC marks mtime even when the file is already empty.
  await b.writeFile("/e", new Uint8Array());
  const e0 = await b.lstat("/e");
  await tick();
  await (await b.open("/e", { write: true, truncate: true })).close();
  assert.ok((await b.lstat("/e")).mtimeMs > e0.mtimeMs);
});

Deno.test("open-unlinked: data lives until the last handle closes, then is freed", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/f", bytes("secret"));
  const ino = (await b.lstat("/f")).ino;
  const h1 = await b.open("/f", { read: true, write: true });
  const h2 = await b.open("/f", { read: true });
  await b.unlink("/f");
  await fails(b.lstat("/f"), "ENOENT");
  assert.deepEqual(await b.readDir("/"), []);
  assert.equal(text(await h2.read(0, 100)), "secret");
  await h1.write(bytes("!!"), 6);
  assert.equal(text(await h2.read(0, 100)), "secret!!");
  const m = await h1.stat();
  assert.equal(m.nlink, 0);
  assert.equal((await b.statIno(ino)).size, 8);
  await fails(b.inodePath(ino), "ENOENT");
  let fs = await b.statfs();
  assert.equal(fs.usedBytes, 8, "still charged while open");
  assert.equal(fs.usedInodes, 2);
  // A new file of the same name is a different inode.
  await b.writeFile("/f", bytes("new"));
  assert.notEqual((await b.lstat("/f")).ino, ino);
  assert.equal(text(await h2.read(0, 100)), "secret!!");
  await h1.close();
  assert.equal(text(await h2.read(0, 100)), "secret!!");
  await h2.close();
  await fails(b.statIno(ino), "ENOENT");
  fs = await b.statfs();
  assert.equal(fs.usedBytes, 3);
  assert.equal(fs.usedInodes, 2);
});

Deno.test("open-unlinked: a file replaced by rename stays readable through its handle", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/old", bytes("old data"));
  await b.writeFile("/new", bytes("new"));
  const h = await b.open("/old", { read: true });
  const ino = (await h.stat()).ino;
  await b.rename("/new", "/old");
  assert.equal(text(await h.read(0, 100)), "old data");
  assert.equal((await b.statfs()).usedBytes, 11);
  await h.close();
  assert.equal((await b.statfs()).usedBytes, 3);
  await fails(b.statIno(ino), "ENOENT");
});

Deno.test("open-unlinked: a removed directory stays stat-able through its handle", async () => {
  const b = new MemoryBackend();
  await b.mkdir("/d");
  const h = await b.open("/d", { read: true });
  const ino = (await h.stat()).ino;
  await b.rmdir("/d");
  assert.equal((await h.stat()).nlink, 0);
  assert.equal((await b.statIno(ino)).type, "dir");
  assert.equal(await nlink(b, "/"), 2);
  await h.close();
  await fails(b.statIno(ino), "ENOENT");
});

// ------------------------------------------------------------------ locks

/** Whether `p` has settled after the event loop had a chance to run. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => done = true, () => done = true);
  await new Promise((r) => setTimeout(r, 0));
  return done;
}

async function openAll(b: MemoryBackend, n: number): Promise<FileHandle[]> {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await b.open("/f", { read: true, write: true }));
  return out;
}

Deno.test("locks: shared locks coexist, an exclusive one conflicts (EAGAIN without wait)", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/f", bytes("x"));
  const [a, c, d] = await openAll(b, 3);
  await a.lock!("shared", false);
  await c.lock!("shared", false);
  await fails(d.lock!("exclusive", false), "EAGAIN");
  await a.unlock!();
  await c.unlock!();
  await d.lock!("exclusive", false);
  await fails(a.lock!("shared", false), "EAGAIN");
  await fails(a.lock!("exclusive", false), "EAGAIN");
  await d.lock!("exclusive", false); // taking what one holds again is fine
  await d.unlock!();
  await d.unlock!(); // nothing held: no-op
  await a.lock!("exclusive", false);
  // Another file's lock is independent.
  await b.writeFile("/g", bytes("y"));
  const g = await b.open("/g", { read: true });
  await g.lock!("exclusive", false);
  for (const h of [a, c, d, g]) await h.close();
});

Deno.test("locks: a waiting request is granted on unlock and on close", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/f", bytes("x"));
  const [a, c, d] = await openAll(b, 3);
  await a.lock!("exclusive", false);
  const waitC = c.lock!("shared", true);
  const waitD = d.lock!("shared", true);
  assert.equal(await settled(waitC), false);
  assert.equal(await settled(waitD), false);
  await a.unlock!();
  await waitC;
  await waitD; // both shared waiters are let in together
  const waitA = a.lock!("exclusive", true);
  assert.equal(await settled(waitA), false);
  await c.close();
  assert.equal(await settled(waitA), false, "d still holds a shared lock");
  await d.close();
  await waitA;
  await fails(b.open("/f", { read: true }).then((h) => h.lock!("shared", false)), "EAGAIN");
  await a.close();
});

Deno.test("locks: conversion up and down; a failed upgrade loses the old lock, as flock(2)", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/f", bytes("x"));
  const [a, c, d] = await openAll(b, 3);
  await a.lock!("exclusive", false);
  await a.lock!("shared", false); // downgrade: others may share now
  await c.lock!("shared", false);
  await fails(a.lock!("exclusive", false), "EAGAIN");
  // a lost its shared lock in the attempt, so c alone can upgrade.
  await c.lock!("exclusive", false);
  await c.lock!("shared", false);
  await a.lock!("shared", false);
  // Two shared holders both upgrading with wait do not deadlock: each
  // conversion drops the shared lock first, so one of them gets through.
  const upA = a.lock!("exclusive", true);
  const upC = c.lock!("exclusive", true);
  await upA;
  assert.equal(await settled(upC), false);
  await fails(d.lock!("shared", false), "EAGAIN");
  await a.unlock!();
  await upC;
  await c.close();
  await d.lock!("exclusive", false);
  await d.close();
  await a.close();
});

Deno.test("locks: a pending request fails with EBADF when its handle is closed; bad mode EINVAL", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/f", bytes("x"));
  const [a, c] = await openAll(b, 2);
  await a.lock!("exclusive", false);
  const pending = c.lock!("exclusive", true);
  const outcome = pending.then(() => "granted", (e) => e.code);
  await c.close();
  assert.equal(await outcome, "EBADF");
  await fails(a.lock!("both" as "shared", false), "EINVAL");
  await a.close();
  // Locks work on directory handles and on unlinked files too.
  await b.mkdir("/d");
  const dh = await b.open("/d", { read: true });
  await dh.lock!("exclusive", false);
  await dh.close();
  const u = await b.open("/f", { read: true });
  await b.unlink("/f");
  await u.lock!("exclusive", false);
  await u.close();
});

// ------------------------------------------------------------------ xattrs

Deno.test("xattrs: set, get, list in stable order, replace in place, remove", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/f", bytes("x"));
  await b.setXattr("/f", "user.b", bytes("2"));
  await b.setXattr("/f", "user.a", bytes("1"));
  await b.setXattr("/f", "trusted.c", new Uint8Array());
  assert.deepEqual(await b.listXattr("/f"), ["user.b", "user.a", "trusted.c"]);
  await b.setXattr("/f", "user.b", bytes("22"));
  assert.deepEqual(await b.listXattr("/f"), ["user.b", "user.a", "trusted.c"]);
  assert.equal(text(await b.getXattr("/f", "user.b")), "22");
  assert.equal((await b.getXattr("/f", "trusted.c")).length, 0);
  await b.removeXattr("/f", "user.b");
  assert.deepEqual(await b.listXattr("/f"), ["user.a", "trusted.c"]);
  await fails(b.getXattr("/f", "user.b"), "ENODATA");
  await fails(b.removeXattr("/f", "user.b"), "ENODATA");
  assert.deepEqual(await b.listXattr("/"), []);
  // Any name, no namespace needed; unicode names count in UTF-8 bytes.
  await b.setXattr("/f", "plain", bytes("p"));
  await b.setXattr("/f", "ü".repeat(127), bytes("u"));
  await fails(b.setXattr("/f", "ü".repeat(128), bytes("u")), "ERANGE");
  await b.setXattr("/f", "n".repeat(255), bytes("n"));
  await fails(b.setXattr("/f", "n".repeat(256), bytes("n")), "ERANGE");
  await fails(b.getXattr("/f", "n".repeat(256)), "ERANGE");
  await fails(b.setXattr("/f", "", bytes("n")), "ERANGE");
  await fails(b.setXattr("/f", "a\0b", bytes("n")), "EINVAL");
  await fails(b.getXattr("/missing", "user.a"), "ENOENT");
  await fails(b.listXattr("/missing"), "ENOENT");
});

Deno.test("xattrs: create/replace flags, 64 KiB value limit, copies both ways, on every node type", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/f", bytes("x"));
  await b.setXattr("/f", "user.a", bytes("1"), { create: true });
  await fails(b.setXattr("/f", "user.a", bytes("2"), { create: true }), "EEXIST");
  await fails(b.setXattr("/f", "user.z", bytes("2"), { replace: true }), "ENODATA");
  await b.setXattr("/f", "user.a", bytes("3"), { replace: true });
  assert.equal(text(await b.getXattr("/f", "user.a")), "3");
  await b.setXattr("/f", "user.big", new Uint8Array(65536));
  await fails(b.setXattr("/f", "user.big", new Uint8Array(65537)), "E2BIG");
  assert.equal((await b.getXattr("/f", "user.big")).length, 65536);
  await fails(b.setXattr("/f", "user.s", "str" as unknown as Uint8Array), "EINVAL");
  const value = bytes("abc");
  await b.setXattr("/f", "user.c", value);
  value[0] = 0;
  const got = await b.getXattr("/f", "user.c");
  got[1] = 0;
  assert.equal(text(await b.getXattr("/f", "user.c")), "abc");
  await b.mkdir("/d");
  await b.symlink("f", "/l");
  await b.mknod("/p", S_IFIFO | 0o644, 0);
  for (const p of ["/d", "/l", "/p", "/"]) {
    await b.setXattr(p, "user.k", bytes(p));
    assert.equal(text(await b.getXattr(p, "user.k")), p);
  }
  assert.deepEqual(
    await b.listXattr("/f"),
    ["user.a", "user.big", "user.c"],
    "the link was not followed",
  );
  // Hard links share attributes.
  await b.link("/f", "/f2");
  assert.deepEqual(await b.listXattr("/f2"), await b.listXattr("/f"));
});

// ------------------------------------------------------------------ special files

Deno.test("mknod: fifos, sockets and devices with rdev; regular files; EPERM/EINVAL/EEXIST", async () => {
  const b = new MemoryBackend();
  await b.mknod("/fifo", S_IFIFO | 0o640, 99, { uid: 3 });
  await b.mknod("/sock", S_IFSOCK | 0o600, 0);
  await b.mknod("/chr", S_IFCHR | 0o666, 0x0103);
  await b.mknod("/blk", S_IFBLK | 0o660, 0x0801);
  await b.mknod("/reg", S_IFREG | 0o600, 0);
  await b.mknod("/reg0", 0o644, 0); // no type bits: a regular file, as mknod(2)
  const expect: [string, string, number, number][] = [
    ["/fifo", "fifo", S_IFIFO | 0o640, 0],
    ["/sock", "socket", S_IFSOCK | 0o600, 0],
    ["/chr", "chardev", S_IFCHR | 0o666, 0x0103],
    ["/blk", "blockdev", S_IFBLK | 0o660, 0x0801],
    ["/reg", "file", S_IFREG | 0o600, 0],
    ["/reg0", "file", S_IFREG | 0o644, 0],
  ];
  for (const [path, type, mode, rdev] of expect) {
    const m = await b.lstat(path);
    assert.equal(m.type, type, path);
    assert.equal(m.mode, mode, path);
    assert.equal(m.rdev, rdev, path);
    assert.equal(m.size, 0);
    assert.equal(m.nlink, 1);
  }
  assert.equal((await b.lstat("/fifo")).uid, 3);
  assert.deepEqual((await b.readDir("/")).map((e) => e.type), expect.map((e) => e[1]));
  await b.writeFile("/reg0", bytes("regular"));
  assert.equal(text(await b.readFile("/reg0")), "regular");
  await fails(b.mknod("/d", S_IFDIR | 0o755, 0), "EPERM");
  await fails(b.mknod("/l", S_IFLNK | 0o777, 0), "EINVAL");
  await fails(b.mknod("/x", 0o170000, 0), "EINVAL");
  await fails(b.mknod("/x", S_IFIFO, -1), "EINVAL");
  await fails(b.mknod("/fifo", S_IFIFO | 0o644, 0), "EEXIST");
  await fails(b.mknod("/missing/x", S_IFIFO | 0o644, 0), "ENOENT");
  await b.unlink("/chr");
  await b.rename("/fifo", "/fifo2");
  assert.equal((await b.lstat("/fifo2")).type, "fifo");
  assert.equal((await b.statfs()).usedInodes, 6);
});

// ------------------------------------------------------------------ limits

Deno.test("capacity: ENOSPC leaves everything as it was", async () => {
  const b = new MemoryBackend({ capacity: 100 });
  await b.writeFile("/f", new Uint8Array(60).fill(1));
  const snapshot = async () =>
    JSON.stringify([
      await b.statfs(),
      await b.readDir("/"),
      [...await b.readFile("/f")],
      await b.lstat("/f"),
    ]);
  const before = await snapshot();
  await fails(b.writeFile("/g", new Uint8Array(41)), "ENOSPC");
  await fails(b.writeFile("/f", new Uint8Array(101)), "ENOSPC");
  await fails(b.appendFile("/f", new Uint8Array(41)), "ENOSPC");
  await fails(b.appendFile("/new", new Uint8Array(41)), "ENOSPC");
  await fails(b.truncate("/f", 101), "ENOSPC");
  await fails(b.symlink("t".repeat(41), "/l"), "ENOSPC");
  await fails(b.setXattr("/f", "user.k", new Uint8Array(35)), "ENOSPC"); // 6 + 35 bytes
  await fails(b.copyFile("/f", "/c"), "ENOSPC");
  const h = await b.open("/f", { read: true, write: true });
  await fails(h.write(new Uint8Array(20).fill(2), 85), "ENOSPC"); // would end at 105
  await fails(h.truncate(200), "ENOSPC");
  await h.close();
  assert.equal(await snapshot(), before);
  const e = await fails(b.writeFile("/g", new Uint8Array(41)), "ENOSPC");
  assert.equal(e.limit, 100);
  assert.equal(e.requested, 41);
  assert.equal(e.usage, 60);
  // What fits still fits, exactly up to the limit; shrinking frees room.
  await b.writeFile("/g", new Uint8Array(40));
  assert.equal((await b.statfs()).availableBytes, 0);
  await fails(b.appendFile("/g", new Uint8Array(1)), "ENOSPC");
  await b.writeFile("/f", new Uint8Array(10));
  await b.appendFile("/g", new Uint8Array(50));
  const w = await b.open("/g", { write: true });
  await w.write(new Uint8Array(5), 0); // overwriting in place needs no room
  await w.close();
  const fs = await b.statfs();
  assert.deepEqual(
    [fs.totalBytes, fs.usedBytes, fs.availableBytes, fs.blockSize, fs.maxNameLength],
    [100, 100, 0, 4096, 255],
  );
});

Deno.test("maxInodes: ENOSPC for every creating operation; links need no inode", async () => {
  const b = new MemoryBackend({ maxInodes: 3 }); // the root counts
  await b.writeFile("/a", bytes("a"));
  await b.mkdir("/d");
  const fs = await b.statfs();
  assert.deepEqual([fs.totalInodes, fs.usedInodes, fs.availableInodes], [3, 3, 0]);
  await fails(b.writeFile("/x", bytes("x")), "ENOSPC");
  await fails(b.mkdir("/x"), "ENOSPC");
  await fails(b.symlink("a", "/x"), "ENOSPC");
  await fails(b.mknod("/x", S_IFIFO | 0o644, 0), "ENOSPC");
  await fails(b.open("/x", { write: true, create: true }), "ENOSPC");
  await fails(b.appendFile("/x", bytes("x")), "ENOSPC");
  await fails(b.copyFile("/a", "/x"), "ENOSPC");
  await fails(b.lstat("/x"), "ENOENT");
  await b.writeFile("/a", bytes("overwrite is fine"));
  await b.link("/a", "/d/a2");
  await b.rename("/d/a2", "/a3");
  await fails(b.mkdir("/d"), "EEXIST", "EEXIST is reported before ENOSPC");
  await b.unlink("/a");
  await b.unlink("/a3");
  await b.mkdir("/x");
  assert.equal((await b.statfs()).usedInodes, 3);
});

Deno.test("statfs: without a capacity, the system's available memory (with --allow-sys), no inode limit", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/f", bytes("12345"));
  await b.symlink("abc", "/l");
  await b.setXattr("/f", "user.k", bytes("vv"));
  const fs = await b.statfs();
  // This test process has every permission; tests/permissions_test.ts runs without any.
  const available = Deno.systemMemoryInfo().available;
  assert.ok(Math.abs(fs.availableBytes - available) < 512 * 1024 * 1024);
  assert.equal(fs.totalBytes, fs.usedBytes + fs.availableBytes);
  assert.equal(fs.totalInodes, 0);
  assert.equal(fs.usedBytes, 5 + 3 + 6 + 2);
  assert.equal(fs.usedInodes, 3);
  assert.ok(fs.availableInodes > 2 ** 50);
  assert.equal(fs.blockSize, 4096);
  assert.equal(fs.maxNameLength, 255);
});

Deno.test("accounting: usage and inode counts stay exact through every kind of change", async () => {
  const b = new MemoryBackend({ capacity: 1_000_000, maxInodes: 1000 });
  const check = async (label: string) => {
    assert.equal((await b.statfs()).usedBytes, await chargedBytes(b), label);
  };
  await b.mkdir("/d");
  await b.writeFile("/d/a", new Uint8Array(100));
  await b.writeFile("/d/a", new Uint8Array(30));
  await check("writeFile over existing");
  await b.appendFile("/d/a", new Uint8Array(70));
  await b.truncate("/d/a", 500);
  await b.truncate("/d/a", 5);
  await check("append and truncate");
  const h = await b.open("/d/h", { write: true, create: true });
  await h.write(new Uint8Array(64), 0);
  await h.write(new Uint8Array(64), 200);
  await h.truncate(100);
  await check("handle writes");
  await b.unlink("/d/h");
  assert.equal(
    (await b.statfs()).usedBytes,
    (await chargedBytes(b)) + 100,
    "open-unlinked still charged",
  );
  await h.close();
  await check("last close");
  await b.writeFile("/x", new Uint8Array(7));
  await b.writeFile("/y", new Uint8Array(9));
  await b.rename("/x", "/y");
  await check("rename over existing");
  await b.link("/y", "/z");
  await b.unlink("/y");
  await check("link and unlink");
  await b.symlink("target", "/s");
  await b.setXattr("/s", "user.x", new Uint8Array(10));
  await b.setXattr("/s", "user.x", new Uint8Array(3));
  await b.setXattr("/d", "user.y", new Uint8Array(4));
  await b.removeXattr("/d", "user.y");
  await check("symlinks and xattrs");
  await b.copyFile("/d/a", "/d/copy");
  await b.copyFile("/z", "/d/copy");
  await check("copies");
  const c = b.clone();
  await c.writeFile("/d/copy", new Uint8Array(1));
  assert.equal((await c.statfs()).usedBytes, await chargedBytes(c), "clone");
  await check("original after clone");
  await b.unlink("/s");
  await b.unlink("/z");
  await b.unlink("/d/a");
  await b.unlink("/d/copy");
  await b.rmdir("/d");
  const fs = await b.statfs();
  assert.equal(fs.usedBytes, 0);
  assert.equal(fs.usedInodes, 1);
});

// ------------------------------------------------------------------ clone

Deno.test("clone: later changes on either side never show in the other", async () => {
  const a = new MemoryBackend({ capacity: 10_000, maxInodes: 50, uid: 4, gid: 5 });
  await a.mkdir("/d");
  await a.writeFile("/d/f", bytes("shared"));
  await a.writeFile("/g", bytes("ggg"));
  await a.link("/g", "/g2");
  await a.symlink("d/f", "/l");
  await a.setXattr("/d/f", "user.k", bytes("v1"));
  await a.writeFile("/h", bytes("hhhh"));
  const b = a.clone();
  // The original writes first, in place (same length).
  await a.writeFile("/h", bytes("HHHH"));
  assert.equal(text(await b.readFile("/h")), "hhhh");
  // Same tree, same inode numbers, same metadata.
  for (const p of ["/", "/d", "/d/f", "/g", "/g2", "/l"]) {
    assert.deepEqual(await b.lstat(p), await a.lstat(p), p);
  }
  assert.equal((await b.statfs()).usedBytes, (await a.statfs()).usedBytes);
  assert.equal((await b.statfs()).usedInodes, (await a.statfs()).usedInodes);
  // Changes in the clone.
  await b.writeFile("/d/f", bytes("from b"));
  await b.appendFile("/g", bytes("+b"));
  await b.setXattr("/d/f", "user.k", bytes("v2"));
  await b.setXattr("/d/f", "user.new", bytes("n"));
  await b.chmod("/d", 0o700);
  await b.unlink("/g2");
  await b.writeFile("/only-b", bytes("b"));
  assert.equal(text(await a.readFile("/d/f")), "shared");
  assert.equal(text(await a.readFile("/g")), "ggg");
  assert.equal(text(await a.getXattr("/d/f", "user.k")), "v1");
  assert.deepEqual(await a.listXattr("/d/f"), ["user.k"]);
  assert.equal((await a.lstat("/d")).mode, S_IFDIR | 0o755);
  assert.equal(await nlink(a, "/g"), 2);
  await fails(a.lstat("/only-b"), "ENOENT");
  // Changes in the original.
  await a.truncate("/g", 1);
  await a.writeFile("/d/f", bytes("from a"));
  await a.removeXattr("/d/f", "user.k");
  await a.rename("/l", "/l2");
  assert.equal(text(await b.readFile("/g")), "ggg+b");
  assert.equal(text(await b.readFile("/d/f")), "from b");
  assert.equal(text(await b.getXattr("/d/f", "user.k")), "v2");
  assert.equal(await b.readLink("/l"), "d/f");
  // Hard links stay hard links inside the clone.
  const c = a.clone();
  await c.writeFile("/g2", bytes("via g2"));
  assert.equal(text(await c.readFile("/g")), "via g2");
  assert.equal(text(await a.readFile("/g")), "g");
  // Limits and owner are kept; new inode numbers do not collide.
  assert.equal((await b.statfs()).totalBytes, 10_000);
  assert.equal((await b.statfs()).totalInodes, 50);
  await b.writeFile("/n", bytes(""));
  assert.equal((await b.lstat("/n")).uid, 4);
  const inos = new Set((await b.readDir("/")).map((e) => e.ino));
  assert.equal(inos.size, (await b.readDir("/")).length);
});

Deno.test("clone: open handles write only to their own side, in both directions", async () => {
  const a = new MemoryBackend();
  await a.writeFile("/f", bytes("0123456789"));
  const ha = await a.open("/f", { read: true, write: true });
  const view = await ha.read(0, 10);
  const b = a.clone();
  const hb = await b.open("/f", { read: true, write: true });
  await ha.write(bytes("AA"), 0);
  await hb.write(bytes("BB"), 8);
  await hb.truncate(12);
  assert.equal(text(await a.readFile("/f")), "AA23456789");
  assert.deepEqual([...await b.readFile("/f")], [...bytes("01234567BB"), 0, 0]);
  assert.equal(text(view), "0123456789", "a view read before the clone saw neither write");
  await ha.write(bytes("C"), 20);
  assert.equal((await b.lstat("/f")).size, 12);
  await ha.close();
  await hb.close();
});

Deno.test("clone: unlinked files held open stay behind; the clone has no locks", async () => {
  const a = new MemoryBackend();
  await a.writeFile("/gone", bytes("12345"));
  await a.writeFile("/kept", bytes("k"));
  const h = await a.open("/gone", { read: true });
  const ino = (await h.stat()).ino;
  await h.lock!("exclusive", false);
  const kept = await a.open("/kept", { read: true });
  await kept.lock!("exclusive", false);
  await a.unlink("/gone");
  const b = a.clone();
  await fails(b.statIno(ino), "ENOENT");
  const fs = await b.statfs();
  assert.equal(fs.usedBytes, 1);
  assert.equal(fs.usedInodes, 2);
  assert.equal((await a.statfs()).usedBytes, 6);
  const hb = await b.open("/kept", { read: true });
  await hb.lock!("exclusive", false);
  await hb.close();
  await h.close();
  await kept.close();
  assert.equal((await a.statfs()).usedBytes, 1);
});

// ------------------------------------------------------------------ inodes

Deno.test("inodes: statIno and inodePath follow renames and hard links", async () => {
  const b = new MemoryBackend();
  await b.mkdir("/a");
  await b.mkdir("/a/b");
  await b.writeFile("/a/b/f", bytes("x"));
  const ino = (await b.lstat("/a/b/f")).ino;
  const dino = (await b.lstat("/a/b")).ino;
  assert.equal(await b.inodePath(1), "/");
  assert.equal(await b.inodePath(ino), "/a/b/f");
  assert.equal((await b.statIno(ino)).size, 1);
  assert.deepEqual(await b.statIno(1), await b.lstat("/"));
  await b.rename("/a", "/z");
  assert.equal(await b.inodePath(ino), "/z/b/f");
  assert.equal(await b.inodePath(dino), "/z/b");
  await b.rename("/z/b/f", "/f");
  assert.equal(await b.inodePath(ino), "/f");
  await b.link("/f", "/z/b/hard");
  await b.unlink("/f");
  assert.equal(await b.inodePath(ino), "/z/b/hard");
  await b.link("/z/b/hard", "/h1");
  await b.link("/z/b/hard", "/h2");
  await b.unlink("/h1");
  assert.ok(["/z/b/hard", "/h2"].includes(await b.inodePath(ino)));
  await b.unlink("/z/b/hard");
  assert.equal(await b.inodePath(ino), "/h2");
  await b.rename("/h2", "/z/h3");
  assert.equal(await b.inodePath(ino), "/z/h3");
  await b.unlink("/z/h3");
  await fails(b.inodePath(ino), "ENOENT");
  await fails(b.statIno(ino), "ENOENT");
  await fails(b.statIno(999_999), "ENOENT");
  await fails(b.inodePath(-1), "ENOENT");
});

Deno.test("sync and fsync resolve; fsync of a missing path is ENOENT", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/f", bytes("x"));
  await b.sync();
  await b.fsync("/f");
  await b.fsync("/");
  await fails(b.fsync("/missing"), "ENOENT");
});

Deno.test("layer(): a MemoryBackend composes with layers", () => {
  const b = new MemoryBackend();
  const wrapped = b.layer({ layer: (inner) => ({ inner }) as unknown as MemoryBackend });
  assert.equal((wrapped as unknown as { inner: MemoryBackend }).inner, b);
});

Deno.test("mkdir drops set-user-ID/set-group-ID from mode; a set-group-ID directory passes on its group", async () => {
  const b = new MemoryBackend({ uid: 1, gid: 1 });
  await b.mkdir("/plain", { mode: 0o7777 });
  assert.equal((await b.lstat("/plain")).mode, S_IFDIR | 0o1777, "sticky stays");
  await b.mkdir("/shared", { gid: 50 });
  await b.chmod("/shared", 0o2775);
  await b.writeFile("/shared/f", bytes("x"));
  await b.mkdir("/shared/sub");
  await b.symlink("f", "/shared/l");
  await b.writeFile("/shared/own", bytes("x"), { gid: 7 });
  assert.equal((await b.lstat("/shared/f")).gid, 50);
  assert.equal((await b.lstat("/shared/f")).mode, S_IFREG | 0o644);
  assert.equal((await b.lstat("/shared/sub")).gid, 50);
  assert.equal(
    (await b.lstat("/shared/sub")).mode,
    S_IFDIR | 0o2755,
    "subdirectories inherit the bit",
  );
  assert.equal((await b.lstat("/shared/l")).gid, 50);
  assert.equal((await b.lstat("/shared/own")).gid, 7, "an explicit group wins");
  await b.writeFile("/top", bytes("x"));
  assert.equal((await b.lstat("/top")).gid, 1);
});

Deno.test("chmod of a symlink is ENOTSUP (its mode stays 0777), as Linux", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/f", bytes("x"));
  await b.symlink("f", "/l");
  await fails(b.chmod("/l", 0o600), "ENOTSUP");
  assert.equal((await b.lstat("/l")).mode, S_IFLNK | 0o777);
  assert.equal((await b.lstat("/f")).mode, S_IFREG | 0o644);
});

Deno.test("bad arguments give typed errors, never a crash", async () => {
  const b = new MemoryBackend();
  const notAPath = undefined as unknown as string;
  await fails(b.lstat(notAPath), "EINVAL");
  await fails(b.writeFile(notAPath, bytes("x")), "EINVAL");
  await fails(b.mkdir(42 as unknown as string), "EINVAL");
  await fails(b.rename(notAPath, "/x"), "EINVAL");
  await fails(b.symlink(7 as unknown as string, "/x"), "EINVAL");
  await fails(b.open("", {}), "EINVAL");
  await fails(b.readDir(""), "EINVAL");
  await fails(b.statIno(NaN), "ENOENT");
  await b.writeFile("/f", bytes("x"));
  const h = await b.open("/f"); // options default to reading
  assert.equal(text(await h.read(0, 1)), "x");
  await h.close();
});

Deno.test("metadata: sizes and 512-byte blocks; directories count entries as tmpfs does", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/one", new Uint8Array(1));
  await b.writeFile("/more", new Uint8Array(513));
  await b.writeFile("/empty", new Uint8Array());
  await b.symlink("x".repeat(600), "/l");
  await b.mkdir("/d");
  const m = async (p: string) => {
    const { size, blocks, rdev } = await b.lstat(p);
    return [size, blocks, rdev];
  };
  assert.deepEqual(await m("/one"), [1, 1, 0]);
  assert.deepEqual(await m("/more"), [513, 2, 0]);
  assert.deepEqual(await m("/empty"), [0, 0, 0]);
  assert.deepEqual(await m("/l"), [600, 0, 0]);
  assert.deepEqual(await m("/d"), [40, 0, 0]);
  assert.deepEqual(await m("/"), [40 + 5 * 20, 0, 0]);
  await b.unlink("/one");
  assert.deepEqual(await m("/"), [40 + 4 * 20, 0, 0]);
  const meta = await b.lstat("/more");
  assert.deepEqual(Object.keys(meta).sort(), [
    "atimeMs",
    "birthtimeMs",
    "blocks",
    "ctimeMs",
    "gid",
    "ino",
    "mode",
    "mtimeMs",
    "nlink",
    "rdev",
    "size",
    "type",
    "uid",
  ]);
  meta.size = 0; // a fresh record each time
  assert.equal((await b.lstat("/more")).size, 513);
});
