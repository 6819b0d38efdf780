/**
 * Conformance cases: what a name and a path may be — unicode, odd
 * characters, `.` and `..`, repeated and trailing slashes, the empty path,
 * NUL bytes (`EINVAL`) and length limits (`ENAMETOOLONG`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { type ConformanceCase, names, present, rejects } from "../kit.ts";

const G = "names";

/** A name of exactly `n` UTF-8 bytes. */
function nameOfBytes(n: number): string {
  return "n".repeat(n);
}

/** Cases for names and paths. */
export const NAME_CASES: readonly ConformanceCase[] = [
  {
    group: G,
    name: "unicode names work for files and directories",
    async run({ fs }) {
      const list = ["café", "日本語", "🚀rocket", "Ελληνικά", "עברית", "ü-ö-ä"];
      for (const n of list) await fs.writeTextFile(`/${n}`, n);
      await fs.mkdir("/répertoire");
      await fs.writeTextFile("/répertoire/фаил", "deep");
      for (const n of list) assert.equal(await fs.readTextFile(`/${n}`), n);
      assert.equal(await fs.readTextFile("/répertoire/фаил"), "deep");
      assert.deepEqual(await names(fs, "/"), [...list, "répertoire"].sort());
    },
  },
  {
    group: G,
    name: "composed and decomposed forms are different names (bytes, not normalized)",
    async run({ fs }) {
      const nfc = "\u00e9";
      const nfd = "e\u0301";
      await fs.writeTextFile(`/${nfc}`, "composed");
      await fs.writeTextFile(`/${nfd}`, "decomposed");
      assert.equal(await fs.readTextFile(`/${nfc}`), "composed");
      assert.equal(await fs.readTextFile(`/${nfd}`), "decomposed");
      assert.deepEqual(await names(fs, "/"), [nfd, nfc].sort());
    },
  },
  {
    group: G,
    name: "spaces, newlines, backslashes and shell characters are ordinary",
    async run({ fs }) {
      const list = ["a b", "new\nline", "tab\there", "back\\slash", "q?*[]", "c:colon", "'\"$`"];
      for (const n of list) await fs.writeTextFile(`/${n}`, n);
      for (const n of list) assert.equal(await fs.readTextFile(`/${n}`), n);
      assert.deepEqual(await names(fs, "/"), [...list].sort());
    },
  },
  {
    group: G,
    name: "'...' and names starting with dots are ordinary names",
    async run({ fs }) {
      await fs.mkdir("/...");
      await fs.writeTextFile("/.../..f", "x");
      assert.equal(await fs.readTextFile("/.../..f"), "x");
    },
  },
  {
    group: G,
    name: "a 255-byte name works",
    async run({ fs }) {
      const n = nameOfBytes(255);
      await fs.writeTextFile(`/${n}`, "max");
      const d = "D".repeat(255);
      await fs.mkdir(`/${d}`);
      await fs.writeTextFile(`/${d}/${n}`, "nested");
      assert.equal(await fs.readTextFile(`/${n}`), "max");
      assert.equal(await fs.readTextFile(`/${d}/${n}`), "nested");
      assert.deepEqual(await names(fs, "/"), [d, n]);
    },
  },
  {
    group: G,
    name: "a 256-byte name fails with ENAMETOOLONG everywhere",
    async run({ fs }) {
      const n = nameOfBytes(256);
      await fs.writeTextFile("/ok", "x");
      await rejects(fs.writeTextFile(`/${n}`, "x"), "ENAMETOOLONG", "writeFile");
      await rejects(fs.mkdir(`/${n}`), "ENAMETOOLONG", "mkdir");
      await rejects(fs.stat(`/${n}`), "ENAMETOOLONG", "stat");
      await rejects(fs.rename("/ok", `/${n}`), "ENAMETOOLONG", "rename");
      await rejects(fs.open(`/${n}`, { write: true, create: true }), "ENAMETOOLONG", "open");
      assert.deepEqual(await names(fs, "/"), ["ok"]);
    },
  },
  {
    group: G,
    name: "name limits count UTF-8 bytes, not characters",
    async run({ fs }) {
      const fits = "日".repeat(85); // 255 bytes
      const over = "日".repeat(86); // 258 bytes, 86 characters
      await fs.writeTextFile(`/${fits}`, "x");
      assert.equal(await fs.readTextFile(`/${fits}`), "x");
      await rejects(fs.writeTextFile(`/${over}`, "x"), "ENAMETOOLONG");
    },
  },
  {
    group: G,
    name: "a path over 4096 bytes fails with ENAMETOOLONG",
    async run({ fs }) {
      const long = ("/" + "p".repeat(99)).repeat(42);
      await rejects(fs.stat(long), "ENAMETOOLONG");
      await rejects(fs.mkdir(long, { recursive: true }), "ENAMETOOLONG");
    },
  },
  {
    group: G,
    name: "a deep path of 60 levels works",
    async run({ fs }) {
      const deep = "/d".repeat(60);
      await fs.mkdir(deep, { recursive: true });
      await fs.writeTextFile(`${deep}/leaf`, "bottom");
      assert.equal(await fs.readTextFile(`${deep}/leaf`), "bottom");
    },
  },
  {
    group: G,
    name: "a NUL byte is rejected with EINVAL and creates nothing",
    async run({ fs }) {
      await fs.writeTextFile("/ok", "x");
      await rejects(fs.writeTextFile("/bad\0name", "x"), "EINVAL", "writeFile");
      await rejects(fs.mkdir("/bad\0dir"), "EINVAL", "mkdir");
      await rejects(fs.stat("/bad\0name"), "EINVAL", "stat");
      await rejects(fs.readFile("/ok\0"), "EINVAL", "readFile");
      await rejects(fs.rename("/ok", "/x\0y"), "EINVAL", "rename");
      assert.deepEqual(await names(fs, "/"), ["ok"]);
    },
  },
  {
    group: G,
    name: "a NUL byte in a symlink target is rejected with EINVAL",
    needs: ["symlinks"],
    async run({ fs }) {
      await rejects(fs.symlink("a\0b", "/l"), "EINVAL");
      assert.equal(await present(fs, "/l"), false);
    },
  },
  {
    group: G,
    name: "the empty path fails with ENOENT",
    async run({ fs }) {
      await rejects(fs.stat(""), "ENOENT", "stat");
      await rejects(fs.readFile(""), "ENOENT", "readFile");
      await rejects(fs.writeTextFile("", "x"), "ENOENT", "writeFile");
      await rejects(fs.mkdir(""), "ENOENT", "mkdir");
      assert.deepEqual(await names(fs, "/"), []);
    },
  },
  {
    group: G,
    name: "'.' components are skipped",
    async run({ fs }) {
      await fs.mkdir("/a");
      await fs.writeTextFile("/a/./f", "dot");
      assert.equal(await fs.readTextFile("/./a/f"), "dot");
      assert.deepEqual(await names(fs, "/a"), ["f"]);
    },
  },
  {
    group: G,
    name: "'..' components go to the parent",
    async run({ fs }) {
      await fs.mkdir("/a/b", { recursive: true });
      await fs.writeTextFile("/a/b/../f", "up");
      assert.equal(await fs.readTextFile("/a/f"), "up");
      assert.equal(await fs.readTextFile("/a/b/../../a/f"), "up");
    },
  },
  {
    group: G,
    name: "'..' through a missing directory fails with ENOENT",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await rejects(fs.stat("/missing/../f"), "ENOENT");
    },
  },
  {
    group: G,
    name: "'.' or '..' after a file fails with ENOTDIR",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await rejects(fs.stat("/f/."), "ENOTDIR");
      await rejects(fs.stat("/f/.."), "ENOTDIR");
    },
  },
  {
    group: G,
    name: "repeated slashes are one separator",
    async run({ fs }) {
      await fs.mkdir("//a//b", { recursive: true });
      await fs.writeTextFile("/a///b//f", "x");
      assert.equal(await fs.readTextFile("//a/b/f"), "x");
      assert.deepEqual(await names(fs, "/a"), ["b"]);
    },
  },
  {
    group: G,
    name: "writing a file with a trailing slash fails with EISDIR",
    async run({ fs }) {
      await rejects(fs.writeTextFile("/new/", "x"), "EISDIR");
      await fs.writeTextFile("/f", "x");
      await rejects(fs.writeTextFile("/f/", "y"), "EISDIR");
      assert.equal(await fs.readTextFile("/f"), "x");
      assert.deepEqual(await names(fs, "/"), ["f"]);
    },
  },
  {
    group: G,
    name: "reading a file with a trailing slash fails with ENOTDIR",
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await rejects(fs.readFile("/f/"), "ENOTDIR");
    },
  },
  {
    group: G,
    name: "creating with a trailing slash inside a missing directory fails with ENOENT",
    async run({ fs }) {
      await rejects(fs.writeTextFile("/missing/x/", "x"), "ENOENT");
      await rejects(fs.open("/missing/x/", { write: true, create: true }), "ENOENT");
      assert.deepEqual(await names(fs, "/"), []);
    },
  },
  {
    group: G,
    name: "writing through a symlink loop with a trailing slash fails with EISDIR",
    needs: ["symlinks"],
    async run({ fs }) {
      await fs.symlink("loop", "/loop");
      await rejects(fs.writeTextFile("/loop/", "x"), "EISDIR");
    },
  },
];
