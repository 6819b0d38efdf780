import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { capabilitiesOf } from "../../src/core/backend.ts";
import { Restrictions } from "../../src/middleware/restrictions.ts";

const S_IFIFO = 0o010000;

async function setup() {
  const m = new MemoryBackend();
  await m.writeFile("/a", new Uint8Array([1]));
  await m.symlink("/a", "/old-link");
  return m;
}

Deno.test("denied features fail with EPERM and say they are not enabled", async () => {
  const r = new Restrictions(await setup(), {
    denySymlinks: true,
    denyHardLinks: true,
    denyPermissions: true,
    denyOwnership: true,
    denyTimes: true,
    denyXattrWrites: true,
    denySpecialFiles: true,
  });
  const attempts: [string, () => Promise<unknown>][] = [
    ["symlink", () => r.symlink("/a", "/s")],
    ["link", () => r.link("/a", "/h")],
    ["chmod", () => r.chmod("/a", 0o600)],
    ["chown", () => r.chown("/a", 0, 0)],
    ["utime", () => r.utime("/a", 0, 0)],
    ["setxattr", () => r.setXattr("/a", "user.x", new Uint8Array())],
    ["removexattr", () => r.removeXattr("/a", "user.x")],
    ["mknod", () => r.mknod("/p", S_IFIFO | 0o644, 0)],
  ];
  for (const [op, attempt] of attempts) {
    await assert.rejects(attempt(), (e: { code: string; message: string; operation: string }) => {
      assert.equal(e.code, "EPERM", op);
      assert.equal(e.operation, op);
      assert.match(e.message, /not enabled/);
      return true;
    });
  }
  // Nothing was created or changed.
  await assert.rejects(r.lstat("/s"), { code: "ENOENT" });
  await assert.rejects(r.lstat("/h"), { code: "ENOENT" });
  assert.equal((await r.lstat("/a")).mode & 0o777, 0o644);
});

Deno.test("existing links and everything else keep working", async () => {
  const r = new Restrictions(await setup(), { denySymlinks: true, denyHardLinks: true });
  assert.equal(await r.readLink("/old-link"), "/a");
  await r.writeFile("/b", new Uint8Array([2]));
  await r.chmod("/b", 0o600);
  await r.rename("/b", "/c");
  assert.deepEqual([...await r.readFile("/c")], [2]);
});

Deno.test("without options nothing is denied", async () => {
  const r = new Restrictions(await setup());
  await r.symlink("/a", "/s");
  await r.link("/a", "/h");
  await r.chmod("/a", 0o600);
  assert.equal((await r.lstat("/h")).nlink, 2);
});

Deno.test("restrictions keep the wrapped backend's capabilities", async () => {
  const m = await setup();
  const r = new MemoryBackend().layer(Restrictions.layer({ denySymlinks: true }));
  assert.deepEqual([...r.capabilities].sort(), [...capabilitiesOf(m)].sort());
});

Deno.test("tryLstat passes through as a probe (null for a missing name)", async () => {
  class CountingLstat extends MemoryBackend {
    lstats = 0;
    override lstat(path: string) {
      this.lstats++;
      return super.lstat(path);
    }
  }
  const m = new CountingLstat();
  const r = new Restrictions(m, { denySymlinks: true });
  assert.equal(await r.tryLstat("/missing"), null);
  assert.equal((await r.tryLstat("/"))?.type, "dir");
  assert.equal(m.lstats, 0);
});
