// The tree copy behind import/export, between in-memory backends.
import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { copyTree, planTree, type TreeCopyProgress } from "../../src/cli/tree_copy.ts";
import type { Backend } from "../../src/core/backend.ts";
import { Quota } from "../../src/middleware/quota.ts";
import { ReadOnly } from "../../src/middleware/read_only.ts";
import { S_IFIFO } from "../../src/core/types.ts";

const enc = new TextEncoder();

async function source(): Promise<MemoryBackend> {
  const b = new MemoryBackend();
  await b.mkdir("/ro", { mode: 0o555 });
  await b.mkdir("/ro/inner");
  await b.writeFile("/ro/inner/a.txt", enc.encode("alpha"), { mode: 0o4750 });
  await b.writeFile("/z.txt", enc.encode("zulu"));
  await b.symlink("missing/target", "/dangling");
  await b.mknod("/pipe", S_IFIFO | 0o644, 0);
  await b.utime("/ro/inner/a.txt", 1_000_000, 2_000_000);
  await b.utime("/dangling", 3_000_000, 4_000_000);
  await b.utime("/ro/inner", 5_000_000, 6_000_000);
  await b.utime("/ro", 7_000_000, 8_000_000);
  return b;
}

async function meta(b: Backend, path: string) {
  const m = await b.lstat(path);
  return { type: m.type, mode: m.mode, atime: m.atimeMs, mtime: m.mtimeMs, size: m.size };
}

Deno.test("planTree lists root first, each directory's entries before what is below them, by name", async () => {
  const plan = await planTree(await source(), "/");
  assert.deepEqual(plan.entries.map((e) => e.relative), [
    "",
    "dangling",
    "pipe",
    "ro",
    "z.txt",
    "ro/inner",
    "ro/inner/a.txt",
  ]);
  assert.equal(plan.totalBytes, 9);
  const excluded = await planTree(await source(), "/", (p) => p === "/ro");
  assert.deepEqual(excluded.entries.map((e) => e.relative), ["", "dangling", "pipe", "z.txt"]);
  await assert.rejects(planTree(await source(), "/z.txt"), { code: "ENOTDIR" });
});

Deno.test("copyTree keeps modes (setuid, read-only dirs), times of files, links and dirs, link targets", async () => {
  const src = await source();
  const paths = ["/ro", "/ro/inner", "/ro/inner/a.txt", "/dangling", "/z.txt"];
  // Before planning: listing a directory changes its atime, and the copy keeps what was planned.
  const before = await Promise.all(paths.map((p) => meta(src, p)));
  const dst = new MemoryBackend();
  await dst.mkdir("/copy");
  const progress: TreeCopyProgress[] = [];
  const summary = await copyTree(await planTree(src, "/"), src, "/", dst, "/copy", {
    onProgress: (p) => progress.push({ ...p }),
  });
  assert.deepEqual(
    { files: summary.files, dirs: summary.dirs, symlinks: summary.symlinks, bytes: summary.bytes },
    { files: 2, dirs: 3, symlinks: 1, bytes: 9 },
  );
  assert.deepEqual(summary.skipped, [{ path: "/pipe", reason: "a fifo cannot be copied" }]);
  for (const [i, path] of paths.entries()) {
    assert.deepEqual(await meta(dst, `/copy${path}`), before[i], path);
  }
  assert.equal(await dst.readLink("/copy/dangling"), "missing/target");
  assert.equal(new TextDecoder().decode(await dst.readFile("/copy/ro/inner/a.txt")), "alpha");
  const last = progress.at(-1)!;
  assert.deepEqual(last, { entriesDone: 7, entriesTotal: 7, bytesDone: 9, bytesTotal: 9 });
});

Deno.test("copyTree finds conflicts before writing anything; --overwrite replaces files and links", async () => {
  const src = await source();
  const dst = new MemoryBackend();
  await dst.writeFile("/z.txt", enc.encode("old"));
  const plan = await planTree(src, "/");
  await assert.rejects(
    copyTree(plan, src, "/", dst, "/"),
    (e: { code: string; message: string }) => {
      assert.equal(e.code, "EEXIST");
      assert.match(e.message, /'\/z\.txt'.*--overwrite/);
      return true;
    },
  );
  assert.deepEqual((await dst.readDir("/")).map((e) => e.name), ["z.txt"]);
  await copyTree(plan, src, "/", dst, "/", { overwrite: true });
  assert.equal(new TextDecoder().decode(await dst.readFile("/z.txt")), "zulu");

  const clash = new MemoryBackend();
  await clash.mkdir("/z.txt");
  await assert.rejects(copyTree(plan, src, "/", clash, "/", { overwrite: true }), {
    code: "EISDIR",
  });
});

Deno.test("copyTree names both ends as asked when the destination refuses", async () => {
  const src = await source();
  const dst = new ReadOnly(new MemoryBackend());
  await assert.rejects(
    copyTree(await planTree(src, "/"), src, "/", dst, "/", {
      names: { source: (p) => `host:${p}`, dest: (p) => `drive:${p}` },
    }),
    (e: { code: string; message: string }) => {
      assert.equal(e.code, "EROFS");
      assert.match(e.message, /copy 'host:\/' -> 'drive:\/'/);
      return true;
    },
  );
});

Deno.test("copyTree stops at a file the destination refuses, naming it, after the files in flight", async () => {
  const src = new MemoryBackend();
  for (let i = 0; i < 40; i++) {
    await src.writeFile(`/f${String(i).padStart(2, "0")}`, enc.encode("xx"));
  }
  const dst = await Quota.create(new MemoryBackend(), { maxTotalSize: 21 });
  await assert.rejects(
    copyTree(await planTree(src, "/"), src, "/", dst, "/"),
    (e: { code: string; message: string }) => {
      assert.equal(e.code, "ENOSPC");
      assert.match(e.message, /copy '\/f10' -> '\/f10'/);
      return true;
    },
  );
  assert.equal((await dst.readDir("/")).length, 10, "ten files of two bytes fit");
});
