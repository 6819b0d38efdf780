// `anyfs import` / `anyfs export`: a host tree of 1,000 files (nested
// directories, symlinks including dangling ones, varied modes and times, a
// file large enough to be copied in chunks) goes into a sqlite: drive and
// comes back out identical: contents, permission bits, atimes and mtimes,
// symlink targets.
import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import { anyfs, anyfsOk, tempDir } from "./helpers.ts";

/** A small deterministic generator, so a failure can be reproduced. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FILE_MODES = [0o644, 0o600, 0o755, 0o700, 0o444, 0o640, 0o4755, 0o2750, 0o664, 0o400];
const DIR_MODES = [0o755, 0o700, 0o555, 0o1777, 0o750];

interface Expected {
  type: "file" | "dir" | "symlink";
  mode: number;
  mtime: number;
  atime: number;
  size: number;
}

function randomTime(rand: () => number): Date {
  // Whole milliseconds between 2000 and 2025: what the host's stat reports.
  return new Date(946_684_800_000 + Math.floor(rand() * 788_918_400_000));
}

/**
 * Build the source tree; returns the number of regular files and every
 * path below `root` (relative, `""` for the root). FIFOs are not listed.
 */
async function buildTree(
  root: string,
  rand: () => number,
): Promise<{ files: number; paths: string[] }> {
  const dirs: string[] = [root];
  for (let i = 0; i < 12; i++) {
    const parent = dirs[Math.floor(rand() * dirs.length)];
    const dir = `${parent}/${i % 3 === 0 ? `dir ${i} ü` : `d${i}`}`;
    await Deno.mkdir(dir);
    dirs.push(dir);
  }
  await Deno.mkdir(`${root}/empty`);
  dirs.push(`${root}/empty`);
  let files = 0;
  // One file past the whole-file limit, so the chunked copy runs too.
  const big = new Uint8Array(9 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4096) big[i] = i / 4096 % 256;
  await Deno.writeFile(`${root}/big.bin`, big);
  files++;
  while (files < 1000) {
    const dir = dirs[Math.floor(rand() * (dirs.length - 1))];
    const size = rand() < 0.1 ? 0 : Math.floor(rand() * 6000);
    const data = new Uint8Array(size);
    for (let j = 0; j < size; j++) data[j] = Math.floor(rand() * 256);
    await Deno.writeFile(`${dir}/f${files}.bin`, data);
    files++;
  }
  const links: [string, string][] = [
    ["big.bin", `${root}/link-to-file`],
    ["d1", `${root}/link-to-dir`],
    ["/etc/hostname", `${root}/absolute-link`],
    ["does/not/exist", `${root}/dangling`],
    ["../../nowhere", `${dirs[3]}/dangling-up`],
    ["link-to-file", `${root}/link-to-link`],
  ];
  for (const [target, path] of links) await Deno.symlink(target, path);
  await new Deno.Command("mkfifo", { args: [`${root}/fifo`] }).output();
  // Modes and times last, deepest first: creating entries changes a directory's mtime.
  const all: string[] = [];
  for await (const e of walkHost(root)) all.push(e);
  for (const path of all.reverse()) {
    const info = await Deno.lstat(path);
    if (info.isFifo) continue;
    if (info.isFile) await Deno.chmod(path, FILE_MODES[Math.floor(rand() * FILE_MODES.length)]);
    if (info.isDirectory && path !== root) {
      await Deno.chmod(path, DIR_MODES[Math.floor(rand() * DIR_MODES.length)]);
    }
    const atime = randomTime(rand);
    const mtime = randomTime(rand);
    await fsp.lutimes(path, atime.getTime() / 1000, mtime.getTime() / 1000);
  }
  const paths: string[] = [];
  for (const path of all) {
    if (!(await Deno.lstat(path)).isFifo) paths.push(path.slice(root.length));
  }
  return { files, paths };
}

async function* walkHost(root: string): AsyncGenerator<string> {
  yield root;
  const names: string[] = [];
  for await (const e of Deno.readDir(root)) names.push(e.name);
  for (const name of names.sort()) {
    const path = `${root}/${name}`;
    const info = await Deno.lstat(path);
    if (info.isDirectory) yield* walkHost(path);
    else yield path;
  }
}

/**
 * The metadata of `paths` below `root`, by `lstat` only: listing a
 * directory or reading a file would change its atime.
 */
async function snapshot(root: string, paths: string[]): Promise<Map<string, Expected>> {
  const out = new Map<string, Expected>();
  for (const relative of paths) {
    const path = root + relative;
    const info = await Deno.lstat(path);
    const type = info.isFile ? "file" : info.isDirectory ? "dir" : "symlink";
    out.set(relative || "/", {
      type,
      mode: info.mode! & 0o7777,
      mtime: info.mtime!.getTime(),
      atime: info.atime!.getTime(),
      size: type === "dir" ? 0 : info.size,
    });
  }
  return out;
}

Deno.test("import 1,000 files into a sqlite: drive and export them back identical", async () => {
  await using dir = await tempDir();
  const src = `${dir.path}/src`;
  const out = `${dir.path}/out`;
  const drive = `sqlite:${dir.path}/drive.db`;
  await Deno.mkdir(src);
  const { files, paths } = await buildTree(src, prng(6));
  const expected = await snapshot(src, paths);

  const imported = await anyfs(["import", drive, src, "/data"]);
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(
    imported.stdout,
    new RegExp(
      `^imported ${files} files, 14 directories, 6 symlinks, [\\d.]+ MiB in [\\d.]+ s; skipped 1\\n$`,
    ),
  );
  // A FIFO cannot live in a drive: skipped with a warning naming it.
  assert.match(imported.stderr, /skipped .*\/src\/fifo: a fifo cannot be copied/);
  // Not a terminal: no progress bar drawn into the log.
  assert.doesNotMatch(imported.stderr, /\r|\[#/);

  const exported = await anyfs(["export", drive, "/data", out]);
  assert.equal(exported.code, 0, exported.stderr);
  assert.match(exported.stdout, new RegExp(`^exported ${files} files, 14 directories, 6 symlinks`));

  const actual = await snapshot(out, paths);
  for (const [path, want] of expected) {
    assert.deepEqual(actual.get(path), want, path);
  }
  // Only now list and read (which changes atimes, readlink(2) too): nothing more, nothing
  // less, same bytes, same link targets.
  const listed: string[] = [];
  for await (const path of walkHost(out)) listed.push(path.slice(out.length));
  assert.deepEqual(listed.sort(), paths.filter((p) => p !== "").concat([""]).sort());
  for (const [path, want] of expected) {
    if (want.type === "file") {
      assert.deepEqual(await Deno.readFile(out + path), await Deno.readFile(src + path), path);
    } else if (want.type === "symlink") {
      assert.equal(await Deno.readLink(out + path), await Deno.readLink(src + path), path);
    }
  }
});

Deno.test("import refuses to replace without --overwrite (nothing copied), merges and replaces with it", async () => {
  await using dir = await tempDir();
  const drive = `sqlite:${dir.path}/d.db`;
  const src = `${dir.path}/src`;
  await Deno.mkdir(`${src}/sub`, { recursive: true });
  await Deno.writeTextFile(`${src}/a.txt`, "new a\n");
  await Deno.writeTextFile(`${src}/sub/b.txt`, "new b\n");
  await anyfsOk(["mkdir", drive, "/sub"]);
  await anyfsOk(["import", "-q", drive, `${dir.path}/src/sub`, "/sub"]);
  await Deno.writeTextFile(`${src}/sub/b.txt`, "newer b\n");
  await Deno.writeTextFile(`${src}/c.txt`, "c\n");
  const refused = await anyfs(["import", drive, src]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /File exists .*sub\/b\.txt.*--overwrite/);
  assert.equal(await anyfsOk(["ls", drive]), "sub\n", "nothing was copied");
  assert.equal(await anyfsOk(["import", "--overwrite", "--quiet", drive, src]), "");
  assert.equal(await anyfsOk(["cat", drive, "/sub/b.txt"]), "newer b\n");
  assert.equal(await anyfsOk(["ls", drive]), "a.txt\nc.txt\nsub\n");
});

Deno.test("export into a missing directory creates it; a file in the way of a directory is an error", async () => {
  await using dir = await tempDir();
  const drive = `sqlite:${dir.path}/d.db`;
  await anyfsOk(["mkdir", "-p", drive, "/x/y"]);
  await anyfsOk(["export", "-q", drive, "/", `${dir.path}/deep/new/out`]);
  assert.ok((await Deno.stat(`${dir.path}/deep/new/out/x/y`)).isDirectory);
  await Deno.mkdir(`${dir.path}/clash`);
  await Deno.writeTextFile(`${dir.path}/clash/x`, "a file where the drive has a directory");
  const r = await anyfs(["export", drive, "/", `${dir.path}/clash`, "--overwrite"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Not a directory .*clash\/x/);
});

Deno.test("importing the directory that holds the drive skips the drive's own files", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/note.txt`, "n\n");
  const r = await anyfs(["import", `sqlite:${dir.path}/self.db`, dir.path]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await anyfsOk(["ls", `${dir.path}/self.db`]), "note.txt\n");
});

Deno.test("export --dry-run writes nothing to the host, into a new or an existing directory", async () => {
  await using dir = await tempDir();
  const drive = `sqlite:${dir.path}/d.db`;
  await Deno.mkdir(`${dir.path}/in/sub`, { recursive: true });
  await Deno.writeTextFile(`${dir.path}/in/sub/a.txt`, "a");
  await anyfsOk(["import", "-q", drive, `${dir.path}/in`, "/"]);

  const fresh = await anyfs(["export", "-q", "--dry-run", drive, "/", `${dir.path}/out`]);
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.match(fresh.stderr, /^anyfs: export: dry run: nothing was stored; \d+ changes .* in /);
  assert.equal(await fsp.stat(`${dir.path}/out`).catch((e) => e.code), "ENOENT");

  await Deno.mkdir(`${dir.path}/existing`);
  const into = await anyfs(["export", "-q", "--dry-run", drive, "/", `${dir.path}/existing`]);
  assert.equal(into.code, 0, into.stderr);
  assert.deepEqual(await fsp.readdir(`${dir.path}/existing`), []);
});
