/**
 * Conformance cases: `mkdir`, `readDir` and `remove`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type ConformanceCase, entries, names, permBits, present, rejects } from "../kit.ts";

const MKDIR = "mkdir";
const READDIR = "readDir";
const REMOVE = "remove";

/** Cases for `mkdir`. */
export const MKDIR_CASES: readonly ConformanceCase[] = [
  {
    group: MKDIR,
    name: "creates an empty directory",
    async run({ fs }) {
      await fs.mkdir("/d");
      assert.equal((await fs.stat("/d")).isDirectory, true);
      assert.deepEqual(await names(fs, "/d"), []);
    },
  },
  {
    group: MKDIR,
    name: "over an existing directory fails with EEXIST",
    async run({ fs }) {
      await fs.mkdir("/d");
      await fs.writeTextFile("/d/keep", "x");
      await rejects(fs.mkdir("/d"), "EEXIST");
      assert.deepEqual(await names(fs, "/d"), ["keep"]);
    },
  },
  {
    group: MKDIR,
    name: "over an existing file fails with EEXIST",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await rejects(fs.mkdir("/f"), "EEXIST");
      assert.equal((await fs.stat("/f")).isFile, true);
    },
  },
  {
    group: MKDIR,
    name: "of the root fails with EEXIST",
    async run({ fs }) {
      await rejects(fs.mkdir("/"), "EEXIST");
    },
  },
  {
    group: MKDIR,
    name: "with a missing parent fails with ENOENT",
    async run({ fs }) {
      await rejects(fs.mkdir("/a/b"), "ENOENT");
      assert.equal(await present(fs, "/a"), false);
    },
  },
  {
    group: MKDIR,
    name: "below a file fails with ENOTDIR",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await rejects(fs.mkdir("/f/d"), "ENOTDIR");
    },
  },
  {
    group: MKDIR,
    name: "recursive creates every missing parent",
    async run({ fs }) {
      await fs.mkdir("/a/b/c/d", { recursive: true });
      for (const p of ["/a", "/a/b", "/a/b/c", "/a/b/c/d"]) {
        assert.equal((await fs.stat(p)).isDirectory, true, p);
      }
    },
  },
  {
    group: MKDIR,
    name: "recursive over an existing directory succeeds and keeps its content",
    async run({ fs }) {
      await fs.mkdir("/a/b", { recursive: true });
      await fs.writeTextFile("/a/b/f", "x");
      await fs.mkdir("/a/b", { recursive: true });
      await fs.mkdir("/a", { recursive: true });
      assert.deepEqual(await names(fs, "/a/b"), ["f"]);
    },
  },
  {
    group: MKDIR,
    name: "recursive of the root succeeds",
    async run({ fs }) {
      await fs.mkdir("/", { recursive: true });
      assert.equal((await fs.stat("/")).isDirectory, true);
    },
  },
  {
    group: MKDIR,
    name: "recursive over an existing file fails with EEXIST",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await rejects(fs.mkdir("/f", { recursive: true }), "EEXIST");
    },
  },
  {
    group: MKDIR,
    name: "recursive through a file fails with ENOTDIR",
    async run({ fs }) {
      await fs.mkdir("/a");
      await fs.writeTextFile("/a/f", "x");
      await rejects(fs.mkdir("/a/f/b/c", { recursive: true }), "ENOTDIR");
      assert.equal((await fs.stat("/a/f")).isFile, true);
    },
  },
  {
    group: MKDIR,
    name: "mode applies to the new directory",
    needs: ["permissions"],
    async run({ fs }) {
      await fs.mkdir("/private", { mode: 0o700 });
      assert.equal(await permBits(fs, "/private"), 0o700);
      await fs.mkdir("/shared", { mode: 0o750 });
      assert.equal(await permBits(fs, "/shared"), 0o750);
    },
  },
  {
    group: MKDIR,
    name: "recursive mode applies to every directory it creates",
    needs: ["permissions"],
    async run({ fs }) {
      await fs.mkdir("/keep");
      const before = await permBits(fs, "/keep");
      await fs.mkdir("/keep/x/y", { recursive: true, mode: 0o700 });
      assert.equal(await permBits(fs, "/keep/x"), 0o700);
      assert.equal(await permBits(fs, "/keep/x/y"), 0o700);
      assert.equal(await permBits(fs, "/keep"), before, "an existing parent keeps its mode");
    },
  },
  {
    group: MKDIR,
    name: "a new directory is searchable by its owner by default",
    async run({ fs }) {
      await fs.mkdir("/d");
      const bits = await permBits(fs, "/d");
      assert.equal(bits & 0o700, 0o700, `mode ${bits.toString(8)}`);
    },
  },
  {
    group: MKDIR,
    name: "a trailing slash names the same directory",
    async run({ fs }) {
      await fs.mkdir("/d/");
      assert.deepEqual(await names(fs, "/"), ["d"]);
      await rejects(fs.mkdir("/d/"), "EEXIST");
    },
  },
  {
    group: MKDIR,
    name: "of '.' or '..' fails with EEXIST",
    async run({ fs }) {
      await fs.mkdir("/d");
      await rejects(fs.mkdir("/d/."), "EEXIST");
      await rejects(fs.mkdir("/d/.."), "EEXIST");
    },
  },
  {
    group: MKDIR,
    name: "of a file with a trailing slash fails with EEXIST",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await rejects(fs.mkdir("/f/"), "EEXIST");
    },
  },
  {
    group: MKDIR,
    name: "over a dangling or looping symlink fails with EEXIST and creates nothing",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.symlink("target", "/l");
      await fs.symlink("missing/target", "/deep");
      await fs.symlink("loop", "/loop");
      for (const p of ["/l", "/deep", "/loop"]) {
        await rejects(fs.mkdir(`${p}/`), "EEXIST", `mkdir ${p}/`);
        await rejects(fs.mkdir(p), "EEXIST", `mkdir ${p}`);
        // mkdir -p finds the name taken by something that is not a directory.
        await rejects(fs.mkdir(p, { recursive: true }), "EEXIST", `mkdir -p ${p}`);
      }
      assert.deepEqual(await names(fs, "/"), ["deep", "l", "loop"]);
    },
  },
];

/** Cases for `readDir`. */
export const READDIR_CASES: readonly ConformanceCase[] = [
  {
    group: READDIR,
    name: "an empty directory has no entries (no '.' or '..')",
    async run({ fs }) {
      await fs.mkdir("/d");
      assert.deepEqual(await names(fs, "/d"), []);
      assert.deepEqual(await names(fs, "/"), ["d"]);
    },
  },
  {
    group: READDIR,
    name: "lists each entry once with its type",
    async run({ fs }) {
      await fs.mkdir("/d");
      await fs.writeTextFile("/d/file", "x");
      await fs.mkdir("/d/sub");
      const list = await entries(fs, "/d");
      assert.deepEqual(
        list.map((e) => [e.name, e.isFile, e.isDirectory, e.isSymlink]),
        [["file", true, false, false], ["sub", false, true, false]],
      );
    },
  },
  {
    group: READDIR,
    name: "a symlink is listed as a symlink, not as its target",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.mkdir("/dir");
      await fs.writeTextFile("/file", "x");
      await fs.symlink("dir", "/to-dir");
      await fs.symlink("file", "/to-file");
      await fs.symlink("nowhere", "/dangling");
      const types = Object.fromEntries(
        (await entries(fs, "/")).map((e) => [e.name, [e.isFile, e.isDirectory, e.isSymlink]]),
      );
      assert.deepEqual(types["to-dir"], [false, false, true]);
      assert.deepEqual(types["to-file"], [false, false, true]);
      assert.deepEqual(types["dangling"], [false, false, true]);
    },
  },
  {
    group: READDIR,
    name: "of a missing directory fails with ENOENT",
    async run({ fs }) {
      await rejects(names(fs, "/missing"), "ENOENT");
    },
  },
  {
    group: READDIR,
    name: "of a file fails with ENOTDIR",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await rejects(names(fs, "/f"), "ENOTDIR");
    },
  },
  {
    group: READDIR,
    name: "hidden names and odd names are listed",
    async run({ fs }) {
      for (const n of [".hidden", "...", "-rf", "a b", "x.tar.gz"]) {
        await fs.writeTextFile(`/${n}`, n);
      }
      assert.deepEqual(await names(fs, "/"), ["-rf", "...", ".hidden", "a b", "x.tar.gz"]);
    },
  },
  {
    group: READDIR,
    name: "500 entries are all listed exactly once",
    async run({ fs }) {
      await fs.mkdir("/many");
      const want: string[] = [];
      for (let i = 0; i < 500; i++) want.push(`entry-${String(i).padStart(4, "0")}`);
      await Promise.all(want.map((n) => fs.writeTextFile(`/many/${n}`, n)));
      assert.deepEqual(await names(fs, "/many"), want);
    },
  },
  {
    group: READDIR,
    name: "a removed or renamed entry is no longer listed",
    async run({ fs }) {
      await fs.writeTextFile("/a", "x");
      await fs.writeTextFile("/b", "x");
      await fs.remove("/a");
      await fs.rename("/b", "/c");
      assert.deepEqual(await names(fs, "/"), ["c"]);
    },
  },
  {
    group: READDIR,
    name: "'.' and a trailing slash list the same directory",
    async run({ fs }) {
      await fs.mkdir("/d");
      await fs.writeTextFile("/d/x", "x");
      assert.deepEqual(await names(fs, "/d/"), ["x"]);
      assert.deepEqual(await names(fs, "/d/."), ["x"]);
    },
  },
  {
    group: READDIR,
    name: "through a symlink lists the target directory",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.mkdir("/real");
      await fs.writeTextFile("/real/inside", "x");
      await fs.symlink("real", "/link");
      assert.deepEqual(await names(fs, "/link"), ["inside"]);
    },
  },
];

/** Cases for `remove`. */
export const REMOVE_CASES: readonly ConformanceCase[] = [
  {
    group: REMOVE,
    name: "removes a file",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await fs.remove("/f");
      await rejects(fs.stat("/f"), "ENOENT");
      assert.deepEqual(await names(fs, "/"), []);
    },
  },
  {
    group: REMOVE,
    name: "removes an empty directory",
    async run({ fs }) {
      await fs.mkdir("/d");
      await fs.remove("/d");
      assert.equal(await present(fs, "/d"), false);
    },
  },
  {
    group: REMOVE,
    name: "a non-empty directory fails with ENOTEMPTY and stays whole",
    async run({ fs }) {
      await fs.mkdir("/d/sub", { recursive: true });
      await fs.writeTextFile("/d/f", "x");
      await rejects(fs.remove("/d"), "ENOTEMPTY");
      assert.deepEqual(await names(fs, "/d"), ["f", "sub"]);
    },
  },
  {
    group: REMOVE,
    name: "recursive removes a whole tree",
    async run({ fs }) {
      await fs.mkdir("/t/a/b", { recursive: true });
      await fs.writeTextFile("/t/a/b/deep", "x");
      await fs.writeTextFile("/t/top", "x");
      await fs.mkdir("/keep");
      await fs.remove("/t", { recursive: true });
      assert.deepEqual(await names(fs, "/"), ["keep"]);
    },
  },
  {
    group: REMOVE,
    name: "recursive removes a single file",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await fs.remove("/f", { recursive: true });
      assert.equal(await present(fs, "/f"), false);
    },
  },
  {
    group: REMOVE,
    name: "a missing path fails with ENOENT, also when recursive",
    async run({ fs }) {
      await rejects(fs.remove("/missing"), "ENOENT");
      await rejects(fs.remove("/missing", { recursive: true }), "ENOENT");
    },
  },
  {
    group: REMOVE,
    name: "a file with a trailing slash fails with ENOTDIR",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await rejects(fs.remove("/f/"), "ENOTDIR");
      assert.equal(await present(fs, "/f"), true);
    },
  },
  {
    group: REMOVE,
    name: "an empty directory with a trailing slash is removed",
    async run({ fs }) {
      await fs.mkdir("/d");
      await fs.remove("/d/");
      assert.equal(await present(fs, "/d"), false);
    },
  },
  {
    group: REMOVE,
    name: "'dir/.' fails with EINVAL and 'dir/..' with ENOTEMPTY",
    async run({ fs }) {
      await fs.mkdir("/d");
      await rejects(fs.remove("/d/."), "EINVAL");
      await rejects(fs.remove("/d/.."), "ENOTEMPTY");
      assert.equal(await present(fs, "/d"), true);
    },
  },
  {
    group: REMOVE,
    name: "the root cannot be removed (EBUSY)",
    async run({ fs }) {
      await rejects(fs.remove("/"), "EBUSY");
      assert.equal((await fs.stat("/")).isDirectory, true);
    },
  },
  {
    group: REMOVE,
    name: "a path through a file fails with ENOTDIR",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await rejects(fs.remove("/f/x"), "ENOTDIR");
    },
  },
  {
    group: REMOVE,
    name: "removing a symlink leaves its target alone",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/target", "still here");
      await fs.symlink("target", "/link");
      await fs.remove("/link");
      assert.equal(await fs.readTextFile("/target"), "still here");
      assert.deepEqual(await names(fs, "/"), ["target"]);
    },
  },
  {
    group: REMOVE,
    name: "recursive removal does not follow a symlink to a directory",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.mkdir("/outside");
      await fs.writeTextFile("/outside/precious", "keep");
      await fs.mkdir("/tree");
      await fs.symlink("../outside", "/tree/escape");
      await fs.remove("/tree", { recursive: true });
      assert.equal(await fs.readTextFile("/outside/precious"), "keep");
      await fs.symlink("outside", "/direct");
      await fs.remove("/direct", { recursive: true });
      assert.equal(await fs.readTextFile("/outside/precious"), "keep");
    },
  },
  {
    group: REMOVE,
    name: "a symlink loop with a trailing slash fails with ELOOP",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.symlink("loop", "/loop");
      await rejects(fs.remove("/loop/"), "ELOOP");
      assert.equal((await fs.lstat("/loop")).isSymlink, true);
    },
  },
];
