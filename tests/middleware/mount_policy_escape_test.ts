// A hostile program with a shell inside a sandbox mount: ordinary Linux
// means (coreutils, tar, find, python3 syscalls) trying to read or change
// what a PathFilter hides, to change a ReadOnly mount, to store more than a
// Quota allows, or to reach an Overlay's lower layer. Needs FUSE, python3,
// attr (setfattr) and --allow-all.
//
// Only child processes touch the mount: a synchronous call from this process
// on its own mount would block the thread that has to answer it.
import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { Overlay } from "../../src/backends/overlay.ts";
import { StdFsBackend } from "../../src/backends/std_fs.ts";
import type { Backend } from "../../src/core/backend.ts";
import { PathFilter } from "../../src/middleware/path_filter.ts";
import { Quota } from "../../src/middleware/quota.ts";
import { ReadOnly } from "../../src/middleware/read_only.ts";
import { sh, withMount } from "../mount/helpers.ts";
import { fuseTest } from "../_fuse.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Everything a change could touch: entries, bytes, mode, owner, times, links, xattrs. */
async function snapshot(backend: MemoryBackend): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const walk = async (dir: string) => {
    for (const entry of await backend.readDir(dir)) {
      const path = dir === "/" ? `/${entry.name}` : `${dir}/${entry.name}`;
      const meta = await backend.lstat(path);
      const xattrs: Record<string, string> = {};
      for (const name of await backend.listXattr(path)) {
        xattrs[name] = dec.decode(await backend.getXattr(path, name));
      }
      out[path] = {
        type: meta.type,
        size: meta.size,
        mode: meta.mode,
        uid: meta.uid,
        gid: meta.gid,
        nlink: meta.nlink,
        mtimeMs: meta.mtimeMs,
        ctimeMs: meta.ctimeMs,
        content: meta.type === "file" ? dec.decode(await backend.readFile(path)) : undefined,
        xattrs,
      };
      if (meta.type === "dir") await walk(path);
    }
  };
  await walk("/");
  return out;
}

/**
 * Run each attack in `dir` as its own shell, expecting each to fail; returns
 * the output of all of them (to check that nothing secret leaked).
 */
async function attacksFail(dir: string, attacks: string[], expected: RegExp): Promise<string> {
  let all = "";
  for (const attack of attacks) {
    const r = await sh(attack, dir);
    all += r.stdout + r.stderr;
    assert.notEqual(r.code, 0, `'${attack}' succeeded:\n${r.stdout}${r.stderr}`);
    assert.match(r.stderr, expected, `'${attack}' failed otherwise:\n${r.stderr}`);
  }
  return all;
}

/** A python3 program run in `dir` that prints one `name errno-name` line per attempt. */
function python(dir: string, program: string) {
  const prelude = `import ctypes, errno, mmap, os
libc = ctypes.CDLL(None, use_errno=True)
def attempt(name, f):
    try:
        f()
        print(name, "OK")
    except OSError as e:
        print(name, errno.errorcode.get(e.errno, e.errno))
def call(r):
    if r != 0:
        n = ctypes.get_errno()
        raise OSError(n, os.strerror(n))
`;
  return sh(`python3 - <<'PY'\n${prelude}${program}\nPY`, dir);
}

/** The `name → result` lines printed by {@linkcode python}. */
function results(stdout: string): Record<string, string> {
  return Object.fromEntries(
    stdout.trim().split("\n").filter(Boolean).map((line) => {
      const at = line.lastIndexOf(" ");
      return [line.slice(0, at), line.slice(at + 1)];
    }),
  );
}

fuseTest(
  "path filter through a mount: no shell or syscall trick reads, changes or replaces a denied file",
  async () => {
    const memory = new MemoryBackend();
    await memory.writeFile("/.env", enc.encode("TOKEN=secret-root"));
    await memory.mkdir("/app");
    await memory.writeFile("/app/.env", enc.encode("TOKEN=secret-app"));
    await memory.writeFile("/app/main.ts", enc.encode("code"));
    await memory.mkdir("/secrets");
    await memory.writeFile("/secrets/key", enc.encode("KEY=secret-key"));
    await memory.setXattr("/secrets/key", "user.note", enc.encode("secret-xattr"));
    const before = await snapshot(memory);
    const filter = new PathFilter(memory, { deny: [".env", "/secrets"] });
    await withMount(filter, { cache: "auto" }, async (dir) => {
      const leaked = await attacksFail(dir, [
        "cat .env",
        "cat ./app/../.env",
        "cat .//app/.env",
        "cp .env /dev/null",
        "stat .env",
        "stat secrets",
        "ls secrets",
        "cat secrets/key",
        "getfattr -d secrets/key",
        "ln .env leak",
        "ln app/.env app/leak",
        "mv .env visible",
        "mv secrets visible",
        "ln -s .env app/link",
        "ln -s ../secrets/key app/link",
        "ln -s . self && cat self/.env",
        "echo evil > .env",
        "echo evil >> app/.env",
        "truncate -s 0 .env",
        "touch -d 2000-01-01 .env",
        "chmod 777 .env",
        "setfattr -n user.x -v 1 .env",
        "rm -f .env",
        "rm -rf secrets",
        "mkdir secrets/new",
        "mkfifo .env",
        "echo evil > a && mv a .env",
        "echo evil > b && mv b app/.env",
        "echo evil > c && ln c .env",
      ], /Permission denied/);
      assert.doesNotMatch(leaked, /secret-/);
      // Whole-tree readers see neither the files nor their names.
      for (const reader of ["find .", "tar cf - . | tar tvf -", "du -ab .", "ls -laR"]) {
        const r = await sh(reader, dir);
        assert.doesNotMatch(r.stdout, /\.env|secrets|key/, `${reader}:\n${r.stdout}`);
      }
      // Syscalls the shell has no command for: replacing the secret by
      // renameat2 (exchange or no-replace), an O_TMPFILE linked into its
      // name, a device node, a hard link through /proc.
      const py = await python(
        dir,
        `open("ex", "w").write("evil")
attempt("exchange", lambda: call(libc.renameat2(-100, b"ex", -100, b".env", 2)))
attempt("noreplace", lambda: call(libc.renameat2(-100, b"ex", -100, b"app/.env", 1)))
attempt("mknod", lambda: os.mknod(".env", 0o600 | 0o10000))
def tmpfile():
    fd = os.open(".", os.O_TMPFILE | os.O_RDWR, 0o600)
    os.write(fd, b"evil")
    os.link(f"/proc/self/fd/{fd}", ".env")
attempt("tmpfile", tmpfile)
attempt("listxattr", lambda: os.listxattr("secrets/key"))
attempt("access", lambda: os.stat(".env"))`,
      );
      assert.equal(py.code, 0, py.stderr);
      const got = results(py.stdout);
      for (const name of ["exchange", "noreplace", "mknod", "listxattr", "access"]) {
        assert.equal(got[name], "EACCES", `${name}: ${py.stdout}`);
      }
      // No O_TMPFILE on this mount at all, so nothing to link.
      assert.notEqual(got.tmpfile, "OK", py.stdout);
      await sh("rm -f ex a b c self", dir);
    });
    assert.deepEqual(await snapshot(memory), before);
  },
);

fuseTest(
  "path filter through a mount: a line break in a directory name does not let a .env escape",
  async () => {
    const memory = new MemoryBackend();
    await memory.mkdir("/a\nb");
    await memory.writeFile("/a\nb/.env", enc.encode("TOKEN=secret-newline"));
    await memory.writeFile("/a\nb/ok", enc.encode("fine"));
    await withMount(new PathFilter(memory, { deny: [".env"] }), { cache: "auto" }, async (dir) => {
      const cat = await sh(`cat "$(printf 'a\\nb')/.env"`, dir);
      assert.notEqual(cat.code, 0);
      assert.match(cat.stderr, /Permission denied/);
      assert.doesNotMatch(cat.stdout, /secret/);
      const find = await sh("find . -type f", dir);
      assert.equal(find.stdout, "./a\nb/ok\n");
      const overwrite = await sh(`echo evil > "$(printf 'a\\nb')/.env"`, dir);
      assert.match(overwrite.stderr, /Permission denied/);
    });
    assert.equal(dec.decode(await memory.readFile("/a\nb/.env")), "TOKEN=secret-newline");
  },
);

fuseTest(
  "a mounted ReadOnly is a read-only mount: test -w says no, statvfs has ST_RDONLY",
  async () => {
    const memory = new MemoryBackend();
    await memory.writeFile("/f", enc.encode("original"));
    await withMount(new ReadOnly(memory), {}, async (dir) => {
      const probe = await sh(
        `test -w f && echo writable; python3 -c "import os; print(os.statvfs('.').f_flag & os.ST_RDONLY)"`,
        dir,
      );
      assert.equal(probe.stdout, "1\n", probe.stderr);
      const mounts = await Deno.readTextFile("/proc/self/mounts");
      const line = mounts.split("\n").find((l) => l.split(" ")[1] === dir);
      assert.match(line ?? "", / ro[, ]/, line);
    });
    // Asking for a writable mount still gets one; the ReadOnly still refuses writes.
    await withMount(new ReadOnly(memory), { readOnly: false }, async (dir) => {
      const probe = await sh(`test -w f && echo writable; echo more >> f`, dir);
      assert.equal(probe.stdout, "writable\n");
      assert.match(probe.stderr, /Read-only file system/);
    });
    assert.equal(dec.decode(await memory.readFile("/f")), "original");
  },
);

fuseTest(
  "read-only through a mount: every way to modify fails and leaves bytes and metadata as they were",
  async () => {
    const memory = new MemoryBackend();
    await memory.writeFile("/f", enc.encode("original"));
    await memory.setXattr("/f", "user.a", enc.encode("1"));
    await memory.mkdir("/d");
    await memory.writeFile("/d/g", enc.encode("gg"));
    await memory.symlink("f", "/link");
    const before = await snapshot(memory);
    // Both ways a ReadOnly ends up mounted: on its own (a read-only mount)
    // and under another layer (a writable mount whose backend refuses).
    for (const backend of [new ReadOnly(memory), new PathFilter(new ReadOnly(memory))]) {
      await withMount(backend as Backend, { cache: "auto" }, async (dir) => {
        await attacksFail(dir, [
          "truncate -s 0 f",
          ": > f",
          "echo x >> f",
          "echo zz | dd of=f conv=notrunc",
          "touch f",
          "touch -d 2000-01-01 f",
          "chmod 777 f",
          "chown 1:1 f",
          "setfattr -n user.b -v 2 f",
          "setfattr -x user.a f",
          "mkfifo p",
          "mknod n c 1 3",
          "ln f l",
          "ln -s f s",
          "mv f g",
          "rm f",
          "rm link",
          "mkdir x",
          "rmdir d",
          "rm -r d",
          "cp f d/g",
          "fallocate -l 100 f",
        ], /Read-only file system/);
        const py = await python(
          dir,
          `def shared_mmap():
    fd = os.open("f", os.O_RDWR)
    m = mmap.mmap(fd, 4, mmap.MAP_SHARED)
    m[0:1] = b"X"
    m.flush()
attempt("mmap", shared_mmap)
attempt("utime_now", lambda: os.utime("f"))
attempt("utime", lambda: os.utime("f", (0, 0)))
attempt("trunc_open", lambda: os.open("f", os.O_RDONLY | os.O_TRUNC))
attempt("tmpfile", lambda: os.open(".", os.O_TMPFILE | os.O_RDWR, 0o600))
def private_mmap():
    fd = os.open("f", os.O_RDONLY)
    m = mmap.mmap(fd, 4, mmap.MAP_PRIVATE, mmap.PROT_READ | mmap.PROT_WRITE)
    m[0:1] = b"Y"
    m.flush()
attempt("private_mmap", private_mmap)`,
        );
        assert.equal(py.code, 0, py.stderr);
        const got = results(py.stdout);
        for (const name of ["mmap", "utime_now", "utime", "trunc_open"]) {
          assert.equal(got[name], "EROFS", `${name}: ${py.stdout}`);
        }
        assert.notEqual(got.tmpfile, "OK", py.stdout);
        // A private mapping may be written: the change stays in the process.
        assert.equal(got.private_mmap, "OK", py.stdout);
        assert.equal((await sh("cat f", dir)).stdout, "original");
      });
    }
    assert.deepEqual(await snapshot(memory), before);
  },
);

fuseTest(
  "quota through a mount: long symlink targets count, so ln -s cannot store past the limit",
  async () => {
    // No node limit: the byte limit alone must stop a program that stores
    // its data as link targets (up to 4 KiB each, kept by the backend).
    const limit = 64 * 1024;
    const quota = await Quota.create(new MemoryBackend(), { maxTotalSize: limit });
    await withMount(quota, { cache: "auto" }, async (dir) => {
      const target = "t".repeat(4000);
      const r = await sh(`for i in $(seq 100); do ln -s ${target} l$i || exit 1; done`, dir);
      assert.notEqual(r.code, 0, "100 links of 4000 bytes fit in 64 KiB");
      assert.match(r.stderr, /No space left on device/);
      const sizes = await sh("stat -c %s l*", dir);
      const stored = sizes.stdout.trim().split("\n").map(Number);
      assert.equal(stored.length, 16);
      assert.deepEqual(quota.usage(), { bytes: 16 * 4000, nodes: 16 });
      assert.equal((await sh("rm l*", dir)).code, 0);
      assert.deepEqual(quota.usage(), { bytes: 0, nodes: 0 });
    });
  },
);

fuseTest(
  "quota through a mount: sparse files, fallocate, far writes, links, xattrs and parallel appends stay within the limit",
  async () => {
    const limit = 1024 * 1024;
    const quota = await Quota.create(new MemoryBackend(), {
      maxTotalSize: limit,
      maxNodeCount: 50,
    });
    await withMount(quota, { cache: "auto" }, async (dir) => {
      await attacksFail(dir, [
        "truncate -s 100G sparse",
        "dd if=/dev/zero of=seek bs=1 count=1 seek=2G conv=notrunc",
        "fallocate -l 10G alloc",
        "dd if=/dev/zero of=big bs=64k count=17",
      ], /No space left on device/);
      // dd stored the 16 blocks that fit before the 17th failed.
      assert.equal(quota.usage().bytes, limit);
      assert.equal((await sh("rm big", dir)).code, 0);
      const py = await python(
        dir,
        `fd = os.open("far", os.O_CREAT | os.O_RDWR, 0o644)
attempt("pwrite_far", lambda: os.pwrite(fd, b"x", 1 << 40))
attempt("posix_fallocate", lambda: os.posix_fallocate(fd, 0, 5 << 20))
attempt("ftruncate", lambda: os.ftruncate(fd, 2 << 20))
os.close(fd)
open("small", "wb").write(b"s" * 1000)
attempt("links", lambda: [os.link("small", f"hl{i}") for i in range(100)])
# Six appenders at once race for the last bytes.
for i in range(6):
    if os.fork() == 0:
        f = os.open("log", os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
        try:
            for j in range(200):
                os.write(f, b"z" * 1000)
        except OSError:
            pass
        os.close(f)
        os._exit(0)
for i in range(6):
    os.wait()
attempt("xattrs", lambda: [os.setxattr("small", f"user.k{i}", b"v" * 60000) for i in range(40)])
attempt("dirs", lambda: [os.mkdir(f"d{i}") for i in range(100)])`,
      );
      assert.equal(py.code, 0, py.stderr);
      const got = results(py.stdout);
      for (const name of ["pwrite_far", "posix_fallocate", "ftruncate", "xattrs", "dirs"]) {
        assert.match(got[name], /ENOSPC/, `${name}: ${py.stdout}`);
      }
      // A hard link adds no bytes and no node: all of them fit.
      assert.equal(got.links, "OK", py.stdout);
      const usage = quota.usage();
      assert.ok(usage.bytes <= limit, `${usage.bytes} bytes in use`);
      assert.ok(usage.nodes <= 50, `${usage.nodes} nodes in use`);
      // Exact: what a fresh scan of the backend finds.
      await quota.rescan();
      assert.deepEqual(quota.usage(), usage);
      assert.equal((await sh("rm -rf ./*", dir)).code, 0);
      assert.deepEqual(quota.usage(), { bytes: 0, nodes: 0 });
    });
  },
);

fuseTest(
  "overlay through a mount: no write, mmap, fallocate or metadata change reaches a host lower layer",
  async () => {
    const lower = await Deno.makeTempDir({ prefix: "anyfs-lower-" });
    try {
      await Deno.mkdir(`${lower}/sub`);
      await Deno.writeTextFile(`${lower}/f`, "hello\n");
      await Deno.writeTextFile(`${lower}/sub/g`, "sub\n");
      await Deno.symlink("f", `${lower}/sl`);
      const old = new Date("2020-01-01T00:00:00Z");
      for (const p of ["f", "sub/g", "sub", ""]) await Deno.utime(`${lower}/${p}`, old, old);
      const listing = async () => {
        const r = await sh(`find . -exec stat -c '%n %s %Y %Z %a %u %h %F' {} + | sort`, lower);
        return r.stdout + (await sh("cat f sub/g", lower)).stdout;
      };
      const before = await listing();
      const overlay = new Overlay(new StdFsBackend({ root: lower }), new MemoryBackend());
      await withMount(overlay, { cache: "auto" }, async (dir) => {
        const r = await sh(
          [
            "echo more >> f",
            "echo x > sub/g",
            "touch -d 2001-01-01 sub",
            "chmod 600 sub/g",
            "chown 5:5 f",
            "setfattr -n user.q -v 2 f",
            "mv sub sub2",
            "rm sl && ln -s other sl",
            "ln f hard",
            "fallocate -l 4096 sub2/g",
            `python3 -c "import os, mmap
fd = os.open('f', os.O_RDWR)
m = mmap.mmap(fd, 4, mmap.MAP_SHARED); m[0:4] = b'MMAP'; m.flush()"`,
            "cat f",
          ].join(" && "),
          dir,
        );
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^MMAP/);
      });
      assert.equal(await listing(), before);
      assert.equal(await Deno.readTextFile(`${lower}/f`), "hello\n");
    } finally {
      await Deno.remove(lower, { recursive: true });
    }
  },
);
