// VRootFsBackend: construction and containment modes, least privilege (a
// child process with only --allow-read/--allow-write on the root), exact
// modes, handles and locks, the sidecar ownership store, close. Hostile
// inputs live in vroot_escape_test.ts; the conformance kit in
// vroot_fs_conformance_test.ts.
import assert from "node:assert/strict";
import { VRootFsBackend } from "../../src/backends/vroot_fs.ts";
import type { Containment } from "../../src/backends/vroot_resolve.ts";
import { FileStorage } from "../../src/storage/file_storage.ts";

const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
const enc = new TextEncoder();
const dec = new TextDecoder();

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return String((e as { code?: string }).code);
  }
  return "ok";
}

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "anyfs_vroot_" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function withBackend(
  containment: Containment,
  body: (b: VRootFsBackend, dir: string) => Promise<void>,
  virtualOwnership = false,
): Promise<void> {
  await withDir(async (dir) => {
    const b = await VRootFsBackend.open(dir, { containment, virtualOwnership });
    try {
      await body(b, dir);
    } finally {
      await b.close();
    }
  });
}

Deno.test("VRootFsBackend.open checks the root and the containment asked for", async () => {
  await withDir(async (dir) => {
    assert.equal(await code(VRootFsBackend.open(`${dir}/missing`)), "ENOENT");
    await Deno.writeTextFile(`${dir}/file`, "x");
    assert.equal(await code(VRootFsBackend.open(`${dir}/file`)), "ENOTDIR");
    assert.throws(() => new VRootFsBackend("relative/dir"), { code: "EINVAL" });
    assert.throws(
      () => new VRootFsBackend(dir, { containment: "loose" as Containment }),
      { code: "EINVAL" },
    );
    // These tests run with every permission: "auto" picks the anchored walk.
    await using auto = await VRootFsBackend.open(dir);
    assert.equal(await auto.containment(), "anchored");
    await using checked = await VRootFsBackend.open(dir, { containment: "checked" });
    assert.equal(await checked.containment(), "checked");
  });
});

Deno.test("VRootFsBackend: after close every operation fails with EBADF", async () => {
  await withDir(async (dir) => {
    const b = await VRootFsBackend.open(dir);
    await b.writeFile("/a", enc.encode("x"));
    const h = await b.open("/a", { read: true });
    await b.close();
    assert.equal(await code(b.lstat("/a")), "EBADF");
    assert.equal(await code(b.writeFile("/b", enc.encode("x"))), "EBADF");
    // A handle opened before stays usable: it holds its own descriptor.
    assert.equal(dec.decode(await h.read(0, 10)), "x");
    await h.close();
    await b.close(); // twice is fine
  });
});

for (const containment of ["anchored", "checked"] as const) {
  Deno.test(`VRootFsBackend (${containment}): close waits for the operations in flight`, async () => {
    // Closing releases the root's descriptor: an operation still walking
    // from it would otherwise find its number closed or, once reused by
    // another open, naming some other directory.
    await withBackend(containment, async (b) => {
      for (let i = 0; i < 8; i++) await b.writeFile(`/f${i}`, enc.encode(`content ${i}`));
      const settled: string[] = [];
      const reads = Array.from(
        { length: 8 },
        (_, i) =>
          b.readFile(`/f${i}`).then(
            (d) => settled.push(dec.decode(d)),
            (e) => settled.push(e.code),
          ),
      );
      await b.close();
      assert.equal(settled.length, 8, "every operation started before close() has finished");
      await Promise.all(reads);
      assert.deepEqual(settled.sort(), Array.from({ length: 8 }, (_, i) => `content ${i}`));
      assert.equal(await code(b.lstat("/f0")), "EBADF");
    });
  });
}

for (const containment of ["anchored", "checked"] as const) {
  Deno.test(`VRootFsBackend (${containment}): new entries get exactly the mode asked for`, async () => {
    await withBackend(containment, async (b, dir) => {
      await b.writeFile("/f", new Uint8Array(1), { mode: 0o777 });
      assert.equal((await Deno.lstat(`${dir}/f`)).mode! & 0o7777, 0o777);
      await b.mkdir("/d", { mode: 0o1777 });
      assert.equal((await b.lstat("/d")).mode & 0o7777, 0o1777);
      const h = await b.open("/g", { write: true, createNew: true, mode: 0o640 });
      await h.close();
      assert.equal((await b.lstat("/g")).mode & 0o7777, 0o640);
      await b.appendFile("/h", enc.encode("x"), { mode: 0o600 });
      assert.equal((await b.lstat("/h")).mode & 0o7777, 0o600);
      await b.chmod("/f", 0o4755);
      assert.equal((await Deno.lstat(`${dir}/f`)).mode! & 0o7777, 0o4755);
      await b.writeFile("/f", new Uint8Array(2), { mode: 0o600 }); // existing: mode kept
      assert.equal((await b.lstat("/f")).mode & 0o7777, 0o4755);
      await b.chmod("/", 0o750);
      assert.equal((await b.lstat("/")).mode & 0o7777, 0o750);
      // The root itself, by every attribute call.
      await b.utime("/", 7_000, 8_000);
      await b.utime("/", null, 9_000);
      assert.deepEqual([(await b.lstat("/")).atimeMs, (await b.lstat("/")).mtimeMs], [
        7_000,
        9_000,
      ]);
      assert.equal((await Deno.lstat(dir)).mtime?.getTime(), 9_000);
      await b.chown("/", null, null);
      assert.equal((await b.lstat("/")).type, "dir");
    });
  });

  Deno.test(`VRootFsBackend (${containment}): listings carry host types and inode numbers`, async () => {
    await withBackend(containment, async (b, dir) => {
      await b.mkdir("/d");
      await b.writeFile("/d/f", enc.encode("x"));
      await b.symlink("f", "/d/l");
      const list = await b.readDir("/d");
      const byName = Object.fromEntries(list.map((e) => [e.name, e]));
      assert.deepEqual(Object.keys(byName).sort(), ["f", "l"]);
      assert.equal(byName.f.type, "file");
      assert.equal(byName.l.type, "symlink");
      assert.equal(byName.f.ino, (await Deno.lstat(`${dir}/d/f`)).ino);
      assert.equal((await b.lstat("/d/f")).ino, byName.f.ino);
      assert.equal(await code(b.readDir("/d/f")), "ENOTDIR");
      assert.equal(await code(b.readDir("/d/l")), "ENOTDIR");
      assert.equal(await code(b.readDir("/nope")), "ENOENT");
    });
  });

  Deno.test(`VRootFsBackend (${containment}): handles read and write at positions, survive unlink and lock with flock`, async () => {
    await withBackend(containment, async (b) => {
      const data = new Uint8Array(8192).map((_, i) => (i * 7) & 0xff);
      await b.writeFile("/f", data);
      const h = await b.open("/f", { read: true, write: true });
      const parts = await Promise.all(Array.from({ length: 32 }, (_, i) => h.read(i * 256, 256)));
      parts.forEach((p, i) => assert.deepEqual(p, data.subarray(i * 256, i * 256 + 256)));
      await b.unlink("/f");
      await h.write(enc.encode("after unlink"), 0);
      assert.equal(dec.decode(await h.read(0, 12)), "after unlink");
      assert.equal((await h.stat()).nlink, 0);
      await h.close();

      await b.writeFile("/l", enc.encode("x"));
      const one = await b.open("/l", { read: true });
      const two = await b.open("/l", { read: true });
      await one.lock!("exclusive", false);
      assert.equal(await code(two.lock!("shared", false)), "EAGAIN");
      await one.unlock!();
      await two.lock!("shared", false);
      await one.close();
      await two.close();
      assert.equal(
        await code(b.open("/l", { read: true, write: false, append: false, truncate: true })),
        "EINVAL",
      );
      assert.equal(await code(b.open("/", { write: true })), "EISDIR");
      const dirHandle = await b.open("/", { read: true });
      assert.equal(await code(dirHandle.read(0, 1)), "EISDIR");
      await dirHandle.close();
    });
  });

  Deno.test(`VRootFsBackend (${containment}): copy, truncate, range reads, links, times, sync`, async () => {
    await withBackend(containment, async (b, dir) => {
      await b.writeFile("/a", enc.encode("0123456789"), { mode: 0o640 });
      await b.copyFile("/a", "/b");
      assert.equal(dec.decode(await b.readFile("/b")), "0123456789");
      assert.equal((await b.lstat("/b")).mode & 0o7777, 0o640);
      await b.link("/a", "/a2");
      await b.copyFile("/a", "/a2"); // the same inode: nothing to do, nothing lost
      assert.equal(dec.decode(await b.readFile("/a2")), "0123456789");
      assert.equal(dec.decode(await b.read("/a", 2, 3)), "234");
      await b.truncate("/a", 4);
      assert.equal(dec.decode(await b.readFile("/a2")), "0123");
      await b.utime("/b", 1_000, 2_000);
      assert.equal((await b.lstat("/b")).mtimeMs, 2_000);
      await b.utime("/b", null, 3_000);
      assert.equal((await b.lstat("/b")).atimeMs, 1_000);
      await b.symlink("b", "/lnk");
      await b.utime("/lnk", 4_000, 5_000); // the link's own times
      assert.equal((await Deno.lstat(`${dir}/lnk`)).mtime?.getTime(), 5_000);
      assert.equal((await b.lstat("/b")).mtimeMs, 3_000);
      await b.rename("/b", "/c");
      await b.sync();
      await b.fsync("/c");
      await b.fsync("/");
      const s = await b.statfs();
      assert.ok(s.totalBytes > 0);
    });
  });
}

Deno.test("VRootFsBackend with only --allow-read/--allow-write on the root: checked containment, contained, and permission errors name the flag", async () => {
  await withDir(async (base) => {
    const root = `${base}/root`;
    await Deno.mkdir(root);
    await Deno.writeTextFile(`${base}/secret.txt`, "outside");
    await Deno.symlink(base, `${root}/up`);
    await Deno.symlink(`${base}/secret.txt`, `${root}/s`);
    const script = `${base}/probe.ts`;
    await Deno.writeTextFile(
      script,
      `
      import { VRootFsBackend } from ${
        JSON.stringify(new URL("../../src/backends/vroot_fs.ts", import.meta.url).href)
      };
      import { FileStorage } from ${
        JSON.stringify(new URL("../../src/storage/file_storage.ts", import.meta.url).href)
      };
      const out = [];
      const code = async (p) => { try { await p; return "ok"; } catch (e) { return e.code + (e.code === "EACCES" ? " " + e.message : ""); } };
      await using b = await VRootFsBackend.open(${JSON.stringify(root)});
      const fs = new FileStorage(b);
      out.push(await b.containment());
      await fs.writeTextFile("/hello.txt", "hi");
      out.push(await fs.readTextFile("/hello.txt"));
      out.push(await code(b.readFile("/up/secret.txt")));
      out.push(await code(fs.readTextFile("/up/secret.txt")));
      out.push(await code(fs.readTextFile("/s")));
      out.push(await code(b.statfs()));
      console.log(JSON.stringify(out));
      await using ro = await VRootFsBackend.open(${JSON.stringify(root)});
      `,
    );
    const run = (flags: string[]) =>
      new Deno.Command(Deno.execPath(), {
        // The project's config: FileStorage imports npm packages through its import map.
        args: ["run", "--no-prompt", "--config", CONFIG, ...flags, script],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
    const full = await run([`--allow-read=${root},${script}`, `--allow-write=${root}`]);
    assert.equal(full.code, 0, dec.decode(full.stderr));
    const out = JSON.parse(dec.decode(full.stdout));
    assert.equal(out[0], "checked");
    assert.equal(out[1], "hi");
    assert.equal(out[2], "ENOTDIR");
    assert.equal(out[3], "ENOENT");
    assert.equal(out[4], "ENOENT");
    assert.match(out[5], /^EACCES .*--allow-sys=statfs/);

    const readOnly = await run([`--allow-read=${root},${script}`]);
    assert.notEqual(readOnly.code, 0);
    assert.match(dec.decode(readOnly.stderr), new RegExp(`--allow-write=${root}`));
  });
});

Deno.test("VRootFsBackend with --allow-read/--allow-write wider than the root (no -A): a final symlink out is never opened", async () => {
  // Without --allow-all Deno resolves a path's symbolic links to check its
  // permission and opens what it found, so O_NOFOLLOW alone cannot tell a
  // link from its target: with permissions that also cover the target, the
  // backend must still refuse to read or write through the link.
  await withDir(async (base) => {
    const root = `${base}/root`;
    await Deno.mkdir(root);
    await Deno.writeTextFile(`${base}/secret.txt`, "outside");
    await Deno.symlink(`${base}/secret.txt`, `${root}/s`);
    const script = `${base}/probe.ts`;
    await Deno.writeTextFile(
      script,
      `
      import { VRootFsBackend } from ${
        JSON.stringify(new URL("../../src/backends/vroot_fs.ts", import.meta.url).href)
      };
      const out = [];
      const code = async (p) => { try { await p; return "ok"; } catch (e) { return e.code; } };
      await using b = await VRootFsBackend.open(${JSON.stringify(root)});
      out.push(await b.containment());
      out.push(await code(b.readFile("/s")));
      out.push(await code(b.read("/s", 0, 3)));
      out.push(await code(b.writeFile("/s", new TextEncoder().encode("pwned"))));
      out.push(await code(b.appendFile("/s", new TextEncoder().encode("pwned"))));
      out.push(await code(b.truncate("/s", 0)));
      out.push(await code(b.open("/s", { read: true })));
      out.push(await code(b.open("/s", { write: true, truncate: true })));
      out.push(await code(b.chmod("/s", 0o600)));
      console.log(JSON.stringify(out));
      `,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "--config",
        CONFIG,
        `--allow-read=${base}`,
        `--allow-write=${base}`,
        script,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, dec.decode(out.stderr));
    const codes = JSON.parse(dec.decode(out.stdout));
    assert.equal(codes[0], "checked");
    for (const c of codes.slice(1, 8)) assert.equal(c, "ELOOP");
    assert.notEqual(codes[8], "ok");
    assert.equal(await Deno.readTextFile(`${base}/secret.txt`), "outside");
    assert.equal((await Deno.stat(`${base}/secret.txt`)).mode! & 0o777, 0o644);
  });
});

Deno.test("VRootFsBackend virtualOwnership: chown and chmod without touching the host, records follow the inode", async () => {
  await withDir(async (dir) => {
    const hostOwner = (await Deno.lstat(dir)).uid;
    let b = await VRootFsBackend.open(dir, { virtualOwnership: true, uid: 1000, gid: 1000 });
    try {
      await b.writeFile("/f", enc.encode("data"), { mode: 0o600 });
      let meta = await b.lstat("/f");
      assert.deepEqual([meta.uid, meta.gid, meta.mode & 0o7777], [1000, 1000, 0o600]);
      assert.equal((await Deno.lstat(`${dir}/f`)).mode! & 0o7777, 0o644, "host mode is fixed");

      await b.chown("/f", 4242, 4343);
      await b.chmod("/f", 0o000);
      meta = await b.lstat("/f");
      assert.deepEqual([meta.uid, meta.gid, meta.mode & 0o7777], [4242, 4343, 0o000]);
      const host = await Deno.lstat(`${dir}/f`);
      assert.deepEqual([host.uid, host.mode! & 0o7777], [hostOwner, 0o644]);
      // Mode 000 is what callers see; the backend can still use the file.
      assert.equal(dec.decode(await b.readFile("/f")), "data");

      await b.chmod("/f", 0o6755);
      await b.chown("/f", 1, null); // clears set-user-ID, and set-group-ID (group-executable)
      assert.equal((await b.lstat("/f")).mode & 0o7777, 0o755);

      await b.rename("/f", "/g");
      await b.link("/g", "/h");
      assert.equal((await b.lstat("/h")).uid, 1);
      const handle = await b.open("/h", { read: true });
      assert.equal((await handle.stat()).uid, 1);
      await handle.close();

      await b.mkdir("/d", { mode: 0o700, uid: 7, gid: 8 });
      meta = await b.lstat("/d");
      assert.deepEqual([meta.uid, meta.gid, meta.mode & 0o7777], [7, 8, 0o700]);
      await b.symlink("g", "/s");
      assert.equal(await code(b.chmod("/s", 0o600)), "ENOTSUP");

      // The reserved store directory is invisible and untouchable.
      assert.deepEqual((await b.readDir("/")).map((e) => e.name).sort(), ["d", "g", "h", "s"]);
      assert.equal(await code(b.lstat("/.anyfs-vroot")), "ENOENT");
      assert.equal(await code(b.readFile("/.anyfs-vroot/owners.db")), "ENOENT");
      assert.equal(await code(b.mkdir("/.anyfs-vroot")), "EACCES");
      assert.equal(await code(b.writeFile("/.anyfs-vroot/x", enc.encode("x"))), "EACCES");
      assert.equal(await code(b.rename("/g", "/.anyfs-vroot")), "EACCES");
      assert.equal(await code(b.rmdir("/.anyfs-vroot")), "EACCES");
      await b.mkdir("/d/.anyfs-vroot"); // only the top-level name is reserved
      await b.sync();
    } finally {
      await b.close();
    }

    // Records persist across a reopen.
    b = await VRootFsBackend.open(dir, { virtualOwnership: true });
    try {
      const meta = await b.lstat("/g");
      assert.deepEqual([meta.uid, meta.gid, meta.mode & 0o7777], [1, 4343, 0o755]);
      // Removing the last name drops the record: a new file starts fresh.
      await b.unlink("/g");
      assert.equal((await b.lstat("/h")).uid, 1, "one name left: record kept");
      await b.unlink("/h");
      await b.writeFile("/h", enc.encode("new"));
      assert.notEqual((await b.lstat("/h")).uid, 1);
      // Without the option the same root shows the host's values.
      await using plain = await VRootFsBackend.open(dir);
      assert.equal((await plain.lstat("/d")).uid, hostOwner);
      assert.ok((await plain.readDir("/")).some((e) => e.name === ".anyfs-vroot"));
    } finally {
      await b.close();
    }
  });
});

Deno.test("VRootFsBackend virtualOwnership refuses a reserved name that is not a directory", async () => {
  await withDir(async (dir) => {
    await Deno.symlink("/tmp", `${dir}/.anyfs-vroot`);
    assert.equal(await code(VRootFsBackend.open(dir, { virtualOwnership: true })), "ENOTDIR");
    await Deno.remove(`${dir}/.anyfs-vroot`);
    await Deno.writeTextFile(`${dir}/.anyfs-vroot`, "x");
    assert.equal(await code(VRootFsBackend.open(dir, { virtualOwnership: true })), "ENOTDIR");
  });
});

Deno.test("VRootFsBackend through FileStorage: symlinks inside the root work both ways", async () => {
  await withDir(async (dir) => {
    await using b = await VRootFsBackend.open(dir);
    const fs = new FileStorage(b);
    await fs.mkdir("/a/b", { recursive: true });
    await fs.writeTextFile("/a/b/c.txt", "deep");
    await fs.symlink("/a/b", "/abs");
    await fs.symlink("a/b/c.txt", "/rel");
    assert.equal(await fs.readTextFile("/abs/c.txt"), "deep");
    assert.equal(await fs.readTextFile("/rel"), "deep");
    assert.equal(await fs.realPath("/abs/c.txt"), "/a/b/c.txt");
    // On the host the absolute target is a host path: the backend stored it verbatim.
    assert.equal(await Deno.readLink(`${dir}/abs`), "/a/b");
  });
});
