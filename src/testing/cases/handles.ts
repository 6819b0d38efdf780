/**
 * Conformance cases: `open` and the file it returns — cursor reads and
 * writes, seek, append, truncate, stat, streams, and files that stay usable
 * after they are unlinked or renamed.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  assertBytes,
  bytes,
  concat,
  type ConformanceCase,
  names,
  pattern,
  present,
  readAll,
  rejects,
  text,
} from "../kit.ts";

const G = "open";
const START = 0 as Deno.SeekMode.Start;
const CURRENT = 1 as Deno.SeekMode.Current;
const END = 2 as Deno.SeekMode.End;

/** Cases for `open` and open files. */
export const HANDLE_CASES: readonly ConformanceCase[] = [
  {
    group: G,
    name: "read returns the content, then null at end of file",
    async run({ fs }) {
      await fs.writeTextFile("/f", "hello");
      const f = await fs.open("/f");
      const buf = new Uint8Array(16);
      assert.equal(await f.read(buf), 5);
      assert.equal(text(buf.subarray(0, 5)), "hello");
      assert.equal(await f.read(buf), null);
      assert.equal(await f.read(buf), null);
      f.close();
    },
  },
  {
    group: G,
    name: "small reads walk the file in order",
    async run({ fs }) {
      const data = pattern(1000, 2);
      await fs.writeFile("/f", data);
      const f = await fs.open("/f", { read: true });
      assertBytes(await readAll(f, 7), data);
      f.close();
    },
  },
  {
    group: G,
    name: "reading past the end returns null; a zero-length read returns 0",
    async run({ fs }) {
      await fs.writeTextFile("/f", "abc");
      const f = await fs.open("/f");
      assert.equal(await f.seek(10, START), 10);
      assert.equal(await f.read(new Uint8Array(4)), null);
      await f.seek(0, START);
      assert.equal(await f.read(new Uint8Array(0)), 0);
      f.close();
    },
  },
  {
    group: G,
    name: "a missing file without create fails with ENOENT",
    async run({ fs }) {
      await rejects(fs.open("/missing"), "ENOENT");
      await rejects(fs.open("/missing", { write: true }), "ENOENT");
      assert.equal(await present(fs, "/missing"), false);
    },
  },
  {
    group: G,
    name: "create makes a missing file; createNew refuses an existing one with EEXIST",
    async run({ fs }) {
      const f = await fs.open("/new", { write: true, create: true });
      assert.equal(await f.write(bytes("made")), 4);
      f.close();
      assert.equal(await fs.readTextFile("/new"), "made");
      await rejects(fs.open("/new", { write: true, createNew: true }), "EEXIST");
      const g = await fs.open("/newer", { write: true, createNew: true });
      g.close();
      assert.equal((await fs.stat("/newer")).size, 0);
    },
  },
  {
    group: G,
    name: "write without truncate overwrites in place",
    async run({ fs }) {
      await fs.writeTextFile("/f", "abcdefgh");
      const f = await fs.open("/f", { write: true });
      await f.write(bytes("XY"));
      f.close();
      assert.equal(await fs.readTextFile("/f"), "XYcdefgh");
    },
  },
  {
    group: G,
    name: "truncate on open empties the file",
    async run({ fs }) {
      await fs.writeTextFile("/f", "old content");
      const f = await fs.open("/f", { write: true, truncate: true });
      assert.equal((await f.stat()).size, 0);
      await f.write(bytes("new"));
      f.close();
      assert.equal(await fs.readTextFile("/f"), "new");
    },
  },
  {
    group: G,
    name: "append writes at the end whatever the cursor",
    async run({ fs }) {
      await fs.writeTextFile("/f", "hello");
      const f = await fs.open("/f", { append: true });
      await f.seek(0, START);
      await f.write(bytes("!"));
      assert.equal(await f.seek(0, CURRENT), 6);
      await f.write(bytes("?"));
      f.close();
      assert.equal(await fs.readTextFile("/f"), "hello!?");
    },
  },
  {
    group: G,
    name: "seek from start, current and end returns the new position",
    async run({ fs }) {
      await fs.writeTextFile("/f", "0123456789");
      const f = await fs.open("/f");
      assert.equal(await f.seek(3, START), 3);
      assert.equal(await f.seek(2, CURRENT), 5);
      assert.equal(await f.seek(-1, CURRENT), 4);
      assert.equal(await f.seek(-2, END), 8);
      const b = new Uint8Array(5);
      assert.equal(await f.read(b), 2);
      assert.equal(text(b.subarray(0, 2)), "89");
      assert.equal(await f.seek(0, END), 10);
      assert.equal(await f.seek(5n, START), 5);
      f.close();
    },
  },
  {
    group: G,
    name: "seek before the start fails with EINVAL and keeps the cursor",
    async run({ fs }) {
      await fs.writeTextFile("/f", "abc");
      const f = await fs.open("/f");
      await f.seek(2, START);
      await rejects(f.seek(-1, START), "EINVAL");
      await rejects(f.seek(-3, CURRENT), "EINVAL");
      await rejects(f.seek(-4, END), "EINVAL");
      assert.equal(await f.seek(0, CURRENT), 2);
      f.close();
    },
  },
  {
    group: G,
    name: "writing past the end leaves a hole of zeros",
    async run({ fs }) {
      const f = await fs.open("/f", { read: true, write: true, create: true });
      await f.seek(5, START);
      await f.write(new Uint8Array([9]));
      await f.seek(0, START);
      assertBytes(await readAll(f), new Uint8Array([0, 0, 0, 0, 0, 9]));
      f.close();
      assert.equal((await fs.stat("/f")).size, 6);
    },
  },
  {
    group: G,
    name: "read and write share one cursor",
    async run({ fs }) {
      await fs.writeTextFile("/f", "abcdef");
      const f = await fs.open("/f", { read: true, write: true });
      const b = new Uint8Array(2);
      await f.read(b);
      await f.write(bytes("XY"));
      assert.equal(await f.seek(0, CURRENT), 4);
      await f.read(b);
      assert.equal(text(b), "ef");
      f.close();
      assert.equal(await fs.readTextFile("/f"), "abXYef");
    },
  },
  {
    group: G,
    name: "two open files have independent cursors",
    async run({ fs }) {
      await fs.writeTextFile("/f", "0123456789");
      const a = await fs.open("/f");
      const b = await fs.open("/f");
      const buf = new Uint8Array(3);
      await a.read(buf);
      assert.equal(text(buf), "012");
      await b.seek(7, START);
      await b.read(buf);
      assert.equal(text(buf), "789");
      await a.read(buf);
      assert.equal(text(buf), "345");
      a.close();
      b.close();
    },
  },
  {
    group: G,
    name: "a write through one open file is visible to a read through another",
    async run({ fs }) {
      await fs.writeTextFile("/f", "........");
      const w = await fs.open("/f", { write: true });
      const r = await fs.open("/f");
      await w.seek(2, START);
      await w.write(bytes("hi"));
      await r.seek(2, START);
      const b = new Uint8Array(2);
      await r.read(b);
      assert.equal(text(b), "hi");
      w.close();
      r.close();
    },
  },
  {
    group: G,
    name: "stat and truncate of an open file",
    async run({ fs }) {
      const f = await fs.open("/f", { read: true, write: true, create: true });
      await f.write(bytes("0123456789"));
      let st = await f.stat();
      assert.equal(st.isFile, true);
      assert.equal(st.size, 10);
      await f.truncate(4);
      assert.equal((await f.stat()).size, 4);
      await f.truncate(6);
      st = await f.stat();
      assert.equal(st.size, 6);
      f.close();
      assertBytes(await fs.readFile("/f"), new Uint8Array([48, 49, 50, 51, 0, 0]));
    },
  },
  {
    group: G,
    name: "truncate of an open file without a length empties it",
    async run({ fs }) {
      await fs.writeTextFile("/f", "abc");
      const f = await fs.open("/f", { write: true });
      assert.equal((await f.stat()).size, 3);
      await f.truncate();
      f.close();
      assert.equal((await fs.stat("/f")).size, 0);
    },
  },
  {
    group: G,
    name: "sync and syncData succeed",
    async run({ fs }) {
      const f = await fs.open("/f", { write: true, create: true });
      await f.write(bytes("durable"));
      await f.sync();
      await f.syncData();
      f.close();
      assert.equal(await fs.readTextFile("/f"), "durable");
    },
  },
  {
    group: G,
    name: "a directory opened for writing fails with EISDIR",
    async run({ fs }) {
      await fs.mkdir("/d");
      await rejects(fs.open("/d", { write: true }), "EISDIR");
    },
  },
  {
    group: G,
    name: "a file with a trailing slash fails with ENOTDIR",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await rejects(fs.open("/f/"), "ENOTDIR");
    },
  },
  {
    group: G,
    name: "writing to a file opened read-only fails with EBADF",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      const f = await fs.open("/f", { read: true });
      await rejects(f.write(bytes("y")), "EBADF");
      f.close();
      assert.equal(await fs.readTextFile("/f"), "x");
    },
  },
  {
    group: G,
    name: "reading from a file opened write-only fails with EBADF",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      const f = await fs.open("/f", { write: true });
      await rejects(f.read(new Uint8Array(1)), "EBADF");
      f.close();
    },
  },
  {
    group: G,
    name: "a closed file refuses reads (BadResource)",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      const f = await fs.open("/f");
      f.close();
      let threw: unknown;
      try {
        await f.read(new Uint8Array(1));
      } catch (e) {
        threw = e;
      }
      assert.ok(threw instanceof Deno.errors.BadResource, `got ${threw}`);
    },
  },
  {
    group: G,
    name: "await using closes the file",
    async run({ fs }) {
      let kept: { read(p: Uint8Array): Promise<number | null> } | undefined;
      {
        await using f = await fs.open("/f", { write: true, create: true });
        await f.write(bytes("disposed"));
        kept = f;
      }
      assert.equal(await fs.readTextFile("/f"), "disposed");
      let threw: unknown;
      try {
        await kept.read(new Uint8Array(1));
      } catch (e) {
        threw = e;
      }
      assert.ok(threw instanceof Error, "a disposed file must refuse reads");
    },
  },
  {
    group: G,
    name: "readable streams the content from the cursor and closes the file",
    async run({ fs }) {
      const data = pattern(200_000, 4);
      await fs.writeFile("/f", data);
      const f = await fs.open("/f");
      await f.seek(1000, START);
      const got = concat(await Array.fromAsync(f.readable));
      assertBytes(got, data.subarray(1000));
    },
  },
  {
    group: G,
    name: "writable streams chunks into the file and closes it",
    async run({ fs }) {
      const f = await fs.open("/f", { write: true, create: true });
      const chunks = [bytes("one,"), bytes("two,"), pattern(70_000, 5)];
      await ReadableStream.from(chunks).pipeTo(f.writable);
      assertBytes(await fs.readFile("/f"), concat(chunks));
    },
  },
  {
    group: G,
    name: "a file piped to another through streams arrives intact",
    async run({ fs }) {
      const data = pattern(300_000, 6);
      await fs.writeFile("/src", data);
      const src = await fs.open("/src");
      const dst = await fs.open("/dst", { write: true, createNew: true });
      await src.readable.pipeTo(dst.writable);
      assertBytes(await fs.readFile("/dst"), data);
    },
  },
  {
    group: G,
    name: "an unlinked open file stays readable and writable until closed",
    needs: ["handles"],
    async run({ fs }) {
      await fs.writeTextFile("/f", "still here");
      const f = await fs.open("/f", { read: true, write: true });
      await fs.remove("/f");
      await rejects(fs.stat("/f"), "ENOENT");
      assert.equal(text(await readAll(f)), "still here");
      await f.write(bytes(" and more"));
      await f.seek(0, START);
      assert.equal(text(await readAll(f)), "still here and more");
      assert.equal((await f.stat()).size, 19);
      f.close();
      assert.equal(await present(fs, "/f"), false);
    },
  },
  {
    group: G,
    name: "an unlinked open file reports zero links",
    needs: ["handles"],
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      const f = await fs.open("/f");
      assert.equal((await f.stat()).nlink, 1);
      await fs.remove("/f");
      assert.equal((await f.stat()).nlink, 0);
      f.close();
    },
  },
  {
    group: G,
    name: "a new file at an unlinked file's name is a different file",
    needs: ["handles"],
    async run({ fs }) {
      await fs.writeTextFile("/f", "old");
      const f = await fs.open("/f", { read: true, write: true });
      await fs.remove("/f");
      await fs.writeTextFile("/f", "new");
      await f.write(bytes("OLD"));
      f.close();
      assert.equal(await fs.readTextFile("/f"), "new");
    },
  },
  {
    group: G,
    name: "an open file follows its file across a rename",
    needs: ["handles"],
    async run({ fs }) {
      await fs.mkdir("/d");
      await fs.writeTextFile("/a", "before ");
      const f = await fs.open("/a", { append: true });
      await fs.rename("/a", "/d/b");
      await f.write(bytes("after"));
      f.close();
      assert.equal(await fs.readTextFile("/d/b"), "before after");
      assert.equal(await present(fs, "/a"), false);
    },
  },
  {
    group: G,
    name: "an open file survives being replaced by a rename",
    needs: ["handles"],
    async run({ fs }) {
      await fs.writeTextFile("/target", "original");
      await fs.writeTextFile("/other", "replacement");
      const f = await fs.open("/target");
      await fs.rename("/other", "/target");
      assert.equal(text(await readAll(f)), "original");
      f.close();
      assert.equal(await fs.readTextFile("/target"), "replacement");
    },
  },
  {
    group: G,
    name: "create with a trailing slash fails with EISDIR, even for an existing directory",
    async run({ fs }) {
      await fs.mkdir("/d");
      await rejects(fs.open("/d/", { write: true, createNew: true }), "EISDIR");
      await rejects(fs.open("/new/", { write: true, create: true }), "EISDIR");
      assert.deepEqual(await names(fs, "/"), ["d"]);
    },
  },
];
