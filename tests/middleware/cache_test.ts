// Cache: hits really skip the backend, and every change that passes through
// the cache — by any path, any name of a hard-linked inode, any handle —
// is visible at once; a read racing a write never stores stale data.
import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { type Backend, capabilitiesOf } from "../../src/core/backend.ts";
import type { DirEntry, Metadata } from "../../src/core/types.ts";
import { Cache, type CacheOptions } from "../../src/middleware/cache.ts";
import { Middleware } from "../../src/middleware/middleware.ts";
import { FileStorage } from "../../src/storage/file_storage.ts";
import { runDifferential } from "../../src/testing/differential.ts";
import { SeededRandom } from "../../src/testing/prng.ts";
import { coreOnly } from "../fixtures/core_only.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (s: string) => enc.encode(s);

/** Counts the calls that reach the backend, by method. */
class Counting extends Middleware<MemoryBackend> {
  calls: Record<string, number> = {};
  constructor(inner = new MemoryBackend()) {
    super(inner);
  }
  #count(op: string) {
    this.calls[op] = (this.calls[op] ?? 0) + 1;
  }
  override lstat(p: string): Promise<Metadata> {
    this.#count("lstat");
    return super.lstat(p);
  }
  override readDir(p: string): Promise<DirEntry[]> {
    this.#count("readDir");
    return super.readDir(p);
  }
  override readFile(p: string): Promise<Uint8Array> {
    this.#count("readFile");
    return super.readFile(p);
  }
  override read(p: string, offset: number, length: number): Promise<Uint8Array> {
    this.#count("read");
    return super.read(p, offset, length);
  }
  override readLink(p: string): Promise<string> {
    this.#count("readLink");
    return super.readLink(p);
  }
  reset() {
    this.calls = {};
  }
}

function setup(options: CacheOptions = {}) {
  const counting = new Counting();
  const cache = new Cache(counting, options);
  return { counting, cache, memory: counting.inner };
}

Deno.test("hits skip the backend: data, metadata, listings and link targets", async () => {
  const { counting, cache } = await setup();
  await cache.mkdir("/d");
  await cache.writeFile("/d/f", bytes("hello"));
  await cache.symlink("f", "/d/l");
  for (let i = 0; i < 2; i++) {
    assert.equal(dec.decode(await cache.readFile("/d/f")), "hello");
    assert.equal((await cache.lstat("/d/f")).size, 5);
    assert.deepEqual((await cache.readDir("/d")).map((e) => e.name).sort(), ["f", "l"]);
    assert.equal(await cache.readLink("/d/l"), "f");
  }
  counting.reset();
  assert.equal(dec.decode(await cache.readFile("/d/f")), "hello");
  await cache.lstat("/d/f");
  await cache.readDir("/d");
  await cache.readLink("/d/l");
  assert.deepEqual(counting.calls, {}, "nothing reached the backend");
  const stats = cache.stats();
  assert.ok(stats.hits >= 4);
  assert.ok(stats.misses >= 4);
  assert.ok(stats.entries > 0 && stats.bytes > 0);
});

Deno.test("callers get copies: mutating a result never changes the cache", async () => {
  const { cache } = await setup();
  await cache.writeFile("/f", bytes("abc"));
  await cache.readFile("/f");
  (await cache.readFile("/f"))[0] = 0x7a;
  assert.equal(dec.decode(await cache.readFile("/f")), "abc");
  (await cache.lstat("/f")).size = 99;
  assert.equal((await cache.lstat("/f")).size, 3);
  (await cache.readDir("/"))[0].name = "zzz";
  assert.equal((await cache.readDir("/"))[0].name, "f");
});

Deno.test("errors are never cached and come from the backend", async () => {
  const { counting, cache } = await setup();
  for (let i = 0; i < 2; i++) {
    await assert.rejects(cache.readFile("/missing"), { code: "ENOENT" });
    await assert.rejects(cache.lstat("/missing"), { code: "ENOENT" });
  }
  assert.equal(counting.calls.readFile, 2);
  await cache.mkdir("/dir");
  await assert.rejects(cache.readFile("/dir"), { code: "EISDIR" });
  await cache.writeFile("/missing", bytes("now"));
  assert.equal(dec.decode(await cache.readFile("/missing")), "now");
});

Deno.test("every write path invalidates data and metadata", async (t) => {
  const cases: [string, (c: Cache) => Promise<unknown>, string][] = [
    ["writeFile", (c) => c.writeFile("/f", bytes("new")), "new"],
    ["appendFile", (c) => c.appendFile("/f", bytes("++")), "old++"],
    ["truncate", (c) => c.truncate("/f", 1), "o"],
    ["copyFile onto it", async (c) => {
      await c.writeFile("/src", bytes("copied"));
      await c.copyFile("/src", "/f");
    }, "copied"],
    ["handle write", async (c) => {
      const h = await c.open("/f", { write: true });
      await h.write(bytes("O"), 0);
      await h.close();
    }, "Old"],
    ["handle truncate", async (c) => {
      const h = await c.open("/f", { write: true });
      await h.truncate(2);
      await h.close();
    }, "ol"],
    ["open with truncate", async (c) => {
      const h = await c.open("/f", { write: true, truncate: true });
      await h.close();
    }, ""],
    ["rename over it", async (c) => {
      await c.writeFile("/g", bytes("moved"));
      await c.rename("/g", "/f");
    }, "moved"],
  ];
  for (const [name, change, expected] of cases) {
    await t.step(name, async () => {
      const { cache } = await setup({ blockSize: 2 });
      await cache.writeFile("/f", bytes("old"));
      await cache.readFile("/f");
      await cache.read("/f", 0, 3);
      const before = await cache.lstat("/f");
      await change(cache);
      assert.equal(dec.decode(await cache.readFile("/f")), expected);
      assert.equal(dec.decode(await cache.read("/f", 0, 10)), expected);
      const after = await cache.lstat("/f");
      assert.equal(after.size, expected.length);
      if (name !== "rename over it") assert.equal(after.ino, before.ino);
    });
  }
});

Deno.test("metadata changes are visible: chmod, chown, utime, xattrs", async () => {
  const { cache } = await setup();
  await cache.writeFile("/f", bytes("x"));
  const before = await cache.lstat("/f");
  await cache.chmod("/f", 0o600);
  assert.equal((await cache.lstat("/f")).mode & 0o777, 0o600);
  await cache.chown("/f", 1234, 5678);
  const owned = await cache.lstat("/f");
  assert.equal(owned.uid, 1234);
  assert.equal(owned.gid, 5678);
  await cache.utime("/f", 1_000_000, 2_000_000);
  assert.equal((await cache.lstat("/f")).mtimeMs, 2_000_000);
  const ctime = (await cache.lstat("/f")).ctimeMs;
  await new Promise((r) => setTimeout(r, 2));
  await cache.setXattr("/f", "user.k", bytes("v"));
  assert.ok((await cache.lstat("/f")).ctimeMs > ctime, "setxattr changes ctime");
  assert.ok(before.ctimeMs <= ctime);
});

Deno.test("creations and removals update the parent's listing and metadata", async () => {
  const { cache } = await setup();
  await cache.mkdir("/d");
  const names = async () => (await cache.readDir("/d")).map((e) => e.name).sort();
  assert.deepEqual(await names(), []);
  const nlink = (await cache.lstat("/d")).nlink;
  await cache.writeFile("/d/f", bytes("1"));
  assert.deepEqual(await names(), ["f"]);
  await cache.mkdir("/d/sub");
  assert.deepEqual(await names(), ["f", "sub"]);
  assert.equal((await cache.lstat("/d")).nlink, nlink + 1);
  await cache.symlink("f", "/d/l");
  assert.deepEqual(await names(), ["f", "l", "sub"]);
  await cache.link("/d/f", "/d/h");
  assert.deepEqual(await names(), ["f", "h", "l", "sub"]);
  await cache.unlink("/d/l");
  await cache.rmdir("/d/sub");
  assert.deepEqual(await names(), ["f", "h"]);
  assert.equal((await cache.lstat("/d")).nlink, nlink);
  await assert.rejects(cache.lstat("/d/sub"), { code: "ENOENT" });
  await assert.rejects(cache.readLink("/d/l"), { code: "ENOENT" });
  const h = await cache.open("/d/new", { write: true, create: true });
  await h.close();
  assert.deepEqual(await names(), ["f", "h", "new"]);
});

Deno.test("rename moves everything under a directory: old paths are gone, new ones fresh", async () => {
  const { cache } = await setup();
  await cache.mkdir("/a");
  await cache.mkdir("/a/b");
  await cache.writeFile("/a/b/f", bytes("deep"));
  await cache.symlink("f", "/a/b/l");
  await cache.readFile("/a/b/f");
  await cache.readDir("/a/b");
  await cache.readLink("/a/b/l");
  await cache.rename("/a", "/z");
  await assert.rejects(cache.lstat("/a/b/f"), { code: "ENOENT" });
  await assert.rejects(cache.readFile("/a/b/f"), { code: "ENOENT" });
  await assert.rejects(cache.readDir("/a/b"), { code: "ENOENT" });
  await assert.rejects(cache.readLink("/a/b/l"), { code: "ENOENT" });
  assert.equal(dec.decode(await cache.readFile("/z/b/f")), "deep");
  // The moved file keeps its identity: writing through its new name is seen.
  await cache.writeFile("/z/b/f", bytes("changed"));
  assert.equal(dec.decode(await cache.readFile("/z/b/f")), "changed");
  // And a new directory at the old name starts empty.
  await cache.mkdir("/a");
  assert.deepEqual(await cache.readDir("/a"), []);
});

Deno.test("hard links: a write through one name is seen through every other", async (t) => {
  await t.step("link made through the cache", async () => {
    const { cache } = await setup();
    await cache.writeFile("/a", bytes("one"));
    assert.equal(dec.decode(await cache.readFile("/a")), "one");
    assert.equal((await cache.lstat("/a")).nlink, 1);
    await cache.link("/a", "/b");
    assert.equal((await cache.lstat("/a")).nlink, 2, "nlink of the old name is fresh");
    await cache.writeFile("/b", bytes("two"));
    assert.equal(dec.decode(await cache.readFile("/a")), "two");
    assert.equal((await cache.lstat("/a")).size, 3);
    await cache.chmod("/b", 0o600);
    assert.equal((await cache.lstat("/a")).mode & 0o777, 0o600);
    await cache.unlink("/b");
    assert.equal((await cache.lstat("/a")).nlink, 1);
  });
  await t.step("link that existed before the cache, other name never seen", async () => {
    const memory = new MemoryBackend();
    await memory.writeFile("/a", bytes("one"));
    await memory.link("/a", "/b");
    const cache = new Cache(memory);
    assert.equal(dec.decode(await cache.readFile("/a")), "one");
    await cache.read("/a", 0, 3);
    // /b was never looked at through the cache.
    await cache.writeFile("/b", bytes("changed"));
    assert.equal(dec.decode(await cache.readFile("/a")), "changed");
    assert.equal(dec.decode(await cache.read("/a", 0, 100)), "changed");
    const h = await cache.open("/b", { write: true });
    await h.write(bytes("C"), 0);
    await h.close();
    assert.equal(dec.decode(await cache.readFile("/a")), "Changed");
    await cache.truncate("/b", 1);
    assert.equal((await cache.lstat("/a")).size, 1);
  });
  await t.step("unlinking the last name and reusing the inode number", async () => {
    const { cache } = await setup();
    await cache.writeFile("/a", bytes("first"));
    const ino = (await cache.lstat("/a")).ino;
    await cache.readFile("/a");
    await cache.unlink("/a");
    // Whatever inode number the next file gets, its content is its own.
    for (let i = 0; i < 3; i++) {
      await cache.writeFile(`/n${i}`, bytes(`file ${i}`));
      assert.equal(dec.decode(await cache.readFile(`/n${i}`)), `file ${i}`);
    }
    assert.ok(typeof ino === "number");
  });
});

Deno.test("range reads are cached in blocks and served from a cached file", async () => {
  const { counting, cache } = await setup({ blockSize: 4 });
  const text = "0123456789abcdefghij"; // 20 bytes: 5 blocks
  await cache.writeFile("/f", bytes(text));
  assert.equal(dec.decode(await cache.read("/f", 3, 6)), text.slice(3, 9));
  counting.reset();
  assert.equal(dec.decode(await cache.read("/f", 4, 4)), text.slice(4, 8));
  assert.equal(dec.decode(await cache.read("/f", 3, 6)), text.slice(3, 9));
  assert.equal(counting.calls.read, undefined, "served from blocks");
  // Past the end, and across the last (short) block.
  assert.equal(dec.decode(await cache.read("/f", 18, 10)), "ij");
  assert.equal(dec.decode(await cache.read("/f", 25, 10)), "");
  counting.reset();
  assert.equal(dec.decode(await cache.read("/f", 16, 10)), "ghij");
  assert.equal(counting.calls.read, undefined);
  // Reads of the whole file fill a whole-file entry that serves every range.
  await cache.writeFile("/g", bytes(text));
  await cache.readFile("/g");
  counting.reset();
  assert.equal(dec.decode(await cache.read("/g", 7, 5)), text.slice(7, 12));
  assert.equal(counting.calls.read, undefined);
  // Bad arguments get the backend's own error.
  await assert.rejects(cache.read("/f", -1, 4), { code: "EINVAL" });
});

Deno.test("reads through handles come from cached data, and see writes of other handles", async () => {
  const { cache } = await setup({ blockSize: 4 });
  await cache.writeFile("/f", bytes("abcdefgh"));
  await cache.readFile("/f");
  const reader = await cache.open("/f", { read: true });
  assert.equal(dec.decode(await reader.read(2, 4)), "cdef");
  assert.equal(dec.decode(await reader.read(6, 10)), "gh");
  const writer = await cache.open("/f", { write: true });
  await writer.write(bytes("XY"), 2);
  assert.equal(dec.decode(await reader.read(0, 8)), "abXYefgh");
  await writer.close();
  await reader.close();
  assert.equal(dec.decode(await cache.readFile("/f")), "abXYefgh");
});

Deno.test("bounds: entries, bytes and the largest file kept whole", async () => {
  const { cache } = await setup({ maxEntries: 4, maxBytes: 1000, maxEntrySize: 100 });
  for (let i = 0; i < 10; i++) {
    await cache.writeFile(`/f${i}`, new Uint8Array(50).fill(i));
    await cache.readFile(`/f${i}`);
    const s = cache.stats();
    assert.ok(s.entries <= 4, `entries ${s.entries}`);
    assert.ok(s.bytes <= 1000, `bytes ${s.bytes}`);
  }
  assert.ok(cache.stats().evictions > 0);
  for (let i = 0; i < 10; i++) assert.equal((await cache.readFile(`/f${i}`))[0], i);

  const { counting, cache: small } = await setup({ maxEntrySize: 10 });
  await small.writeFile("/big", new Uint8Array(100));
  await small.readFile("/big");
  counting.reset();
  await small.readFile("/big");
  assert.equal(counting.calls.readFile, 1, "too big to keep whole");

  const { cache: tight } = await setup({ maxBytes: 300 });
  await tight.writeFile("/a", new Uint8Array(250));
  await tight.readFile("/a");
  assert.ok(tight.stats().bytes <= 300);
});

Deno.test("TTL: entries expire and the backend is asked again", async () => {
  let now = 0;
  const { counting, cache, memory } = await setup({ ttlMs: 1000, clock: () => now });
  await cache.writeFile("/f", bytes("v1"));
  await cache.readFile("/f");
  // A change behind the cache's back stays invisible until the entry expires…
  await memory.writeFile("/f", bytes("v2"));
  assert.equal(dec.decode(await cache.readFile("/f")), "v1");
  now += 999;
  assert.equal(dec.decode(await cache.readFile("/f")), "v1");
  now += 2;
  counting.reset();
  assert.equal(dec.decode(await cache.readFile("/f")), "v2");
  assert.equal(counting.calls.readFile, 1);
});

Deno.test("clear() drops everything after a change behind the cache's back", async () => {
  const { cache, memory } = await setup();
  await cache.writeFile("/f", bytes("v1"));
  await cache.readFile("/f");
  await memory.writeFile("/f", bytes("v2!"));
  assert.equal(dec.decode(await cache.readFile("/f")), "v1", "documented: stale until cleared");
  cache.clear();
  assert.equal(dec.decode(await cache.readFile("/f")), "v2!");
  assert.equal((await cache.lstat("/f")).size, 3);
  assert.equal(cache.stats().entries > 0, true);
});

Deno.test("metadata: false and data: false switch the two halves off", async () => {
  const { counting, cache } = await setup({ metadata: false });
  await cache.writeFile("/f", bytes("x"));
  await cache.lstat("/f");
  await cache.lstat("/f");
  assert.equal(counting.calls.lstat, 2);
  const { counting: c2, cache: noData } = await setup({ data: false });
  await noData.writeFile("/f", bytes("x"));
  await noData.readFile("/f");
  await noData.readFile("/f");
  assert.equal(c2.calls.readFile, 2);
});

Deno.test("bad options are EINVAL", () => {
  for (const options of [{ maxEntries: 0 }, { maxBytes: -1 }, { ttlMs: NaN }, { blockSize: 0.5 }]) {
    assert.throws(() => new Cache(new MemoryBackend(), options), { code: "EINVAL" });
  }
});

Deno.test("capabilities are the wrapped backend's; a core-only backend still works", async () => {
  const memory = new MemoryBackend();
  assert.deepEqual(capabilitiesOf(new Cache(memory)), capabilitiesOf(memory));
  const core = coreOnly(new MemoryBackend());
  const cache = new Cache(core);
  assert.deepEqual([...capabilitiesOf(cache)], []);
  await cache.writeFile("/f", bytes("abcdef"));
  assert.equal(dec.decode(await cache.read("/f", 1, 3)), "bcd");
  await cache.truncate("/f", 2);
  assert.equal(dec.decode(await cache.readFile("/f")), "ab");
  const h = await cache.open("/f", { write: true });
  await h.write(bytes("Z"), 0);
  await h.close();
  assert.equal(dec.decode(await cache.readFile("/f")), "Zb");
});

/** A result, or the error code it failed with. */
function outcome<T>(p: Promise<T>): Promise<T | string> {
  return p.catch((e) => `error ${e.code}`);
}

/**
 * A backend whose reads take their result from storage first and hand it
 * over only when released: what a slow network read looks like to a cache
 * when a write lands in between.
 */
class Gated extends Middleware<MemoryBackend> {
  gate: Promise<void> | undefined;
  #delay<T>(value: T): Promise<T> {
    const gate = this.gate;
    return gate ? gate.then(() => value) : Promise.resolve(value);
  }
  override async lstat(p: string) {
    return this.#delay(await super.lstat(p));
  }
  override async readDir(p: string) {
    return this.#delay(await super.readDir(p));
  }
  override async readFile(p: string) {
    return this.#delay(await super.readFile(p));
  }
  override async read(p: string, o: number, l: number) {
    return this.#delay(await super.read(p, o, l));
  }
}

Deno.test("a read that started before a write never stores what it read", async (t) => {
  const fills: [string, (c: Cache) => Promise<unknown>, (c: Cache) => Promise<unknown>][] = [
    ["readFile", (c) => c.readFile("/d/f"), async (c) => dec.decode(await c.readFile("/d/f"))],
    ["read", (c) => c.read("/d/f", 0, 10), async (c) => dec.decode(await c.read("/d/f", 0, 10))],
    ["lstat", (c) => c.lstat("/d/f"), async (c) => (await c.lstat("/d/f")).size],
    ["readDir", (c) => c.readDir("/d"), async (c) => (await c.readDir("/d")).length],
  ];
  const writes: [string, (c: Cache) => Promise<unknown>][] = [
    ["writeFile", (c) => c.writeFile("/d/f", bytes("new content"))],
    ["handle write", async (c) => {
      const h = await c.open("/d/f", { write: true });
      await h.write(bytes("NEW"), 0);
      await h.close();
    }],
    ["create a sibling", (c) => c.writeFile("/d/g", bytes("sibling"))],
  ];
  for (const [fillName, fill, observe] of fills) {
    for (const [writeName, write] of writes) {
      await t.step(`${fillName} racing ${writeName}`, async () => {
        const gated = new Gated(new MemoryBackend());
        const cache = new Cache(gated, { blockSize: 4 });
        await cache.mkdir("/d");
        await cache.writeFile("/d/f", bytes("old"));
        const truth = new Cache(gated.inner, { data: false, metadata: false });
        let release!: () => void;
        gated.gate = new Promise((r) => release = r);
        const racing = fill(cache);
        // Let the fill read the old state, then change it through the cache.
        await new Promise((r) => setTimeout(r, 0));
        gated.gate = undefined;
        await write(cache);
        release();
        await racing;
        assert.deepEqual(await observe(cache), await observe(truth));
      });
    }
  }
});

// Some runs with room for everything, some evicting all the time.
for (const [seed, maxEntries] of [[20240601, 64], [7, 64], [99, 6], [1234, 6], [5, 12]]) {
  Deno.test(`concurrent readers and writers agree with the backend after every batch (seed ${seed}, ${maxEntries} entries)`, async () => {
    const random = new SeededRandom(seed);
    /** Every backend call yields a few times, so cache fills and writes interleave. */
    class Jittery extends Middleware<MemoryBackend> {
      async #jitter() {
        for (let n = random.int(24); n > 0; n--) await null;
      }
      override async readFile(p: string) {
        const data = await super.readFile(p);
        await this.#jitter();
        return data;
      }
      override async read(p: string, o: number, l: number) {
        const data = await super.read(p, o, l);
        await this.#jitter();
        return data;
      }
      override async lstat(p: string) {
        const meta = await super.lstat(p);
        await this.#jitter();
        return meta;
      }
      override async readDir(p: string) {
        const list = await super.readDir(p);
        await this.#jitter();
        return list;
      }
      override async writeFile(p: string, d: Uint8Array, o?: object) {
        await this.#jitter();
        return super.writeFile(p, d, o);
      }
    }
    const memory = new MemoryBackend();
    const cache = new Cache(new Jittery(memory), { blockSize: 8, maxEntries });
    const names = ["/a", "/b", "/c", "/d/x", "/d/y"];
    await cache.mkdir("/d");
    for (const n of names) await cache.writeFile(n, bytes(n));
    await cache.link("/a", "/d/hard");
    const all = [...names, "/d/hard"];
    for (let batch = 0; batch < 200; batch++) {
      const ops: Promise<unknown>[] = [];
      for (let i = 0; i < 8; i++) {
        const p = all[random.int(all.length)];
        switch (random.int(10)) {
          case 0:
            ops.push(cache.writeFile(p, bytes(`${p}:${batch}:${i}:`.repeat(1 + random.int(3)))));
            break;
          case 1:
            ops.push(cache.appendFile(p, bytes("+")));
            break;
          case 2:
            ops.push(cache.truncate(p, random.int(12)));
            break;
          case 3:
            ops.push(cache.read(p, random.int(16), 1 + random.int(16)));
            break;
          case 4:
            ops.push(cache.lstat(p));
            break;
          case 5:
            ops.push(cache.readDir("/d"));
            break;
          case 6:
            // A new inode under the same name.
            ops.push(cache.unlink(p).finally(() => cache.writeFile(p, bytes(`re:${p}`))));
            break;
          case 7:
            ops.push(
              cache.rename(p, `${p}.tmp`).then(() => cache.rename(`${p}.tmp`, p)),
            );
            break;
          case 8:
            ops.push(cache.chmod(p, 0o600 + random.int(0o100)));
            break;
          default:
            ops.push(cache.readFile(p));
        }
      }
      // Some fail (ENOENT while a name is away): what matters is the state after.
      await Promise.allSettled(ops);
      for (const p of all) {
        const where = `${p} after batch ${batch}`;
        assert.deepEqual(
          await outcome(cache.readFile(p)),
          await outcome(memory.readFile(p)),
          where,
        );
        assert.deepEqual(
          await outcome(cache.read(p, 3, 9)),
          await outcome(memory.read(p, 3, 9)),
          where,
        );
        const pick = ({ ino, size, mode, mtimeMs, ctimeMs, nlink }: Metadata) => ({
          ino,
          size,
          mode,
          mtimeMs,
          ctimeMs,
          nlink,
        });
        assert.deepEqual(
          await outcome(cache.lstat(p).then(pick)),
          await outcome(memory.lstat(p).then(pick)),
          where,
        );
      }
      assert.deepEqual(
        (await cache.readDir("/d")).map((e) => e.name).sort(),
        (await memory.readDir("/d")).map((e) => e.name).sort(),
      );
    }
  });
}

// Random operation sequences through FileStorage, with a tiny cache (constant
// eviction, 16-byte blocks), must agree step by step with the same sequence
// on a bare MemoryBackend: data, metadata, listings and error codes.
for (const seed of [11, 12, 13]) {
  Deno.test(`differential: Cache(tiny) vs bare MemoryBackend (seed ${seed})`, async () => {
    const cached = new FileStorage(
      new Cache(new MemoryBackend(), { maxEntries: 16, maxBytes: 2048, blockSize: 16 }),
    );
    const report = await runDifferential(cached, new FileStorage(new MemoryBackend()), {
      seed,
      ops: 1500,
      snapshotEvery: 50,
    });
    assert.equal(report.ops, 1500);
    assert.ok((report.byKind.link?.ok ?? 0) + (report.byKind.link?.error ?? 0) > 0, "links tried");
    assert.ok((report.byKind.rename?.ok ?? 0) > 0, "renames were exercised");
  });
}

Deno.test("a cache whose backend is replaced in a stack still only sees its own writes", async () => {
  // Two caches over one backend: each sees its own writes at once; the other
  // one's only after clear() (the documented limit).
  const memory = new MemoryBackend();
  const one: Backend = new Cache(memory);
  const two = new Cache(memory);
  await one.writeFile("/f", bytes("1"));
  assert.equal(dec.decode(await two.readFile("/f")), "1");
  await one.writeFile("/f", bytes("2"));
  assert.equal(dec.decode(await two.readFile("/f")), "1");
  two.clear();
  assert.equal(dec.decode(await two.readFile("/f")), "2");
});

Deno.test("tryLstat: cached like lstat, null for a missing name, fresh after a create", async () => {
  const { counting, cache } = setup();
  assert.equal(await cache.tryLstat("/f"), null);
  await cache.writeFile("/f", bytes("x"));
  assert.equal((await cache.tryLstat("/f"))?.size, 1);
  counting.reset();
  const meta = await cache.tryLstat("/f");
  assert.equal(meta?.size, 1);
  assert.equal(counting.calls.lstat, undefined, "served from the cache");
  meta!.size = 42;
  assert.equal((await cache.lstat("/f")).size, 1, "a copy");
});

Deno.test("two reads filling the same entry at once keep the inode's names known", async () => {
  const memory = new MemoryBackend();
  await memory.writeFile("/a", bytes("one"));
  await memory.link("/a", "/b");
  const cache = new Cache(memory);
  // Both miss and both store the same entry; the second replaces the first.
  await Promise.all([cache.lstat("/a"), cache.lstat("/a")]);
  // A write through the other name, never seen by the cache, must still be seen.
  await cache.writeFile("/b", bytes("longer"));
  assert.equal((await cache.lstat("/a")).size, 6);
});
