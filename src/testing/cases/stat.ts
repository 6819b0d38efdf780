/**
 * Conformance cases: `stat` and `lstat` — types, sizes, inode numbers,
 * link counts and mode bits.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type ConformanceCase, ms, rejects } from "../kit.ts";

const G = "stat";
const S_IFMT = 0o170000;

/** Cases for `stat` and `lstat`. */
export const STAT_CASES: readonly ConformanceCase[] = [
  {
    group: G,
    name: "a file is a file and nothing else",
    async run({ fs }) {
      await fs.writeTextFile("/f", "abc");
      for (const st of [await fs.stat("/f"), await fs.lstat("/f")]) {
        assert.equal(st.isFile, true);
        assert.equal(st.isDirectory, false);
        assert.equal(st.isSymlink, false);
        assert.equal(st.size, 3);
      }
    },
  },
  {
    group: G,
    name: "a directory is a directory and nothing else",
    async run({ fs }) {
      await fs.mkdir("/d");
      const st = await fs.stat("/d");
      assert.equal(st.isFile, false);
      assert.equal(st.isDirectory, true);
      assert.equal(st.isSymlink, false);
    },
  },
  {
    group: G,
    name: "the root is a directory",
    async run({ fs }) {
      assert.equal((await fs.stat("/")).isDirectory, true);
      assert.equal((await fs.lstat("/")).isDirectory, true);
    },
  },
  {
    group: G,
    name: "stat and lstat of a missing path fail with ENOENT",
    async run({ fs }) {
      await rejects(fs.stat("/missing"), "ENOENT");
      await rejects(fs.lstat("/missing"), "ENOENT");
      await rejects(fs.stat("/missing/deeper"), "ENOENT");
    },
  },
  {
    group: G,
    name: "mode carries the type bits",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await fs.mkdir("/d");
      assert.equal((await fs.stat("/f")).mode! & S_IFMT, 0o100000);
      assert.equal((await fs.stat("/d")).mode! & S_IFMT, 0o040000);
    },
  },
  {
    group: G,
    name: "a new file has one link",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      assert.equal((await fs.stat("/f")).nlink, 1);
    },
  },
  {
    group: G,
    name: "a directory's link count is 2 plus its subdirectories",
    async run({ fs }) {
      await fs.mkdir("/d");
      assert.equal((await fs.stat("/d")).nlink, 2);
      await fs.mkdir("/d/a");
      await fs.mkdir("/d/b");
      await fs.writeTextFile("/d/file", "files do not count");
      assert.equal((await fs.stat("/d")).nlink, 4);
      await fs.remove("/d/a");
      assert.equal((await fs.stat("/d")).nlink, 3);
    },
  },
  {
    group: G,
    name: "inode numbers differ between files and stay put across writes",
    async run({ fs }) {
      await fs.writeTextFile("/a", "x");
      await fs.writeTextFile("/b", "x");
      const a = (await fs.stat("/a")).ino;
      const b = (await fs.stat("/b")).ino;
      assert.equal(typeof a, "number");
      assert.notEqual(a, b);
      await fs.writeTextFile("/a", "rewritten, longer");
      await fs.writeTextFile("/a", "!", { append: true });
      assert.equal((await fs.stat("/a")).ino, a);
    },
  },
  {
    group: G,
    name: "size follows every write",
    async run({ fs }) {
      await fs.writeTextFile("/f", "12345");
      assert.equal((await fs.stat("/f")).size, 5);
      await fs.writeTextFile("/f", "678", { append: true });
      assert.equal((await fs.stat("/f")).size, 8);
      await fs.writeTextFile("/f", "");
      assert.equal((await fs.stat("/f")).size, 0);
    },
  },
  {
    group: G,
    name: "a new file's times are current",
    async run({ fs }) {
      const before = Date.now();
      await fs.writeTextFile("/f", "x");
      const st = await fs.stat("/f");
      // A generous window: it only catches seconds-vs-milliseconds mix-ups
      // and zero times, never scheduling jitter.
      const window = 10 * 60 * 1000;
      for (const [what, t] of [["mtime", st.mtime], ["atime", st.atime]] as const) {
        const at = ms(t, what);
        assert.ok(Math.abs(at - before) < window, `${what} ${new Date(at).toISOString()}`);
      }
    },
  },
  {
    group: G,
    name: "stat of a file with a trailing slash fails with ENOTDIR",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await rejects(fs.stat("/f/"), "ENOTDIR");
      await rejects(fs.lstat("/f/"), "ENOTDIR");
    },
  },
  {
    group: G,
    name: "stat of a directory with a trailing slash works",
    async run({ fs }) {
      await fs.mkdir("/d");
      assert.equal((await fs.stat("/d/")).isDirectory, true);
      assert.equal((await fs.stat("/d//")).isDirectory, true);
    },
  },
  {
    group: G,
    name: "new files and directories belong to the owner of the root",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await fs.mkdir("/d");
      const root = await fs.stat("/");
      assert.equal(typeof root.uid, "number");
      for (const p of ["/f", "/d"]) {
        const st = await fs.stat(p);
        assert.equal(st.isFile || st.isDirectory, true, `${p} exists`);
        assert.deepEqual([st.uid, st.gid], [root.uid, root.gid], p);
      }
    },
  },
];
