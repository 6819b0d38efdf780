// StdFsBackend: a passthrough to Deno's file API under a root prefix. These
// tests pin what the backend adds to the host (exact modes, no-follow
// operations, flock locks, the sync record, permission messages) and what
// it documents it does NOT do (contain symlinks and "..").
import assert from "node:assert/strict";
import { StdFsBackend } from "../../src/backends/std_fs.ts";
import { FileStorage } from "../../src/storage/file_storage.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function withRoot(body: (dir: string, backend: StdFsBackend) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "anyfs_stdfs_" });
  try {
    await body(dir, new StdFsBackend({ root: dir }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

Deno.test("StdFsBackend maps backend paths onto root + path", async () => {
  await withRoot(async (dir, b) => {
    await b.mkdir("/docs");
    await b.writeFile("/docs/a.txt", enc.encode("hello"));
    assert.equal(await Deno.readTextFile(`${dir}/docs/a.txt`), "hello");
    const meta = await b.lstat("/docs/a.txt");
    const host = await Deno.lstat(`${dir}/docs/a.txt`);
    assert.equal(meta.type, "file");
    assert.equal(meta.ino, host.ino);
    assert.equal(meta.size, 5);
    assert.deepEqual((await b.readDir("/docs")).map((e) => [e.name, e.type, e.ino]), [
      ["a.txt", "file", host.ino],
    ]);
    assert.equal((await b.lstat("/")).type, "dir");
  });
});

Deno.test("StdFsBackend gives new files and directories exactly the mode asked for, whatever the umask", async () => {
  await withRoot(async (_dir, b) => {
    await b.writeFile("/f", new Uint8Array(1), { mode: 0o777 });
    assert.equal((await b.lstat("/f")).mode & 0o7777, 0o777);
    await b.mkdir("/d", { mode: 0o1777 });
    assert.equal((await b.lstat("/d")).mode & 0o7777, 0o1777);
    const h = await b.open("/g", { write: true, createNew: true, mode: 0o666 });
    await h.close();
    assert.equal((await b.lstat("/g")).mode & 0o7777, 0o666);
    // An existing file keeps its mode when rewritten.
    await b.chmod("/f", 0o600);
    await b.writeFile("/f", new Uint8Array(2), { mode: 0o777 });
    assert.equal((await b.lstat("/f")).mode & 0o7777, 0o600);
  });
});

Deno.test("StdFsBackend applies no-follow operations to the link itself", async () => {
  await withRoot(async (dir, b) => {
    await b.writeFile("/target", enc.encode("t"));
    await b.symlink("target", "/link");
    assert.equal(await b.readLink("/link"), "target");
    assert.equal((await b.lstat("/link")).type, "symlink");
    await b.utime("/link", 1_000, 2_000);
    assert.equal((await Deno.lstat(`${dir}/link`)).mtime?.getTime(), 2_000);
    assert.notEqual((await Deno.stat(`${dir}/target`)).mtime?.getTime(), 2_000);
    assert.equal(await code(b.chmod("/link", 0o600)), "ENOTSUP");
    await b.unlink("/link");
    assert.equal(await Deno.readTextFile(`${dir}/target`), "t");
    assert.equal(await code(b.unlink("/")), "EISDIR");
    await b.mkdir("/d");
    assert.equal(await code(b.unlink("/d")), "EISDIR");
    assert.equal(await code(b.rmdir("/target")), "ENOTDIR");
    assert.equal(await code(b.rmdir("/")), "EBUSY");
    assert.equal(await code(b.rename("/", "/x")), "EBUSY");
  });
});

Deno.test("StdFsBackend: writing through a dangling link is ELOOP for the backend, and FileStorage then creates the target", async () => {
  await withRoot(async (dir, b) => {
    await b.symlink("made", "/dangling");
    assert.equal(await code(b.writeFile("/dangling", enc.encode("x"))), "ELOOP");
    await new FileStorage(b).writeTextFile("/dangling", "via storage");
    assert.equal(await Deno.readTextFile(`${dir}/made`), "via storage");
  });
});

Deno.test("StdFsBackend has no containment: the host follows a symlink out of the root (documented)", async () => {
  const outside = await Deno.makeTempDir({ prefix: "anyfs_stdfs_outside_" });
  try {
    await Deno.writeTextFile(`${outside}/secret.txt`, "outside");
    await withRoot(async (_dir, b) => {
      await b.symlink(outside, "/out");
      assert.equal(dec.decode(await b.readFile("/out/secret.txt")), "outside");
    });
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("StdFsBackend handles: positional reads and writes never interleave their seeks", async () => {
  await withRoot(async (_dir, b) => {
    const data = new Uint8Array(4096).map((_, i) => i & 0xff);
    await b.writeFile("/f", data);
    const h = await b.open("/f", { read: true, write: true });
    const reads = await Promise.all(
      Array.from({ length: 64 }, (_, i) => h.read(i * 64, 64)),
    );
    reads.forEach((r, i) => assert.deepEqual(r, data.subarray(i * 64, i * 64 + 64)));
    await Promise.all(
      Array.from({ length: 32 }, (_, i) => h.write(new Uint8Array(8).fill(i), i * 8)),
    );
    const head = await h.read(0, 256);
    for (let i = 0; i < 32; i++) {
      assert.deepEqual(head.subarray(i * 8, i * 8 + 8), new Uint8Array(8).fill(i));
    }
    assert.equal((await h.read(4090, 100)).length, 6);
    assert.equal((await h.read(5000, 10)).length, 0);
    await h.truncate(10);
    assert.equal((await h.stat()).size, 10);
    await h.close();
    assert.equal(await code(h.read(0, 1)), "EBADF");
  });
});

Deno.test("StdFsBackend handles: access modes are enforced and append writes at the end", async () => {
  await withRoot(async (_dir, b) => {
    await b.writeFile("/f", enc.encode("abc"));
    const r = await b.open("/f", { read: true });
    assert.equal(await code(r.write(enc.encode("x"), 0)), "EBADF");
    assert.equal(await code(r.truncate(0)), "EINVAL");
    await r.close();
    const a = await b.open("/f", { append: true });
    await a.write(enc.encode("d"), 0);
    await a.close();
    assert.equal(dec.decode(await b.readFile("/f")), "abcd");
    assert.equal(await code(b.open("/f", { write: true, createNew: true })), "EEXIST");
    assert.equal(await code(b.open("/missing", { read: true })), "ENOENT");
  });
});

Deno.test("StdFsBackend locks are flock locks: exclusive conflicts with another handle, close releases", async () => {
  await withRoot(async (_dir, b) => {
    assert.ok(b.capabilities.has("locks"));
    await b.writeFile("/f", enc.encode("x"));
    const one = await b.open("/f", { read: true });
    const two = await b.open("/f", { read: true });
    await one.lock!("exclusive", false);
    assert.equal(await code(two.lock!("shared", false)), "EAGAIN");
    const waiting = two.lock!("shared", true);
    await one.close();
    await waiting;
    const three = await b.open("/f", { read: true });
    await three.lock!("shared", false); // shared locks coexist
    assert.equal(await code(three.lock!("exclusive", false)), "EAGAIN");
    await two.unlock!();
    await three.lock!("exclusive", false);
    await two.close();
    await three.close();
  });
});

Deno.test("StdFsBackend range reads, truncate, append and copy", async () => {
  await withRoot(async (_dir, b) => {
    await b.writeFile("/f", enc.encode("0123456789"));
    assert.equal(dec.decode(await b.read("/f", 3, 4)), "3456");
    assert.equal((await b.read("/f", 20, 4)).length, 0);
    await b.truncate("/f", 4);
    await b.appendFile("/f", enc.encode("!"));
    assert.equal(dec.decode(await b.readFile("/f")), "0123!");
    await b.appendFile("/new", enc.encode("n"), { mode: 0o640 });
    assert.equal((await b.lstat("/new")).mode & 0o7777, 0o640);
    await b.chmod("/f", 0o604);
    await b.copyFile("/f", "/g");
    assert.equal(dec.decode(await b.readFile("/g")), "0123!");
    assert.equal((await b.lstat("/g")).mode & 0o7777, 0o604);
    await b.link("/g", "/h");
    assert.equal((await b.lstat("/g")).nlink, 2);
    assert.equal(await code(b.read("/f", -1, 2)), "EINVAL");
  });
});

Deno.test("StdFsBackend sync fsyncs what changed, fsync names a path, statfs reports the host", async () => {
  await withRoot(async (_dir, b) => {
    await b.mkdir("/d");
    await b.writeFile("/d/f", enc.encode("x"));
    await b.rename("/d", "/e");
    const h = await b.open("/e/g", { write: true, create: true });
    await h.write(enc.encode("y"), 0);
    await b.sync();
    await h.close();
    await b.fsync("/e/f");
    assert.equal(await code(b.fsync("/nope")), "ENOENT");
    const s = await b.statfs();
    assert.ok(s.totalBytes > 0 && s.availableBytes <= s.totalBytes);
    assert.equal(s.maxNameLength, 255);
  });
});

Deno.test("StdFsBackend rejects relative paths and NUL bytes with EINVAL", async () => {
  await withRoot(async (_dir, b) => {
    assert.equal(await code(b.lstat("relative")), "EINVAL");
    assert.equal(await code(b.lstat("/a\0b")), "EINVAL");
    assert.equal(await code(b.lstat("/" + "x".repeat(300))), "ENAMETOOLONG");
    assert.throws(() => new StdFsBackend({ root: "relative" }), { code: "EINVAL" });
  });
});

Deno.test("StdFsBackend without --allow-write fails with EACCES whose message names the flag to add", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anyfs_stdfs_perm_" });
  try {
    const script = `
      import { StdFsBackend } from ${
      JSON.stringify(new URL("../../src/backends/std_fs.ts", import.meta.url).href)
    };
      const b = new StdFsBackend({ root: ${JSON.stringify(dir)} });
      console.log((await b.readDir("/")).length);
      try { await b.writeFile("/x", new Uint8Array(1)); } catch (e) { console.log(e.code, e.message); }
    `;
    // `deno eval` runs with every permission: a script file it must be.
    const file = `${dir}/probe.ts`;
    await Deno.writeTextFile(file, script);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", `--allow-read=${dir}`, file],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = dec.decode(out.stdout);
    assert.equal(out.code, 0, dec.decode(out.stderr));
    assert.match(text, /^1\n/); // the probe script itself
    assert.match(text, new RegExp(`EACCES .*--allow-write=${dir}`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
