// Real programs in subprocesses against a mounted MemoryBackend: what they
// do must land in the backend, and what they read must be what the backend
// holds.
import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import type { CachePolicy, MountOptions } from "../../src/mount/options.ts";
import { sh, shOk, withMount } from "./helpers.ts";
import { fuseTest } from "../_fuse.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

for (const cache of ["never", "auto", "always"] as CachePolicy[]) {
  fuseTest(`shell tools on a mount (cache: ${cache})`, async () => {
    const backend = new MemoryBackend();
    await withMount(backend, { cache }, async (mp) => {
      // sh redirections, append, mkdir -p
      await shOk(`echo hello > a.txt && echo more >> a.txt && mkdir -p d/e/f`, mp);
      assert.equal(text(await backend.readFile("/a.txt")), "hello\nmore\n");
      assert.equal((await backend.lstat("/d/e/f")).type, "dir");

      // cp -a keeps modes and times; chmod; touch -d
      await shOk(
        `chmod 640 a.txt && touch -d '2001-02-03 04:05:06' a.txt && cp -a a.txt d/b.txt`,
        mp,
      );
      const b = await backend.lstat("/d/b.txt");
      assert.equal(b.mode & 0o7777, 0o640);
      assert.equal(b.mtimeMs, Date.UTC(2001, 1, 3, 4, 5, 6));
      assert.equal(text(await backend.readFile("/d/b.txt")), "hello\nmore\n");

      // chown as root
      await shOk(`chown 1234:567 d/b.txt`, mp);
      const owned = await backend.lstat("/d/b.txt");
      assert.deepEqual([owned.uid, owned.gid], [1234, 567]);

      // mv, ln, ln -s: one inode for hard links, symlink target verbatim
      await shOk(`mv d/b.txt d/c.txt && ln d/c.txt hard && ln -s d/c.txt soft`, mp);
      await assert.rejects(backend.lstat("/d/b.txt"), { code: "ENOENT" });
      assert.equal((await backend.lstat("/hard")).ino, (await backend.lstat("/d/c.txt")).ino);
      assert.equal((await backend.lstat("/hard")).nlink, 2);
      assert.equal(await backend.readLink("/soft"), "d/c.txt");
      assert.equal(await shOk(`cat soft`, mp), "hello\nmore\n");
      const st = await shOk(`stat -c '%h %i %s %a %F' hard d/c.txt`, mp);
      const [l1, l2] = st.trim().split("\n");
      assert.equal(l1, l2);
      assert.match(l1, /^2 \d+ 11 640 regular file$/);

      // truncate up and down, dd with seek/conv=notrunc
      // O_RDONLY|O_TRUNC empties a file on Linux, as on any local file system
      await backend.writeFile("/rt.txt", new TextEncoder().encode("gone"));
      await shOk(
        `python3 -c "import os; os.close(os.open('rt.txt', os.O_RDONLY | os.O_TRUNC))"`,
        mp,
      );
      assert.equal((await backend.lstat("/rt.txt")).size, 0);
      await backend.unlink("/rt.txt");

      await shOk(`truncate -s 5 a.txt && truncate -s 8 a.txt`, mp);
      assert.deepEqual([...await backend.readFile("/a.txt")], [
        ...new TextEncoder().encode("hello"),
        0,
        0,
        0,
      ]);
      await shOk(
        `dd if=/dev/zero of=big bs=64k count=40 status=none && ` +
          `printf XY | dd of=big bs=1 seek=100000 conv=notrunc status=none`,
        mp,
      );
      const big = await backend.readFile("/big");
      assert.equal(big.length, 64 * 1024 * 40);
      assert.equal(text(big.subarray(100000, 100002)), "XY");

      // tar create and extract a tree; find; the copy is identical
      await shOk(
        `tar cf /tmp/anyfs-prog-${cache}.tar d hard soft a.txt && mkdir x && ` +
          `tar xf /tmp/anyfs-prog-${cache}.tar -C x && rm /tmp/anyfs-prog-${cache}.tar`,
        mp,
      );
      const listing = await shOk(`find . -path ./big -prune -o -print | sort`, mp);
      assert.equal(
        listing,
        [
          ".",
          "./a.txt",
          "./d",
          "./d/c.txt",
          "./d/e",
          "./d/e/f",
          "./hard",
          "./soft",
          "./x",
          "./x/a.txt",
          "./x/d",
          "./x/d/c.txt",
          "./x/d/e",
          "./x/d/e/f",
          "./x/hard",
          "./x/soft",
        ]
          .join("\n") + "\n",
      );
      assert.equal(await backend.readLink("/x/soft"), "d/c.txt");
      assert.equal((await backend.lstat("/x/hard")).ino, (await backend.lstat("/x/d/c.txt")).ino);
      assert.equal(await shOk(`cmp x/d/c.txt d/c.txt && echo same`, mp), "same\n");

      // rm -r, rmdir of a non-empty directory fails with the right message
      const r = await sh(`rmdir d`, mp);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Directory not empty/);
      await shOk(`rm -r x`, mp);
      await assert.rejects(backend.lstat("/x"), { code: "ENOENT" });
    });
  });
}

// What Linux does to set-user-ID/set-group-ID bits when files are written,
// truncated and chowned, by root and by an unprivileged user. The mount
// clears them itself (FUSE_HANDLE_KILLPRIV_V2), so the same script runs on
// tmpfs first and the mount must end with the same modes.
const SUID_SCRIPT = `
  set -e
  as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
  for f in a b c d e f g; do : > $f; done
  chmod 4777 a; chmod 2777 b; chmod 2767 c; chmod 4777 d; chmod 6777 e; chmod 4777 f
  chmod 4755 g
  as_nobody sh -c 'printf x >> a; printf x >> b; printf x >> c'
  printf x >> d
  as_nobody truncate -s 0 e
  as_nobody sh -c ': > f'
  chown 1:1 g
  stat -c '%n %a' a b c d e f g
`;

const SUID_CASES: [string, MountOptions][] = [
  ["cache: never", { cache: "never" }],
  ["cache: auto", { cache: "auto" }],
  ["cache: always", { cache: "always" }],
  ["writeback cache", { cache: "always", writebackCache: true }],
];
for (const [what, options] of SUID_CASES) {
  fuseTest(`set-user-ID/set-group-ID are dropped as on tmpfs (${what})`, async () => {
    const shm = await Deno.makeTempDir({ dir: "/dev/shm", prefix: "anyfs-suid-" });
    let expected: string;
    try {
      await Deno.chmod(shm, 0o755);
      expected = await shOk(SUID_SCRIPT, shm);
    } finally {
      await Deno.remove(shm, { recursive: true });
    }
    assert.match(expected, /^a 777$/m, "tmpfs drops the bit on an unprivileged write");
    const backend = new MemoryBackend();
    await withMount(backend, { ...options, allowOther: true }, async (mp, handle) => {
      assert.equal(handle.connection.killPrivV2, true, "the mount clears the bits itself");
      assert.equal(await shOk(SUID_SCRIPT, mp), expected);
    });
  });
}

fuseTest(
  "cache: never: changes made directly in the backend are seen at once by path",
  async () => {
    const backend = new MemoryBackend();
    const enc = (s: string) => new TextEncoder().encode(s);
    await backend.mkdir("/d");
    await backend.writeFile("/d/f", enc("one"));
    await withMount(backend, { cache: "never" }, async (mp) => {
      assert.equal(await shOk(`cat d/f; echo; stat -c '%s %a' d/f`, mp), "one\n3 644\n");
      await backend.writeFile("/d/f", enc("three"));
      await backend.chmod("/d/f", 0o600);
      assert.equal(await shOk(`cat d/f; echo; stat -c '%s %a' d/f`, mp), "three\n5 600\n");
      await backend.rename("/d", "/e");
      assert.equal(await shOk(`cat e/f; echo; ls`, mp), "three\ne\n");
      assert.notEqual((await sh(`cat d/f`, mp)).code, 0);
      await backend.unlink("/e/f");
      assert.notEqual((await sh(`cat e/f`, mp)).code, 0);
    });
  },
);

fuseTest("cached writes do not ask for security.capability each time", async () => {
  for (const cache of ["auto", "always"] as CachePolicy[]) {
    await withMount(new MemoryBackend(), { cache }, async (mp, handle) => {
      await shOk(`: > f`, mp);
      const before = handle.stats.byOperation.getxattr ?? 0;
      await shOk(`dd if=/dev/zero of=f bs=4096 count=200 conv=notrunc status=none`, mp);
      const writes = handle.stats.byOperation.write ?? 0;
      const asked = (handle.stats.byOperation.getxattr ?? 0) - before;
      assert.ok(writes >= 200, `${writes} writes reached the backend`);
      assert.ok(asked <= 2, `${cache}: ${asked} GETXATTR requests for 200 writes`);
    });
  }
});

fuseTest("xattrs through setfattr/getfattr", async () => {
  const backend = new MemoryBackend();
  await withMount(backend, {}, async (mp) => {
    await shOk(`touch f && setfattr -n user.colour -v blue f && setfattr -n user.size -v 7 f`, mp);
    assert.equal(text(await backend.getXattr("/f", "user.colour")), "blue");
    const dump = await shOk(`getfattr -d f`, mp);
    assert.match(dump, /user\.colour="blue"/);
    assert.match(dump, /user\.size="7"/);
    await shOk(`setfattr -x user.colour f`, mp);
    assert.deepEqual(await backend.listXattr("/f"), ["user.size"]);
    const missing = await sh(`getfattr -n user.nope f`, mp);
    assert.match(missing.stderr, /No such attribute/);
  });
});

fuseTest("git init / add / commit / status / log in a mount", async () => {
  const backend = new MemoryBackend();
  await withMount(backend, { cache: "auto" }, async (mp) => {
    const git = "git -c user.name=T -c user.email=t@example.invalid -c init.defaultBranch=main";
    await shOk(
      `${git} init -q repo && cd repo && echo one > a && mkdir src && echo 'x' > src/m.ts`,
      mp,
    );
    await shOk(`cd repo && ${git} add . && ${git} commit -q -m first`, mp);
    await shOk(`cd repo && echo two >> a && ${git} commit -q -am second`, mp);
    assert.equal(await shOk(`cd repo && ${git} status --porcelain`, mp), "");
    assert.equal(await shOk(`cd repo && ${git} log --format=%s`, mp), "second\nfirst\n");
    await shOk(`cd repo && echo three > new && ${git} status --porcelain > ../status.txt`, mp);
    assert.equal(text(await backend.readFile("/status.txt")), "?? new\n");
    assert.equal(text(await backend.readFile("/repo/a")), "one\ntwo\n");
    assert.equal(await shOk(`cd repo && ${git} fsck --strict 2>&1 && echo ok`, mp), "ok\n");
  });
});

// Direct I/O (cache: never) bypasses the page cache, and the kernel refuses
// MAP_SHARED of such files unless the mount allows it: SQLite's WAL index
// is a shared mapping, so WAL mode failed with "disk I/O error".
const MMAP_AND_WAL = `
import mmap, os, sqlite3
with open('m', 'wb') as f: f.write(b'\\0' * 8192)
with open('m', 'r+b') as f:
    m = mmap.mmap(f.fileno(), 0)
    m[0:5] = b'hello'; m[8187:8192] = b'world'; m.flush(); m.close()
c = sqlite3.connect('w.db')
print(c.execute('pragma journal_mode=wal').fetchone()[0])
c.execute('create table t(x)')
with c: c.executemany('insert into t values (?)', [(i,) for i in range(500)])
other = sqlite3.connect('w.db')
print(other.execute('select count(*), sum(x) from t').fetchone())
other.close(); c.close()
`;

fuseTest("cache: never: shared mmap and SQLite's WAL mode work", async () => {
  const backend = new MemoryBackend();
  await withMount(backend, { cache: "never" }, async (mp, handle) => {
    const [major, minor] = handle.connection.protocol.split(".").map(Number);
    if (major === 7 && minor < 39) {
      // Linux before 6.6 cannot map direct-I/O files shared at all.
      assert.equal(handle.connection.directIoMmap, false);
      return;
    }
    assert.equal(handle.connection.directIoMmap, true);
    const out = await shOk(`python3 - <<'PY'\n${MMAP_AND_WAL}\nPY`, mp);
    assert.equal(out, "wal\n(500, 124750)\n");
    const m = await backend.readFile("/m");
    assert.equal(text(m.subarray(0, 5)), "hello");
    assert.equal(text(m.subarray(8187)), "world");
  });
});

// A file unlinked while open (tmpfile(3)'s pattern, sort's spill files) has
// no path in the backend. Under the writeback cache close(2) and fsync(2)
// send its times first; failing them failed those calls with EPERM, and
// futimens/fchmod/fchown failed with ENOENT or EPERM, unlike on tmpfs.
const UNLINKED_OPEN = `
import os
fd = os.open('u', os.O_CREAT | os.O_RDWR, 0o600)
os.write(fd, b'hello'); os.unlink('u'); os.write(fd, b' world')
os.fsync(fd)
os.utime(fd, ns=(1_000_000_000, 2_000_000_000))
os.fchmod(fd, 0o640)
os.fchown(fd, 5, 6)
st = os.fstat(fd)
os.lseek(fd, 0, 0)
print(os.read(fd, 100), st.st_nlink, st.st_atime_ns, st.st_mtime_ns)
print(oct(st.st_mode), st.st_uid, st.st_gid)
os.close(fd)
print(os.listdir('.'))
`;

for (const writebackCache of [false, true]) {
  fuseTest(
    `a file unlinked while open can be written, synced, stamped, chmod'ed and closed (writeback cache: ${writebackCache})`,
    async () => {
      const backend = new MemoryBackend();
      await withMount(backend, { cache: "always", writebackCache }, async (mp) => {
        const out = await shOk(`python3 - <<'PY'\n${UNLINKED_OPEN}\nPY`, mp);
        assert.equal(out, "b'hello world' 0 1000000000 2000000000\n0o100640 5 6\n[]\n");
        assert.deepEqual(await backend.readDir("/").then((e) => e.map((x) => x.name)), []);
      });
    },
  );
}

// Atomic replacement (write a temporary file, rename it over the real one)
// is how editors, package managers and deploy scripts update files that
// others keep reading: a reader must always find the file, old or new.
fuseTest(
  "readers of a file that writers keep replacing with mv never get ENOENT; ESTALE stays rare",
  async () => {
    for (const cache of ["never", "auto"] as CachePolicy[]) {
      await withMount(new MemoryBackend(), { cache }, async (mp) => {
        const r = await sh(
          `echo 0 > target && seq 1 8 | xargs -P8 -I{} sh -c ` +
            `'for i in $(seq 1 60); do echo {} > t{}; mv t{} target; cat target > /dev/null; ` +
            `ln -s target l{}; mv -T l{} link; cat link > /dev/null; done'`,
          mp,
        );
        // A name replaced at the very moment of an open may answer ESTALE
        // (never another file's data: tests/mount/robustness_test.ts checks
        // contents); "No such file or directory" was the bug. 960 reads here.
        const errors = r.stderr.split("\n").filter((line) => line !== "");
        const notStale = errors.filter((line) => !line.endsWith("Stale file handle"));
        assert.deepEqual(notStale, [], `cache: ${cache}`);
        assert.ok(errors.length <= 48, `cache: ${cache}: ${errors.length} ESTALE of 960 reads`);
        if (errors.length === 0) assert.equal(r.code, 0);
      });
    }
  },
);
