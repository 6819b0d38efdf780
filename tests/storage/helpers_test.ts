import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import type { FsApi } from "../../src/storage/api.ts";
import { expandGlob } from "../../src/storage/expand_glob.ts";
import { FileStorage } from "../../src/storage/file_storage.ts";
import { walk, type WalkOptions } from "../../src/storage/walk.ts";
import { rejectsWith } from "./_helpers.ts";

/**
 * /p
 *   a.ts, b.md, .hidden.ts
 *   src/ main.ts, util.test.ts, deep/ x.ts
 *   link -> src (dir link), flink -> a.ts
 */
async function project(fs: FsApi, root: string): Promise<void> {
  await fs.mkdir(`${root}/src/deep`, { recursive: true });
  for (
    const f of ["a.ts", "b.md", ".hidden.ts", "src/main.ts", "src/util.test.ts", "src/deep/x.ts"]
  ) {
    await fs.writeTextFile(`${root}/${f}`, f);
  }
  await fs.symlink("src", `${root}/link`);
  await fs.symlink("a.ts", `${root}/flink`);
}

async function storage(): Promise<FileStorage> {
  const fs = new FileStorage(new MemoryBackend());
  await project(fs, "/p");
  return fs;
}

async function paths(it: AsyncIterable<{ path: string }>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of it) out.push(e.path);
  return out.sort();
}

Deno.test("walk yields the root and everything below, links as links", async () => {
  const fs = await storage();
  deepStrictEqual(await paths(fs.walk("/p")), [
    "/p",
    "/p/.hidden.ts",
    "/p/a.ts",
    "/p/b.md",
    "/p/flink",
    "/p/link",
    "/p/src",
    "/p/src/deep",
    "/p/src/deep/x.ts",
    "/p/src/main.ts",
    "/p/src/util.test.ts",
  ]);
  const entries = await Array.fromAsync(fs.walk("/p", { maxDepth: 1 }));
  const link = entries.find((e) => e.name === "link")!;
  deepStrictEqual(link, {
    path: "/p/link",
    name: "link",
    isFile: false,
    isDirectory: false,
    isSymlink: true,
  });
  equal(entries[0].path, "/p", "the root comes first");
});

Deno.test("walk options: depth, types, exts, match, skip", async () => {
  const fs = await storage();
  const w = (o: WalkOptions) => paths(fs.walk("/p", o));
  deepStrictEqual(await w({ maxDepth: 0 }), ["/p"]);
  deepStrictEqual(await w({ includeFiles: false, includeSymlinks: false }), [
    "/p",
    "/p/src",
    "/p/src/deep",
  ]);
  deepStrictEqual(await w({ exts: ["md"] }), ["/p/b.md"]);
  deepStrictEqual(await w({ match: [/test/] }), ["/p/src/util.test.ts"]);
  deepStrictEqual(await w({ skip: [/src/, /\.ts$/], includeSymlinks: false }), ["/p", "/p/b.md"]);
  deepStrictEqual(await w({ maxDepth: -1 }), []);
});

Deno.test("walk with followSymlinks descends links and survives loops", async () => {
  const fs = await storage();
  await fs.symlink("..", "/p/src/deep/up"); // a loop back to /p/src
  const followed = await paths(fs.walk("/p", { followSymlinks: true, canonicalize: false }));
  ok(followed.includes("/p/link/main.ts"));
  ok(followed.includes("/p/flink"));
  ok(!followed.some((p) => p.includes("/up/")), "the loop is not entered");
  const canonical = await Array.fromAsync(
    fs.walk("/p", { followSymlinks: true, includeDirs: false }),
  );
  const flink = canonical.find((e) => e.path === "/p/a.ts" && e.isFile);
  ok(flink, "a followed file link yields its target as a file");
});

Deno.test("walk keeps relative roots relative and reports a missing root", async () => {
  const fs = await storage();
  await fs.chdir("/p");
  deepStrictEqual(await paths(fs.walk("src/deep")), ["src/deep", "src/deep/x.ts"]);
  await rejectsWith(Array.fromAsync(fs.walk("/nope")), "ENOENT");
});

Deno.test("walk works over Deno itself", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "anyfs-walk-" });
  try {
    await project(Deno as unknown as FsApi, tmp);
    const real = (await paths(walk(Deno, tmp))).map((p) => p.slice(tmp.length) || "/");
    const fs = await storage();
    const virtual = (await paths(fs.walk("/p"))).map((p) => p.slice(2) || "/");
    deepStrictEqual(real, virtual);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("expandGlob: *, **, braces, classes, extglobs, dotfiles", async () => {
  const fs = await storage();
  const g = (glob: string, o = {}) => paths(fs.expandGlob(glob, { root: "/p", ...o }));
  deepStrictEqual(await g("*.ts"), ["/p/.hidden.ts", "/p/a.ts"]);
  deepStrictEqual(await g("**/*.ts"), [
    "/p/.hidden.ts",
    "/p/a.ts",
    "/p/src/deep/x.ts",
    "/p/src/main.ts",
    "/p/src/util.test.ts",
  ]);
  deepStrictEqual(await g("/p/src/*.{ts,md}"), ["/p/src/main.ts", "/p/src/util.test.ts"]);
  deepStrictEqual(await g("[ab].*"), ["/p/a.ts", "/p/b.md"]);
  deepStrictEqual(await g("src/!(*.test).ts"), ["/p/src/main.ts"]);
  deepStrictEqual(await g("src/*/"), ["/p/src/deep"]);
  deepStrictEqual(await g("src/*", { includeDirs: false }), [
    "/p/src/main.ts",
    "/p/src/util.test.ts",
  ]);
  deepStrictEqual(await g("src/MAIN.*", { caseInsensitive: true }), ["/p/src/main.ts"]);
  deepStrictEqual(await g("src/MAIN.*"), []);
  deepStrictEqual(await g("nothing/*"), []);
  deepStrictEqual(await g("src/deep/../*.ts"), ["/p/src/main.ts", "/p/src/util.test.ts"]);
});

Deno.test("expandGlob: exclude, root default, links", async () => {
  const fs = await storage();
  deepStrictEqual(
    await paths(fs.expandGlob("**/*.ts", { root: "/p", exclude: ["src/deep/**", ".*"] })),
    ["/p/a.ts", "/p/src/main.ts", "/p/src/util.test.ts"],
  );
  await fs.chdir("/p/src");
  deepStrictEqual(await paths(fs.expandGlob("*.ts")), ["/p/src/main.ts", "/p/src/util.test.ts"]);
  // A link in the fixed part of a glob is followed; links met while
  // matching are entered only with followSymlinks.
  deepStrictEqual(await paths(fs.expandGlob("/p/link/m*")), ["/p/link/main.ts"]);
  deepStrictEqual(await paths(fs.expandGlob("/p/*/main.ts")), ["/p/src/main.ts"]);
  deepStrictEqual(
    await paths(fs.expandGlob("/p/*/main.ts", { followSymlinks: true, canonicalize: false })),
    ["/p/link/main.ts", "/p/src/main.ts"],
  );
});

Deno.test("expandGlob works over Deno itself", async () => {
  const tmp = await Deno.realPath(await Deno.makeTempDir({ prefix: "anyfs-glob-" }));
  try {
    await project(Deno as unknown as FsApi, tmp);
    const found = await paths(expandGlob(Deno, "**/*.ts", { root: tmp }));
    deepStrictEqual(found.map((p) => p.slice(tmp.length)), [
      "/.hidden.ts",
      "/a.ts",
      "/src/deep/x.ts",
      "/src/main.ts",
      "/src/util.test.ts",
    ]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("copy: files, links as links, trees with modes", async () => {
  const fs = await storage();
  await fs.chmod("/p/src/main.ts", 0o700);
  await fs.chmod("/p/src/deep", 0o750);
  await fs.copy("/p", "/q");
  deepStrictEqual(
    (await paths(fs.walk("/q"))).map((p) => p.slice(2)),
    (await paths(fs.walk("/p"))).map((p) => p.slice(2)),
  );
  equal(await fs.readLink("/q/link"), "src");
  equal(await fs.readTextFile("/q/src/deep/x.ts"), "src/deep/x.ts");
  equal((await fs.stat("/q/src/main.ts")).mode! & 0o777, 0o700);
  equal((await fs.stat("/q/src/deep")).mode! & 0o777, 0o750);
  // A single file and a single link.
  await fs.copy("/p/a.ts", "/a-copy.ts");
  equal(await fs.readTextFile("/a-copy.ts"), "a.ts");
  await fs.copy("/p/flink", "/flink-copy");
  equal(await fs.readLink("/flink-copy"), "a.ts");
});

Deno.test("copy: overwrite, preserveTimestamps and its errors", async () => {
  const fs = await storage();
  await fs.writeTextFile("/dest.ts", "old");
  await rejectsWith(fs.copy("/p/a.ts", "/dest.ts"), "EEXIST");
  await fs.copy("/p/a.ts", "/dest.ts", { overwrite: true });
  equal(await fs.readTextFile("/dest.ts"), "a.ts");
  await rejectsWith(fs.copy("/p", "/p/src/inside"), "EINVAL");
  await rejectsWith(fs.copy("/p", "/p"), "EINVAL");
  await rejectsWith(fs.copy("/p", "/dest.ts", { overwrite: true }), "ENOTDIR");
  await rejectsWith(fs.copy("/p/a.ts", "/p/src", { overwrite: true }), "EISDIR");
  await rejectsWith(fs.copy("/missing", "/x"), "ENOENT");
  // Merging into an existing directory.
  await fs.mkdir("/merge");
  await fs.writeTextFile("/merge/keep", "k");
  await fs.copy("/p/src", "/merge", { overwrite: true });
  deepStrictEqual((await Array.fromAsync(fs.readDir("/merge"))).map((e) => e.name).sort(), [
    "deep",
    "keep",
    "main.ts",
    "util.test.ts",
  ]);
  // Overwriting a link replaces the link, not its target.
  await fs.writeTextFile("/target", "t");
  await fs.symlink("/target", "/via");
  await fs.copy("/p/a.ts", "/via", { overwrite: true });
  equal(await fs.readTextFile("/target"), "t");
  equal((await fs.lstat("/via")).isFile, true);
  await fs.utime("/p/b.md", 1000, 2000);
  await fs.copy("/p/b.md", "/b-copy.md", { preserveTimestamps: true });
  const s = await fs.stat("/b-copy.md");
  equal(s.atime!.getTime(), 1000_000);
  equal(s.mtime!.getTime(), 2000_000);
});

Deno.test("move: rename with overwrite and the into-itself check", async () => {
  const fs = await storage();
  await fs.move("/p/b.md", "/moved.md");
  equal(await fs.exists("/p/b.md"), false);
  equal(await fs.readTextFile("/moved.md"), "b.md");
  await rejectsWith(fs.move("/p/a.ts", "/moved.md"), "EEXIST");
  await fs.move("/p/a.ts", "/moved.md", { overwrite: true });
  equal(await fs.readTextFile("/moved.md"), "a.ts");
  await rejectsWith(fs.move("/p", "/p/src/x"), "EINVAL");
  await fs.mkdir("/full/sub", { recursive: true });
  await fs.move("/p/src", "/full", { overwrite: true });
  equal(await fs.readTextFile("/full/main.ts"), "src/main.ts");
  // As @std/fs: a directory onto itself is refused, a file onto itself is a no-op.
  await rejectsWith(fs.move("/full", "/full", { overwrite: true }), "EINVAL");
  await fs.move("/moved.md", "/moved.md", { overwrite: true });
  equal(await fs.readTextFile("/moved.md"), "a.ts");
});

Deno.test("ensureDir and ensureFile", async () => {
  const fs = await storage();
  await fs.ensureDir("/e/f/g");
  ok((await fs.stat("/e/f/g")).isDirectory);
  await fs.ensureDir("/e/f/g");
  await fs.ensureDir("/p/link"); // a link to a directory is fine
  await rejectsWith(fs.ensureDir("/p/a.ts"), "EEXIST");
  await fs.ensureFile("/n/o/p.txt");
  equal((await fs.stat("/n/o/p.txt")).size, 0);
  await fs.writeTextFile("/n/o/p.txt", "keep");
  await fs.ensureFile("/n/o/p.txt");
  equal(await fs.readTextFile("/n/o/p.txt"), "keep");
  await fs.ensureFile("/p/flink");
  await rejectsWith(fs.ensureFile("/p/src"), "EISDIR");
  await fs.symlink("nowhere", "/dangling");
  await rejectsWith(fs.ensureFile("/dangling"), "EEXIST");
  await rejectsWith(fs.ensureFile("/p/a.ts/x"), "ENOTDIR");
});

Deno.test("emptyDir empties or creates, never following links", async () => {
  const fs = await storage();
  await fs.emptyDir("/p");
  deepStrictEqual(await Array.fromAsync(fs.readDir("/p")), []);
  await fs.emptyDir("/new/dir");
  ok((await fs.stat("/new/dir")).isDirectory);
  await fs.mkdir("/keep");
  await fs.writeTextFile("/keep/f", "f");
  await fs.mkdir("/box");
  await fs.symlink("/keep", "/box/l");
  await fs.emptyDir("/box");
  equal(await fs.readTextFile("/keep/f"), "f");
  await fs.writeTextFile("/file", "");
  await rejectsWith(fs.emptyDir("/file"), "ENOTDIR");
});

Deno.test("readJson and writeJson", async () => {
  const fs = new FileStorage(new MemoryBackend());
  await fs.writeJson("/c.json", { a: [1, 2], b: "é" }, { spaces: 2 });
  equal(await fs.readTextFile("/c.json"), '{\n  "a": [\n    1,\n    2\n  ],\n  "b": "é"\n}\n');
  deepStrictEqual(await fs.readJson("/c.json"), { a: [1, 2], b: "é" });
  await fs.writeFile(
    "/bom.json",
    new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode("[1]")]),
  );
  deepStrictEqual(await fs.readJson("/bom.json"), [1]);
  await fs.writeTextFile("/bad.json", "{nope");
  const e = await rejectsWith(fs.readJson("/bad.json"), "EINVAL");
  ok(/invalid JSON/.test(e.message));
  await rejectsWith(fs.writeJson("/u.json", undefined), "EINVAL");
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  await rejectsWith(fs.writeJson("/cyc.json", cyclic), "EINVAL");
  equal(await fs.exists("/cyc.json"), false);
  await fs.writeJson("/r.json", { keep: 1, drop: 2 }, { replacer: ["keep"] });
  equal(await fs.readTextFile("/r.json"), '{"keep":1}\n');
  await rejectsWith(fs.writeJson("/r.json", 1, { createNew: true }), "EEXIST");
  await rejectsWith(fs.readJson("/missing.json"), "ENOENT");
});
