/**
 * Conformance cases: `truncate` and `copyFile`.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  assertBytes,
  type ConformanceCase,
  names,
  pattern,
  permBits,
  present,
  rejects,
} from "../kit.ts";

const TRUNC = "truncate";
const COPY = "copyFile";

/** Cases for `truncate`. */
export const TRUNCATE_CASES: readonly ConformanceCase[] = [
  {
    group: TRUNC,
    name: "shrinks a file, keeping the head",
    async run({ fs }) {
      await fs.writeTextFile("/f", "0123456789");
      await fs.truncate("/f", 4);
      assert.equal(await fs.readTextFile("/f"), "0123");
      assert.equal((await fs.stat("/f")).size, 4);
    },
  },
  {
    group: TRUNC,
    name: "grows a file with zeros",
    async run({ fs }) {
      await fs.writeTextFile("/f", "ab");
      await fs.truncate("/f", 6);
      assertBytes(await fs.readFile("/f"), new Uint8Array([0x61, 0x62, 0, 0, 0, 0]));
    },
  },
  {
    group: TRUNC,
    name: "without a length empties the file",
    async run({ fs }) {
      await fs.writeTextFile("/f", "content");
      assert.equal((await fs.stat("/f")).size, 7);
      await fs.truncate("/f");
      assert.equal((await fs.stat("/f")).size, 0);
    },
  },
  {
    group: TRUNC,
    name: "to the same size keeps the content",
    async run({ fs }) {
      await fs.writeTextFile("/f", "same");
      await fs.truncate("/f", 4);
      assert.equal(await fs.readTextFile("/f"), "same");
    },
  },
  {
    group: TRUNC,
    name: "shrink then grow does not resurrect old bytes",
    async run({ fs }) {
      await fs.writeTextFile("/f", "secret data");
      await fs.truncate("/f", 2);
      await fs.truncate("/f", 8);
      assertBytes(
        await fs.readFile("/f"),
        new Uint8Array([0x73, 0x65, 0, 0, 0, 0, 0, 0]),
      );
    },
  },
  {
    group: TRUNC,
    name: "grows a file to 4 MiB of zeros",
    async run({ fs }) {
      await fs.writeFile("/f", new Uint8Array(0));
      await fs.truncate("/f", 4 << 20);
      const data = await fs.readFile("/f");
      assert.equal(data.length, 4 << 20);
      assert.ok(data.every((b) => b === 0));
    },
  },
  {
    group: TRUNC,
    name: "of a missing file fails with ENOENT and creates nothing",
    async run({ fs }) {
      await rejects(fs.truncate("/missing", 3), "ENOENT");
      assert.equal(await present(fs, "/missing"), false);
    },
  },
  {
    group: TRUNC,
    name: "of a directory fails with EISDIR",
    async run({ fs }) {
      await fs.mkdir("/d");
      await rejects(fs.truncate("/d", 0), "EISDIR");
    },
  },
  {
    group: TRUNC,
    name: "with a trailing slash fails with ENOTDIR",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await rejects(fs.truncate("/f/", 0), "ENOTDIR");
    },
  },
  {
    group: TRUNC,
    name: "a symlink in the final position is not followed (ELOOP), as Deno does",
    needs: ["symlinks"],
    async run({ fs }) {
      // truncate(2) would follow the link; Deno's own Deno.truncate opens
      // with O_NOFOLLOW, and code ported from Deno relies on what Deno does.
      await fs.writeTextFile("/t", "abc");
      await fs.symlink("t", "/l");
      await rejects(fs.truncate("/l", 1), "ELOOP");
      assert.equal(await fs.readTextFile("/t"), "abc");
      await fs.mkdir("/d");
      await fs.writeTextFile("/d/f", "abc");
      await fs.symlink("d", "/dl");
      await fs.truncate("/dl/f", 1);
      assert.equal(await fs.readTextFile("/d/f"), "a");
    },
  },
];

/** Cases for `copyFile`. */
export const COPY_CASES: readonly ConformanceCase[] = [
  {
    group: COPY,
    name: "copies the content to a new file",
    async run({ fs }) {
      const data = pattern(100_000, 1);
      await fs.writeFile("/src", data);
      await fs.copyFile("/src", "/dst");
      assertBytes(await fs.readFile("/dst"), data);
      assertBytes(await fs.readFile("/src"), data);
    },
  },
  {
    group: COPY,
    name: "the copy is independent of the original",
    async run({ fs }) {
      await fs.writeTextFile("/src", "original");
      await fs.copyFile("/src", "/dst");
      await fs.writeTextFile("/dst", "changed");
      assert.equal(await fs.readTextFile("/src"), "original");
      assert.notEqual((await fs.stat("/src")).ino, (await fs.stat("/dst")).ino);
      assert.equal((await fs.stat("/src")).nlink, 1);
    },
  },
  {
    group: COPY,
    name: "overwrites an existing file completely",
    async run({ fs }) {
      await fs.writeTextFile("/src", "short");
      await fs.writeTextFile("/dst", "a much longer old content");
      await fs.copyFile("/src", "/dst");
      assert.equal(await fs.readTextFile("/dst"), "short");
    },
  },
  {
    group: COPY,
    name: "copies the permission bits",
    needs: ["permissions"],
    async run({ fs }) {
      await fs.writeTextFile("/src", "x", { mode: 0o640 });
      await fs.copyFile("/src", "/dst");
      assert.equal(await permBits(fs, "/dst"), 0o640);
    },
  },
  {
    group: COPY,
    name: "an empty file copies to an empty file",
    async run({ fs }) {
      await fs.writeFile("/src", new Uint8Array(0));
      await fs.copyFile("/src", "/dst");
      const st = await fs.stat("/dst");
      assert.equal(st.isFile, true);
      assert.equal(st.size, 0);
    },
  },
  {
    group: COPY,
    name: "a missing source fails with ENOENT",
    async run({ fs }) {
      await rejects(fs.copyFile("/missing", "/dst"), "ENOENT");
      assert.equal(await present(fs, "/dst"), false);
    },
  },
  {
    group: COPY,
    name: "a directory as source fails and creates nothing",
    async run({ fs }) {
      await fs.mkdir("/d");
      // Deno reports EINVAL ("neither a regular file nor a symlink"); EISDIR
      // says the same thing and is what a C `open()` of the source gives.
      await rejects(fs.copyFile("/d", "/dst"), ["EINVAL", "EISDIR"]);
      assert.equal(await present(fs, "/dst"), false);
    },
  },
  {
    group: COPY,
    name: "onto a directory fails with EISDIR",
    async run({ fs }) {
      await fs.writeTextFile("/src", "x");
      await fs.mkdir("/d");
      await rejects(fs.copyFile("/src", "/d"), "EISDIR");
      assert.deepEqual(await names(fs, "/d"), []);
    },
  },
  {
    group: COPY,
    name: "into a missing directory fails with ENOENT",
    async run({ fs }) {
      await fs.writeTextFile("/src", "x");
      await rejects(fs.copyFile("/src", "/no/dst"), "ENOENT");
    },
  },
  {
    group: COPY,
    name: "a source with a trailing slash fails with ENOTDIR",
    async run({ fs }) {
      await fs.writeTextFile("/src", "x");
      await rejects(fs.copyFile("/src/", "/dst"), "ENOTDIR");
    },
  },
  {
    group: COPY,
    name: "copies what a symlink points to, as a regular file",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/target", "pointed-to");
      await fs.symlink("target", "/link");
      await fs.copyFile("/link", "/copy");
      const st = await fs.lstat("/copy");
      assert.equal(st.isFile, true);
      assert.equal(await fs.readTextFile("/copy"), "pointed-to");
    },
  },
  {
    group: COPY,
    name: "from a dangling symlink fails with ENOENT",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.symlink("nowhere", "/link");
      await rejects(fs.copyFile("/link", "/copy"), "ENOENT");
    },
  },
  {
    group: COPY,
    name: "onto a name with a trailing slash fails with EISDIR",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await rejects(fs.copyFile("/f", "/f/"), "EISDIR");
      await rejects(fs.copyFile("/f", "/new/"), "EISDIR");
      assert.deepEqual(await names(fs, "/"), ["f"]);
    },
  },
  {
    group: COPY,
    name: "a directory as source fails before the destination is looked at",
    async run({ fs }) {
      await fs.mkdir("/d");
      await fs.writeTextFile("/f", "x");
      await rejects(fs.copyFile("/d", "/f/x"), ["EINVAL", "EISDIR"]);
      await rejects(fs.copyFile("/d", "/missing/x"), ["EINVAL", "EISDIR"]);
    },
  },
];
