// DualBackend: each dispatch policy does what its row of the table says,
// B is never written under any of them, and the conformance kit passes on
// every policy (each case on an empty A over an empty B).
import assert from "node:assert/strict";
import { DUAL_POLICIES, DualBackend, type DualPolicy } from "../../src/backends/dual.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { SqliteBackend } from "../../src/backends/sqlite.ts";
import type { Backend } from "../../src/core/backend.ts";
import { S_IFCHR } from "../../src/core/types.ts";
import { FileStorage } from "../../src/storage/file_storage.ts";
import { conformanceSuite } from "../../src/testing/conformance.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

for (const policy of DUAL_POLICIES) {
  conformanceSuite(
    `DualBackend(${policy})`,
    () => new DualBackend(new MemoryBackend(), new MemoryBackend(), policy),
  );
}
conformanceSuite("DualBackend(mergeReadsAPrecedence, Sqlite A)", () => {
  const a = SqliteBackend.memory();
  const dual = new DualBackend(a, new MemoryBackend(), "mergeReadsAPrecedence") as
    & DualBackend
    & { close?: () => void };
  dual.close = () => a.close();
  return dual;
});

/** B: a small tree that every test checks is left exactly as it was. */
async function makeB(): Promise<MemoryBackend> {
  const b = new MemoryBackend();
  await b.mkdir("/docs");
  await b.writeFile("/docs/readme", enc.encode("from B"));
  await b.writeFile("/docs/guide", enc.encode("guide B"));
  await b.mkdir("/docs/img");
  await b.writeFile("/top", enc.encode("top B"));
  return b;
}

async function contentOf(backend: Backend): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const e of await backend.readDir(dir)) {
      const path = dir === "/" ? `/${e.name}` : `${dir}/${e.name}`;
      const meta = await backend.lstat(path);
      out[path] = meta.type === "file"
        ? dec.decode(await backend.readFile(path))
        : `${meta.type} ${(meta.mode & 0o7777).toString(8)}`;
      if (meta.type === "dir") await walk(path);
    }
  };
  await walk("/");
  return out;
}

async function names(fs: FileStorage, dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of fs.readDir(dir)) out.push(e.name);
  return out.sort();
}

async function rejects(action: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(action, (e: { code?: string }) => {
    assert.equal(e.code, code);
    return true;
  });
}

async function setup(policy: DualPolicy) {
  const a = new MemoryBackend();
  const b = await makeB();
  const before = await contentOf(b);
  const dual = new DualBackend(a, b, policy);
  return { a, b, before, dual, fs: new FileStorage(dual) };
}

Deno.test("DualBackend: an unknown policy is EINVAL", () => {
  assert.throws(
    () => new DualBackend(new MemoryBackend(), new MemoryBackend(), "bOnly" as DualPolicy),
    (e: { code?: string }) => e.code === "EINVAL",
  );
});

Deno.test("DualBackend(readBWriteA) is the overlay of A over B", async () => {
  const { a, b, before, fs } = await setup("readBWriteA");
  assert.deepEqual(await names(fs, "/docs"), ["guide", "img", "readme"]);
  await fs.writeTextFile("/docs/readme", "changed in A");
  await fs.remove("/docs/guide");
  await fs.remove("/top");
  assert.deepEqual(await names(fs, "/docs"), ["img", "readme"]);
  assert.deepEqual(await names(fs, "/"), ["docs"]);
  assert.equal(await fs.readTextFile("/docs/readme"), "changed in A");
  assert.equal(dec.decode(await a.readFile("/docs/readme")), "changed in A");
  await fs.rename("/docs", "/moved");
  assert.deepEqual(await names(fs, "/moved"), ["img", "readme"]);
  assert.deepEqual(await contentOf(b), before);
});

Deno.test("DualBackend(aOnly): B is never consulted", async () => {
  const { a, b, before, dual, fs } = await setup("aOnly");
  assert.deepEqual(await names(fs, "/"), []);
  await rejects(fs.lstat("/docs/readme"), "ENOENT");
  await fs.mkdir("/docs");
  await fs.writeTextFile("/docs/readme", "A only");
  assert.deepEqual(await names(fs, "/docs"), ["readme"]);
  assert.equal(dec.decode(await a.readFile("/docs/readme")), "A only");
  await fs.remove("/docs", { recursive: true });
  assert.deepEqual(await names(fs, "/"), []);
  // No whiteouts exist under this policy: a 0/0 device is just a device.
  await dual.mknod("/dev0", S_IFCHR | 0o600, 0);
  assert.equal((await fs.lstat("/dev0")).isCharDevice, true);
  assert.deepEqual(await contentOf(b), before);
});

Deno.test("DualBackend(aThenFallbackToBRead): per-name fallback, A's listings, B shows again", async () => {
  const { a, b, before, fs } = await setup("aThenFallbackToBRead");
  // Nothing in A: B answers, listings too.
  assert.equal(await fs.readTextFile("/docs/readme"), "from B");
  assert.deepEqual(await names(fs, "/docs"), ["guide", "img", "readme"]);
  // A write to a B file copies it to A first.
  await fs.writeTextFile("/docs/readme", "A's readme");
  assert.equal(await fs.readTextFile("/docs/readme"), "A's readme");
  assert.equal(dec.decode(await a.readFile("/docs/readme")), "A's readme");
  // Now A has /docs: its listing is A's alone, yet B's other names still open.
  assert.deepEqual(await names(fs, "/docs"), ["readme"]);
  assert.equal(await fs.readTextFile("/docs/guide"), "guide B");
  assert.equal((await fs.stat("/docs/img")).isDirectory, true);
  // Removing A's entry falls back to B's again.
  await fs.remove("/docs/readme");
  assert.equal(await fs.readTextFile("/docs/readme"), "from B");
  // B's own names cannot be removed or moved.
  await rejects(fs.remove("/docs/guide"), "EROFS");
  await rejects(fs.rename("/top", "/renamed"), "EXDEV");
  assert.deepEqual(await contentOf(b), before);
});

Deno.test("DualBackend(mergeReadsAPrecedence): merged listings, A wins, B cannot be hidden", async () => {
  const { a, b, before, dual, fs } = await setup("mergeReadsAPrecedence");
  await fs.writeTextFile("/docs/readme", "A's readme");
  await fs.writeTextFile("/docs/notes", "A's notes");
  assert.deepEqual(await names(fs, "/docs"), ["guide", "img", "notes", "readme"]);
  assert.equal(await fs.readTextFile("/docs/readme"), "A's readme");
  assert.equal((await dual.lstat("/docs")).nlink, 3);
  // Removing A's copy reverts to B's.
  await fs.remove("/docs/readme");
  assert.equal(await fs.readTextFile("/docs/readme"), "from B");
  await rejects(fs.remove("/docs/guide"), "EROFS");
  await rejects(fs.remove("/docs/img"), "EROFS");
  await rejects(fs.rename("/docs/guide", "/guide"), "EXDEV");
  // A directory holding B's entries is not empty, and an A-only name moves freely.
  await rejects(fs.remove("/docs"), "ENOTEMPTY");
  await fs.rename("/docs/notes", "/notes");
  assert.equal(await fs.readTextFile("/notes"), "A's notes");
  // chmod of a B entry copies it to A; B keeps its mode.
  await fs.chmod("/top", 0o600);
  assert.equal(((await fs.stat("/top")).mode ?? 0) & 0o777, 0o600);
  assert.equal((await a.lstat("/top")).mode & 0o777, 0o600);
  assert.deepEqual(await contentOf(b), before);
});

// Found while fixing Overlay's lower hard links: under the policies that
// let B show again, a copied-up file kept B's number. Hard-linked in A and
// then removed under its first name, B's file came back with that number
// while A's other link still had it: two files, one number, which a mount's
// kernel takes for one inode (writes to one name land in the other).
for (const policy of ["mergeReadsAPrecedence", "aThenFallbackToBRead"] as const) {
  Deno.test(`DualBackend(${policy}): two files never share an inode number`, async () => {
    const { b, before, fs } = await setup(policy);
    await fs.writeTextFile("/top", "A's top");
    await fs.link("/top", "/top.hard");
    const copy = (await fs.lstat("/top")).ino;
    assert.equal((await fs.lstat("/top.hard")).ino, copy);
    await fs.remove("/top");
    // B's file shows again, as another file than the one A still has.
    assert.equal(await fs.readTextFile("/top"), "top B");
    assert.equal(await fs.readTextFile("/top.hard"), "A's top");
    assert.notEqual((await fs.lstat("/top")).ino, (await fs.lstat("/top.hard")).ino);
    assert.equal((await fs.lstat("/top.hard")).ino, copy);
    assert.deepEqual(await contentOf(b), before);
  });

  Deno.test(`DualBackend(${policy}): an open copy and B's file show two numbers`, async () => {
    const { b, before, dual, fs } = await setup(policy);
    const docs = (await fs.lstat("/docs")).ino;
    await fs.writeTextFile("/docs/readme", "A's readme");
    // A directory copied to A keeps B's number: its copy goes when B's shows again.
    assert.equal((await fs.lstat("/docs")).ino, docs);
    const handle = await dual.open("/docs/readme", { read: true });
    try {
      await fs.remove("/docs/readme");
      assert.equal(await fs.readTextFile("/docs/readme"), "from B");
      assert.notEqual((await handle.stat()).ino, (await fs.lstat("/docs/readme")).ino);
      assert.equal(dec.decode(await handle.read(0, 100)), "A's readme");
    } finally {
      await handle.close();
    }
    assert.deepEqual(await contentOf(b), before);
  });
}

for (const policy of ["mergeReadsAPrecedence", "aThenFallbackToBRead"] as const) {
  Deno.test(`DualBackend(${policy}): B's hard links come to A as one file`, async () => {
    const { b, dual, fs } = await setup(policy);
    await b.link("/docs/guide", "/guide.hard");
    const before = await contentOf(b);
    await fs.writeTextFile("/docs/guide", "A's guide");
    // Both names were one file, and stay one: a name left on B's file would
    // get writes a mount's kernel sends for the other (it holds them as one).
    assert.equal(await fs.readTextFile("/guide.hard"), "A's guide");
    const [guide, hard] = [await fs.lstat("/docs/guide"), await fs.lstat("/guide.hard")];
    assert.equal(guide.ino, hard.ino);
    assert.equal(guide.nlink, 2);
    await dual.appendFile("/guide.hard", enc.encode("!"));
    assert.equal(await fs.readTextFile("/docs/guide"), "A's guide!");
    // Removing one name shows B's file again there, as another file.
    await fs.remove("/docs/guide");
    assert.equal(await fs.readTextFile("/docs/guide"), "guide B");
    assert.notEqual((await fs.lstat("/docs/guide")).ino, (await fs.lstat("/guide.hard")).ino);
    // A change to it makes a new copy, not a link of A's other file.
    await fs.writeTextFile("/docs/guide", "again");
    assert.equal(await fs.readTextFile("/guide.hard"), "A's guide!");
    assert.notEqual((await fs.lstat("/docs/guide")).ino, (await fs.lstat("/guide.hard")).ino);
    assert.deepEqual(await contentOf(b), before);
  });
}

Deno.test("DualBackend(mergeReadsAPrecedence): an A layer whose copies kept B's numbers does not reuse them", async () => {
  // Copies made by the overlay policy (or by this policy before the fix)
  // record B's number in A; this policy must not report it for files.
  const { a, b, dual: overlay } = await setup("readBWriteA");
  await new FileStorage(overlay).writeTextFile("/top", "A's top");
  const fs = new FileStorage(new DualBackend(a, b, "mergeReadsAPrecedence"));
  await fs.link("/top", "/top.hard");
  await fs.remove("/top");
  assert.notEqual((await fs.lstat("/top")).ino, (await fs.lstat("/top.hard")).ino);
});

Deno.test("DualBackend(readBWriteA): a copied-up file keeps B's number (B's never shows again)", async () => {
  const { fs } = await setup("readBWriteA");
  const ino = (await fs.lstat("/top")).ino;
  await fs.writeTextFile("/top", "A's top");
  await fs.link("/top", "/top.hard");
  await fs.remove("/top");
  assert.equal((await fs.lstat("/top.hard")).ino, ino);
  await rejects(fs.lstat("/top"), "ENOENT");
});
