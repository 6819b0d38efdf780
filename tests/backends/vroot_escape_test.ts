// Hostile inputs against VRootFsBackend: `..` chains, absolute and relative
// symlinks out of the root, symlink loops and chains, non-canonical paths
// handed straight to the backend, NUL bytes, overlong names, unicode
// look-alikes, hard links planted from outside, and directories swapped for
// symlinks while operations run.
//
// How "nothing outside was touched" is observed: canary files and
// directories live next to the root (and in its parent). Their atime is set
// to 1970 first, so that any read or listing of them moves it (relatime
// updates an atime older than the mtime; a self-check proves this file
// system does), and their complete lstat (size, mode, owner, link count,
// mtime, ctime) is compared after every case — a write, chmod, chown, link,
// rename or removal changes one of those. The tree's names are compared too,
// so a file created outside shows up. Stat'ing leaves no trace on a file
// system, so stat results are checked instead: no inode number the backend
// reports may be a canary's.
import assert from "node:assert/strict";
import { VRootFsBackend } from "../../src/backends/vroot_fs.ts";
import type { Containment } from "../../src/backends/vroot_resolve.ts";
import type { Backend } from "../../src/core/backend.ts";
import type { Metadata } from "../../src/core/types.ts";
import { FileStorage } from "../../src/storage/file_storage.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const CANARY = "CANARY: must never be read through the backend";

/** Everything a case may use. */
interface Arena {
  /** The base directory holding `root`, `outside` and a canary of its own. */
  base: string;
  /** The VRootFsBackend's root on the host. */
  root: string;
  /** A directory next to the root, full of canaries. */
  outside: string;
  backend: VRootFsBackend;
  fs: FileStorage;
  /** Inode numbers of every canary. */
  canaryInos: Set<number>;
}

interface EscapeCase {
  name: string;
  /** Plant what an attacker with access to the host directory would plant. */
  plant?(a: Arena): Promise<void>;
  run(a: Arena): Promise<void>;
}

async function code(p: Promise<unknown> | (() => Promise<unknown>)): Promise<string> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    const c = (e as { code?: unknown }).code;
    if (typeof c !== "string") throw e;
    return c;
  }
  return "ok";
}

async function fails(p: Promise<unknown>, ...codes: string[]): Promise<void> {
  const c = await code(p);
  assert.ok(codes.includes(c), `expected ${codes.join("|")}, got ${c}`);
}

/** The canaries: paths relative to `base`, with their content (directories: null). */
const CANARIES: [string, string | null][] = [
  ["parent-secret.txt", CANARY],
  ["outside", null],
  ["outside/secret.txt", CANARY],
  ["outside/dir", null],
  ["outside/dir/inner.txt", CANARY],
  ["outside/passwd", CANARY],
];

async function plantCanaries(base: string): Promise<void> {
  for (const [rel, content] of CANARIES) {
    if (content === null) await Deno.mkdir(`${base}/${rel}`);
    else await Deno.writeTextFile(`${base}/${rel}`, content);
  }
  await zeroAtimes(base);
}

/** Set every canary's atime to 1970 (after the test's own listings, which move it). */
async function zeroAtimes(base: string): Promise<void> {
  // Deepest first, so setting a child's times does not move its parent's.
  for (const [rel] of [...CANARIES].reverse()) {
    const info = await Deno.lstat(`${base}/${rel}`);
    await Deno.utime(`${base}/${rel}`, 0, info.mtime!);
  }
}

/** Every canary's lstat, as text (atime included: it moves on any read or listing). */
async function canaryState(base: string): Promise<string[]> {
  const out: string[] = [];
  for (const [rel] of CANARIES) {
    const i = await Deno.lstat(`${base}/${rel}`);
    out.push(
      `${rel} size=${i.size} mode=${i.mode?.toString(8)} uid=${i.uid} gid=${i.gid} ` +
        `nlink=${i.nlink} mtime=${i.mtime?.getTime()} ctime=${i.ctime?.getTime()} ` +
        `atime=${i.atime?.getTime()}`,
    );
  }
  return out;
}

/** The names under `dir`, recursively (call only after the atime checks: it lists). */
async function tree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    out.push(prefix + e.name);
    if (e.isDirectory && !e.isSymlink) {
      out.push(...await tree(`${dir}/${e.name}`, `${prefix}${e.name}/`));
    }
  }
  return out.sort();
}

function noCanaryIno(a: Arena, meta: Metadata | { ino: number }[] | Metadata[], what: string) {
  const list = Array.isArray(meta) ? meta : [meta];
  for (const m of list) assert.ok(!a.canaryInos.has(m.ino), `${what} reported a canary's inode`);
}

// ---------------------------------------------------------------- the cases

function nonCanonical(): EscapeCase[] {
  const bad = [
    "/../outside/secret.txt",
    "/..",
    "/a/../../outside/secret.txt",
    "/../../../../../../etc/passwd",
    "/./outside",
    "//outside/secret.txt",
    "/x/",
    "relative/../../x",
    "..",
    "",
  ];
  return [
    ...bad.map((p): EscapeCase => ({
      name: `non-canonical path ${JSON.stringify(p)} is EINVAL for lstat, readFile and readDir`,
      async run(a) {
        await fails(a.backend.lstat(p), "EINVAL");
        await fails(a.backend.readFile(p), "EINVAL");
        await fails(a.backend.readDir(p), "EINVAL");
      },
    })),
    {
      name: "non-canonical destinations are EINVAL for every creating operation",
      async run(a) {
        const b = a.backend;
        await b.writeFile("/inside.txt", enc.encode("in"));
        await fails(b.writeFile("/../pwned", enc.encode("x")), "EINVAL");
        await fails(b.appendFile("/../pwned", enc.encode("x")), "EINVAL");
        await fails(b.mkdir("/../pwned"), "EINVAL");
        await fails(b.symlink("x", "/../pwned"), "EINVAL");
        await fails(b.rename("/inside.txt", "/../pwned"), "EINVAL");
        await fails(b.link("/inside.txt", "/../pwned"), "EINVAL");
        await fails(b.copyFile("/inside.txt", "/../pwned"), "EINVAL");
        await fails(b.open("/../pwned", { write: true, create: true }), "EINVAL");
        await fails(b.link("/../outside/secret.txt", "/stolen"), "EINVAL");
        await fails(b.copyFile("/../outside/secret.txt", "/stolen"), "EINVAL");
        await fails(b.rename("/../outside/secret.txt", "/stolen"), "EINVAL");
      },
    },
    {
      name: "non-string paths are EINVAL, never a crash",
      async run(a) {
        const b = a.backend as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
        for (const p of [undefined, null, 42, {}, ["/"], new URL("file:///etc/passwd")]) {
          await fails(b.lstat(p), "EINVAL");
          await fails(b.readFile(p), "EINVAL");
        }
      },
    },
    {
      name: "a host path of the outside handed to the backend is just a name inside the root",
      async run(a) {
        await fails(a.backend.lstat(`${a.outside}/secret.txt`), "ENOENT");
        await fails(a.backend.readFile(`${a.outside}/secret.txt`), "ENOENT");
        await fails(a.fs.readTextFile(`${a.outside}/secret.txt`), "ENOENT");
        await fails(
          a.fs.readTextFile(`/../../../../../../../../${a.outside}/secret.txt`),
          "ENOENT",
        );
      },
    },
  ];
}

function plantedLinks(): EscapeCase[] {
  return [
    {
      name: "absolute symlink to an outside directory: ENOTDIR in a directory position",
      plant: (a) => Deno.symlink(a.outside, `${a.root}/abs`),
      async run(a) {
        const b = a.backend;
        await fails(b.readFile("/abs/secret.txt"), "ENOTDIR");
        await fails(b.lstat("/abs/secret.txt"), "ENOTDIR");
        await fails(b.readDir("/abs"), "ENOTDIR");
        await fails(b.writeFile("/abs/new.txt", enc.encode("x")), "ENOTDIR");
        await fails(b.mkdir("/abs/newdir"), "ENOTDIR");
        await fails(b.symlink("x", "/abs/newlink"), "ENOTDIR");
        await fails(b.unlink("/abs/secret.txt"), "ENOTDIR");
        await fails(b.rename("/abs/secret.txt", "/stolen"), "ENOTDIR");
        await fails(b.link("/abs/secret.txt", "/stolen"), "ENOTDIR");
        await fails(b.chmod("/abs/secret.txt", 0o777), "ENOTDIR");
        await fails(b.chown("/abs/secret.txt", 1, 1), "ENOTDIR");
        await fails(b.utime("/abs/secret.txt", 0, 0), "ENOTDIR");
        await fails(b.truncate("/abs/secret.txt", 0), "ENOTDIR");
        await fails(b.open("/abs/secret.txt", { read: true }), "ENOTDIR");
        await fails(b.fsync("/abs/secret.txt"), "ENOTDIR");
        assert.equal(await b.readLink("/abs"), a.outside, "the target is kept verbatim");
      },
    },
    {
      name: "absolute symlink to an outside directory resolves inside the root through FileStorage",
      plant: (a) => Deno.symlink(a.outside, `${a.root}/abs`),
      async run(a) {
        await fails(a.fs.readTextFile("/abs/secret.txt"), "ENOENT");
        await fails(a.fs.stat("/abs"), "ENOENT");
        await fails(a.fs.writeTextFile("/abs/new.txt", "x"), "ENOENT");
        await fails(a.fs.mkdir("/abs/newdir", { recursive: true }), "ENOENT", "EEXIST", "ENOTDIR");
        // What mkdir -p made (if anything) is inside the root.
      },
    },
    {
      name: "relative symlink climbing out (../outside) is clamped at the root",
      plant: (a) => Deno.symlink("../outside", `${a.root}/rel`),
      async run(a) {
        await fails(a.backend.readFile("/rel/secret.txt"), "ENOTDIR");
        await fails(a.fs.readTextFile("/rel/secret.txt"), "ENOENT");
        await fails(a.fs.readDir("/rel")[Symbol.asyncIterator]().next(), "ENOENT");
      },
    },
    {
      name: "deep relative symlink a/../../../.. to the parent's canary is clamped",
      async plant(a) {
        await Deno.mkdir(`${a.root}/a`);
        await Deno.symlink("a/../../../../../parent-secret.txt", `${a.root}/deep`);
      },
      async run(a) {
        await fails(a.fs.readTextFile("/deep"), "ENOENT");
        await fails(a.backend.readFile("/deep"), "ELOOP");
      },
    },
    {
      name: "absolute symlink to an outside file: content calls never follow it (ELOOP)",
      plant: (a) => Deno.symlink(`${a.outside}/secret.txt`, `${a.root}/flink`),
      async run(a) {
        const b = a.backend;
        await fails(b.readFile("/flink"), "ELOOP");
        await fails(b.read("/flink", 0, 10), "ELOOP");
        await fails(b.writeFile("/flink", enc.encode("pwned")), "ELOOP");
        await fails(b.writeFile("/flink", enc.encode("pwned"), { create: false }), "ELOOP");
        await fails(b.appendFile("/flink", enc.encode("pwned")), "ELOOP");
        await fails(b.truncate("/flink", 0), "ELOOP");
        await fails(b.open("/flink", { read: true }), "ELOOP");
        await fails(b.open("/flink", { write: true, truncate: true }), "ELOOP");
        await fails(b.open("/flink", { write: true, create: true }), "ELOOP");
        await fails(b.copyFile("/flink", "/copy"), "ELOOP");
        await fails(b.fsync("/flink"), "ELOOP");
        await fails(b.writeFile("/flink", enc.encode("x"), { createNew: true }), "EEXIST");
      },
    },
    {
      name: "absolute symlink to an outside file: copying onto it never writes through",
      plant: (a) => Deno.symlink(`${a.outside}/secret.txt`, `${a.root}/flink`),
      async run(a) {
        await a.backend.writeFile("/src.txt", enc.encode("pwned"));
        await fails(a.backend.copyFile("/src.txt", "/flink"), "ELOOP");
        await fails(a.fs.copyFile("/src.txt", "/flink"), "ENOENT");
      },
    },
    {
      name: "absolute symlink to an outside file: metadata calls act on the link itself",
      plant: (a) => Deno.symlink(`${a.outside}/secret.txt`, `${a.root}/flink`),
      async run(a) {
        const b = a.backend;
        const meta = await b.lstat("/flink");
        assert.equal(meta.type, "symlink");
        noCanaryIno(a, meta, "lstat");
        await fails(b.chmod("/flink", 0o777), "ENOTSUP");
        await b.utime("/flink", 1_000, 2_000);
        assert.equal((await Deno.lstat(`${a.root}/flink`)).mtime?.getTime(), 2_000);
        await b.chown("/flink", null, null);
        await b.link("/flink", "/flink-hard");
        assert.equal((await b.lstat("/flink-hard")).type, "symlink");
        await b.rename("/flink-hard", "/flink-moved");
        await b.unlink("/flink-moved");
        await b.unlink("/flink");
      },
    },
    {
      name:
        "symlink to an outside file through FileStorage resolves inside (ENOENT), never to the canary",
      plant: (a) => Deno.symlink(`${a.outside}/secret.txt`, `${a.root}/flink`),
      async run(a) {
        await fails(a.fs.readTextFile("/flink"), "ENOENT");
        await fails(a.fs.stat("/flink"), "ENOENT");
        await fails(a.fs.writeTextFile("/flink", "pwned"), "ENOENT");
        await fails(a.fs.chmod("/flink", 0o777), "ENOENT");
        // FileStorage refuses to truncate through a link (ELOOP): refused either way.
        await fails(a.fs.truncate("/flink", 0), "ENOENT", "ELOOP");
        await fails(a.fs.open("/flink", { read: true }), "ENOENT");
      },
    },
    {
      name: "dangling symlink to a new outside path: nothing is created outside",
      plant: (a) => Deno.symlink(`${a.outside}/created-by-escape`, `${a.root}/dangling`),
      async run(a) {
        await fails(a.backend.writeFile("/dangling", enc.encode("x")), "ELOOP");
        await fails(a.backend.open("/dangling", { write: true, create: true }), "ELOOP");
        await fails(a.fs.writeTextFile("/dangling", "x"), "ENOENT");
        await fails(a.fs.open("/dangling", { write: true, create: true }), "ENOENT");
      },
    },
    {
      name: "the root is the top: '..' never climbs above it, and it cannot be removed or renamed",
      async run(a) {
        assert.deepEqual((await a.backend.readDir("/")).map((e) => e.name), []);
        noCanaryIno(a, await a.backend.lstat("/"), "lstat /");
        await fails(a.backend.rmdir("/"), "EBUSY");
        await fails(a.backend.rename("/", "/x"), "EBUSY");
        await fails(a.fs.readTextFile("/../parent-secret.txt"), "ENOENT");
        assert.equal(await a.fs.realPath("/../../.."), "/");
      },
    },
    {
      name: "symlink loops end in ELOOP, never in a hang or a host path",
      async plant(a) {
        await Deno.symlink("loop2", `${a.root}/loop1`);
        await Deno.symlink("loop1", `${a.root}/loop2`);
        await Deno.symlink("self/x", `${a.root}/self`);
      },
      async run(a) {
        await fails(a.fs.readTextFile("/loop1"), "ELOOP");
        await fails(a.fs.readTextFile("/self"), "ELOOP");
        await fails(a.fs.writeTextFile("/loop1/x", "x"), "ELOOP");
        await fails(a.backend.readDir("/loop1"), "ENOTDIR");
        await fails(a.backend.readFile("/loop2"), "ELOOP");
      },
    },
    {
      name: "a chain of symlinks ending outside resolves inside the root",
      async plant(a) {
        await Deno.symlink("c2", `${a.root}/c1`);
        await Deno.symlink("/c3", `${a.root}/c2`);
        await Deno.symlink(`${a.outside}`, `${a.root}/c3`);
      },
      async run(a) {
        await fails(a.fs.readTextFile("/c1/secret.txt"), "ENOENT");
        await fails(a.fs.readDir("/c1")[Symbol.asyncIterator]().next(), "ENOENT");
      },
    },
    {
      name: "a chain of 45 symlinks is ELOOP",
      async plant(a) {
        for (let i = 0; i < 45; i++) await Deno.symlink(`l${i + 1}`, `${a.root}/l${i}`);
        await Deno.writeTextFile(`${a.root}/l45`, "end");
      },
      async run(a) {
        await fails(a.fs.readTextFile("/l0"), "ELOOP");
        assert.equal(await a.fs.readTextFile("/l10"), "end"); // 35 links: within the limit
      },
    },
    {
      name: "symlinks that stay inside the root work",
      async plant(a) {
        await Deno.mkdir(`${a.root}/sub`);
        await Deno.writeTextFile(`${a.root}/sub/f.txt`, "inside");
        await Deno.symlink("sub", `${a.root}/in-rel`);
        await Deno.symlink("/sub/f.txt", `${a.root}/in-abs`);
      },
      async run(a) {
        assert.equal(await a.fs.readTextFile("/in-rel/f.txt"), "inside");
        assert.equal(await a.fs.readTextFile("/in-abs"), "inside");
        await a.fs.writeTextFile("/in-rel/g.txt", "new");
        assert.equal(await Deno.readTextFile(`${a.root}/sub/g.txt`), "new");
      },
    },
    {
      name: "symlinks made through the backend are stored verbatim and resolved inside",
      async run(a) {
        await a.backend.symlink(`${a.outside}/secret.txt`, "/p1");
        await a.backend.symlink("../../../../../../outside/secret.txt", "/p2");
        await a.backend.symlink("/etc/passwd", "/p3");
        assert.equal(await a.backend.readLink("/p1"), `${a.outside}/secret.txt`);
        assert.equal(await a.backend.readLink("/p2"), "../../../../../../outside/secret.txt");
        for (const p of ["/p1", "/p2", "/p3"]) await fails(a.fs.readTextFile(p), "ENOENT");
        await a.fs.mkdir("/outside");
        await a.fs.writeTextFile("/outside/secret.txt", "the root's own");
        assert.equal(await a.fs.readTextFile("/p2"), "the root's own");
      },
    },
    {
      name: "symlink targets with NUL or beyond PATH_MAX are refused",
      async run(a) {
        await fails(a.backend.symlink("/etc\0/passwd", "/n"), "EINVAL");
        await fails(a.backend.symlink("/a".repeat(2100), "/n"), "ENAMETOOLONG");
        await fails(a.backend.symlink("", "/n"), "ENOENT");
      },
    },
  ];
}

function names(): EscapeCase[] {
  const tricky = [
    ["fullwidth solidus", "..\uff0f..\uff0foutside\uff0fsecret.txt"],
    ["division slash", "..\u2215..\u2215outside"],
    ["one-dot leaders", "\u2024\u2024"],
    ["combining dot over a dot", ".\u0307"],
    ["dot dot with a combining mark", "..\u0338"],
    ["right-to-left override", "\u202etxt.terces"],
    ["zero-width joiner dots", ".\u200d."],
    ["backslashes", "..\\..\\outside\\secret.txt"],
    ["percent-encoded dots", "%2e%2e"],
    ["dot dot space", ".. "],
    ["three dots", "..."],
    ["newline and tab", "a\nb\tc"],
  ];
  return [
    ...tricky.map(([label, name]): EscapeCase => ({
      name: `${label} is just a name inside the root`,
      async run(a) {
        const p = `/${name}`;
        await fails(a.backend.lstat(p), "ENOENT");
        await a.backend.writeFile(p, enc.encode("mine"));
        assert.equal(dec.decode(await a.backend.readFile(p)), "mine");
        assert.deepEqual((await a.backend.readDir("/")).map((e) => e.name), [name]);
        assert.deepEqual([...await tree(a.root)], [name]);
        await a.backend.unlink(p);
      },
    })),
    {
      name: "NUL bytes are EINVAL wherever they appear",
      async run(a) {
        for (const p of ["/a\0b", "/\0", "/x\0/../../outside/secret.txt", "/ok/\0"]) {
          await fails(a.backend.lstat(p), "EINVAL");
          await fails(a.backend.writeFile(p, enc.encode("x")), "EINVAL");
          await fails(a.backend.mkdir(p), "EINVAL");
        }
        await fails(a.fs.writeTextFile("/a\0b", "x"), "EINVAL");
      },
    },
    {
      name: "overlong names and paths are ENAMETOOLONG",
      async run(a) {
        await fails(a.backend.writeFile("/" + "n".repeat(256), enc.encode("x")), "ENAMETOOLONG");
        await fails(a.backend.mkdir("/" + "é".repeat(128)), "ENAMETOOLONG");
        await fails(a.backend.lstat(("/" + "d".repeat(200)).repeat(21)), "ENAMETOOLONG");
        await a.backend.writeFile("/" + "n".repeat(255), enc.encode("ok"));
      },
    },
  ];
}

function hardLinks(): EscapeCase[] {
  return [
    {
      name:
        "a hard link planted from outside is inside the root (documented): it is the same inode",
      async plant(a) {
        // A separate file, not a canary: reading it through the root is the
        // documented behaviour (containment is by name).
        await Deno.writeTextFile(`${a.base}/shared.txt`, "shared inode");
        await Deno.link(`${a.base}/shared.txt`, `${a.root}/planted`);
      },
      async run(a) {
        assert.equal(dec.decode(await a.backend.readFile("/planted")), "shared inode");
        assert.equal((await a.backend.lstat("/planted")).nlink, 2);
        assert.equal(
          (await a.backend.lstat("/planted")).ino,
          (await Deno.lstat(`${a.base}/shared.txt`)).ino,
        );
        await Deno.remove(`${a.base}/shared.txt`);
      },
    },
    {
      name: "hard links made through the backend can only name inodes inside the root",
      async run(a) {
        await fails(a.backend.link(`${a.outside}/secret.txt`, "/stolen"), "ENOENT");
        await fails(a.backend.link("/../outside/secret.txt", "/stolen"), "EINVAL");
      },
    },
  ];
}

function special(): EscapeCase[] {
  return [
    {
      name: "a FIFO planted in the root is never opened (no hang): ENXIO",
      async plant(a) {
        const r = await new Deno.Command("mkfifo", { args: [`${a.root}/fifo`] }).output();
        assert.equal(r.code, 0);
      },
      async run(a) {
        assert.equal((await a.backend.lstat("/fifo")).type, "fifo");
        await fails(a.backend.readFile("/fifo"), "ENXIO");
        await fails(a.backend.open("/fifo", { write: true }), "ENXIO");
        await fails(a.backend.writeFile("/fifo", enc.encode("x")), "ENXIO");
        await a.backend.unlink("/fifo");
      },
    },
    {
      name: "a device node reference (/dev/zero as a symlink target) is never opened",
      plant: (a) => Deno.symlink("/dev/zero", `${a.root}/zero`),
      async run(a) {
        await fails(a.backend.readFile("/zero"), "ELOOP");
        await fails(a.fs.readFile("/zero"), "ENOENT");
      },
    },
  ];
}

const CASES: EscapeCase[] = [
  ...nonCanonical(),
  ...plantedLinks(),
  ...names(),
  ...hardLinks(),
  ...special(),
];

// ---------------------------------------------------------------- arena

async function makeArena(containment: Containment): Promise<Arena> {
  const base = await Deno.makeTempDir({ prefix: "anyfs_escape_" });
  await plantCanaries(base);
  const root = `${base}/root`;
  await Deno.mkdir(root);
  const backend = await VRootFsBackend.open(root, { containment });
  assert.equal(await backend.containment(), containment);
  const canaryInos = new Set<number>();
  for (const [rel] of CANARIES) canaryInos.add((await Deno.lstat(`${base}/${rel}`)).ino!);
  canaryInos.add((await Deno.lstat(base)).ino!);
  return {
    base,
    root,
    outside: `${base}/outside`,
    backend,
    fs: new FileStorage(backend),
    canaryInos,
  };
}

async function clearRoot(a: Arena): Promise<void> {
  for await (const e of Deno.readDir(a.root)) {
    await Deno.remove(`${a.root}/${e.name}`, { recursive: true });
  }
}

async function dropArena(a: Arena): Promise<void> {
  await a.backend.close();
  await Deno.remove(a.base, { recursive: true });
}

Deno.test("escape arena self-check: this file system moves atime when a canary is read", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anyfs_escape_probe_" });
  try {
    await Deno.writeTextFile(`${dir}/probe`, "x");
    await Deno.utime(`${dir}/probe`, 0, (await Deno.lstat(`${dir}/probe`)).mtime!);
    const before = (await Deno.lstat(`${dir}/probe`)).atime?.getTime();
    await Deno.readTextFile(`${dir}/probe`);
    const after = (await Deno.lstat(`${dir}/probe`)).atime?.getTime();
    assert.notEqual(
      after,
      before,
      "reads do not move atime here (noatime?): the escape test could not see reads",
    );
    await Deno.utime(dir, 0, (await Deno.lstat(dir)).mtime!);
    for await (const _ of Deno.readDir(dir)) { /* list it */ }
    assert.notEqual((await Deno.lstat(dir)).atime?.getTime(), 0, "listings must move atime too");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (const containment of ["anchored", "checked"] as const) {
  Deno.test(`VRootFsBackend (${containment}) resists ${CASES.length} hostile cases`, async (t) => {
    const a = await makeArena(containment);
    try {
      const names = await treeOutsideRoot(a);
      await zeroAtimes(a.base);
      const before = await canaryState(a.base);
      for (const c of CASES) {
        await t.step(c.name, async () => {
          await clearRoot(a);
          await c.plant?.(a);
          await c.run(a);
          assert.deepEqual(await canaryState(a.base), before, "a canary outside the root changed");
        });
      }
      assert.deepEqual(await treeOutsideRoot(a), names, "something appeared outside the root");
    } finally {
      await dropArena(a);
    }
  });
}

/** The names of the base directory and below, except inside the root. */
async function treeOutsideRoot(a: Arena): Promise<string[]> {
  return (await tree(a.base)).filter((n) => n !== "root" && !n.startsWith("root/"));
}

// ---------------------------------------------------------------- races

/** A tree both the racing operations and the swappers use. */
async function plantRaceTree(a: Arena): Promise<void> {
  await Deno.mkdir(`${a.root}/d`);
  await Deno.writeTextFile(`${a.root}/d/f`, "INSIDE");
  await Deno.writeTextFile(`${a.root}/f2`, "INSIDE2");
}

interface RaceTally {
  inside: number;
  refused: number;
}

/**
 * Operations on the names the swapper flips; every outcome must be an
 * inside result or a refusal, never a canary's content, name or inode.
 */
async function hammer(a: Arena, until: () => boolean, tally: RaceTally): Promise<void> {
  const b = a.backend;
  const ok = new Set(["ENOENT", "ENOTDIR", "ELOOP", "EEXIST", "ENOTSUP", "EISDIR"]);
  const attempt = async (label: string, run: () => Promise<void>) => {
    try {
      await run();
      tally.inside++;
    } catch (e) {
      const c = (e as { code?: string }).code;
      if (c === undefined || !ok.has(c)) {
        throw new Error(`${label}: unexpected ${c}: ${e}`, { cause: e });
      }
      tally.refused++;
    }
  };
  for (let i = 0; until(); i++) {
    await Promise.all([
      attempt("readFile d/f", async () => {
        assert.equal(dec.decode(await b.readFile("/d/f")), "INSIDE");
      }),
      attempt("readFile d/secret.txt", async () => {
        await b.readFile("/d/secret.txt");
        assert.fail("read a file that exists only outside");
      }),
      attempt("lstat d/secret.txt", async () => {
        noCanaryIno(a, await b.lstat("/d/secret.txt"), "lstat");
        assert.fail("stat'ed a file that exists only outside");
      }),
      attempt("readDir d", async () => {
        const list = await b.readDir("/d");
        noCanaryIno(a, list, "readDir");
        for (const e of list) assert.ok(!["secret.txt", "dir", "passwd"].includes(e.name), e.name);
      }),
      attempt("writeFile d/new", () => b.writeFile(`/d/new-${i}`, enc.encode("pwned"))),
      attempt("mkdir d/m", () => b.mkdir(`/d/m-${i}`)),
      attempt("chmod d/f", () => b.chmod("/d/f", 0o600 + (i & 7))),
      attempt("utime d/f", () => b.utime("/d/f", 5_000, 6_000)),
      // Content may be mid-rewrite (writes truncate first, truncate grows
      // with zeros), but only ever made of the inside file's bytes.
      attempt("readFile f2", async () => {
        const text = dec.decode(await b.readFile("/f2"));
        assert.match(text, /^[INSDE2\0]*$/, JSON.stringify(text));
      }),
      attempt("write f2", () => b.writeFile("/f2", enc.encode("INSIDE2"), { create: false })),
      attempt("truncate f2", () => b.truncate("/f2", 7)),
      attempt("chmod f2", () => b.chmod("/f2", 0o644)),
      attempt("read f2", async () => {
        const text = dec.decode(await b.read("/f2", 0, 6));
        assert.match(text, /^[INSDE2\0]*$/, JSON.stringify(text));
      }),
    ]);
  }
}

/** The swapper of another process: flips `d` and `f2` between the real thing and links out, as fast as it can. */
const SWAPPER = `
const [root, outside, stopFile] = Deno.args;
let flips = 0;
const exists = (p) => { try { Deno.lstatSync(p); return true; } catch { return false; } };
while (!exists(stopFile)) {
  Deno.renameSync(root + "/d", root + "/d.real");
  Deno.symlinkSync(outside, root + "/d");
  Deno.renameSync(root + "/f2", root + "/f2.real");
  Deno.symlinkSync(outside + "/secret.txt", root + "/f2");
  Deno.removeSync(root + "/d");
  Deno.renameSync(root + "/d.real", root + "/d");
  Deno.removeSync(root + "/f2");
  Deno.renameSync(root + "/f2.real", root + "/f2");
  flips++;
}
console.log(flips);
`;

Deno.test("VRootFsBackend (anchored): a directory swapped for a symlink by another process mid-operation never leads out", async () => {
  const a = await makeArena("anchored");
  try {
    await plantRaceTree(a);
    const names = await treeOutsideRoot(a);
    await zeroAtimes(a.base);
    const before = await canaryState(a.base);
    const script = `${a.base}/swapper.js`;
    const stop = `${a.base}/stop`;
    await Deno.writeTextFile(script, SWAPPER);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", script, a.root, a.outside, stop],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const tally = { inside: 0, refused: 0 };
    const end = Date.now() + 2_500;
    try {
      await hammer(a, () => Date.now() < end, tally);
    } finally {
      await Deno.writeTextFile(stop, "");
    }
    const out = await child.output();
    await Deno.remove(stop);
    assert.equal(out.code, 0, dec.decode(out.stderr));
    const flips = Number(dec.decode(out.stdout).trim());
    // The race must really have happened for the test to mean anything.
    assert.ok(flips > 100, `the swapper flipped only ${flips} times`);
    assert.ok(tally.inside > 0 && tally.refused > 0, JSON.stringify(tally));
    assert.deepEqual(await canaryState(a.base), before, "a canary outside the root changed");
    assert.deepEqual(
      (await treeOutsideRoot(a)).filter((n) => n !== "swapper.js"),
      names,
      "something appeared outside the root",
    );
  } finally {
    await dropArena(a);
  }
});

/**
 * The same swap done through the backend itself (what a guest behind a
 * mount or a FileStorage can do): with both strategies, operations that
 * plant links wait for operations in flight, so none can be redirected.
 */
async function backendSwapper(b: Backend & VRootFsBackend, outside: string, until: () => boolean) {
  let flips = 0;
  while (until()) {
    await b.rename("/d", "/d.real");
    await b.symlink(outside, "/d");
    await b.rename("/f2", "/f2.real");
    await b.symlink(`${outside}/secret.txt`, "/f2");
    await b.unlink("/d");
    await b.rename("/d.real", "/d");
    await b.unlink("/f2");
    await b.rename("/f2.real", "/f2");
    flips++;
  }
  return flips;
}

for (const containment of ["anchored", "checked"] as const) {
  Deno.test(`VRootFsBackend (${containment}): a swap raced through the backend's own API never leads out`, async () => {
    const a = await makeArena(containment);
    try {
      await plantRaceTree(a);
      // The swapper's absolute link targets are host paths of the outside.
      const names = await treeOutsideRoot(a);
      await zeroAtimes(a.base);
      const before = await canaryState(a.base);
      const tally = { inside: 0, refused: 0 };
      const end = Date.now() + 1_500;
      const [flips] = await Promise.all([
        backendSwapper(a.backend, a.outside, () => Date.now() < end),
        hammer(a, () => Date.now() < end, tally),
      ]);
      assert.ok(flips > 10, `only ${flips} flips`);
      assert.ok(tally.inside > 0 && tally.refused > 0, JSON.stringify(tally));
      assert.deepEqual(await canaryState(a.base), before, "a canary outside the root changed");
      assert.deepEqual(await treeOutsideRoot(a), names, "something appeared outside the root");
    } finally {
      await dropArena(a);
    }
  });
}
