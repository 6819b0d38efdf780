import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { type Backend, capabilitiesOf } from "../../src/core/backend.ts";
import { Quota } from "../../src/middleware/quota.ts";

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);

/** Assert that `action` rejects with `code`, returning the error for further checks. */
async function rejectsWith(
  action: Promise<unknown>,
  code: string,
): Promise<{ code: string; limit?: number; requested?: number; usage?: number }> {
  try {
    await action;
  } catch (e) {
    assert.equal((e as { code?: string }).code, code, String(e));
    return e as { code: string; limit?: number; requested?: number; usage?: number };
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

/** A backend with only the required core, so the quota has to derive everything else. */
function coreOnly(inner: MemoryBackend): Backend {
  return {
    lstat: (p) => inner.lstat(p),
    readDir: (p) => inner.readDir(p),
    readFile: (p) => inner.readFile(p),
    writeFile: (p, d, o) => inner.writeFile(p, d, o),
    mkdir: (p, o) => inner.mkdir(p, o),
    unlink: (p) => inner.unlink(p),
    rmdir: (p) => inner.rmdir(p),
    rename: (f, t) => inner.rename(f, t),
  };
}

Deno.test("quota counts file bytes and nodes, and reports what remains", async () => {
  const q = await Quota.create(new MemoryBackend(), { maxTotalSize: 1000, maxNodeCount: 10 });
  await q.mkdir("/d");
  await q.writeFile("/d/a", bytes(300));
  await q.symlink("/d/a", "/l");
  // The link's target ("/d/a") is 4 bytes the backend stores.
  assert.deepEqual(q.usage(), { bytes: 304, nodes: 3 });
  assert.deepEqual(q.remaining(), { bytes: 696, nodes: 7 });
  const unlimited = await Quota.create(new MemoryBackend());
  assert.deepEqual(unlimited.remaining(), { bytes: Infinity, nodes: Infinity });
});

Deno.test("a write past the byte limit fails with ENOSPC, its figures, and writes nothing", async () => {
  const q = await Quota.create(new MemoryBackend(), { maxTotalSize: 100 });
  await q.writeFile("/a", bytes(60));
  const e = await rejectsWith(q.writeFile("/b", bytes(41)), "ENOSPC");
  assert.equal(e.limit, 100);
  assert.equal(e.requested, 41);
  assert.equal(e.usage, 60);
  await rejectsWith(q.lstat("/b"), "ENOENT");
  await q.writeFile("/b", bytes(40));
  assert.equal(q.usage().bytes, 100);
  assert.equal(q.remaining().bytes, 0);
});

Deno.test("capacityCode EDQUOT reports 'Disk quota exceeded' instead", async () => {
  const q = await Quota.create(new MemoryBackend(), { maxTotalSize: 10, capacityCode: "EDQUOT" });
  const e = await rejectsWith(q.writeFile("/a", bytes(11)), "EDQUOT");
  assert.match(String(e), /Disk quota exceeded/);
});

Deno.test("overwrite and truncate count only the change in size", async () => {
  const q = await Quota.create(new MemoryBackend(), { maxTotalSize: 100 });
  await q.writeFile("/a", bytes(80));
  await q.writeFile("/a", bytes(95)); // +15 fits although 80 + 95 would not
  assert.equal(q.usage().bytes, 95);
  await q.truncate("/a", 10);
  assert.equal(q.usage().bytes, 10);
  await rejectsWith(q.truncate("/a", 101), "ENOSPC");
  await q.truncate("/a", 100);
  assert.equal(q.usage().bytes, 100);
  await q.writeFile("/a", bytes(0));
  assert.equal(q.usage().bytes, 0);
});

Deno.test("appendFile and copyFile are counted", async () => {
  const q = await Quota.create(new MemoryBackend(), { maxTotalSize: 100 });
  await q.appendFile("/a", bytes(30));
  await q.appendFile("/a", bytes(20));
  await q.copyFile("/a", "/b");
  assert.equal(q.usage().bytes, 100);
  assert.equal(q.usage().nodes, 2);
  await rejectsWith(q.appendFile("/a", bytes(1)), "ENOSPC");
  await rejectsWith(q.copyFile("/a", "/c"), "ENOSPC");
  await q.writeFile("/b", bytes(10));
  await q.copyFile("/b", "/a"); // replaces 50 bytes by 10
  assert.equal(q.usage().bytes, 20);
});

Deno.test("maxFileSize gives EFBIG for every way of growing a file", async () => {
  const q = await Quota.create(new MemoryBackend(), { maxFileSize: 10 });
  const e = await rejectsWith(q.writeFile("/a", bytes(11)), "EFBIG");
  assert.equal(e.limit, 10);
  assert.equal(e.requested, 11);
  await q.writeFile("/a", bytes(10));
  await rejectsWith(q.appendFile("/a", bytes(1)), "EFBIG");
  await rejectsWith(q.truncate("/a", 11), "EFBIG");
  const h = await q.open("/a", { write: true });
  await rejectsWith(h.write(bytes(2), 9), "EFBIG");
  assert.equal(await h.write(bytes(1), 9), 1);
  await rejectsWith(h.truncate(11), "EFBIG");
  await h.close();
  assert.equal((await q.lstat("/a")).size, 10);
});

Deno.test("maxNodeCount gives ENOSPC; an existing name still gives EEXIST", async () => {
  const q = await Quota.create(new MemoryBackend(), { maxNodeCount: 2 });
  await q.mkdir("/d");
  await q.writeFile("/d/f", bytes(1));
  await rejectsWith(q.mkdir("/e"), "ENOSPC");
  await rejectsWith(q.writeFile("/g", bytes(1)), "ENOSPC");
  await rejectsWith(q.symlink("/d", "/s"), "ENOSPC");
  await rejectsWith(q.open("/h", { write: true, create: true }), "ENOSPC");
  await rejectsWith(q.mkdir("/d"), "EEXIST"); // `mkdir -p` depends on this
  await q.writeFile("/d/f", bytes(5)); // overwriting needs no node
  await q.link("/d/f", "/d/g"); // a hard link needs no node
  await q.unlink("/d/f");
  await q.unlink("/d/g");
  await q.mkdir("/e");
  assert.equal(q.usage().nodes, 2);
});

Deno.test("maxDirEntries gives EDQUOT and counts renames and removals", async () => {
  const q = await Quota.create(new MemoryBackend(), { maxDirEntries: 2 });
  await q.mkdir("/full");
  await q.writeFile("/full/a", bytes(1));
  await q.writeFile("/full/b", bytes(1));
  const e = await rejectsWith(q.writeFile("/full/c", bytes(1)), "EDQUOT");
  assert.equal(e.limit, 2);
  assert.equal(e.usage, 2);
  await q.writeFile("/x", bytes(1));
  await rejectsWith(q.rename("/x", "/full/x"), "EDQUOT");
  await q.rename("/full/a", "/full/a2"); // same directory: no new entry
  await q.rename("/x", "/full/b"); // replacing an entry: no new entry
  await q.unlink("/full/a2");
  await q.writeFile("/full/c", bytes(1));
  await rejectsWith(q.link("/full/c", "/full/d"), "EDQUOT");
  assert.deepEqual((await q.readDir("/full")).map((d) => d.name).sort(), ["b", "c"]);
});

Deno.test("maxPathDepth gives EDQUOT, also for a subtree renamed deeper", async () => {
  const q = await Quota.create(new MemoryBackend(), { maxPathDepth: 3 });
  await q.mkdir("/a");
  await q.mkdir("/a/b");
  await q.writeFile("/a/b/c", bytes(1));
  const e = await rejectsWith(q.mkdir("/a/b/c2/d"), "EDQUOT");
  assert.equal(e.limit, 3);
  await q.mkdir("/t");
  await q.mkdir("/t/u");
  await q.rename("/t", "/a/t"); // /a/t/u is depth 3: fits
  await rejectsWith(q.writeFile("/a/t/u/v", bytes(1)), "EDQUOT");
  await q.rename("/a/t", "/t");
  await q.writeFile("/t/u/v", bytes(1));
  await rejectsWith(q.rename("/t", "/a/t"), "EDQUOT"); // /a/t/u/v would be depth 4
  await q.rename("/a/b/c", "/c");
  assert.equal((await q.lstat("/t/u/v")).size, 1);
});

Deno.test("concurrent writers cannot both pass the check: usage stays exact", async () => {
  const q = await Quota.create(new MemoryBackend(), { maxTotalSize: 1000 });
  const results = await Promise.allSettled(
    Array.from({ length: 25 }, (_, i) => q.writeFile(`/f${i}`, bytes(100))),
  );
  const ok = results.filter((r) => r.status === "fulfilled").length;
  assert.equal(ok, 10);
  for (const r of results) {
    if (r.status === "rejected") assert.equal((r.reason as { code: string }).code, "ENOSPC");
  }
  assert.equal(q.usage().bytes, 1000);
  const stored = (await q.readDir("/")).length;
  assert.equal(stored, 10);

  // The same through handles writing concurrently to one file.
  const q2 = await Quota.create(new MemoryBackend(), { maxTotalSize: 1000 });
  const h = await q2.open("/f", { write: true, create: true });
  const writes = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) => h.write(bytes(100), i * 100)),
  );
  assert.equal(writes.filter((r) => r.status === "fulfilled").length, 10);
  await h.close();
  assert.equal(q2.usage().bytes, 1000);
  assert.equal((await q2.lstat("/f")).size, 1000);
});

Deno.test("handle writes, overwrites and appends count only growth", async () => {
  const q = await Quota.create(new MemoryBackend(), { maxTotalSize: 100 });
  const h = await q.open("/f", { write: true, create: true });
  await h.write(bytes(50), 0);
  await h.write(bytes(50), 0); // overwrite in place
  await h.write(bytes(10), 45); // grows by 5
  assert.equal(q.usage().bytes, 55);
  await h.truncate(20);
  assert.equal(q.usage().bytes, 20);
  await h.close();
  const a = await q.open("/f", { append: true });
  await a.write(bytes(80), 0);
  await rejectsWith(a.write(bytes(1), 0), "ENOSPC");
  await a.close();
  const t = await q.open("/f", { write: true, truncate: true });
  assert.equal(q.usage().bytes, 0);
  await t.close();
});

Deno.test("renaming over a file releases the replaced file's bytes", async () => {
  const q = await Quota.create(new MemoryBackend(), { maxTotalSize: 100 });
  await q.writeFile("/a", bytes(30));
  await q.writeFile("/b", bytes(60));
  await q.rename("/a", "/b");
  assert.deepEqual(q.usage(), { bytes: 30, nodes: 1 });
  await q.mkdir("/d1");
  await q.mkdir("/d2");
  await q.rename("/d1", "/d2"); // over an empty directory
  assert.deepEqual(q.usage(), { bytes: 30, nodes: 2 });
});

Deno.test("hard links count a file's bytes once; the last name releases them", async () => {
  const q = await Quota.create(new MemoryBackend(), { maxTotalSize: 100 });
  await q.writeFile("/a", bytes(70));
  await q.link("/a", "/b");
  assert.deepEqual(q.usage(), { bytes: 70, nodes: 1 });
  await q.writeFile("/b", bytes(80)); // rewrites the shared inode
  assert.equal(q.usage().bytes, 80);
  await q.unlink("/a");
  assert.equal(q.usage().bytes, 80);
  await q.writeFile("/c", bytes(20));
  await rejectsWith(q.writeFile("/d", bytes(1)), "ENOSPC");
  await q.unlink("/b");
  assert.deepEqual(q.usage(), { bytes: 20, nodes: 1 });
});

Deno.test("an unlinked file still open keeps its bytes until the last handle closes", async () => {
  const q = await Quota.create(new MemoryBackend(), { maxTotalSize: 100 });
  await q.writeFile("/a", bytes(60));
  const h1 = await q.open("/a", { read: true });
  const h2 = await q.open("/a", { write: true });
  await q.unlink("/a");
  assert.deepEqual(q.usage(), { bytes: 60, nodes: 1 });
  await rejectsWith(q.writeFile("/b", bytes(50)), "ENOSPC");
  await h2.write(bytes(10), 60); // the orphan may still grow, and that counts
  assert.equal(q.usage().bytes, 70);
  await h2.close();
  assert.equal(q.usage().bytes, 70);
  await h1.close();
  assert.deepEqual(q.usage(), { bytes: 0, nodes: 0 });
  await rejectsWith(h1.close(), "EBADF");
  assert.deepEqual(q.usage(), { bytes: 0, nodes: 0 });
});

Deno.test("usage is scanned from an existing backend, hard links and xattrs included", async () => {
  const m = new MemoryBackend();
  await m.mkdir("/d");
  await m.mkdir("/d/e");
  await m.writeFile("/d/a", bytes(100));
  await m.writeFile("/d/e/b", bytes(23));
  await m.link("/d/a", "/d/e/a2");
  await m.symlink("/d/a", "/s");
  await m.setXattr("/d", "user.k", bytes(5));
  const q = new Quota(m, { maxTotalSize: 200 });
  await q.ready;
  // 100 + 23 + the link's target "/d/a" (4) + xattr ("user.k" = 6 bytes + 5);
  // nodes: d, e, a, b, s.
  assert.deepEqual(q.usage(), { bytes: 138, nodes: 5 });
  await rejectsWith(q.writeFile("/big", bytes(67)), "ENOSPC");
});

Deno.test("mutations issued before the scan finished wait for it", async () => {
  const m = new MemoryBackend();
  await m.writeFile("/a", bytes(90));
  const q = new Quota(m, { maxTotalSize: 100 });
  await rejectsWith(q.writeFile("/b", bytes(20)), "ENOSPC");
  assert.equal(q.usage().bytes, 90);
});

Deno.test("xattrs count toward the byte limit", async () => {
  const q = await Quota.create(new MemoryBackend(), { maxTotalSize: 20 });
  await q.writeFile("/a", bytes(5));
  await q.setXattr("/a", "user.x", bytes(4)); // 6 + 4
  assert.equal(q.usage().bytes, 15);
  await rejectsWith(q.setXattr("/a", "user.y", bytes(4)), "ENOSPC");
  await q.setXattr("/a", "user.x", bytes(9)); // replace: +5
  assert.equal(q.usage().bytes, 20);
  await q.removeXattr("/a", "user.x");
  assert.equal(q.usage().bytes, 5);
  await q.setXattr("/a", "user.x", bytes(1));
  await q.unlink("/a");
  assert.deepEqual(q.usage(), { bytes: 0, nodes: 0 });
});

Deno.test("statfs reports the quota as the capacity", async () => {
  const q = await Quota.create(new MemoryBackend(), { maxTotalSize: 4096, maxNodeCount: 8 });
  await q.writeFile("/a", bytes(1000));
  const s = await q.statfs();
  assert.equal(s.totalBytes, 4096);
  assert.equal(s.usedBytes, 1000);
  assert.equal(s.availableBytes, 3096);
  assert.equal(s.totalInodes, 8);
  assert.equal(s.availableInodes, 7);
});

Deno.test("the quota keeps the wrapped backend's capabilities and adds statfs", async () => {
  const m = new MemoryBackend();
  const q = await Quota.create(m, {});
  assert.deepEqual([...q.capabilities].sort(), [...capabilitiesOf(m)].sort());
  const core = await Quota.create(coreOnly(m), { maxTotalSize: 10 });
  assert.deepEqual([...core.capabilities], ["statfs"]);
  assert.equal((await core.statfs()).totalBytes, 10);
});

Deno.test("over a core-only backend, derived operations are counted through writeFile", async () => {
  const q = await Quota.create(coreOnly(new MemoryBackend()), { maxTotalSize: 100 });
  await q.appendFile("/a", bytes(40));
  await q.appendFile("/a", bytes(40));
  await q.truncate("/a", 50);
  await q.copyFile("/a", "/b");
  assert.equal(q.usage().bytes, 100);
  await rejectsWith(q.appendFile("/a", bytes(1)), "ENOSPC");
  const h = await q.open("/c", { write: true, create: true });
  await h.write(bytes(5), 0);
  await rejectsWith(h.close(), "ENOSPC"); // the buffered handle writes back on close
});

Deno.test("rescan picks up changes made behind the quota's back", async () => {
  const m = new MemoryBackend();
  const q = await Quota.create(m, {});
  await m.writeFile("/x", bytes(7));
  assert.equal(q.usage().bytes, 0);
  await q.rescan();
  assert.deepEqual(q.usage(), { bytes: 7, nodes: 1 });
});

Deno.test("bad limits are rejected with EINVAL", () => {
  for (const limits of [{ maxTotalSize: -1 }, { maxFileSize: 1.5 }, { maxNodeCount: NaN }]) {
    assert.throws(() => new Quota(new MemoryBackend(), limits), { code: "EINVAL" });
  }
  assert.throws(
    () => new Quota(new MemoryBackend(), { capacityCode: "EIO" as "ENOSPC" }),
    { code: "EINVAL" },
  );
});

Deno.test("a failed scan makes mutations fail with EIO until a rescan succeeds", async () => {
  const m = new MemoryBackend();
  let broken = true;
  const flaky: Backend = {
    ...coreOnly(m),
    readDir: (p) => broken ? Promise.reject(new Error("disk on fire")) : m.readDir(p),
  };
  const q = new Quota(flaky, {});
  await assert.rejects(q.ready);
  await rejectsWith(q.writeFile("/a", bytes(1)), "EIO");
  broken = false;
  await q.rescan();
  await q.writeFile("/a", bytes(1));
  assert.equal(q.usage().bytes, 1);
});

Deno.test("writing through a read-only handle is refused by the backend, not the quota", async () => {
  const q = await Quota.create(new MemoryBackend(), { maxTotalSize: 10 });
  await q.writeFile("/a", bytes(10));
  const h = await q.open("/a", { read: true });
  await rejectsWith(h.write(bytes(5), 10), "EBADF");
  await h.close();
  assert.equal(q.usage().bytes, 10);
});

/** A MemoryBackend whose every call first waits a timer turn, so concurrent calls interleave. */
class SlowBackend extends MemoryBackend {
  #turn<T>(run: () => Promise<T>): Promise<T> {
    return new Promise((resolve) => setTimeout(resolve, 0)).then(run);
  }
  override lstat(path: string) {
    return this.#turn(() => super.lstat(path));
  }
  override tryLstat(path: string) {
    return this.#turn(() => super.tryLstat(path));
  }
  override writeFile(path: string, data: Uint8Array) {
    return this.#turn(() => super.writeFile(path, data));
  }
  override mkdir(path: string) {
    return this.#turn(() => super.mkdir(path));
  }
  override unlink(path: string) {
    return this.#turn(() => super.unlink(path));
  }
  override rmdir(path: string) {
    return this.#turn(() => super.rmdir(path));
  }
  override rename(from: string, to: string) {
    return this.#turn(() => super.rename(from, to));
  }
}

Deno.test("mutations issued together run in the order they were issued", async () => {
  const q = await Quota.create(new SlowBackend(), { maxNodeCount: 100 });
  await Promise.all([
    q.mkdir("/a"),
    q.writeFile("/a/f", bytes(10)),
    q.rename("/a/f", "/a/g"),
    q.mkdir("/a/d"),
  ]);
  assert.deepEqual((await q.readDir("/a")).map((e) => e.name).sort(), ["d", "g"]);
  assert.deepEqual(q.usage(), { bytes: 10, nodes: 3 });
});

Deno.test("random concurrent mutations keep the usage exact (equal to a fresh scan)", async () => {
  let seed = 11;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return Math.floor((seed / 2147483648) * n);
  };
  const q = await Quota.create(new SlowBackend(), {
    maxTotalSize: 5000,
    maxNodeCount: 40,
    maxFileSize: 700,
  });
  const name = () => ["/a", "/b", "/c", "/d", "/a/x", "/a/y", "/b/z"][random(7)];
  for (let round = 0; round < 8; round++) {
    const ops = Array.from({ length: 30 }, () => {
      const path = name();
      switch (random(6)) {
        case 0:
          return q.writeFile(path, bytes(random(900)));
        case 1:
          return q.mkdir(path);
        case 2:
          return q.unlink(path);
        case 3:
          return q.rmdir(path);
        case 4:
          return q.rename(path, name());
        default:
          return q.writeFile(`${path}-${random(5)}`, bytes(random(300)));
      }
    });
    const results = await Promise.allSettled(ops);
    for (const r of results) {
      if (r.status === "rejected") {
        assert.ok((r.reason as { code?: string }).code, String(r.reason));
      }
    }
    const counted = q.usage();
    assert.ok(counted.bytes <= 5000 && counted.nodes <= 40);
    await q.rescan();
    assert.deepEqual(counted, q.usage(), `round ${round}`);
  }
});

Deno.test("a quota probes with tryLstat, never a failing lstat", async () => {
  class CountingLstat extends MemoryBackend {
    lstats = 0;
    override lstat(path: string) {
      this.lstats++;
      return super.lstat(path);
    }
  }
  const m = new CountingLstat();
  const q = await Quota.create(m, { maxTotalSize: 1 << 20 });
  m.lstats = 0;
  await q.writeFile("/f", bytes(5));
  await q.rename("/f", "/g");
  await q.unlink("/g");
  await q.mkdir("/d");
  await q.rmdir("/d");
  assert.equal(await q.tryLstat("/missing"), null);
  assert.equal(m.lstats, 0);
  assert.deepEqual(q.usage(), { bytes: 0, nodes: 0 });
});

Deno.test("concurrent mkdirs at the node limit: exactly the ones that fit succeed", async () => {
  for (const inner of [new MemoryBackend(), new SlowBackend()]) {
    const q = await Quota.create(inner, { maxNodeCount: 3 });
    const names = Array.from({ length: 8 }, (_, i) => `/d${i}`);
    // One that fails in the backend must neither count nor keep the lock.
    const results = await Promise.allSettled([
      q.mkdir("/missing/x"),
      ...names.map((n) => q.mkdir(n)),
    ]);
    const codes = results.map((r) =>
      r.status === "fulfilled" ? "ok" : (r.reason as { code: string }).code
    );
    assert.deepEqual(codes, ["ENOENT", "ok", "ok", "ok", ...Array(5).fill("ENOSPC")]);
    assert.deepEqual(q.usage(), { bytes: 0, nodes: 3 });
    await q.rescan();
    assert.deepEqual(q.usage(), { bytes: 0, nodes: 3 });
  }
});

Deno.test("symlink targets count as bytes: long targets cannot bypass maxTotalSize", async () => {
  const q = await Quota.create(new MemoryBackend(), { maxTotalSize: 10_000 });
  const target = "t".repeat(4000);
  await q.symlink(target, "/l1");
  await q.symlink(target, "/l2");
  assert.deepEqual(q.usage(), { bytes: 8000, nodes: 2 });
  const e = await rejectsWith(q.symlink(target, "/l3"), "ENOSPC");
  assert.equal(e.requested, 4000);
  await rejectsWith(q.lstat("/l3"), "ENOENT");
  // Renaming one link over the other releases the replaced target; unlink the rest.
  await q.rename("/l1", "/l2");
  assert.deepEqual(q.usage(), { bytes: 4000, nodes: 1 });
  await q.unlink("/l2");
  assert.deepEqual(q.usage(), { bytes: 0, nodes: 0 });
  // A multi-byte target counts its UTF-8 bytes, the same as a fresh scan.
  await q.symlink("ü".repeat(10), "/u");
  assert.deepEqual(q.usage(), { bytes: 20, nodes: 1 });
  await q.rescan();
  assert.deepEqual(q.usage(), { bytes: 20, nodes: 1 });
});
