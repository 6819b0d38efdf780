// `anyfs ls|tree|cat|stat|du` on a sqlite: drive built through the library,
// run as a user would, in a subprocess.
import assert from "node:assert/strict";
import { SqliteBackend } from "../../src/backends/sqlite.ts";
import { FileStorage } from "../../src/storage/file_storage.ts";
import { anyfs, anyfsOk, tempDir } from "./helpers.ts";

async function makeDrive(path: string): Promise<void> {
  using backend = SqliteBackend.open(path);
  const fs = new FileStorage(backend);
  await fs.mkdir("/docs/deep", { recursive: true });
  await fs.writeTextFile("/docs/a.txt", "alpha\n");
  await fs.writeTextFile("/docs/deep/b.txt", "bravo!\n", { mode: 0o600 });
  await fs.writeFile("/big.bin", new Uint8Array(200_000).map((_, i) => i % 251));
  await fs.writeTextFile("/.hidden", "h");
  await fs.symlink("docs/a.txt", "/link");
  await fs.link("/docs/a.txt", "/hard.txt");
  await fs.utime("/docs/a.txt", new Date("2020-01-02T03:04:05Z"), new Date("2021-02-03T04:05:06Z"));
}

Deno.test("ls: names, -a, -l with modes, sizes and link targets, --json, a file argument", async () => {
  await using dir = await tempDir();
  const drive = `sqlite:${dir.path}/d.db`;
  await makeDrive(`${dir.path}/d.db`);
  assert.equal(await anyfsOk(["ls", drive]), "big.bin\ndocs\nhard.txt\nlink\n");
  assert.equal(await anyfsOk(["ls", "-a", drive, "/"]), ".hidden\nbig.bin\ndocs\nhard.txt\nlink\n");
  const long = (await anyfsOk(["ls", "-l", drive, "/docs"])).split("\n");
  assert.match(long[0], /^-rw-r--r-- 2 +\d+ +\d+ +6 2021-02-03 04:05 a\.txt$/);
  assert.match(long[1], /^drwxr-xr-x /);
  const root = await anyfsOk(["ls", "-l", drive]);
  assert.match(root, /^lrwxrwxrwx .* link -> docs\/a\.txt$/m);
  const json = (await anyfsOk(["ls", "--json", drive, "/docs/deep"])).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  assert.deepEqual(json.map((e) => [e.name, e.type, e.size, e.mode]), [[
    "b.txt",
    "file",
    7,
    "0600",
  ]]);
  assert.equal(await anyfsOk(["ls", drive, "/docs/a.txt"]), "/docs/a.txt\n");
  // A link to a directory is listed as the directory.
  await anyfsOk(["mkdir", drive, "/d2"]);
  const two = await anyfsOk(["ls", drive, "/docs", "/d2"]);
  assert.equal(two, "/docs:\na.txt\ndeep\n\n/d2:\n");
});

Deno.test("tree draws the hierarchy with link targets and counts; -L limits depth", async () => {
  await using dir = await tempDir();
  const drive = `sqlite:${dir.path}/d.db`;
  await makeDrive(`${dir.path}/d.db`);
  assert.equal(
    await anyfsOk(["tree", drive]),
    [
      "/",
      "├── big.bin",
      "├── docs",
      "│   ├── a.txt",
      "│   └── deep",
      "│       └── b.txt",
      "├── hard.txt",
      "└── link -> docs/a.txt",
      "",
      "2 directories, 5 files",
      "",
    ].join("\n"),
  );
  const shallow = await anyfsOk(["tree", "-L", "1", drive, "/docs"]);
  assert.equal(shallow, "/docs\n├── a.txt\n└── deep\n\n1 directory, 1 file\n");
});

Deno.test("cat writes exact bytes (also large and several files) and follows links", async () => {
  await using dir = await tempDir();
  const drive = `sqlite:${dir.path}/d.db`;
  await makeDrive(`${dir.path}/d.db`);
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../cli.ts", import.meta.url).pathname,
      "cat",
      drive,
      "/big.bin",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0);
  assert.deepEqual(out.stdout, new Uint8Array(200_000).map((_, i) => i % 251));
  assert.equal(await anyfsOk(["cat", drive, "/link", "/docs/deep/b.txt"]), "alpha\nbravo!\n");
  const r = await anyfs(["cat", drive, "/docs"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Is a directory .*'\/docs'.*anyfs ls/);
});

Deno.test("stat shows type, mode, size, links and times; -L follows; --json", async () => {
  await using dir = await tempDir();
  const drive = `sqlite:${dir.path}/d.db`;
  await makeDrive(`${dir.path}/d.db`);
  const text = await anyfsOk(["stat", drive, "/docs/a.txt"]);
  assert.match(text, /Type: file/);
  assert.match(text, /Size: 6 /);
  assert.match(text, /Mode: 0644 \(-rw-r--r--\)/);
  assert.match(text, /Links: 2/);
  assert.match(text, /Modify: 2021-02-03 04:05:06\.000 UTC/);
  assert.match(text, /Access: 2020-01-02 03:04:05\.000 UTC/);
  assert.match(
    await anyfsOk(["stat", drive, "/link"]),
    /Path: \/link -> docs\/a\.txt\n\s+Type: symlink/,
  );
  assert.match(await anyfsOk(["stat", "-L", drive, "/link"]), /Type: file/);
  const [a, b] = (await anyfsOk(["stat", "--json", drive, "/", "/docs/deep/b.txt"])).trim().split(
    "\n",
  ).map((l) => JSON.parse(l));
  assert.equal(a.type, "dir");
  assert.equal(b.mode, "0600");
});

Deno.test("du sums file sizes per directory, counts a hard-linked file once; -s, -H", async () => {
  await using dir = await tempDir();
  const drive = `sqlite:${dir.path}/d.db`;
  await makeDrive(`${dir.path}/d.db`);
  const lines = (await anyfsOk(["du", drive])).trim().split("\n");
  assert.deepEqual(lines, ["7\t/docs/deep", "13\t/docs", "200014\t/"]);
  assert.equal(await anyfsOk(["du", "-s", drive, "/docs"]), "13\t/docs\n");
  assert.equal(await anyfsOk(["du", "-s", "-H", drive]), "195.3 KiB\t/\n");
});

Deno.test("read commands never create a drive file", async () => {
  await using dir = await tempDir();
  for (const command of ["ls", "tree", "du"]) {
    const r = await anyfs([command, `sqlite:${dir.path}/new.db`]);
    assert.equal(r.code, 1);
  }
  assert.deepEqual(await Array.fromAsync(Deno.readDir(dir.path)), []);
});
