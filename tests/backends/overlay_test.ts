// Overlay behaviour the kit cannot see: the lower layer is never written,
// copy-up keeps data and metadata, whiteouts and opaque directories hide
// deleted lower entries (also after the upper database is closed and
// reopened), inode numbers stay unique and stable, open files follow a
// copy-up, the markers stay invisible, and capabilities are only what both
// layers can honour.
import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { Overlay } from "../../src/backends/overlay.ts";
import { WORK_DIR } from "../../src/backends/overlay_format.ts";
import { SqliteBackend } from "../../src/backends/sqlite.ts";
import { type Backend, supports } from "../../src/core/backend.ts";
import { S_IFCHR, S_IFIFO } from "../../src/core/types.ts";
import { FileStorage } from "../../src/storage/file_storage.ts";
import { runDifferential } from "../../src/testing/differential.ts";
import { coreOnly } from "../fixtures/core_only.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
type Closable = Backend & { close?: () => void };
type Kind = "Memory" | "Sqlite";
const PAIRS: [Kind, Kind][] = [
  ["Memory", "Memory"],
  ["Memory", "Sqlite"],
  ["Sqlite", "Memory"],
  ["Sqlite", "Sqlite"],
];
const T2001 = Date.UTC(2001, 1, 3, 4, 5, 6);

function layer(kind: Kind): Closable {
  return kind === "Memory" ? new MemoryBackend({ uid: 0, gid: 0 }) : SqliteBackend.memory();
}

/** 3 MiB and a bit of a recognizable pattern: more than one copy-up chunk. */
const BIG = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 7 + (i >> 12)) & 0xff);

/** A lower layer with files, directories, links, modes, owners, times and xattrs. */
async function prefill(lower: Backend): Promise<void> {
  const b = lower as MemoryBackend; // every capability; the same calls work on SqliteBackend
  await b.mkdir("/etc");
  await b.writeFile("/etc/motd", enc.encode("hello\n"));
  await b.writeFile("/etc/secret", enc.encode("s3cret"), { mode: 0o600 });
  await b.chown("/etc/secret", 1000, 1001);
  await b.setXattr("/etc/secret", "user.tag", enc.encode("blue"));
  await b.utime("/etc/secret", T2001, T2001);
  await b.mkdir("/etc/conf", { mode: 0o750 });
  await b.chown("/etc/conf", 7, 8);
  await b.setXattr("/etc/conf", "user.dir", enc.encode("conf"));
  await b.writeFile("/etc/conf/a.conf", enc.encode("a=1\n"));
  await b.writeFile("/etc/conf/b.conf", enc.encode("b=2\n"));
  await b.mkdir("/etc/conf/sub");
  await b.writeFile("/etc/conf/sub/deep", enc.encode("deep"));
  await b.utime("/etc/conf", T2001, T2001);
  await b.mkdir("/bin");
  await b.writeFile("/bin/tool", BIG, { mode: 0o755 });
  await b.chmod("/bin/tool", 0o4755);
  await b.symlink("etc/motd", "/link");
  await b.writeFile("/hard1", enc.encode("shared"));
  await b.link("/hard1", "/hard2");
  await b.mknod("/fifo", S_IFIFO | 0o644, 0);
  await b.mkdir("/data");
  await b.mkdir("/data/empty");
  await b.mkdir("/data/nested");
  await b.writeFile("/data/nested/file", enc.encode("nested"));
  await b.writeFile("/data/x", enc.encode("x"));
}

/**
 * Everything a layer holds, except access times (reading through the
 * overlay updates them as reading the layer directly would).
 */
async function dump(backend: Backend): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const e of await backend.readDir(dir)) {
      const path = dir === "/" ? `/${e.name}` : `${dir}/${e.name}`;
      const { atimeMs: _, ...meta } = await backend.lstat(path);
      const entry: Record<string, unknown> = { ...meta, listedIno: e.ino };
      if (meta.type === "file") {
        const data = await backend.readFile(path);
        entry.content = data.length > 64
          ? `${data.length} bytes, sum ${sum(data)}`
          : dec.decode(data);
      }
      if (meta.type === "symlink" && supports(backend, "symlinks")) {
        entry.target = await backend.readLink(path);
      }
      if (supports(backend, "xattrs")) {
        const names = await backend.listXattr(path);
        entry.xattrs = Object.fromEntries(
          await Promise.all(
            names.map(async (n) => [n, dec.decode(await backend.getXattr(path, n))]),
          ),
        );
      }
      out[path] = entry;
      if (meta.type === "dir") await walk(path);
    }
  };
  const { atimeMs: _, ...root } = await backend.lstat("/");
  out["/"] = root;
  await walk("/");
  return out;
}

function sum(data: Uint8Array): number {
  let h = 0;
  for (let i = 0; i < data.length; i++) h = (h * 31 + data[i]) >>> 0;
  return h;
}

async function names(backend: Backend, dir: string): Promise<string[]> {
  return (await backend.readDir(dir)).map((e) => e.name).sort();
}

async function rejects(action: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(action, (e: { code?: string }) => {
    assert.equal(e.code, code);
    return true;
  });
}

for (const [lowerKind, upperKind] of PAIRS) {
  const pair = `Overlay(${lowerKind}, ${upperKind})`;

  Deno.test(`${pair}: no kind of write through the overlay changes the lower layer`, async () => {
    const lower = layer(lowerKind);
    const upper = layer(upperKind);
    try {
      await prefill(lower);
      const before = await dump(lower);
      const overlay = new Overlay(lower, upper);
      const fs = new FileStorage(overlay);

      await fs.writeTextFile("/etc/motd", "changed\n");
      await fs.writeTextFile("/etc/conf/a.conf", "more\n", { append: true });
      await fs.truncate("/bin/tool", 10);
      const file = await fs.open("/data/nested/file", { write: true });
      await file.write(enc.encode("NE"));
      await file.close();
      await fs.chmod("/etc/secret", 0o640);
      await fs.chown("/etc/conf/b.conf", 5, 6);
      await fs.utime("/data/x", 1, 2);
      await overlay.setXattr("/etc/conf/sub", "user.new", enc.encode("v"));
      await overlay.removeXattr("/etc/secret", "user.tag");
      await fs.rename("/etc/conf", "/conf2");
      await fs.remove("/link");
      await fs.remove("/data/empty");
      await fs.link("/hard1", "/hard3");
      await fs.remove("/fifo");
      await fs.symlink("etc/motd", "/fifo");
      await fs.copyFile("/hard2", "/copied");
      await fs.rename("/data/x", "/data/nested/file");
      await fs.remove("/data", { recursive: true });
      await fs.mkdir("/data");

      // The union shows every change…
      assert.equal(await fs.readTextFile("/etc/motd"), "changed\n");
      assert.equal(await fs.readTextFile("/conf2/a.conf"), "a=1\nmore\n");
      assert.equal((await fs.stat("/bin/tool")).size, 10);
      assert.equal(((await fs.stat("/etc/secret")).mode ?? 0) & 0o7777, 0o640);
      assert.deepEqual(await overlay.listXattr("/etc/secret"), []);
      assert.equal(dec.decode(await overlay.getXattr("/conf2/sub", "user.new")), "v");
      assert.equal(await fs.readLink("/fifo"), "etc/motd");
      assert.equal(await fs.exists("/etc/conf"), false);
      assert.equal(await fs.exists("/link"), false);
      assert.deepEqual(await names(overlay, "/data"), []);
      // hard2, the other lower name, came up with hard1.
      assert.equal((await fs.lstat("/hard1")).nlink, 3);
      assert.equal((await fs.lstat("/hard2")).ino, (await fs.lstat("/hard3")).ino);
      // …and the lower layer is exactly what it was.
      assert.deepEqual(await dump(lower), before);
    } finally {
      lower.close?.();
      upper.close?.();
    }
  });

  Deno.test(`${pair}: copy-up keeps data, mode, owner, times and xattrs, parents too`, async () => {
    const lower = layer(lowerKind);
    const upper = layer(upperKind);
    try {
      await prefill(lower);
      const overlay = new Overlay(lower, upper);
      const fs = new FileStorage(overlay);
      const secret = await overlay.lstat("/etc/secret");
      const conf = await overlay.lstat("/etc/conf");
      const tool = await overlay.lstat("/bin/tool");

      // A metadata change copies up the whole file and its parents.
      await overlay.setXattr("/etc/secret", "user.more", enc.encode("1"));
      const up = await (upper as MemoryBackend).lstat("/etc/secret");
      assert.equal(dec.decode(await upper.readFile("/etc/secret")), "s3cret");
      assert.equal(up.mode & 0o7777, 0o600);
      assert.deepEqual([up.uid, up.gid], [1000, 1001]);
      assert.equal(up.mtimeMs, T2001);
      assert.equal(dec.decode(await overlay.getXattr("/etc/secret", "user.tag")), "blue");
      const after = await overlay.lstat("/etc/secret");
      assert.equal(after.ino, secret.ino, "a copied-up file keeps its inode number");
      assert.equal(after.mtimeMs, secret.mtimeMs);

      // A file below a lower directory: the directory comes up with its metadata.
      await fs.writeTextFile("/etc/conf/sub/deep", "changed");
      const upConf = await (upper as MemoryBackend).lstat("/etc/conf");
      assert.equal(upConf.mode & 0o7777, 0o750);
      assert.deepEqual([upConf.uid, upConf.gid], [7, 8]);
      assert.equal(upConf.mtimeMs, T2001, "a copy-up below it is not a change of the directory");
      assert.equal(dec.decode(await overlay.getXattr("/etc/conf", "user.dir")), "conf");
      assert.equal((await overlay.lstat("/etc/conf")).ino, conf.ino);
      assert.equal((await overlay.lstat("/etc/conf")).mtimeMs, conf.mtimeMs);

      // Set-user-ID survives the chown of the copy; a large file arrives whole.
      await fs.chmod("/bin/tool", 0o4750);
      assert.equal(((await fs.stat("/bin/tool")).mode ?? 0) & 0o7777, 0o4750);
      assert.deepEqual(await fs.readFile("/bin/tool"), BIG);
      assert.equal((await overlay.lstat("/bin/tool")).ino, tool.ino);
      // Nothing is left in the work directory.
      assert.deepEqual(await names(upper, WORK_DIR), []);
    } finally {
      lower.close?.();
      upper.close?.();
    }
  });
}

Deno.test("Overlay: merged listings de-duplicate, upper wins a name, whiteouts hide", async () => {
  const lower = new MemoryBackend();
  await prefill(lower);
  const upper = new MemoryBackend();
  const overlay = new Overlay(lower, upper);
  const fs = new FileStorage(overlay);
  assert.deepEqual(await names(overlay, "/etc"), ["conf", "motd", "secret"]);
  await fs.writeTextFile("/etc/motd", "upper");
  await fs.writeTextFile("/etc/new", "new");
  await fs.remove("/etc/secret");
  const listed = await overlay.readDir("/etc");
  assert.deepEqual(listed.map((e) => e.name), ["motd", "conf", "new"]);
  assert.deepEqual(listed.map((e) => e.type), ["file", "dir", "file"]);
  assert.equal(await fs.readTextFile("/etc/motd"), "upper");
  await rejects(overlay.lstat("/etc/secret"), "ENOENT");
  await rejects(overlay.readFile("/etc/secret"), "ENOENT");
  // nlink of a merged directory counts the union's subdirectories.
  await fs.mkdir("/etc/d2");
  assert.equal((await overlay.lstat("/etc")).nlink, 4);
  await fs.remove("/etc/conf", { recursive: true });
  assert.equal((await overlay.lstat("/etc")).nlink, 3);
  assert.equal((await overlay.lstat("/")).nlink, 2 + 3); // etc, bin, data
});

Deno.test("Overlay: a directory removed and made again is opaque", async () => {
  const lower = new MemoryBackend();
  await prefill(lower);
  const overlay = new Overlay(lower, new MemoryBackend());
  const fs = new FileStorage(overlay);
  await fs.remove("/etc/conf", { recursive: true });
  await fs.mkdir("/etc/conf");
  assert.deepEqual(await names(overlay, "/etc/conf"), []);
  await rejects(overlay.lstat("/etc/conf/a.conf"), "ENOENT");
  await rejects(overlay.lstat("/etc/conf/sub/deep"), "ENOENT");
  // Below the opaque directory, a new subdirectory is not merged with the old one.
  await fs.mkdir("/etc/conf/sub");
  assert.deepEqual(await names(overlay, "/etc/conf/sub"), []);
  await fs.writeTextFile("/etc/conf/sub/deep", "new");
  assert.equal(await fs.readTextFile("/etc/conf/sub/deep"), "new");
  // A file where a lower directory was, and a directory where a lower file was.
  await fs.remove("/data", { recursive: true });
  await fs.writeTextFile("/data", "now a file");
  await rejects(overlay.lstat("/data/x"), "ENOTDIR");
  await fs.remove("/etc/motd");
  await fs.mkdir("/etc/motd");
  assert.deepEqual(await names(overlay, "/etc/motd"), []);
});

Deno.test("Overlay: renaming lower files and directories", async () => {
  const lower = new MemoryBackend();
  await prefill(lower);
  const before = await dump(lower);
  const overlay = new Overlay(lower, new MemoryBackend());
  const fs = new FileStorage(overlay);
  const motd = await overlay.lstat("/etc/motd");
  await fs.rename("/etc/motd", "/motd");
  assert.equal(await fs.readTextFile("/motd"), "hello\n");
  assert.equal((await overlay.lstat("/motd")).ino, motd.ino);
  await rejects(overlay.lstat("/etc/motd"), "ENOENT");
  // A directory with lower content moves whole, with its metadata.
  const conf = await overlay.lstat("/etc/conf");
  await fs.rename("/etc/conf", "/conf");
  assert.deepEqual(await names(overlay, "/conf"), ["a.conf", "b.conf", "sub"]);
  assert.equal(await fs.readTextFile("/conf/sub/deep"), "deep");
  assert.equal((await overlay.lstat("/conf")).ino, conf.ino);
  assert.equal((await overlay.lstat("/conf")).mode & 0o7777, 0o750);
  assert.equal((await overlay.lstat("/conf")).nlink, 3);
  await rejects(overlay.lstat("/etc/conf"), "ENOENT");
  // …onto a deleted lower directory: nothing of the old one shows.
  await fs.remove("/data/nested", { recursive: true });
  await fs.rename("/conf", "/data/nested");
  assert.deepEqual(await names(overlay, "/data/nested"), ["a.conf", "b.conf", "sub"]);
  // …back over an empty lower directory.
  await fs.remove("/data/empty");
  await fs.mkdir("/data/empty");
  await fs.rename("/data/nested/sub", "/data/empty2");
  assert.deepEqual(await names(overlay, "/data/empty2"), ["deep"]);
  // A merged directory (some upper, some lower content).
  await fs.mkdir("/bin/local");
  await fs.rename("/bin", "/usr");
  assert.deepEqual(await names(overlay, "/usr"), ["local", "tool"]);
  assert.deepEqual(await fs.readFile("/usr/tool"), BIG);
  assert.deepEqual(await dump(lower), before);
});

Deno.test("Overlay: renaming a directory where an upper entry shadows a lower subdirectory", async () => {
  const lower = new MemoryBackend();
  await lower.mkdir("/a");
  await lower.mkdir("/a/b");
  await lower.writeFile("/a/b/inside", enc.encode("hidden"));
  await lower.writeFile("/a/f", enc.encode("f"));
  const overlay = new Overlay(lower, new MemoryBackend());
  const fs = new FileStorage(overlay);
  await fs.remove("/a/b", { recursive: true });
  await fs.symlink("f", "/a/b");
  await fs.rename("/a", "/moved");
  assert.deepEqual(await names(overlay, "/moved"), ["b", "f"]);
  assert.equal(await fs.readLink("/moved/b"), "f");
  assert.equal(await fs.readTextFile("/moved/b"), "f");
  await rejects(overlay.lstat("/a"), "ENOENT");
});

Deno.test("Overlay: hard links to a lower file copy it up once and stay one file", async () => {
  const lower = new MemoryBackend();
  await lower.writeFile("/f", enc.encode("one"));
  const overlay = new Overlay(lower, new MemoryBackend());
  const fs = new FileStorage(overlay);
  const ino = (await overlay.lstat("/f")).ino;
  await fs.link("/f", "/g");
  await fs.link("/g", "/h");
  const [f, g, h] = await Promise.all(["/f", "/g", "/h"].map((p) => overlay.lstat(p)));
  assert.deepEqual([f.ino, g.ino, h.ino], [ino, ino, ino]);
  assert.deepEqual([f.nlink, g.nlink, h.nlink], [3, 3, 3]);
  await fs.writeTextFile("/h", "two");
  assert.equal(await fs.readTextFile("/f"), "two");
  await fs.remove("/f");
  assert.equal((await overlay.lstat("/g")).nlink, 2);
  assert.equal(dec.decode(await lower.readFile("/f")), "one");
});

// Lower hard links stay one file (overlayfs index=on): before copy-up the
// names are one inode, and a mount's kernel holds them as one, so copying
// one name up alone would split that inode's writes between two files.

/** A lower file `/a/f` with hard links in its directory, below another and at the root. */
async function linkedLower(kind: Kind): Promise<Closable> {
  const lower = layer(kind);
  const b = lower as MemoryBackend;
  await b.mkdir("/a");
  await b.mkdir("/b");
  await b.mkdir("/b/c", { mode: 0o750 });
  await b.writeFile("/a/f", enc.encode("hello\n"), { mode: 0o640 });
  for (const name of ["/a/g", "/b/c/h", "/x", "/a/w", "/r"]) await b.link("/a/f", name);
  await b.utime("/b/c", T2001, T2001);
  await b.writeFile("/a/single", enc.encode("single"));
  return lower;
}

for (const [lowerKind, upperKind] of PAIRS) {
  const pair = `Overlay(${lowerKind}, ${upperKind})`;

  Deno.test(`${pair}: a write through one lower hard link shows through every other name`, async () => {
    const lower = await linkedLower(lowerKind);
    const upper = layer(upperKind);
    try {
      const before = await dump(lower);
      const overlay = new Overlay(lower, upper);
      const fs = new FileStorage(overlay);
      const ino = (await overlay.lstat("/a/f")).ino;
      await fs.remove("/a/w"); // whited out: must not come back
      await fs.remove("/r");
      await fs.writeTextFile("/r", "mine"); // replaced in the upper: must stay as it is
      const replaced = await overlay.lstat("/r");

      await fs.writeTextFile("/a/f", "more\n", { append: true });
      const shown = ["/a/f", "/a/g", "/b/c/h", "/x"];
      for (const name of shown) {
        assert.equal(await fs.readTextFile(name), "hello\nmore\n", name);
        const meta = await overlay.lstat(name);
        assert.equal(meta.ino, ino, `${name} keeps the lower number`);
        assert.equal(meta.nlink, shown.length, `${name}: nlink counts the names shown`);
        assert.equal(meta.mode & 0o777, 0o640, name);
      }
      await rejects(overlay.lstat("/a/w"), "ENOENT");
      assert.equal(await fs.readTextFile("/r"), "mine");
      const now = await overlay.lstat("/r");
      assert.deepEqual([now.ino, now.nlink, now.size], [replaced.ino, 1, 4]);
      // The parents of the other names came up with their metadata.
      assert.equal((await upper.lstat("/b/c/h")).type, "file");
      const dir = await overlay.lstat("/b/c");
      assert.equal(dir.mtimeMs, T2001);
      assert.equal(dir.mode & 0o777, 0o750);

      // Every later change through any name is seen through all of them.
      await fs.truncate("/x", 2);
      assert.equal(await fs.readTextFile("/b/c/h"), "he");
      await fs.chmod("/a/g", 0o600);
      assert.equal((await overlay.lstat("/a/f")).mode & 0o777, 0o600);
      await fs.remove("/a/f");
      assert.equal((await overlay.lstat("/x")).nlink, 3);
      assert.equal(await fs.readTextFile("/x"), "he");
      await rejects(overlay.lstat("/a/f"), "ENOENT");
      // The single-link file next to them was not touched.
      await rejects(upper.lstat("/a/single"), "ENOENT");
      assert.deepEqual(await dump(lower), before, "the lower layer is what it was");
    } finally {
      lower.close?.();
      upper.close?.();
    }
  });
}

Deno.test("Overlay: a truncate through one hard link keeps a part for all, and readers of every name follow", async () => {
  const lower = new MemoryBackend();
  await lower.writeFile("/f", BIG);
  await lower.link("/f", "/g");
  const overlay = new Overlay(lower, new MemoryBackend());
  const ino = (await overlay.lstat("/g")).ino;
  const onG = await overlay.open("/g", { read: true });
  const onF = await overlay.open("/f", { read: true });
  await overlay.truncate("/f", 5);
  assert.deepEqual(await overlay.readFile("/g"), BIG.subarray(0, 5));
  for (const handle of [onG, onF]) {
    assert.deepEqual(await handle.read(0, 100), BIG.subarray(0, 5));
    const meta = await handle.stat();
    assert.equal(meta.ino, ino);
    assert.equal(meta.nlink, 2);
    await handle.close();
  }
  assert.deepEqual(await lower.readFile("/g"), BIG);
});

Deno.test("Overlay: renaming a directory brings lower hard links inside and outside it up as one file", async () => {
  const lower = new MemoryBackend();
  await lower.mkdir("/d");
  await lower.mkdir("/d/sub");
  await lower.mkdir("/e");
  await lower.writeFile("/d/f", enc.encode("one"));
  await lower.link("/d/f", "/d/sub/g");
  await lower.link("/d/f", "/d/z"); // listed after f: already up when the tree copy reaches it
  await lower.link("/d/f", "/e/h");
  const overlay = new Overlay(lower, new MemoryBackend());
  const fs = new FileStorage(overlay);
  const ino = (await overlay.lstat("/e/h")).ino;
  await fs.rename("/d", "/d2");
  await fs.writeTextFile("/e/h", "two");
  for (const name of ["/d2/f", "/d2/sub/g", "/d2/z", "/e/h"]) {
    assert.equal(await fs.readTextFile(name), "two", name);
    assert.equal((await overlay.lstat(name)).ino, ino, name);
    assert.equal((await overlay.lstat(name)).nlink, 4, name);
  }
  await rejects(overlay.lstat("/d"), "ENOENT");
  assert.equal(dec.decode(await lower.readFile("/d/f")), "one");
});

Deno.test("Overlay: link() of a lower file with several names links them all", async () => {
  const lower = new MemoryBackend();
  await lower.writeFile("/p", enc.encode("p"));
  await lower.link("/p", "/q");
  const overlay = new Overlay(lower, new MemoryBackend());
  const fs = new FileStorage(overlay);
  const ino = (await overlay.lstat("/p")).ino;
  await fs.link("/q", "/n");
  const all = await Promise.all(["/p", "/q", "/n"].map((p) => overlay.lstat(p)));
  assert.deepEqual(all.map((m) => m.ino), [ino, ino, ino]);
  assert.deepEqual(all.map((m) => m.nlink), [3, 3, 3]);
  await fs.writeTextFile("/n", "new");
  assert.equal(await fs.readTextFile("/p"), "new");
});

// Under the DualBackend policies where lower names show again the names
// come up together too, as a copy with its own number: see dual_test.ts.
Deno.test("Overlay: without hard links in the upper layer, a linked file comes up alone", async () => {
  const lower = new MemoryBackend();
  await lower.writeFile("/f", enc.encode("old"));
  await lower.link("/f", "/g");
  const backend = new Overlay(lower, coreOnly(new MemoryBackend()));
  const fs = new FileStorage(backend);
  const ino = (await backend.lstat("/g")).ino;
  await fs.writeTextFile("/f", "new");
  assert.equal(await fs.readTextFile("/g"), "old");
  assert.equal((await backend.lstat("/g")).ino, ino);
  assert.notEqual((await backend.lstat("/f")).ino, ino, "the copy has its own number");
});

Deno.test("Overlay: after a copy-up of linked names was interrupted, the next one joins the copy instead of making a second file", async () => {
  const lower = new MemoryBackend();
  await lower.writeFile("/f", enc.encode("hello"));
  await lower.link("/f", "/hl");
  const upper = new MemoryBackend();
  const ino = (await new Overlay(lower, upper).lstat("/f")).ino;
  await new Overlay(lower, upper).chmod("/f", 0o600);
  // What a crash between linking /hl and renaming the copy to /f leaves:
  // /hl on the copy, /f still on the lower file.
  await upper.unlink("/f");
  const overlay = new Overlay(lower, upper);
  const fs = new FileStorage(overlay);
  assert.equal((await overlay.lstat("/f")).mode & 0o777, 0o644, "/f shows the lower file");
  await fs.writeTextFile("/f", "more", { append: true });
  for (const name of ["/f", "/hl"]) {
    const meta = await overlay.lstat(name);
    assert.deepEqual([meta.ino, meta.nlink, meta.mode & 0o777], [ino, 2, 0o600], name);
    assert.equal(await fs.readTextFile(name), "hellomore", name);
  }
  assert.equal(dec.decode(await lower.readFile("/hl")), "hello");
});

Deno.test("Overlay: lower hard links brought up together stay one inode with the lower number after reopening a SqliteBackend upper", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anyfs_overlay_links_" });
  try {
    const file = `${dir}/upper.anyfs`;
    const lower = await linkedLower("Memory");
    const before = await dump(lower);
    const ino = (await new Overlay(lower, new MemoryBackend()).lstat("/x")).ino;
    let upper = SqliteBackend.open(file);
    try {
      await new FileStorage(new Overlay(lower, upper)).writeTextFile("/x", "changed");
    } finally {
      upper.close();
    }
    upper = SqliteBackend.open(file);
    try {
      const overlay = new Overlay(lower, upper);
      const fs = new FileStorage(overlay);
      for (const name of ["/a/f", "/a/g", "/b/c/h", "/x", "/a/w", "/r"]) {
        const meta = await overlay.lstat(name);
        assert.equal(meta.ino, ino, name);
        assert.equal(meta.nlink, 6, name);
        assert.equal(await fs.readTextFile(name), "changed", name);
      }
      await fs.writeTextFile("/a/w", "again");
      assert.equal(await fs.readTextFile("/b/c/h"), "again");
      assert.deepEqual(upper.integrityCheck(), ["ok"]);
    } finally {
      upper.close();
    }
    assert.deepEqual(await dump(lower), before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Overlay: inode numbers are unique across layers and stable across copy-up", async () => {
  const lower = new MemoryBackend();
  await prefill(lower);
  const upper = new MemoryBackend();
  const overlay = new Overlay(lower, upper);
  const fs = new FileStorage(overlay);
  await fs.writeTextFile("/etc/new", "x"); // upper inode 2 or so, lower inodes are small too
  await fs.writeTextFile("/etc/motd", "y");
  const seen = new Map<number, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const e of await overlay.readDir(dir)) {
      const path = dir === "/" ? `/${e.name}` : `${dir}/${e.name}`;
      const meta = await overlay.lstat(path);
      assert.equal(meta.ino, e.ino, `${path}: readDir and lstat agree`);
      const other = seen.get(meta.ino);
      if (other !== undefined) {
        assert.ok(meta.nlink > 1, `${path} and ${other} share inode ${meta.ino}`);
      }
      seen.set(meta.ino, path);
      if (meta.type === "dir") await walk(path);
    }
  };
  await walk("/");
  // A lower file with two lower names keeps its number: both names come up.
  const hard2 = (await overlay.lstat("/hard2")).ino;
  await fs.writeTextFile("/hard1", "changed");
  assert.equal((await overlay.lstat("/hard1")).ino, hard2);
  assert.equal((await overlay.lstat("/hard2")).ino, hard2);
  assert.equal(await fs.readTextFile("/hard2"), "changed");
});

Deno.test("Overlay: deletions, writes and inode numbers persist when a SqliteBackend upper is reopened", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anyfs_overlay_persist_" });
  try {
    const file = `${dir}/upper.anyfs`;
    const lower = new MemoryBackend({ uid: 0, gid: 0 });
    await prefill(lower);
    const lowerBefore = await dump(lower);
    let upper = SqliteBackend.open(file);
    let overlay = new Overlay(lower, upper);
    let fs = new FileStorage(overlay);
    await fs.remove("/etc/secret");
    await fs.remove("/data", { recursive: true });
    await fs.remove("/etc/conf", { recursive: true });
    await fs.mkdir("/etc/conf");
    await fs.writeTextFile("/etc/conf/only", "upper");
    await fs.writeTextFile("/etc/motd", "changed\n");
    await fs.rename("/bin", "/sbin");
    await fs.link("/etc/motd", "/motd-link");
    const view = await dump(overlay);
    upper.close();

    upper = SqliteBackend.open(file);
    overlay = new Overlay(lower, upper);
    fs = new FileStorage(overlay);
    try {
      assert.deepEqual(await dump(overlay), view, "the same union, inode numbers included");
      await rejects(overlay.lstat("/etc/secret"), "ENOENT");
      await rejects(overlay.lstat("/data"), "ENOENT");
      await rejects(overlay.lstat("/bin"), "ENOENT");
      assert.deepEqual(await names(overlay, "/etc/conf"), ["only"]);
      assert.deepEqual(await names(overlay, "/"), [
        "etc",
        "fifo",
        "hard1",
        "hard2",
        "link",
        "motd-link",
        "sbin",
      ]);
      assert.equal(await fs.readTextFile("/etc/motd"), "changed\n");
      assert.deepEqual(await fs.readFile("/sbin/tool"), BIG);
      assert.deepEqual(upper.integrityCheck(), ["ok"]);
      assert.deepEqual(await dump(lower), lowerBefore);
    } finally {
      upper.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Overlay: random changes survive reopening a SqliteBackend upper, again and again", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anyfs_overlay_reopen_" });
  try {
    const file = `${dir}/upper.anyfs`;
    const lower = new MemoryBackend({ uid: 0, gid: 0 });
    const reference = new MemoryBackend({ uid: 0, gid: 0 });
    for (const b of [lower, reference]) {
      const fs = new FileStorage(b);
      await fs.mkdir("/a/b", { recursive: true });
      await fs.mkdir("/b/c", { recursive: true });
      await fs.writeTextFile("/a/a", "lower a/a");
      await fs.writeTextFile("/a/b/c", "lower a/b/c");
      await fs.writeTextFile("/c", "lower c");
      await fs.symlink("a", "/b/a");
    }
    const lowerBefore = await dump(lower);
    for (let round = 0; round < 5; round++) {
      const upper = SqliteBackend.open(file);
      const overlay = new Overlay(lower, upper);
      try {
        await runDifferential(new FileStorage(overlay), new FileStorage(reference), {
          seed: 500 + round,
          ops: 400,
          capabilities: ["symlinks", "hardlinks", "permissions"],
        });
        const view = await dump(overlay);
        upper.close();
        const again = SqliteBackend.open(file);
        try {
          assert.deepEqual(await dump(new Overlay(lower, again)), view, `round ${round}`);
          assert.deepEqual(again.integrityCheck(), ["ok"]);
        } finally {
          again.close();
        }
      } finally {
        upper.close();
      }
    }
    assert.deepEqual(await dump(lower), lowerBefore);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Overlay: whiteouts, the work directory and private xattrs stay invisible", async () => {
  const lower = new MemoryBackend();
  await prefill(lower);
  const upper = new MemoryBackend();
  const overlay = new Overlay(lower, upper);
  const fs = new FileStorage(overlay);
  await fs.remove("/etc/motd");
  await fs.writeTextFile("/etc/conf/a.conf", "x"); // a copy-up: the work directory exists now
  await fs.remove("/etc/conf/b.conf");
  // In the upper layer: a 0/0 character device and an opaque-capable directory.
  const whiteout = await upper.lstat("/etc/motd");
  assert.deepEqual([whiteout.type, whiteout.rdev], ["chardev", 0]);
  assert.ok((await upper.readDir("/")).some((e) => e.name === WORK_DIR.slice(1)));
  // Through the overlay: none of it.
  assert.deepEqual(await names(overlay, "/"), [
    "bin",
    "data",
    "etc",
    "fifo",
    "hard1",
    "hard2",
    "link",
  ]);
  assert.deepEqual(await names(overlay, "/etc"), ["conf", "secret"]);
  await rejects(overlay.lstat(WORK_DIR), "ENOENT");
  await rejects(overlay.readDir(WORK_DIR), "ENOENT");
  await rejects(overlay.mkdir(WORK_DIR), "EPERM");
  await rejects(overlay.writeFile(WORK_DIR, enc.encode("x")), "EPERM");
  await rejects(overlay.writeFile(`${WORK_DIR}/f`, enc.encode("x")), "ENOENT");
  await rejects(fs.rename("/etc/secret", WORK_DIR), "EPERM");
  await rejects(overlay.mknod("/etc/wh", S_IFCHR, 0), "EPERM");
  await overlay.mknod("/etc/dev", S_IFCHR | 0o600, 0x0501); // other devices are fine
  assert.equal((await overlay.lstat("/etc/dev")).type, "chardev");
  // The overlay's attributes: hidden, not settable.
  await fs.writeTextFile("/etc/motd", "again");
  assert.deepEqual(await overlay.listXattr("/etc/conf/a.conf"), []);
  assert.ok((await upper.listXattr("/etc/conf/a.conf")).includes("trusted.overlay.anyfs.ino"));
  await rejects(overlay.getXattr("/etc/conf/a.conf", "trusted.overlay.anyfs.ino"), "ENODATA");
  await rejects(overlay.getXattr("/etc/conf", "trusted.overlay.opaque"), "ENODATA");
  await rejects(overlay.setXattr("/etc/motd", "trusted.overlay.opaque", enc.encode("y")), "EPERM");
  await rejects(overlay.removeXattr("/etc/conf/a.conf", "trusted.overlay.anyfs.ino"), "EPERM");
});

Deno.test("Overlay: open files — writes copy up first, readers follow a copy-up, unlinked lower files keep their bytes", async () => {
  const lower = new MemoryBackend();
  await prefill(lower);
  const overlay = new Overlay(lower, new MemoryBackend());
  const reader = await overlay.open("/etc/motd", { read: true });
  assert.equal(dec.decode(await reader.read(0, 5)), "hello");
  await overlay.writeFile("/etc/motd", enc.encode("HELLO again"));
  assert.equal(
    dec.decode(await reader.read(0, 11)),
    "HELLO again",
    "the reader follows the copy-up",
  );

  const writer = await overlay.open("/etc/conf/a.conf", { write: true });
  await writer.write(enc.encode("A"), 0);
  assert.equal(dec.decode(await overlay.readFile("/etc/conf/a.conf")), "A=1\n");
  assert.equal(dec.decode(await lower.readFile("/etc/conf/a.conf")), "a=1\n");

  const old = await overlay.open("/etc/conf/b.conf", { read: true });
  await overlay.unlink("/etc/conf/b.conf");
  assert.equal(dec.decode(await old.read(0, 10)), "b=2\n");
  assert.equal((await old.stat()).nlink, 0);
  await overlay.writeFile("/etc/conf/b.conf", enc.encode("new file"));
  assert.equal(
    dec.decode(await old.read(0, 10)),
    "b=2\n",
    "a new file at the name is another file",
  );
  assert.notEqual((await old.stat()).ino, (await overlay.lstat("/etc/conf/b.conf")).ino);

  // Locks are the overlay's, keyed by its inode numbers.
  const a = await overlay.open("/data/x", { read: true });
  const b = await overlay.open("/data/x", { read: true, write: true }); // copies up
  await a.lock!("exclusive", false);
  await rejects(b.lock!("shared", false), "EAGAIN");
  await a.close();
  await b.lock!("exclusive", false);
  for (const h of [reader, writer, old, b]) await h.close();
  await rejects(reader.read(0, 1), "EBADF");
});

Deno.test("Overlay: a reader opened while its file is copied up still sees the write", async () => {
  // Opening for reading is not serialized with changes; try every
  // interleaving of the open's steps with the copy-up's.
  for (let delay = 0; delay < 120; delay++) {
    const lower = new MemoryBackend();
    await lower.writeFile("/f", enc.encode("old"));
    const overlay = new Overlay(lower, new MemoryBackend());
    const writing = overlay.writeFile("/f", enc.encode("new"));
    for (let i = 0; i < delay; i++) await Promise.resolve();
    const opening = overlay.open("/f", { read: true });
    await writing;
    const handle = await opening;
    assert.equal(dec.decode(await handle.read(0, 3)), "new", `after ${delay} ticks`);
    await handle.close();
  }
});

Deno.test("Overlay: a copy-up that fails leaves the lower file in view and nothing half-copied", async () => {
  const lower = new MemoryBackend();
  await prefill(lower);
  const upper = new MemoryBackend({ capacity: 1024 * 1024 });
  const overlay = new Overlay(lower, upper);
  const fs = new FileStorage(overlay);
  await rejects(fs.writeTextFile("/bin/tool", "x", { append: true }), "ENOSPC");
  assert.deepEqual(await fs.readFile("/bin/tool"), BIG);
  await rejects(upper.lstat("/bin/tool"), "ENOENT");
  assert.deepEqual(await names(upper, WORK_DIR), []);
  // Only the parent directory came up (with its origin attribute).
  assert.deepEqual(await names(upper, "/bin"), []);
  // A truncate keeps only what stays, so it fits.
  await fs.truncate("/bin/tool", 100);
  assert.deepEqual(await fs.readFile("/bin/tool"), BIG.subarray(0, 100));
});

Deno.test("Overlay: leftovers in the work directory are cleared on first use", async () => {
  const lower = new MemoryBackend();
  await prefill(lower);
  const upper = new MemoryBackend();
  await upper.mkdir(WORK_DIR);
  await upper.mkdir(`${WORK_DIR}/stale-dir`);
  await upper.writeFile(`${WORK_DIR}/stale-dir/half`, new Uint8Array(10));
  const overlay = new Overlay(lower, upper);
  await overlay.writeFile("/etc/motd", enc.encode("x"));
  assert.deepEqual(await names(upper, WORK_DIR), []);
});

Deno.test("Overlay: concurrent writes to one lower file copy it up once and lose nothing", async () => {
  const lower = new MemoryBackend();
  await lower.writeFile("/log", enc.encode("start\n"));
  const overlay = new Overlay(lower, new MemoryBackend());
  await Promise.all(
    Array.from({ length: 20 }, (_, i) => overlay.appendFile("/log", enc.encode(`${i}\n`))),
  );
  const lines = dec.decode(await overlay.readFile("/log")).trim().split("\n");
  assert.equal(lines[0], "start");
  assert.deepEqual(lines.slice(1).map(Number).sort((a, b) => a - b), [...Array(20).keys()]);
});

Deno.test("Overlay: overlays stack like image layers", async () => {
  const base = new MemoryBackend();
  await prefill(base);
  const baseBefore = await dump(base);
  const mid = new MemoryBackend();
  const image = new Overlay(base, mid);
  await image.writeFile("/etc/motd", enc.encode("from the middle layer\n"));
  await image.unlink("/etc/secret");
  const midBefore = await dump(mid);
  const top = new MemoryBackend();
  const container = new FileStorage(new Overlay(image, top));
  assert.equal(await container.readTextFile("/etc/motd"), "from the middle layer\n");
  assert.equal(await container.exists("/etc/secret"), false);
  await container.writeTextFile("/etc/motd", "from the top\n");
  await container.remove("/etc/conf", { recursive: true });
  await container.rename("/bin", "/usr");
  assert.equal(await container.readTextFile("/etc/motd"), "from the top\n");
  assert.deepEqual(await container.readFile("/usr/tool"), BIG);
  assert.deepEqual(await names(image, "/etc"), ["conf", "motd"]);
  assert.deepEqual(await dump(mid), midBefore);
  assert.deepEqual(await dump(base), baseBefore);
});

Deno.test("Overlay: capabilities are what the upper layer can honour", async () => {
  const lower = new MemoryBackend();
  await prefill(lower);
  const full = new Overlay(lower, new MemoryBackend());
  for (const cap of ["symlinks", "hardlinks", "xattrs", "special", "handles", "locks", "statfs"]) {
    assert.ok(full.capabilities.has(cap as never), cap);
  }
  assert.ok(!full.capabilities.has("inodes"));

  const upper = new MemoryBackend();
  const core = new Overlay(lower, coreOnly(upper));
  assert.deepEqual(
    [...core.capabilities].sort(),
    ["append", "copy", "handles", "locks", "ranges", "truncate"],
  );
  const fs = new FileStorage(core);
  // Reading and writing work; deleting a lower entry cannot be recorded.
  await fs.writeTextFile("/etc/motd", "up");
  assert.equal(await fs.readTextFile("/etc/motd"), "up");
  await rejects(fs.remove("/etc/secret"), "ENOTSUP");
  assert.equal(await fs.readTextFile("/etc/secret"), "s3cret");
  // An upper without xattrs keeps the copy's inode number in memory only.
  const ino = (await core.lstat("/data/x")).ino;
  await fs.writeTextFile("/data/x", "y");
  assert.equal((await core.lstat("/data/x")).ino, ino);

  // A lower layer without xattrs simply has none.
  const plain = new Overlay(coreOnly(lower), new MemoryBackend());
  assert.deepEqual(await plain.listXattr("/etc/secret"), []);
  // statfs is the upper layer's.
  const limited = new Overlay(lower, new MemoryBackend({ capacity: 4096 }));
  assert.equal((await limited.statfs()).totalBytes, 4096);
});
