/**
 * Conformance cases for features Deno's file API has no call for: extended
 * attributes and special files. They drive the subject's in-process
 * backend directly (its paths are the subject's paths) and check what the
 * Deno-shaped API then reports.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Backend, type CapabilityMap, supports } from "../../core/backend.ts";
import { S_IFIFO, S_IFREG } from "../../core/types.ts";
import {
  assertBytes,
  bytes,
  type CaseContext,
  type ConformanceCase,
  entries,
  rejects,
  text,
} from "../kit.ts";

const XATTR = "xattrs";
const SPECIAL = "special";

function xattrs(ctx: CaseContext): Backend & CapabilityMap["xattrs"] {
  const b = ctx.backend;
  if (!b || !supports(b, "xattrs")) throw new Error("the subject's backend has no xattrs");
  return b;
}

function special(ctx: CaseContext): Backend & CapabilityMap["special"] {
  const b = ctx.backend;
  if (!b || !supports(b, "special")) throw new Error("the subject's backend has no mknod");
  return b;
}

/** Cases for extended attributes. */
export const XATTR_CASES: readonly ConformanceCase[] = [
  {
    group: XATTR,
    name: "set then get returns the value",
    needs: ["xattrs"],
    needsBackend: true,
    async run(ctx) {
      const b = xattrs(ctx);
      await ctx.fs.writeTextFile("/f", "x");
      await b.setXattr("/f", "user.color", bytes("blue"));
      assert.equal(text(await b.getXattr("/f", "user.color")), "blue");
    },
  },
  {
    group: XATTR,
    name: "get of an unset attribute fails with ENODATA",
    needs: ["xattrs"],
    needsBackend: true,
    async run(ctx) {
      const b = xattrs(ctx);
      await ctx.fs.writeTextFile("/f", "x");
      await rejects(b.getXattr("/f", "user.missing"), "ENODATA");
    },
  },
  {
    group: XATTR,
    name: "list names every attribute once",
    needs: ["xattrs"],
    needsBackend: true,
    async run(ctx) {
      const b = xattrs(ctx);
      await ctx.fs.writeTextFile("/f", "x");
      assert.deepEqual(await b.listXattr("/f"), []);
      await b.setXattr("/f", "user.b", bytes("2"));
      await b.setXattr("/f", "user.a", bytes("1"));
      await b.setXattr("/f", "user.a", bytes("1 again"));
      assert.deepEqual([...await b.listXattr("/f")].sort(), ["user.a", "user.b"]);
    },
  },
  {
    group: XATTR,
    name: "remove deletes the attribute; removing it again fails with ENODATA",
    needs: ["xattrs"],
    needsBackend: true,
    async run(ctx) {
      const b = xattrs(ctx);
      await ctx.fs.writeTextFile("/f", "x");
      await b.setXattr("/f", "user.k", bytes("v"));
      await b.removeXattr("/f", "user.k");
      await rejects(b.getXattr("/f", "user.k"), "ENODATA");
      await rejects(b.removeXattr("/f", "user.k"), "ENODATA");
      assert.deepEqual(await b.listXattr("/f"), []);
    },
  },
  {
    group: XATTR,
    name:
      "create fails with EEXIST on an existing attribute, replace with ENODATA on a missing one",
    needs: ["xattrs"],
    needsBackend: true,
    async run(ctx) {
      const b = xattrs(ctx);
      await ctx.fs.writeTextFile("/f", "x");
      await b.setXattr("/f", "user.k", bytes("v1"), { create: true });
      await rejects(b.setXattr("/f", "user.k", bytes("v2"), { create: true }), "EEXIST");
      await rejects(b.setXattr("/f", "user.other", bytes("v"), { replace: true }), "ENODATA");
      await b.setXattr("/f", "user.k", bytes("v3"), { replace: true });
      assert.equal(text(await b.getXattr("/f", "user.k")), "v3");
    },
  },
  {
    group: XATTR,
    name: "empty and binary values round-trip",
    needs: ["xattrs"],
    needsBackend: true,
    async run(ctx) {
      const b = xattrs(ctx);
      await ctx.fs.writeTextFile("/f", "x");
      await b.setXattr("/f", "user.empty", new Uint8Array(0));
      const bin = new Uint8Array([0, 255, 1, 0]);
      await b.setXattr("/f", "user.bin", bin);
      assertBytes(await b.getXattr("/f", "user.empty"), new Uint8Array(0));
      assertBytes(await b.getXattr("/f", "user.bin"), bin);
    },
  },
  {
    group: XATTR,
    name: "the stored value is a copy of the caller's buffer",
    needs: ["xattrs"],
    needsBackend: true,
    async run(ctx) {
      const b = xattrs(ctx);
      await ctx.fs.writeTextFile("/f", "x");
      const value = bytes("orig");
      await b.setXattr("/f", "user.k", value);
      value.fill(0);
      assert.equal(text(await b.getXattr("/f", "user.k")), "orig");
    },
  },
  {
    group: XATTR,
    name: "attributes work on directories",
    needs: ["xattrs"],
    needsBackend: true,
    async run(ctx) {
      const b = xattrs(ctx);
      await ctx.fs.mkdir("/d");
      await b.setXattr("/d", "user.dir", bytes("yes"));
      assert.equal(text(await b.getXattr("/d", "user.dir")), "yes");
    },
  },
  {
    group: XATTR,
    name: "attributes of a missing path fail with ENOENT",
    needs: ["xattrs"],
    needsBackend: true,
    async run(ctx) {
      const b = xattrs(ctx);
      await rejects(b.getXattr("/missing", "user.k"), "ENOENT");
      await rejects(b.setXattr("/missing", "user.k", bytes("v")), "ENOENT");
      await rejects(b.listXattr("/missing"), "ENOENT");
    },
  },
  {
    group: XATTR,
    name: "attributes move with a rename",
    needs: ["xattrs"],
    needsBackend: true,
    async run(ctx) {
      const b = xattrs(ctx);
      await ctx.fs.writeTextFile("/a", "x");
      await b.setXattr("/a", "user.k", bytes("travels"));
      await ctx.fs.rename("/a", "/b");
      assert.equal(text(await b.getXattr("/b", "user.k")), "travels");
    },
  },
  {
    group: XATTR,
    name: "attributes belong to the inode: hard links share them",
    needs: ["xattrs", "hardlinks"],
    needsBackend: true,
    async run(ctx) {
      const b = xattrs(ctx);
      await ctx.fs.writeTextFile("/a", "x");
      await ctx.fs.link("/a", "/b");
      await b.setXattr("/a", "user.k", bytes("shared"));
      assert.equal(text(await b.getXattr("/b", "user.k")), "shared");
    },
  },
  {
    group: XATTR,
    name: "a file recreated at the same name starts without attributes",
    needs: ["xattrs"],
    needsBackend: true,
    async run(ctx) {
      const b = xattrs(ctx);
      await ctx.fs.writeTextFile("/f", "x");
      await b.setXattr("/f", "user.k", bytes("v"));
      await ctx.fs.remove("/f");
      await ctx.fs.writeTextFile("/f", "y");
      assert.deepEqual(await b.listXattr("/f"), []);
    },
  },
];

/** Cases for special files. */
export const SPECIAL_CASES: readonly ConformanceCase[] = [
  {
    group: SPECIAL,
    name: "mknod makes a named pipe that stat and readDir report as one",
    needs: ["special"],
    needsBackend: true,
    async run(ctx) {
      const b = special(ctx);
      await b.mknod("/pipe", S_IFIFO | 0o644, 0);
      const st = await ctx.fs.lstat("/pipe");
      assert.equal(st.isFifo, true);
      assert.equal(st.isFile, false);
      assert.equal(st.isDirectory, false);
      assert.equal(st.mode! & 0o170000, S_IFIFO);
      const [e] = await entries(ctx.fs, "/");
      assert.deepEqual([e.name, e.isFile, e.isDirectory, e.isSymlink], [
        "pipe",
        false,
        false,
        false,
      ]);
    },
  },
  {
    group: SPECIAL,
    name: "mknod with S_IFREG makes an empty regular file",
    needs: ["special"],
    needsBackend: true,
    async run(ctx) {
      const b = special(ctx);
      await b.mknod("/reg", S_IFREG | 0o600, 0);
      const st = await ctx.fs.stat("/reg");
      assert.equal(st.isFile, true);
      assert.equal(st.size, 0);
    },
  },
  {
    group: SPECIAL,
    name: "mknod over an existing name fails with EEXIST",
    needs: ["special"],
    needsBackend: true,
    async run(ctx) {
      const b = special(ctx);
      await ctx.fs.writeTextFile("/f", "x");
      await rejects(b.mknod("/f", S_IFIFO | 0o644, 0), "EEXIST");
      assert.equal(await ctx.fs.readTextFile("/f"), "x");
    },
  },
  {
    group: SPECIAL,
    name: "a special file can be renamed and removed",
    needs: ["special"],
    needsBackend: true,
    async run(ctx) {
      const b = special(ctx);
      await b.mknod("/p", S_IFIFO | 0o644, 0);
      await ctx.fs.rename("/p", "/q");
      assert.equal((await ctx.fs.lstat("/q")).isFifo, true);
      await ctx.fs.remove("/q");
      assert.deepEqual(await entries(ctx.fs, "/"), []);
    },
  },
];
