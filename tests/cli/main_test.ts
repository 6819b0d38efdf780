// The command line as a user meets it: help, version, exit statuses, and
// bad invocations that each get exit status 2 (usage) or 1 (a failed
// operation) with one message naming the problem — never a stack trace.
import assert from "node:assert/strict";
import denoConfig from "../../deno.json" with { type: "json" };
import { COMMANDS } from "../../src/cli/commands.ts";
import { anyfs, anyfsOk, assertNoStackTrace, tempDir } from "./helpers.ts";

Deno.test("anyfs --version prints the version from deno.json", async () => {
  assert.equal(await anyfsOk(["--version"]), `anyfs ${denoConfig.version}\n`);
});

Deno.test("anyfs --help lists every command; bare anyfs shows it with status 2", async () => {
  const help = await anyfsOk(["--help"]);
  for (const c of COMMANDS) assert.match(help, new RegExp(`^  ${c.name} `, "m"), c.name);
  const bare = await anyfs([]);
  assert.equal(bare.code, 2);
  assert.match(bare.stdout, /Usage: anyfs <command>/);
});

Deno.test("every command has --help with usage and examples, exit 0", async () => {
  await Promise.all(COMMANDS.map(async (c) => {
    const r = await anyfs([c.name, "--help"]);
    assert.equal(r.code, 0, `${c.name}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage: anyfs ${c.name}`), c.name);
    assert.match(r.stdout, /^Examples?:$/m, `${c.name} help has examples`);
    assert.equal(r.stdout, c.help + "\n");
  }));
  assert.equal(await anyfsOk(["help", "mount"]), await anyfsOk(["mount", "-h"]));
});

Deno.test("every flag in a command's help is listed under a heading such as 'Flags:'", () => {
  for (const c of COMMANDS) {
    const lines = c.help.split("\n");
    let heading: string | undefined;
    for (const line of lines) {
      if (line === "") heading = undefined;
      else if (/^\S.*:$/.test(line)) heading = line;
      else if (line.startsWith("  -")) {
        assert.ok(heading, `${c.name}: '${line.trim()}' has no heading above it`);
      }
    }
  }
});

interface BadCase {
  name: string;
  args: (dir: string) => string[];
  code: 1 | 2;
  message: RegExp;
}

const BAD: BadCase[] = [
  {
    name: "unknown command",
    args: () => ["frobnicate"],
    code: 2,
    message: /unknown command 'frobnicate'/,
  },
  {
    name: "unknown flag",
    args: () => ["ls", "mem:", "--bogus"],
    code: 2,
    message: /unknown option '--bogus'/,
  },
  {
    name: "flag before the command",
    args: () => ["--bogus"],
    code: 2,
    message: /unknown option '--bogus'/,
  },
  { name: "missing mount point", args: () => ["mount"], code: 2, message: /missing mount point/ },
  {
    name: "too many arguments",
    args: (d) => ["mount", d, "mem:", "extra"],
    code: 2,
    message: /unexpected argument 'extra'/,
  },
  {
    name: "mount point is a file",
    args: (d) => ["mount", `${d}/file.txt`, "mem:"],
    code: 1,
    message: /mount point .*file\.txt is not a directory/,
  },
  {
    name: "nonexistent mount point",
    args: (d) => ["mount", `${d}/nope`, "mem:"],
    code: 1,
    message: /mount point .*nope does not exist \(create it first: mkdir -p /,
  },
  {
    name: "unknown backend scheme",
    args: () => ["ls", "s3:bucket", "/"],
    code: 2,
    message: /unknown backend scheme 's3:' in 's3:bucket'/,
  },
  {
    name: "sqlite: without a path",
    args: () => ["ls", "sqlite:", "/"],
    code: 2,
    message: /sqlite: needs a path/,
  },
  {
    name: "overlay with one part",
    args: () => ["ls", "overlay:mem:", "/"],
    code: 2,
    message: /an overlay needs two backends/,
  },
  {
    name: "bare directory as backend",
    args: (d) => ["ls", d],
    code: 2,
    message: /is not a backend spec .*dir:/,
  },
  {
    name: "bad size suffix",
    args: (d) => ["mount", d, "mem:", "--quota-size", "10X"],
    code: 2,
    message: /bad size '10X' for --quota-size/,
  },
  {
    name: "writeback cache with a size quota",
    args: (d) => ["mount", d, "mem:", "--quota-size", "1M", "--writeback-cache"],
    code: 2,
    message: /--writeback-cache cannot be combined with --quota-size or --max-file-size/,
  },
  {
    name: "writeback cache with a file size limit",
    args: (d) => ["mount", d, "--max-file-size", "1M", "--writeback-cache"],
    code: 2,
    message: /--writeback-cache cannot be combined/,
  },
  {
    name: "negative uid",
    args: (d) => ["mount", d, "--uid=-1"],
    code: 2,
    message: /bad value '-1' for --uid/,
  },
  {
    name: "uid value missing its dash form",
    args: (d) => ["mount", d, "--uid", "-1"],
    code: 2,
    message: /option '--uid' needs a value/,
  },
  {
    name: "bad cache policy",
    args: (d) => ["mount", d, "--cache", "sometimes"],
    code: 2,
    message: /expected never, auto or always/,
  },
  {
    name: "bad rate",
    args: (d) => ["mount", d, "--rate", "fast"],
    code: 2,
    message: /bad rate 'fast' for --rate/,
  },
  {
    name: "cat of a missing file",
    args: (d) => ["cat", `sqlite:${d}/drive.db`, "/missing.txt"],
    code: 1,
    message: /cat: No such file or directory .*'\/missing\.txt'/,
  },
  {
    name: "cp of a directory without -r",
    args: (d) => ["cp", `sqlite:${d}/drive.db`, "/docs", "/docs2"],
    code: 1,
    message: /Is a directory .*'\/docs': use -r/,
  },
  {
    name: "export into an existing file",
    args: (d) => ["export", `sqlite:${d}/drive.db`, "/", `${d}/file.txt`],
    code: 1,
    message: /file\.txt exists and is not a directory/,
  },
  {
    name: "unmount of a non-mount",
    args: (d) => ["unmount", d],
    code: 1,
    message: /is not a mount point/,
  },
  {
    name: "a drive file that does not exist",
    args: (d) => ["ls", `${d}/typo.db`],
    code: 1,
    message: /the drive file .*typo\.db does not exist/,
  },
  {
    name: "dir: of a missing directory",
    args: (d) => ["ls", `dir:${d}/missing`],
    code: 1,
    message: /the directory .*missing does not exist \(mkdir -p /,
  },
  {
    name: "import of a missing host directory",
    args: (d) => ["import", `sqlite:${d}/drive.db`, `${d}/no-such-dir`],
    code: 1,
    message: /no-such-dir does not exist/,
  },
  {
    name: "rm of a directory without -r",
    args: (d) => ["rm", `sqlite:${d}/drive.db`, "/docs"],
    code: 1,
    message: /'\/docs': use -r/,
  },
  {
    name: "a file that is not a drive",
    args: (d) => ["ls", `sqlite:${d}/file.txt`],
    code: 1,
    message: /file\.txt is not an AnyFS drive/,
  },
  {
    name: "a trace file in a missing directory (and no new drive left behind)",
    args: (d) => ["mkdir", `sqlite:${d}/new.db`, "/x", "--trace-file", `${d}/no-dir/t.jsonl`],
    code: 1,
    message:
      /trace file .*t\.jsonl: the directory .*no-dir does not exist \(create it first: mkdir -p /,
  },
  {
    name: "a trace file that is a directory",
    args: (d) => ["ls", `sqlite:${d}/drive.db`, "--trace-file", d],
    code: 1,
    message: /the trace file .* is a directory \(name a file, e\.g\. --trace-file .*trace\.jsonl\)/,
  },
  {
    name: "mkdir with a bad mode",
    args: (d) => ["mkdir", `sqlite:${d}/drive.db`, "/x", "-m", "rwx"],
    code: 2,
    message: /bad mode 'rwx'/,
  },
];

Deno.test(`${BAD.length} bad invocations: exit 2 or 1, a message naming the problem, no stack trace`, async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/file.txt`, "not a drive\n");
  await anyfsOk(["mkdir", `sqlite:${dir.path}/drive.db`, "/docs"]);
  assert.ok(BAD.length >= 15);
  // Two at a time: the machine has two cores and others run tests too.
  for (let i = 0; i < BAD.length; i += 2) {
    await Promise.all(
      BAD.slice(i, i + 2).map(async (c) => {
        const r = await anyfs(c.args(dir.path));
        assert.equal(r.code, c.code, `${c.name}: exit ${r.code}\n${r.stderr}`);
        assert.match(r.stderr, /^anyfs: /, `${c.name}: ${r.stderr}`);
        assert.match(r.stderr, c.message, c.name);
        assertNoStackTrace(r.stderr);
        if (c.code === 2) assert.match(r.stderr, /Run 'anyfs( \w+)? --help' for usage\./, c.name);
      }),
    );
  }
  // Nothing was created by the failed invocations.
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(dir.path))).map((e) => e.name).filter((n) =>
      !n.startsWith("drive.db")
    ).sort(),
    ["file.txt"],
  );
});

Deno.test("ANYFS_DEBUG=1 adds the stack trace; without it there is none", async () => {
  await using dir = await tempDir();
  const args = ["cat", `sqlite:${dir.path}/d.db`, "/x"];
  await anyfsOk(["mkdir", `sqlite:${dir.path}/d.db`, "/d"]);
  const plain = await anyfs(args);
  assertNoStackTrace(plain.stderr);
  const debug = await anyfs(args, { env: { ANYFS_DEBUG: "1" } });
  assert.equal(debug.code, 1);
  assert.match(debug.stderr, /^\s+at .+/m);
});

Deno.test("a missing permission is named, not prompted for", async () => {
  await using dir = await tempDir();
  await anyfsOk(["mkdir", `sqlite:${dir.path}/d.db`, "/d"]);
  const r = await anyfs(["ls", `sqlite:${dir.path}/d.db`], { permissions: ["--allow-read"] });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /--allow-write/);
  assertNoStackTrace(r.stderr);
});
