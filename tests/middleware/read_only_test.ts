import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { capabilitiesOf } from "../../src/core/backend.ts";
import { ReadOnly } from "../../src/middleware/read_only.ts";

const S_IFIFO = 0o010000;

async function published() {
  const m = new MemoryBackend();
  await m.mkdir("/d");
  await m.writeFile("/d/doc.txt", new TextEncoder().encode("published"));
  await m.symlink("/d/doc.txt", "/link");
  await m.setXattr("/d/doc.txt", "user.k", new Uint8Array([1]));
  return { m, ro: new ReadOnly(m) };
}

Deno.test("every mutating operation fails with EROFS and changes nothing", async () => {
  const { m, ro } = await published();
  const before = await m.lstat("/d/doc.txt");
  const data = new Uint8Array([1]);
  const attempts: [string, () => Promise<unknown>][] = [
    ["writeFile", () => ro.writeFile("/d/doc.txt", data)],
    ["writeFile new", () => ro.writeFile("/new", data)],
    ["mkdir", () => ro.mkdir("/e")],
    ["unlink", () => ro.unlink("/d/doc.txt")],
    ["rmdir", () => ro.rmdir("/d")],
    ["rename", () => ro.rename("/d/doc.txt", "/x")],
    ["truncate", () => ro.truncate("/d/doc.txt", 0)],
    ["appendFile", () => ro.appendFile("/d/doc.txt", data)],
    ["copyFile", () => ro.copyFile("/d/doc.txt", "/copy")],
    ["symlink", () => ro.symlink("/d", "/s")],
    ["link", () => ro.link("/d/doc.txt", "/h")],
    ["chmod", () => ro.chmod("/d/doc.txt", 0o600)],
    ["chown", () => ro.chown("/d/doc.txt", 0, 0)],
    ["utime", () => ro.utime("/d/doc.txt", 0, 0)],
    ["setXattr", () => ro.setXattr("/d/doc.txt", "user.k", data)],
    ["removeXattr", () => ro.removeXattr("/d/doc.txt", "user.k")],
    ["mknod", () => ro.mknod("/p", S_IFIFO | 0o644, 0)],
    ["open write", () => ro.open("/d/doc.txt", { write: true })],
    ["open append", () => ro.open("/d/doc.txt", { append: true })],
    ["open truncate", () => ro.open("/d/doc.txt", { read: true, truncate: true })],
    ["open create missing", () => ro.open("/new", { create: true })],
  ];
  for (const [what, attempt] of attempts) {
    await assert.rejects(attempt(), (e: { code: string; message: string }) => {
      assert.equal(e.code, "EROFS", what);
      assert.match(e.message, /Read-only file system/);
      return true;
    });
  }
  assert.deepEqual(await m.lstat("/d/doc.txt"), before);
  assert.deepEqual((await m.readDir("/")).map((e) => e.name), ["d", "link"]);
});

Deno.test("reads, stat, listing, xattr reads, statfs and sync pass through", async () => {
  const { ro } = await published();
  assert.equal(new TextDecoder().decode(await ro.readFile("/d/doc.txt")), "published");
  assert.equal((await ro.lstat("/d/doc.txt")).size, 9);
  assert.deepEqual((await ro.readDir("/d")).map((e) => e.name), ["doc.txt"]);
  assert.equal(await ro.readLink("/link"), "/d/doc.txt");
  assert.deepEqual([...await ro.getXattr("/d/doc.txt", "user.k")], [1]);
  assert.deepEqual(await ro.listXattr("/d/doc.txt"), ["user.k"]);
  assert.deepEqual([...await ro.read("/d/doc.txt", 2, 3)], [...new TextEncoder().encode("bli")]);
  await ro.statfs();
  await ro.sync();
  await ro.fsync("/d/doc.txt");
});

Deno.test("open for reading works; its handle refuses writes with EROFS", async () => {
  const { ro } = await published();
  const h = await ro.open("/d/doc.txt", { read: true });
  assert.equal(new TextDecoder().decode(await h.read(0, 100)), "published");
  await assert.rejects(h.write(new Uint8Array([1]), 0), { code: "EROFS" });
  await assert.rejects(h.truncate(0), { code: "EROFS" });
  await h.close();
  // O_CREAT on an existing file opens it, as Linux does on a read-only mount.
  const c = await ro.open("/d/doc.txt", { create: true });
  await c.close();
  await assert.rejects(ro.open("/d/doc.txt", { createNew: true }), { code: "EEXIST" });
});

Deno.test("read-only keeps the wrapped backend's capabilities", () => {
  const m = new MemoryBackend();
  const ro = m.layer(ReadOnly.layer());
  assert.deepEqual([...ro.capabilities].sort(), [...capabilitiesOf(m)].sort());
});
