// `anyfs mkdir|rm|mv|cp` and the middleware flags on drive commands, run as
// a user would, in a subprocess.
import assert from "node:assert/strict";
import { anyfs, anyfsOk, tempDir } from "./helpers.ts";

Deno.test("mkdir creates the drive and directories; -p; -m sets the exact mode", async () => {
  await using dir = await tempDir();
  const drive = `sqlite:${dir.path}/new.db`;
  await anyfsOk(["mkdir", drive, "/a"]);
  await anyfsOk(["mkdir", "-p", "-m", "700", drive, "/b/c/d"]);
  assert.equal(await anyfsOk(["ls", drive]), "a\nb\n");
  assert.match(await anyfsOk(["stat", drive, "/b/c/d"]), /Mode: 0700/);
  const again = await anyfs(["mkdir", drive, "/a"]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /File exists .*'\/a'/);
  await anyfsOk(["mkdir", "-p", drive, "/a"]);
});

Deno.test("rm removes files and, with -r, trees; -f ignores missing paths", async () => {
  await using dir = await tempDir();
  const drive = `sqlite:${dir.path}/d.db`;
  await anyfsOk(["mkdir", "-p", drive, "/t/u", "/keep"]);
  await anyfsOk(["rm", "-r", drive, "/t"]);
  assert.equal(await anyfsOk(["ls", drive]), "keep\n");
  const missing = await anyfs(["rm", drive, "/nope"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /No such file or directory .*'\/nope'/);
  await anyfsOk(["rm", "-f", drive, "/nope"]);
});

Deno.test("mv renames, and moves into an existing directory", async () => {
  await using dir = await tempDir();
  const drive = `sqlite:${dir.path}/d.db`;
  await anyfsOk(["mkdir", "-p", drive, "/src/inner", "/dest"]);
  await anyfsOk(["mv", drive, "/src", "/moved"]);
  await anyfsOk(["mv", drive, "/moved/inner", "/dest"]);
  assert.equal(
    await anyfsOk(["tree", drive]),
    "/\n├── dest\n│   └── inner\n└── moved\n\n3 directories, 0 files\n",
  );
});

Deno.test("cp copies files, -r trees, -p keeps times, -n refuses to replace", async () => {
  await using dir = await tempDir();
  const drive = `sqlite:${dir.path}/d.db`;
  await Deno.mkdir(`${dir.path}/host/sub`, { recursive: true });
  await Deno.writeTextFile(`${dir.path}/host/sub/f.txt`, "content\n");
  await Deno.utime(`${dir.path}/host/sub/f.txt`, new Date("2019-05-05Z"), new Date("2019-06-06Z"));
  await anyfsOk(["import", "-q", drive, `${dir.path}/host`]);
  await anyfsOk(["cp", "-p", drive, "/sub/f.txt", "/copy.txt"]);
  assert.equal(await anyfsOk(["cat", drive, "/copy.txt"]), "content\n");
  assert.match(await anyfsOk(["stat", drive, "/copy.txt"]), /Modify: 2019-06-06 00:00:00\.000/);
  await anyfsOk(["cp", "-r", drive, "/sub", "/sub2"]);
  assert.equal(await anyfsOk(["cat", drive, "/sub2/f.txt"]), "content\n");
  await anyfsOk(["mkdir", drive, "/into"]);
  await anyfsOk(["cp", drive, "/copy.txt", "/into"]);
  assert.equal(await anyfsOk(["ls", drive, "/into"]), "copy.txt\n");
  const clobber = await anyfs(["cp", "-n", drive, "/sub/f.txt", "/copy.txt"]);
  assert.equal(clobber.code, 1);
  assert.match(clobber.stderr, /File exists .*'\/copy\.txt'/);
});

Deno.test("middleware flags on drive commands: --read-only, --quota-size, --deny, --dry-run, --trace-file", async () => {
  await using dir = await tempDir();
  const drive = `sqlite:${dir.path}/d.db`;
  await anyfsOk(["mkdir", drive, "/a"]);
  const ro = await anyfs(["mkdir", "--read-only", drive, "/b"]);
  assert.equal(ro.code, 1);
  assert.match(ro.stderr, /Read-only file system .*'\/b'/);
  const denied = await anyfs(["ls", "--deny", "/a", drive, "/a"]);
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /Permission denied .*'\/a'/);
  assert.equal(await anyfsOk(["ls", "--deny", "/a", drive]), "");
  await anyfsOk(["mkdir", "--dry-run", drive, "/dry"]);
  assert.equal(await anyfsOk(["ls", drive]), "a\n");
  await Deno.writeFile(`${dir.path}/big`, new Uint8Array(4096));
  await Deno.mkdir(`${dir.path}/in`);
  await Deno.rename(`${dir.path}/big`, `${dir.path}/in/big`);
  const full = await anyfs(["import", "--quota-size", "1K", drive, `${dir.path}/in`, "/q"]);
  assert.equal(full.code, 1);
  assert.match(full.stderr, /No space left on device/);
  const trace = `${dir.path}/trace.jsonl`;
  await anyfsOk(["mkdir", "--trace-file", trace, drive, "/traced"]);
  const records = (await Deno.readTextFile(trace)).trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(records.some((r) => r.op === "mkdir" && r.path === "/traced" && r.ok === true));
});

Deno.test("--dry-run: commands that build on their own changes work, say what they held back, store nothing", async () => {
  await using dir = await tempDir();
  const drive = `sqlite:${dir.path}/d.db`;
  await anyfsOk(["mkdir", "-p", drive, "/src/lib"]);
  await Deno.mkdir(`${dir.path}/in/sub`, { recursive: true });
  await Deno.writeTextFile(`${dir.path}/in/sub/a.txt`, "a");
  const before = await anyfsOk(["tree", drive]);

  // Each of these reads back what it just "made" (a directory to copy or import into).
  for (
    const args of [
      ["mkdir", "-p", "--dry-run", drive, "/x/y/z"],
      ["cp", "-r", "--dry-run", drive, "/src", "/src2"],
      ["import", "--dry-run", "-q", drive, `${dir.path}/in`, "/imported"],
      ["rm", "-r", "--dry-run", drive, "/src"],
    ]
  ) {
    const r = await anyfs(args);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(`^anyfs: ${args[0]}: dry run: nothing was stored; \\d+ change`),
    );
  }
  assert.match(
    (await anyfs(["rm", "-r", "--dry-run", drive, "/src"])).stderr,
    /2 changes \(2 rmdir\)/,
  );
  assert.equal(await anyfsOk(["tree", drive]), before, "the drive is unchanged");

  // Not even a new, empty drive file is left behind.
  const fresh = await anyfs(["mkdir", "--dry-run", `sqlite:${dir.path}/new.db`, "/x"]);
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.match(fresh.stderr, /1 change \(1 mkdir\)/);
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(dir.path))).map((e) => e.name).filter((n) =>
      n.startsWith("new.db")
    ),
    [],
  );
});

Deno.test("compact gives a drive file's free space back; the files stay; only sqlite: drives", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/d.db`;
  const drive = `sqlite:${file}`;
  const host = `${dir.path}/big`;
  await Deno.mkdir(host);
  for (let i = 0; i < 20; i++) {
    await Deno.writeFile(`${host}/f${i}`, new Uint8Array(200_000).fill(i));
  }
  await Deno.writeTextFile(`${host}/keep.txt`, "kept");
  await anyfsOk(["import", drive, host, "/big"]);
  for (let i = 0; i < 20; i++) await anyfsOk(["rm", drive, `/big/f${i}`]);
  const grown = (await Deno.stat(file)).size;
  assert.ok(grown > 4_000_000, `${grown} bytes before compact`);
  assert.match(await anyfsOk(["compact", drive]), /-> /);
  const size = (await Deno.stat(file)).size;
  assert.ok(size < 200_000, `${size} bytes after compact`);
  assert.equal(await anyfsOk(["cat", drive, "/big/keep.txt"]), "kept");

  const mem = await anyfs(["compact", "mem:"]);
  assert.equal(mem.code, 2);
  assert.match(mem.stderr, /compact works on sqlite: drive files/);
  const missing = await anyfs(["compact", `${dir.path}/none.db`]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /does not exist/);
});
