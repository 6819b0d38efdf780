/**
 * Conformance cases: whole-file reads and writes (`readFile`, `writeFile`
 * and their text forms, with `append`, `create`, `createNew`, `mode`).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  assertBytes,
  bytes,
  type ConformanceCase,
  names,
  pattern,
  permBits,
  rejects,
  text,
} from "../kit.ts";

const G = "files";

/** Cases for whole-file reads and writes. */
export const FILE_CASES: readonly ConformanceCase[] = [
  {
    group: G,
    name: "writeFile then readFile returns the same bytes",
    async run({ fs }) {
      await fs.writeFile("/f", new Uint8Array([1, 2, 3, 250]));
      assertBytes(await fs.readFile("/f"), new Uint8Array([1, 2, 3, 250]));
    },
  },
  {
    group: G,
    name: "writeTextFile/readTextFile round-trip unicode text",
    async run({ fs }) {
      const s = "héllo wörld ✓ 日本語 🚀\n\ttab";
      await fs.writeTextFile("/t.txt", s);
      assert.equal(await fs.readTextFile("/t.txt"), s);
      assert.equal((await fs.stat("/t.txt")).size, bytes(s).length);
    },
  },
  {
    group: G,
    name: "every byte value survives a round trip",
    async run({ fs }) {
      const all = new Uint8Array(512);
      for (let i = 0; i < all.length; i++) all[i] = i & 0xff;
      await fs.writeFile("/bin", all);
      assertBytes(await fs.readFile("/bin"), all);
    },
  },
  {
    group: G,
    name: "an empty write makes an empty file",
    async run({ fs }) {
      await fs.writeFile("/empty", new Uint8Array(0));
      const st = await fs.stat("/empty");
      assert.equal(st.isFile, true);
      assert.equal(st.size, 0);
      assertBytes(await fs.readFile("/empty"), new Uint8Array(0));
    },
  },
  {
    group: G,
    name: "overwriting with shorter content leaves no tail",
    async run({ fs }) {
      await fs.writeTextFile("/f", "a long first version");
      await fs.writeTextFile("/f", "short");
      assert.equal(await fs.readTextFile("/f"), "short");
      assert.equal((await fs.stat("/f")).size, 5);
    },
  },
  {
    group: G,
    name: "a 1 MiB file round-trips with its pattern intact",
    async run({ fs }) {
      const data = pattern(1 << 20, 3);
      await fs.writeFile("/big", data);
      assert.equal((await fs.stat("/big")).size, data.length);
      assertBytes(await fs.readFile("/big"), data);
    },
  },
  {
    group: G,
    name: "append adds to the end",
    async run({ fs }) {
      await fs.writeTextFile("/log", "one\n");
      await fs.writeTextFile("/log", "two\n", { append: true });
      await fs.writeFile("/log", bytes("three\n"), { append: true });
      assert.equal(await fs.readTextFile("/log"), "one\ntwo\nthree\n");
    },
  },
  {
    group: G,
    name: "append creates a missing file",
    async run({ fs }) {
      await fs.writeTextFile("/new.log", "first", { append: true });
      assert.equal(await fs.readTextFile("/new.log"), "first");
    },
  },
  {
    group: G,
    name: "create: false on a missing file fails with ENOENT and creates nothing",
    async run({ fs }) {
      await rejects(fs.writeTextFile("/nope", "x", { create: false }), "ENOENT");
      await rejects(fs.writeTextFile("/nope", "x", { create: false, append: true }), "ENOENT");
      assert.deepEqual(await names(fs, "/"), []);
    },
  },
  {
    group: G,
    name: "create: false on an existing file overwrites it",
    async run({ fs }) {
      await fs.writeTextFile("/f", "old content");
      await fs.writeTextFile("/f", "new", { create: false });
      assert.equal(await fs.readTextFile("/f"), "new");
    },
  },
  {
    group: G,
    name: "createNew on an existing file fails with EEXIST and keeps the content",
    async run({ fs }) {
      await fs.writeTextFile("/f", "keep me");
      await rejects(fs.writeTextFile("/f", "clobber", { createNew: true }), "EEXIST");
      assert.equal(await fs.readTextFile("/f"), "keep me");
    },
  },
  {
    group: G,
    name: "createNew on a missing file creates it",
    async run({ fs }) {
      await fs.writeTextFile("/fresh", "hello", { createNew: true });
      assert.equal(await fs.readTextFile("/fresh"), "hello");
    },
  },
  {
    group: G,
    name: "createNew on a directory fails with EEXIST",
    async run({ fs }) {
      await fs.mkdir("/d");
      await rejects(fs.writeTextFile("/d", "x", { createNew: true }), "EEXIST");
    },
  },
  {
    group: G,
    name: "mode applies to a new file",
    needs: ["permissions"],
    async run({ fs }) {
      await fs.writeTextFile("/secret", "x", { mode: 0o600 });
      assert.equal(await permBits(fs, "/secret"), 0o600);
      await fs.writeTextFile("/script", "x", { mode: 0o750 });
      assert.equal(await permBits(fs, "/script"), 0o750);
    },
  },
  {
    group: G,
    name: "mode given on rewrite of an existing file changes its bits (as Deno does)",
    needs: ["permissions"],
    async run({ fs }) {
      await fs.writeTextFile("/f", "x", { mode: 0o644 });
      await fs.writeTextFile("/f", "y", { mode: 0o600 });
      assert.equal(await permBits(fs, "/f"), 0o600);
      assert.equal(await fs.readTextFile("/f"), "y");
    },
  },
  {
    group: G,
    name: "a new file gets owner read/write and no execute bit by default",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      const bits = await permBits(fs, "/f");
      assert.equal(bits & 0o600, 0o600, `mode ${bits.toString(8)}`);
      assert.equal(bits & 0o111, 0, `mode ${bits.toString(8)}`);
    },
  },
  {
    group: G,
    name: "readFile of a missing file fails with ENOENT",
    async run({ fs }) {
      await rejects(fs.readFile("/missing"), "ENOENT");
      await rejects(fs.readTextFile("/missing.txt"), "ENOENT");
    },
  },
  {
    group: G,
    name: "readFile of a directory fails with EISDIR",
    async run({ fs }) {
      await fs.mkdir("/d");
      await rejects(fs.readFile("/d"), "EISDIR");
      await rejects(fs.readFile("/"), "EISDIR");
    },
  },
  {
    group: G,
    name: "writeFile onto a directory fails with EISDIR",
    async run({ fs }) {
      await fs.mkdir("/d");
      await rejects(fs.writeTextFile("/d", "x"), "EISDIR");
      assert.equal((await fs.stat("/d")).isDirectory, true);
    },
  },
  {
    group: G,
    name: "writeFile into a missing directory fails with ENOENT",
    async run({ fs }) {
      await rejects(fs.writeTextFile("/no/such/f", "x"), "ENOENT");
    },
  },
  {
    group: G,
    name: "a file used as a directory fails with ENOTDIR",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await rejects(fs.writeTextFile("/f/child", "x"), "ENOTDIR");
      await rejects(fs.readFile("/f/child"), "ENOTDIR");
      await rejects(fs.stat("/f/child"), "ENOTDIR");
    },
  },
  {
    group: G,
    name: "writeFile accepts a ReadableStream",
    async run({ fs }) {
      const chunks = [bytes("stream "), bytes("of "), bytes("chunks")];
      await fs.writeFile("/s", ReadableStream.from(chunks));
      assert.equal(await fs.readTextFile("/s"), "stream of chunks");
    },
  },
  {
    group: G,
    name: "writeTextFile accepts a ReadableStream of strings",
    async run({ fs }) {
      await fs.writeTextFile("/s.txt", ReadableStream.from(["a", "é", "🚀"]));
      assert.equal(await fs.readTextFile("/s.txt"), "aé🚀");
    },
  },
  {
    group: G,
    name: "the written buffer is copied: changing it later does not change the file",
    async run({ fs }) {
      const buf = bytes("original");
      await fs.writeFile("/f", buf);
      buf.fill(0x41);
      assert.equal(await fs.readTextFile("/f"), "original");
    },
  },
  {
    group: G,
    name: "the returned buffer is a copy: changing it does not change the file",
    async run({ fs }) {
      await fs.writeTextFile("/f", "original");
      const got = await fs.readFile("/f");
      got.fill(0x41);
      assert.equal(await fs.readTextFile("/f"), "original");
    },
  },
  {
    group: G,
    name: "readTextFile replaces invalid UTF-8 instead of failing",
    async run({ fs }) {
      await fs.writeFile("/bad", new Uint8Array([0xff, 0x41]));
      assert.equal(await fs.readTextFile("/bad"), "\uFFFDA");
    },
  },
  {
    group: G,
    name: "files in different directories with the same name are independent",
    async run({ fs }) {
      await fs.mkdir("/a");
      await fs.mkdir("/b");
      await fs.writeTextFile("/a/x", "in a");
      await fs.writeTextFile("/b/x", "in b");
      assert.equal(await fs.readTextFile("/a/x"), "in a");
      assert.equal(await fs.readTextFile("/b/x"), "in b");
    },
  },
  {
    group: G,
    name: "names are case-sensitive",
    async run({ fs }) {
      await fs.writeTextFile("/File", "upper");
      await fs.writeTextFile("/file", "lower");
      assert.equal(await fs.readTextFile("/File"), "upper");
      assert.equal(await fs.readTextFile("/file"), "lower");
      assert.deepEqual(await names(fs, "/"), ["File", "file"]);
    },
  },
  {
    group: G,
    name: "a file written with text reads back as the same bytes",
    async run({ fs }) {
      await fs.writeTextFile("/t", "ab\u00e9");
      assertBytes(await fs.readFile("/t"), new Uint8Array([0x61, 0x62, 0xc3, 0xa9]));
      assert.equal(text(await fs.readFile("/t")), "ab\u00e9");
    },
  },
];
