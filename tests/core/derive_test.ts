import assert from "node:assert/strict";
import { capabilitiesOf, supports } from "../../src/core/backend.ts";
import {
  appendFile,
  BufferedHandle,
  copyFile,
  openFile,
  readRange,
  truncateFile,
  tryLstat,
} from "../../src/core/derive.ts";
import { fsError } from "../../src/core/errors.ts";
import { Middleware } from "../../src/middleware/middleware.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { coreOnly } from "../fixtures/core_only.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function fresh() {
  const memory = new MemoryBackend();
  const core = coreOnly(memory);
  await core.writeFile("/f", enc.encode("hello world"));
  return { memory, core };
}

Deno.test("capabilities are inferred from methods when a backend declares none", () => {
  const { core } = { core: coreOnly(new MemoryBackend()) };
  assert.equal(capabilitiesOf(core).size, 0);
  assert.ok(!supports(core, "ranges"));
  const withLinks = { ...core, link: () => Promise.resolve() };
  assert.deepEqual([...capabilitiesOf(withLinks)], ["hardlinks"]);
  // A declared set wins over inference.
  assert.ok(supports(new MemoryBackend(), "locks"));
});

Deno.test("readRange derives from readFile and clamps at end of file", async () => {
  const { core } = await fresh();
  assert.equal(dec.decode(await readRange(core, "/f", 6, 5)), "world");
  assert.equal(dec.decode(await readRange(core, "/f", 6, 100)), "world");
  assert.equal((await readRange(core, "/f", 50, 10)).length, 0);
});

Deno.test("appendFile derives: appends, creates when missing, keeps errors", async () => {
  const { core } = await fresh();
  await appendFile(core, "/f", enc.encode("!"));
  assert.equal(dec.decode(await core.readFile("/f")), "hello world!");
  await appendFile(core, "/new", enc.encode("x"), { mode: 0o600 });
  assert.equal(dec.decode(await core.readFile("/new")), "x");
  assert.equal((await core.lstat("/new")).mode & 0o777, 0o600);
  await assert.rejects(appendFile(core, "/missing/dir/f", enc.encode("x")), { code: "ENOENT" });
});

Deno.test("truncateFile derives: grows with zeros, shrinks, rejects bad lengths", async () => {
  const { core } = await fresh();
  await truncateFile(core, "/f", 5);
  assert.equal(dec.decode(await core.readFile("/f")), "hello");
  await truncateFile(core, "/f", 8);
  assert.deepEqual([...await core.readFile("/f")].slice(5), [0, 0, 0]);
  await assert.rejects(truncateFile(core, "/f", -1), { code: "EINVAL" });
  await assert.rejects(truncateFile(core, "/nope", 1), { code: "ENOENT" });
});

Deno.test("copyFile derives: copies content and permission bits; a directory is EISDIR", async () => {
  const { core } = await fresh();
  await core.writeFile("/x", enc.encode("x"), { mode: 0o640 });
  await copyFile(core, "/x", "/y");
  assert.equal(dec.decode(await core.readFile("/y")), "x");
  assert.equal((await core.lstat("/y")).mode & 0o777, 0o640);
  await core.mkdir("/d");
  await assert.rejects(copyFile(core, "/d", "/z"), { code: "EISDIR" });
});

Deno.test("openFile on a core-only backend gives a BufferedHandle with Deno.open semantics", async () => {
  const { core } = await fresh();
  const h = await openFile(core, "/f", { read: true, write: true });
  assert.ok(h instanceof BufferedHandle);
  assert.equal(dec.decode(await h.read(0, 5)), "hello");
  assert.equal(await h.write(enc.encode("HELLO"), 0), 5);
  // Not visible in the backend before sync/close, visible after.
  assert.equal(dec.decode(await core.readFile("/f")), "hello world");
  await h.sync();
  assert.equal(dec.decode(await core.readFile("/f")), "HELLO world");
  assert.equal((await h.stat()).size, 11);
  await h.close();
  await assert.rejects(h.read(0, 1), { code: "EBADF" });

  await assert.rejects(openFile(core, "/missing", { read: true }), { code: "ENOENT" });
  await assert.rejects(openFile(core, "/f", { write: true, createNew: true }), { code: "EEXIST" });
  const ro = await openFile(core, "/f", { read: true });
  await assert.rejects(ro.write(enc.encode("x"), 0), { code: "EBADF" });
  await ro.close();

  const app = await openFile(core, "/f", { append: true });
  await app.write(enc.encode("!"), 0);
  await app.close();
  assert.equal(dec.decode(await core.readFile("/f")), "HELLO world!");

  const tr = await openFile(core, "/f", { write: true, truncate: true });
  await tr.close();
  assert.equal((await core.readFile("/f")).length, 0);

  const created = await openFile(core, "/c", { write: true, create: true, mode: 0o600 });
  await created.write(enc.encode("new"), 0);
  await created.close();
  assert.equal(dec.decode(await core.readFile("/c")), "new");
  assert.equal((await core.lstat("/c")).mode & 0o777, 0o600);
});

Deno.test("a BufferedHandle of a file unlinked while open keeps its data and closes cleanly", async () => {
  const { core } = await fresh();
  const h = await openFile(core, "/f", { read: true, write: true });
  await core.unlink("/f");
  await h.write(enc.encode("J"), 0);
  assert.equal(dec.decode(await h.read(0, 5)), "Jello");
  await h.close();
  await assert.rejects(core.lstat("/f"), { code: "ENOENT" });
});

Deno.test("a BufferedHandle whose write-back failed keeps its changes: a later sync or close writes them", async () => {
  const { core } = await fresh();
  let refuse = 1;
  const flaky = {
    ...core,
    writeFile: (p: string, d: Uint8Array, o?: Parameters<typeof core.writeFile>[2]) => {
      if (refuse > 0) {
        refuse--;
        return Promise.reject(fsError("EAGAIN", "writefile", p));
      }
      return core.writeFile(p, d, o);
    },
  };
  const h = await openFile(flaky, "/f", { read: true, write: true });
  await h.write(enc.encode("J"), 0);
  await assert.rejects(h.sync(), { code: "EAGAIN" });
  await h.close();
  assert.equal(dec.decode(await core.readFile("/f")), "Jello world");
});

Deno.test("openFile uses the backend's own handles when it has them", async () => {
  const { memory } = await fresh();
  const h = await openFile(memory, "/f", { read: true });
  assert.ok(!(h instanceof BufferedHandle));
  assert.equal(dec.decode(await h.read(0, 5)), "hello");
  await h.close();
});

Deno.test("tryLstat: null for a missing entry, metadata otherwise, other errors reject", async () => {
  const { memory, core } = await fresh();
  for (const backend of [memory, core]) {
    assert.equal(await tryLstat(backend, "/missing"), null);
    assert.equal((await tryLstat(backend, "/f"))?.type, "file");
    await assert.rejects(tryLstat(backend, "/f/below"), { code: "ENOTDIR" });
    await assert.rejects(tryLstat(backend, "/" + "x".repeat(300)), { code: "ENAMETOOLONG" });
  }
});

Deno.test("Middleware.tryLstat never bypasses a middleware's own lstat policy", async () => {
  const memory = new MemoryBackend();
  await memory.writeFile("/secret", enc.encode("s"));
  class Hide extends Middleware {
    override lstat(path: string) {
      return path === "/secret"
        ? Promise.reject(Object.assign(new Error("hidden"), { code: "EACCES" }))
        : super.lstat(path);
    }
  }
  const hidden = new Hide(memory);
  await assert.rejects(hidden.tryLstat("/secret"), { code: "EACCES" });
  assert.equal(await hidden.tryLstat("/nothing"), null);
  // A middleware that leaves lstat alone probes straight through.
  const plain = new Middleware(memory);
  assert.equal((await plain.tryLstat("/secret"))?.size, 1);
  assert.equal(await plain.tryLstat("/nothing"), null);
});
