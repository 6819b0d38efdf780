/**
 * Conformance cases: `rename`, with `rename(2)` semantics.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type ConformanceCase, names, present, rejects } from "../kit.ts";

const G = "rename";

/** Cases for `rename`. */
export const RENAME_CASES: readonly ConformanceCase[] = [
  {
    group: G,
    name: "moves a file to a new name",
    async run({ fs }) {
      await fs.writeTextFile("/a", "content");
      await fs.rename("/a", "/b");
      assert.equal(await fs.readTextFile("/b"), "content");
      assert.equal(await present(fs, "/a"), false);
    },
  },
  {
    group: G,
    name: "keeps the inode number",
    async run({ fs }) {
      await fs.writeTextFile("/a", "x");
      await fs.mkdir("/d");
      const ino = (await fs.stat("/a")).ino;
      await fs.rename("/a", "/d/b");
      assert.equal((await fs.stat("/d/b")).ino, ino);
      assert.notEqual(ino, (await fs.stat("/d")).ino);
      assert.equal(await fs.readTextFile("/d/b"), "x");
    },
  },
  {
    group: G,
    name: "moves a file between directories",
    async run({ fs }) {
      await fs.mkdir("/src");
      await fs.mkdir("/dst");
      await fs.writeTextFile("/src/f", "moving");
      await fs.rename("/src/f", "/dst/f");
      assert.deepEqual(await names(fs, "/src"), []);
      assert.equal(await fs.readTextFile("/dst/f"), "moving");
    },
  },
  {
    group: G,
    name: "over an existing file replaces it",
    async run({ fs }) {
      await fs.writeTextFile("/a", "new");
      await fs.writeTextFile("/b", "old and longer");
      await fs.rename("/a", "/b");
      assert.equal(await fs.readTextFile("/b"), "new");
      assert.deepEqual(await names(fs, "/"), ["b"]);
    },
  },
  {
    group: G,
    name: "a file over a directory fails with EISDIR",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await fs.mkdir("/d");
      await rejects(fs.rename("/f", "/d"), "EISDIR");
      assert.equal((await fs.stat("/d")).isDirectory, true);
      assert.equal(await fs.readTextFile("/f"), "x");
    },
  },
  {
    group: G,
    name: "a directory over an empty directory replaces it",
    async run({ fs }) {
      await fs.mkdir("/a");
      await fs.writeTextFile("/a/inside", "x");
      await fs.mkdir("/b");
      await fs.rename("/a", "/b");
      assert.deepEqual(await names(fs, "/"), ["b"]);
      assert.deepEqual(await names(fs, "/b"), ["inside"]);
    },
  },
  {
    group: G,
    name: "a directory over a non-empty directory fails with ENOTEMPTY",
    async run({ fs }) {
      await fs.mkdir("/a");
      await fs.mkdir("/b");
      await fs.writeTextFile("/b/occupant", "x");
      await rejects(fs.rename("/a", "/b"), "ENOTEMPTY");
      assert.deepEqual(await names(fs, "/"), ["a", "b"]);
      assert.deepEqual(await names(fs, "/b"), ["occupant"]);
    },
  },
  {
    group: G,
    name: "a directory over a file fails with ENOTDIR",
    async run({ fs }) {
      await fs.mkdir("/d");
      await fs.writeTextFile("/f", "x");
      await rejects(fs.rename("/d", "/f"), "ENOTDIR");
      assert.equal(await fs.readTextFile("/f"), "x");
    },
  },
  {
    group: G,
    name: "a directory into its own subtree fails with EINVAL",
    async run({ fs }) {
      await fs.mkdir("/a/b/c", { recursive: true });
      await rejects(fs.rename("/a", "/a/b/c/a"), "EINVAL");
      await rejects(fs.rename("/a", "/a/x"), "EINVAL");
      assert.equal((await fs.stat("/a/b/c")).isDirectory, true);
    },
  },
  {
    group: G,
    name: "a directory onto its own ancestor fails with ENOTEMPTY",
    async run({ fs }) {
      await fs.mkdir("/p/q", { recursive: true });
      await rejects(fs.rename("/p/q", "/p"), "ENOTEMPTY");
    },
  },
  {
    group: G,
    name: "a directory carries its whole subtree",
    async run({ fs }) {
      await fs.mkdir("/old/x/y", { recursive: true });
      await fs.writeTextFile("/old/x/y/leaf", "deep");
      await fs.rename("/old", "/new");
      assert.equal(await fs.readTextFile("/new/x/y/leaf"), "deep");
      await rejects(fs.stat("/old/x"), "ENOENT");
    },
  },
  {
    group: G,
    name: "a missing source fails with ENOENT",
    async run({ fs }) {
      await rejects(fs.rename("/missing", "/b"), "ENOENT");
      assert.equal(await present(fs, "/b"), false);
    },
  },
  {
    group: G,
    name: "into a missing directory fails with ENOENT and keeps the source",
    async run({ fs }) {
      await fs.writeTextFile("/a", "x");
      await rejects(fs.rename("/a", "/no/such/b"), "ENOENT");
      assert.equal(await fs.readTextFile("/a"), "x");
    },
  },
  {
    group: G,
    name: "into a path below a file fails with ENOTDIR",
    async run({ fs }) {
      await fs.writeTextFile("/a", "x");
      await fs.writeTextFile("/f", "x");
      await rejects(fs.rename("/a", "/f/b"), "ENOTDIR");
    },
  },
  {
    group: G,
    name: "onto itself does nothing",
    async run({ fs }) {
      await fs.writeTextFile("/f", "same");
      await fs.rename("/f", "/f");
      assert.equal(await fs.readTextFile("/f"), "same");
      await fs.mkdir("/d");
      await fs.rename("/d", "/d");
      assert.deepEqual(await names(fs, "/"), ["d", "f"]);
    },
  },
  {
    group: G,
    name: "onto a hard link of itself does nothing; both names stay",
    needs: ["hardlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/a", "shared");
      await fs.link("/a", "/b");
      await fs.rename("/a", "/b");
      assert.deepEqual(await names(fs, "/"), ["a", "b"]);
      assert.equal((await fs.stat("/a")).nlink, 2);
      assert.equal(await fs.readTextFile("/b"), "shared");
    },
  },
  {
    group: G,
    name: "over a hard-linked file drops one link of the replaced inode",
    needs: ["hardlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/victim", "old");
      await fs.link("/victim", "/survivor");
      await fs.writeTextFile("/a", "new");
      await fs.rename("/a", "/victim");
      assert.equal(await fs.readTextFile("/victim"), "new");
      assert.equal(await fs.readTextFile("/survivor"), "old");
      assert.equal((await fs.stat("/survivor")).nlink, 1);
    },
  },
  {
    group: G,
    name: "a symlink moves as a link; its target is untouched",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.mkdir("/d");
      await fs.writeTextFile("/d/target", "t");
      await fs.symlink("target", "/d/link");
      await fs.rename("/d/link", "/d/moved");
      assert.equal(await fs.readLink("/d/moved"), "target");
      assert.equal(await fs.readTextFile("/d/moved"), "t");
      assert.deepEqual(await names(fs, "/d"), ["moved", "target"]);
    },
  },
  {
    group: G,
    name: "over a symlink replaces the link, not its target",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/target", "target content");
      await fs.symlink("target", "/link");
      await fs.writeTextFile("/a", "replacement");
      await fs.rename("/a", "/link");
      assert.equal((await fs.lstat("/link")).isSymlink, false);
      assert.equal(await fs.readTextFile("/link"), "replacement");
      assert.equal(await fs.readTextFile("/target"), "target content");
    },
  },
  {
    group: G,
    name: "a file with a trailing slash fails with ENOTDIR",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await rejects(fs.rename("/f/", "/g"), "ENOTDIR");
      await rejects(fs.rename("/f", "/g/"), "ENOTDIR");
      assert.deepEqual(await names(fs, "/"), ["f"]);
    },
  },
  {
    group: G,
    name: "a directory with trailing slashes is renamed",
    async run({ fs }) {
      await fs.mkdir("/d");
      await fs.rename("/d/", "/e/");
      assert.deepEqual(await names(fs, "/"), ["e"]);
    },
  },
  {
    group: G,
    name: "'.' or '..' as the last component fails with EBUSY",
    async run({ fs }) {
      await fs.mkdir("/d");
      await fs.writeTextFile("/f", "x");
      await rejects(fs.rename("/d/.", "/x"), "EBUSY");
      await rejects(fs.rename("/d/..", "/x"), "EBUSY");
      await rejects(fs.rename("/f", "/d/."), "EBUSY");
      assert.deepEqual(await names(fs, "/"), ["d", "f"]);
    },
  },
  {
    group: G,
    name: "the root cannot be renamed (EBUSY)",
    async run({ fs }) {
      await rejects(fs.rename("/", "/x"), "EBUSY");
    },
  },
  {
    group: G,
    name: "a file keeps its content and mode across a rename",
    needs: ["permissions"],
    async run({ fs }) {
      await fs.writeTextFile("/a", "content", { mode: 0o640 });
      await fs.rename("/a", "/b");
      assert.equal((await fs.stat("/b")).mode! & 0o7777, 0o640);
    },
  },
  {
    group: G,
    name: "both parent directories are checked before the source itself",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      // The source is missing, but the destination's parent is a file.
      await rejects(fs.rename("/missing", "/f/x"), "ENOTDIR");
      // The source names a file as a directory, but the destination's parent is missing.
      await rejects(fs.rename("/f/", "/missing/x"), "ENOENT");
      assert.deepEqual(await names(fs, "/"), ["f"]);
    },
  },
  {
    group: G,
    name: "a destination below a symlink loop fails with ELOOP, even for a missing source",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.symlink("loop", "/loop");
      await rejects(fs.rename("/missing", "/loop/x"), "ELOOP");
    },
  },
];
