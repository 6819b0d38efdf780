/**
 * Conformance cases: hard links (`link`) and symbolic links (`symlink`,
 * `readLink`, `realPath`, and symlinks followed in every position).
 *
 * Symlinks that must resolve use relative targets: an absolute target would
 * leave the subject's root when the subject is a directory (a mount point or
 * a host directory). Absolute targets appear only where the link is never
 * followed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type ConformanceCase, entries, names, permBits, present, rejects } from "../kit.ts";

const HARD = "link";
const SYM = "symlink";
const REAL = "realPath";

/** Cases for hard links. */
export const HARDLINK_CASES: readonly ConformanceCase[] = [
  {
    group: HARD,
    name: "both names share content, inode and link count",
    needs: ["hardlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/a", "one");
      await fs.link("/a", "/b");
      assert.equal(await fs.readTextFile("/b"), "one");
      const [sa, sb] = [await fs.stat("/a"), await fs.stat("/b")];
      assert.equal(sa.ino, sb.ino);
      assert.equal(sa.nlink, 2);
      assert.equal(sb.nlink, 2);
    },
  },
  {
    group: HARD,
    name: "a write through one name is seen through the other",
    needs: ["hardlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/a", "before");
      await fs.link("/a", "/b");
      await fs.writeTextFile("/b", "after");
      assert.equal(await fs.readTextFile("/a"), "after");
      await fs.writeTextFile("/a", "+", { append: true });
      assert.equal(await fs.readTextFile("/b"), "after+");
    },
  },
  {
    group: HARD,
    name: "link counts follow link and unlink",
    needs: ["hardlinks"],
    async run({ fs }) {
      await fs.mkdir("/d");
      await fs.writeTextFile("/a", "x");
      await fs.link("/a", "/b");
      await fs.link("/b", "/d/c");
      assert.equal((await fs.stat("/a")).nlink, 3);
      await fs.remove("/a");
      assert.equal((await fs.stat("/b")).nlink, 2);
      await fs.remove("/d/c");
      assert.equal((await fs.stat("/b")).nlink, 1);
      assert.equal(await fs.readTextFile("/b"), "x");
    },
  },
  {
    group: HARD,
    name: "to a directory fails with EPERM",
    needs: ["hardlinks"],
    async run({ fs }) {
      await fs.mkdir("/d");
      await rejects(fs.link("/d", "/d2"), "EPERM");
      assert.equal(await present(fs, "/d2"), false);
    },
  },
  {
    group: HARD,
    name: "onto an existing name fails with EEXIST",
    needs: ["hardlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/a", "a");
      await fs.writeTextFile("/b", "b");
      await fs.mkdir("/d");
      await rejects(fs.link("/a", "/b"), "EEXIST");
      await rejects(fs.link("/a", "/d"), "EEXIST");
      assert.equal(await fs.readTextFile("/b"), "b");
    },
  },
  {
    group: HARD,
    name: "from a missing source fails with ENOENT",
    needs: ["hardlinks"],
    async run({ fs }) {
      await rejects(fs.link("/missing", "/b"), "ENOENT");
      assert.equal(await present(fs, "/b"), false);
    },
  },
  {
    group: HARD,
    name: "into a missing directory fails with ENOENT",
    needs: ["hardlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/a", "x");
      await rejects(fs.link("/a", "/no/b"), "ENOENT");
    },
  },
  {
    group: HARD,
    name: "a source with a trailing slash fails with ENOTDIR",
    needs: ["hardlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/a", "x");
      await rejects(fs.link("/a/", "/b"), "ENOTDIR");
    },
  },
  {
    group: HARD,
    name: "mode changes through one name show through the other",
    needs: ["hardlinks", "permissions"],
    async run({ fs }) {
      await fs.writeTextFile("/a", "x");
      await fs.link("/a", "/b");
      await fs.chmod("/b", 0o604);
      assert.equal(await permBits(fs, "/a"), 0o604);
    },
  },
  {
    group: HARD,
    name: "to a symlink links the symlink itself",
    needs: ["hardlinks", "symlinks"],
    async run({ fs }) {
      await fs.symlink("nowhere", "/sl");
      await fs.link("/sl", "/hl");
      const st = await fs.lstat("/hl");
      assert.equal(st.isSymlink, true);
      assert.equal(await fs.readLink("/hl"), "nowhere");
      assert.equal(st.ino, (await fs.lstat("/sl")).ino);
    },
  },
  {
    group: HARD,
    name: "removing a directory entry of a linked file keeps the data for the other name",
    needs: ["hardlinks"],
    async run({ fs }) {
      await fs.mkdir("/d");
      await fs.writeTextFile("/d/f", "survives");
      await fs.link("/d/f", "/outside");
      await fs.remove("/d", { recursive: true });
      assert.equal(await fs.readTextFile("/outside"), "survives");
      assert.equal((await fs.stat("/outside")).nlink, 1);
    },
  },
  {
    group: HARD,
    name: "onto an existing file named with a trailing slash fails with EEXIST",
    needs: ["hardlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await rejects(fs.link("/f", "/f/"), "EEXIST");
      await rejects(fs.link("/f", "/g/"), "ENOENT");
      assert.equal((await fs.stat("/f")).nlink, 1);
    },
  },
];

/** Cases for symbolic links. */
export const SYMLINK_CASES: readonly ConformanceCase[] = [
  {
    group: SYM,
    name: "readLink returns a relative target verbatim",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.symlink("some/where/../else", "/l");
      assert.equal(await fs.readLink("/l"), "some/where/../else");
    },
  },
  {
    group: SYM,
    name: "readLink returns an absolute target verbatim",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.symlink("/absolute/target/x", "/l");
      assert.equal(await fs.readLink("/l"), "/absolute/target/x");
    },
  },
  {
    group: SYM,
    name: "readLink of a file or directory fails with EINVAL",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await fs.mkdir("/d");
      await rejects(fs.readLink("/f"), "EINVAL");
      await rejects(fs.readLink("/d"), "EINVAL");
    },
  },
  {
    group: SYM,
    name: "readLink of a missing path fails with ENOENT",
    needs: ["symlinks"],
    async run({ fs }) {
      await rejects(fs.readLink("/missing"), "ENOENT");
    },
  },
  {
    group: SYM,
    name: "lstat describes the link: type symlink, size = target length in bytes",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/target-é", "content");
      await fs.symlink("target-é", "/l");
      const st = await fs.lstat("/l");
      assert.equal(st.isSymlink, true);
      assert.equal(st.isFile, false);
      assert.equal(st.size, 9);
      assert.equal(st.mode! & 0o170000, 0o120000);
    },
  },
  {
    group: SYM,
    name: "stat follows the link to its target",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/target", "content");
      await fs.symlink("target", "/l");
      const st = await fs.stat("/l");
      assert.equal(st.isFile, true);
      assert.equal(st.isSymlink, false);
      assert.equal(st.size, 7);
      assert.equal(st.ino, (await fs.stat("/target")).ino);
    },
  },
  {
    group: SYM,
    name: "reads and writes go through to the target",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/target", "old");
      await fs.symlink("target", "/l");
      assert.equal(await fs.readTextFile("/l"), "old");
      await fs.writeTextFile("/l", "new");
      assert.equal(await fs.readTextFile("/target"), "new");
      assert.equal((await fs.lstat("/l")).isSymlink, true);
    },
  },
  {
    group: SYM,
    name: "writing through a dangling link creates its target",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.symlink("created", "/l");
      await fs.writeTextFile("/l", "hello");
      assert.equal(await fs.readTextFile("/created"), "hello");
      assert.equal((await fs.lstat("/l")).isSymlink, true);
    },
  },
  {
    group: SYM,
    name: "createNew through a link, even a dangling one, fails with EEXIST",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.symlink("not-yet", "/l");
      await rejects(fs.writeTextFile("/l", "x", { createNew: true }), "EEXIST");
      assert.equal(await present(fs, "/not-yet"), false);
    },
  },
  {
    group: SYM,
    name: "a dangling link: stat fails with ENOENT, lstat works",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.symlink("nowhere", "/l");
      await rejects(fs.stat("/l"), "ENOENT");
      await rejects(fs.readFile("/l"), "ENOENT");
      assert.equal((await fs.lstat("/l")).isSymlink, true);
    },
  },
  {
    group: SYM,
    name: "a loop of two links fails with ELOOP",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.symlink("b", "/a");
      await fs.symlink("a", "/b");
      await rejects(fs.stat("/a"), "ELOOP");
      await rejects(fs.readFile("/a"), "ELOOP");
      await rejects(fs.writeTextFile("/a", "x"), "ELOOP");
      await rejects(fs.open("/b"), "ELOOP");
      assert.equal((await fs.lstat("/a")).isSymlink, true);
    },
  },
  {
    group: SYM,
    name: "a link to itself fails with ELOOP",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.symlink("self", "/self");
      await rejects(fs.stat("/self"), "ELOOP");
    },
  },
  {
    group: SYM,
    name: "a loop in the middle of a path fails with ELOOP",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.symlink("b", "/a");
      await fs.symlink("a", "/b");
      await rejects(fs.stat("/a/x"), "ELOOP");
      await rejects(fs.mkdir("/a/x"), "ELOOP");
    },
  },
  {
    group: SYM,
    name: "a chain of 40 links resolves, 41 fail with ELOOP",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/end", "reached");
      let prev = "end";
      for (let i = 1; i <= 41; i++) {
        await fs.symlink(prev, `/c${i}`);
        prev = `c${i}`;
      }
      assert.equal(await fs.readTextFile("/c40"), "reached");
      await rejects(fs.readTextFile("/c41"), "ELOOP");
    },
  },
  {
    group: SYM,
    name: "a link to a directory works as a path component",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.mkdir("/real/sub", { recursive: true });
      await fs.symlink("real", "/alias");
      await fs.writeTextFile("/alias/sub/f", "via alias");
      assert.equal(await fs.readTextFile("/real/sub/f"), "via alias");
      await fs.mkdir("/alias/made");
      assert.equal((await fs.stat("/real/made")).isDirectory, true);
      await fs.remove("/alias/sub/f");
      assert.deepEqual(await names(fs, "/real/sub"), []);
    },
  },
  {
    group: SYM,
    name: "a chain of links resolves",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/file", "end of chain");
      await fs.symlink("file", "/c");
      await fs.symlink("c", "/b");
      await fs.symlink("b", "/a");
      assert.equal(await fs.readTextFile("/a"), "end of chain");
      assert.equal(await fs.readLink("/a"), "b");
    },
  },
  {
    group: SYM,
    name: "a relative target resolves from the link's directory",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.mkdir("/dir/sub", { recursive: true });
      await fs.writeTextFile("/top", "top");
      await fs.writeTextFile("/dir/sibling", "sibling");
      await fs.symlink("../top", "/dir/up");
      await fs.symlink("sibling", "/dir/side");
      await fs.symlink("../sibling", "/dir/sub/back");
      assert.equal(await fs.readTextFile("/dir/up"), "top");
      assert.equal(await fs.readTextFile("/dir/side"), "sibling");
      assert.equal(await fs.readTextFile("/dir/sub/back"), "sibling");
    },
  },
  {
    group: SYM,
    name: "'..' after a link to a directory goes to the target's parent",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.mkdir("/x/y", { recursive: true });
      await fs.writeTextFile("/x/z", "physical parent");
      await fs.writeTextFile("/z", "lexical parent");
      await fs.symlink("x/y", "/l");
      assert.equal(await fs.readTextFile("/l/../z"), "physical parent");
    },
  },
  {
    group: SYM,
    name: "a dangling link in the middle of a path fails with ENOENT",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.symlink("nowhere", "/l");
      await rejects(fs.stat("/l/x"), "ENOENT");
      await rejects(fs.writeTextFile("/l/x", "x"), "ENOENT");
    },
  },
  {
    group: SYM,
    name: "a link to a file in the middle of a path fails with ENOTDIR",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await fs.symlink("f", "/l");
      await rejects(fs.stat("/l/x"), "ENOTDIR");
    },
  },
  {
    group: SYM,
    name: "a trailing slash follows a link to a directory, even for lstat",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.mkdir("/d");
      await fs.symlink("d", "/l");
      const st = await fs.lstat("/l/");
      assert.equal(st.isDirectory, true);
      assert.equal(st.isSymlink, false);
      assert.equal((await fs.lstat("/l")).isSymlink, true);
    },
  },
  {
    group: SYM,
    name: "a trailing slash on a link to a file fails with ENOTDIR",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await fs.symlink("f", "/l");
      await rejects(fs.stat("/l/"), "ENOTDIR");
      await rejects(fs.lstat("/l/"), "ENOTDIR");
    },
  },
  {
    group: SYM,
    name: "remove and readLink of 'link/' address the directory, not the link",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.mkdir("/d");
      await fs.symlink("d", "/l");
      await rejects(fs.remove("/l/"), "ENOTDIR");
      await rejects(fs.readLink("/l/"), "EINVAL");
      assert.equal((await fs.lstat("/l")).isSymlink, true);
      assert.equal((await fs.stat("/d")).isDirectory, true);
    },
  },
  {
    group: SYM,
    name: "over an existing name fails with EEXIST",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await fs.mkdir("/d");
      await fs.symlink("x", "/l");
      await rejects(fs.symlink("t", "/f"), "EEXIST");
      await rejects(fs.symlink("t", "/d"), "EEXIST");
      await rejects(fs.symlink("t", "/l"), "EEXIST");
      assert.equal(await fs.readLink("/l"), "x");
    },
  },
  {
    group: SYM,
    name: "in a missing directory fails with ENOENT",
    needs: ["symlinks"],
    async run({ fs }) {
      await rejects(fs.symlink("t", "/no/l"), "ENOENT");
    },
  },
  {
    group: SYM,
    name: "an empty target fails with ENOENT",
    needs: ["symlinks"],
    async run({ fs }) {
      await rejects(fs.symlink("", "/l"), "ENOENT");
      assert.equal(await present(fs, "/l"), false);
    },
  },
  {
    group: SYM,
    name: "a target that does not exist yet is allowed",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.symlink("later", "/l");
      await rejects(fs.readTextFile("/l"), "ENOENT");
      await fs.writeTextFile("/later", "now");
      assert.equal(await fs.readTextFile("/l"), "now");
    },
  },
  {
    group: SYM,
    name: "a link's own mode is 0o777",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.symlink("t", "/l");
      assert.equal((await fs.lstat("/l")).mode! & 0o777, 0o777);
    },
  },
  {
    group: SYM,
    name: "chmod through a link changes the target",
    needs: ["symlinks", "permissions"],
    async run({ fs }) {
      await fs.writeTextFile("/t", "x");
      await fs.symlink("t", "/l");
      await fs.chmod("/l", 0o600);
      assert.equal(await permBits(fs, "/t"), 0o600);
      assert.equal((await fs.lstat("/l")).isSymlink, true);
    },
  },
  {
    group: SYM,
    // Not `truncate` by path, which does not follow (see the truncate cases).
    name: "open goes through a link",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/t", "ab");
      await fs.symlink("t", "/l");
      const f = await fs.open("/l", { write: true });
      await f.seek(0, 2);
      await f.write(new TextEncoder().encode("!"));
      f.close();
      assert.equal(await fs.readTextFile("/t"), "ab!");
    },
  },
  {
    group: SYM,
    name: "names in a directory reached through a link are listed with their types",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.mkdir("/real");
      await fs.symlink("../real", "/real/self-parent");
      await fs.symlink("real", "/alias");
      const list = await entries(fs, "/alias");
      assert.deepEqual(list.map((e) => [e.name, e.isSymlink]), [["self-parent", true]]);
    },
  },
  {
    group: SYM,
    name: "onto an existing name with a trailing slash fails with EEXIST",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await fs.mkdir("/d");
      await fs.symlink("loop", "/loop");
      await rejects(fs.symlink("t", "/f/"), "EEXIST");
      await rejects(fs.symlink("t", "/d/"), "EEXIST");
      await rejects(fs.symlink("t", "/loop/"), "EEXIST");
      assert.equal(await fs.readTextFile("/f"), "x");
    },
  },
];

/** Cases for `realPath`. */
export const REALPATH_CASES: readonly ConformanceCase[] = [
  {
    group: REAL,
    name: "of the root is '/'",
    async run({ fs }) {
      assert.equal(await fs.realPath("/"), "/");
    },
  },
  {
    group: REAL,
    name: "normalizes '.', '..', repeated and trailing slashes",
    async run({ fs }) {
      await fs.mkdir("/a/b", { recursive: true });
      await fs.writeTextFile("/a/f", "x");
      assert.equal(await fs.realPath("/a/./b/../f"), "/a/f");
      assert.equal(await fs.realPath("//a//b/"), "/a/b");
    },
  },
  {
    group: REAL,
    name: "of a missing path fails with ENOENT",
    async run({ fs }) {
      await rejects(fs.realPath("/missing"), "ENOENT");
      await fs.mkdir("/d");
      await rejects(fs.realPath("/d/missing"), "ENOENT");
    },
  },
  {
    group: REAL,
    name: "resolves every symlink",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.mkdir("/x/y", { recursive: true });
      await fs.writeTextFile("/x/y/file", "x");
      await fs.symlink("x/y", "/dirlink");
      await fs.symlink("file", "/x/y/filelink");
      assert.equal(await fs.realPath("/dirlink/filelink"), "/x/y/file");
      assert.equal(await fs.realPath("/dirlink"), "/x/y");
      assert.equal(await fs.realPath("/dirlink/../y/file"), "/x/y/file");
    },
  },
  {
    group: REAL,
    name: "of a dangling link fails with ENOENT",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.symlink("nowhere", "/l");
      await rejects(fs.realPath("/l"), "ENOENT");
    },
  },
  {
    group: REAL,
    name: "of a loop fails with ELOOP",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.symlink("b", "/a");
      await fs.symlink("a", "/b");
      await rejects(fs.realPath("/a"), "ELOOP");
    },
  },
  {
    group: REAL,
    name: "through a file fails with ENOTDIR",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await rejects(fs.realPath("/f/x"), "ENOTDIR");
      await rejects(fs.realPath("/f/"), "ENOTDIR");
    },
  },
];
