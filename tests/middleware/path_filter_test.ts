import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { capabilitiesOf } from "../../src/core/backend.ts";
import { PathFilter, type PathFilterOptions } from "../../src/middleware/path_filter.ts";

const data = (s = "x") => new TextEncoder().encode(s);
const denied = { code: "EACCES" };

/** A backend holding a small tree, and a filter over it. */
async function sandbox(options: PathFilterOptions) {
  const m = new MemoryBackend();
  for (const dir of ["/workspace", "/workspace/src", "/workspace/secrets", "/etc", "/tmp"]) {
    await m.mkdir(dir);
  }
  await m.writeFile("/workspace/.env", data("TOKEN=1"));
  await m.writeFile("/workspace/src/main.ts", data("code"));
  await m.writeFile("/workspace/src/.env", data("TOKEN=2"));
  await m.writeFile("/workspace/secrets/key", data("k"));
  await m.writeFile("/etc/passwd", data("root"));
  return { m, f: new PathFilter(m, options) };
}

const names = async (f: PathFilter, path: string) =>
  (await f.readDir(path)).map((e) => e.name).sort();

Deno.test("the agent sandbox: only /workspace, never a .env or secrets", async () => {
  const { f } = await sandbox({ allow: ["/workspace/**"], deny: [".env", "secrets"] });
  assert.deepEqual(await names(f, "/"), ["workspace"]);
  assert.deepEqual(await names(f, "/workspace"), ["src"]);
  assert.deepEqual(await names(f, "/workspace/src"), ["main.ts"]);
  assert.equal(new TextDecoder().decode(await f.readFile("/workspace/src/main.ts")), "code");
  for (const path of ["/workspace/.env", "/workspace/src/.env", "/workspace/secrets/key", "/etc"]) {
    await assert.rejects(f.lstat(path), denied, path);
  }
  await assert.rejects(f.readFile("/workspace/.env"), denied);
  await assert.rejects(f.readFile("/etc/passwd"), denied);
  await assert.rejects(f.readDir("/workspace/secrets"), denied);
  await assert.rejects(f.writeFile("/workspace/new/.env", data()), denied);
  await assert.rejects(f.writeFile("/tmp/x", data()), denied);
  await assert.rejects(f.open("/workspace/.env", { read: true }), denied);
  await f.writeFile("/workspace/src/new.ts", data());
  assert.equal((await f.lstat("/")).type, "dir");
  assert.equal((await f.lstat("/workspace")).type, "dir");
});

Deno.test("every operation on a denied path fails with EACCES without reaching the backend", async () => {
  const { m, f } = await sandbox({ deny: ["/workspace/secrets"] });
  const p = "/workspace/secrets/key";
  const attempts: [string, () => Promise<unknown>][] = [
    ["lstat", () => f.lstat(p)],
    ["readFile", () => f.readFile(p)],
    ["writeFile", () => f.writeFile(p, data())],
    ["unlink", () => f.unlink(p)],
    ["rmdir", () => f.rmdir("/workspace/secrets")],
    ["mkdir", () => f.mkdir("/workspace/secrets/sub")],
    ["read", () => f.read(p, 0, 1)],
    ["truncate", () => f.truncate(p, 0)],
    ["appendFile", () => f.appendFile(p, data())],
    ["readLink", () => f.readLink(p)],
    ["chmod", () => f.chmod(p, 0o600)],
    ["chown", () => f.chown(p, 0, 0)],
    ["utime", () => f.utime(p, 0, 0)],
    ["fsync", () => f.fsync(p)],
    ["open", () => f.open(p, { read: true })],
    ["getXattr", () => f.getXattr(p, "user.x")],
    ["listXattr", () => f.listXattr(p)],
    ["setXattr", () => f.setXattr(p, "user.x", data())],
    ["removeXattr", () => f.removeXattr(p, "user.x")],
    ["mknod", () => f.mknod("/workspace/secrets/fifo", 0o010644, 0)],
  ];
  for (const [what, attempt] of attempts) {
    await assert.rejects(attempt(), (e: { code: string; message: string }) => {
      assert.equal(e.code, "EACCES", what);
      assert.match(e.message, /Permission denied/);
      return true;
    });
  }
  assert.deepEqual([...await m.readFile(p)], [...data("k")]);
  assert.deepEqual(await names(f, "/workspace"), [".env", "src"]);
});

Deno.test("rename, link and copy into or out of a denied area fail with EACCES", async () => {
  const { m, f } = await sandbox({ allow: ["/workspace/**"], deny: ["secrets"] });
  await assert.rejects(f.rename("/workspace/src/main.ts", "/workspace/secrets/main.ts"), denied);
  await assert.rejects(f.rename("/workspace/secrets/key", "/workspace/key"), denied);
  await assert.rejects(f.rename("/workspace/src/main.ts", "/tmp/main.ts"), denied);
  await assert.rejects(f.link("/workspace/secrets/key", "/workspace/key"), denied);
  await assert.rejects(f.link("/workspace/src/main.ts", "/tmp/main.ts"), denied);
  await assert.rejects(f.copyFile("/etc/passwd", "/workspace/passwd"), denied);
  await assert.rejects(f.copyFile("/workspace/src/main.ts", "/workspace/secrets/x"), denied);
  assert.deepEqual((await m.readDir("/workspace/secrets")).map((e) => e.name), ["key"]);
  await f.rename("/workspace/src/main.ts", "/workspace/main.ts");
});

Deno.test("renaming a directory may not carry a hidden entry to where it would show", async () => {
  const { f } = await sandbox({ deny: ["/workspace/secrets/**", ".env"] });
  // /workspace/secrets/key would become /moved/secrets/key, which nothing denies.
  await assert.rejects(f.rename("/workspace", "/moved"), (e: { code: string; reason: string }) => {
    assert.equal(e.code, "EACCES");
    assert.match(e.reason, /would become visible/);
    return true;
  });
  // A .env stays denied wherever it goes, so moving src is fine.
  await f.rename("/workspace/src", "/src");
  await assert.rejects(f.readFile("/src/.env"), denied);
  assert.deepEqual(await names(f, "/src"), ["main.ts"]);
});

Deno.test("removing a directory that only looks empty (a hidden .env left) is EACCES, not ENOTEMPTY", async () => {
  const { m, f } = await sandbox({ deny: [".env"] });
  await f.unlink("/workspace/src/main.ts");
  assert.deepEqual(await names(f, "/workspace/src"), []);
  await assert.rejects(f.rmdir("/workspace/src"), (e: { code: string; reason: string }) => {
    assert.equal(e.code, "EACCES");
    assert.match(e.reason, /entries the path filter hides/);
    return true;
  });
  assert.deepEqual(await m.readFile("/workspace/src/.env"), data("TOKEN=2"), "the secret is kept");
  // A directory with visible entries left is still ENOTEMPTY, an empty one goes.
  await assert.rejects(f.rmdir("/workspace"), { code: "ENOTEMPTY" });
  await f.mkdir("/workspace/empty");
  await f.rmdir("/workspace/empty");
  assert.equal(await f.tryLstat("/workspace/empty"), null);
});

Deno.test("symlinks: creating one into a denied area fails; existing ones cannot be followed there", async () => {
  const { m, f } = await sandbox({ allow: ["/workspace/**"], deny: ["secrets"] });
  await assert.rejects(f.symlink("/etc/passwd", "/workspace/p"), denied);
  await assert.rejects(f.symlink("../secrets/key", "/workspace/src/k"), denied);
  await f.symlink("main.ts", "/workspace/src/link");
  assert.equal(await f.readLink("/workspace/src/link"), "main.ts");
  // A link planted behind the filter's back: its target is readable text,
  // but every step of following it is denied.
  await m.symlink("/etc/passwd", "/workspace/planted");
  assert.equal(await f.readLink("/workspace/planted"), "/etc/passwd");
  await assert.rejects(f.lstat("/etc"), denied);
  await assert.rejects(f.lstat("/etc/passwd"), denied);
});

Deno.test("directories on the way to allowed paths are traversable, nothing more", async () => {
  const { m, f } = await sandbox({ allow: ["/workspace/src/**"] });
  await m.writeFile("/workspace/readme", data());
  assert.deepEqual(await names(f, "/"), ["workspace"]);
  assert.deepEqual(await names(f, "/workspace"), ["src"]);
  assert.equal((await f.lstat("/workspace")).type, "dir");
  await assert.rejects(f.lstat("/workspace/readme"), denied);
  await assert.rejects(f.chmod("/workspace", 0o700), denied);
  await assert.rejects(f.rename("/workspace", "/w"), denied);
  await assert.rejects(f.writeFile("/workspace/new", data()), denied);
  // Creating the way to an allowed area is allowed.
  const g = new PathFilter(new MemoryBackend(), { allow: ["/a/b/**"] });
  await g.mkdir("/a");
  await g.mkdir("/a/b");
  await g.writeFile("/a/b/c", data());
  await assert.rejects(g.mkdir("/z"), denied);
  await assert.rejects(g.mkdir("/a/z"), denied);
});

Deno.test("glob syntax: *, ?, classes, negated classes, braces, **", () => {
  const f = new PathFilter(new MemoryBackend(), {
    allow: ["/logs/*.log", "/data/file?.bin", "/n/[0-9][!a]", "/{x,y}/**", "/deep/**/keep"],
  });
  const allowed = [
    "/logs/a.log",
    "/logs/.hidden.log",
    "/data/file1.bin",
    "/n/1b",
    "/x/any/thing",
    "/y",
    "/deep/a/b/keep",
    "/deep/keep",
  ];
  const refused = [
    "/logs/a.txt",
    "/logs/sub/a.log",
    "/data/file10.bin",
    "/n/1a",
    "/n/ab",
    "/z/a",
    "/deep/a/other",
  ];
  for (const p of allowed) assert.ok(f.isAllowed(p), p);
  for (const p of refused) assert.ok(!f.isAllowed(p), p);
});

Deno.test("wildcards match line breaks in names: no directory name lets a denied path escape", async () => {
  const f = new PathFilter(new MemoryBackend(), {
    deny: [".env", "/data/**/key", "*.pem"],
  });
  for (const dir of ["a\nb", "\n", "a\rb", "a\u2028b", "a\u2029b"]) {
    assert.ok(!f.isAllowed(`/${dir}/.env`), JSON.stringify(dir));
    assert.ok(!f.isAllowed(`/data/${dir}/key`), JSON.stringify(dir));
    assert.ok(!f.isAllowed(`/${dir}/c.pem`), JSON.stringify(dir));
  }
  // A name that only ends in ".env" after a line break is another name.
  assert.ok(f.isAllowed("/x\n.env"));
  const { m, f: filter } = await sandbox({ deny: [".env"] });
  await m.mkdir("/workspace/a\nb");
  await m.writeFile("/workspace/a\nb/.env", data("TOKEN=3"));
  await assert.rejects(filter.readFile("/workspace/a\nb/.env"), denied);
  assert.deepEqual(await names(filter, "/workspace/a\nb"), []);
  const allowed = new PathFilter(new MemoryBackend(), { allow: ["/w/*/x"] });
  assert.ok(allowed.isTraversable("/w/a\nb"));
  assert.ok(allowed.isAllowed("/w/a\nb/x"));
});

Deno.test("a rule covering a directory covers its subtree; deny wins over allow", () => {
  const f = new PathFilter(new MemoryBackend(), {
    allow: ["/workspace"],
    deny: ["/workspace/private"],
  });
  assert.ok(f.isAllowed("/workspace/a/b"));
  assert.ok(!f.isAllowed("/workspace/private"));
  assert.ok(!f.isAllowed("/workspace/private/x/y"));
  assert.ok(!f.isTraversable("/workspace/private"));
  assert.ok(f.isTraversable("/"));
});

Deno.test("inode access to a denied inode fails with EACCES", async () => {
  const { m, f } = await sandbox({ deny: ["secrets"] });
  const secret = await m.lstat("/workspace/secrets/key");
  await assert.rejects(f.statIno(secret.ino), denied);
  await assert.rejects(f.inodePath(secret.ino), denied);
  const ok = await m.lstat("/workspace/src/main.ts");
  assert.equal((await f.statIno(ok.ino)).size, 4);
  assert.equal(await f.inodePath(ok.ino), "/workspace/src/main.ts");
});

Deno.test("caseInsensitive matches without regard to case", async () => {
  const { f } = await sandbox({ deny: [".ENV"], caseInsensitive: true });
  await assert.rejects(f.readFile("/workspace/.env"), denied);
});

Deno.test("an empty pattern is rejected with EINVAL", () => {
  assert.throws(() => new PathFilter(new MemoryBackend(), { allow: [""] }), { code: "EINVAL" });
});

Deno.test("the filter keeps the wrapped backend's capabilities", () => {
  const m = new MemoryBackend();
  const f = m.layer(PathFilter.layer({ deny: [".env"] }));
  assert.deepEqual([...f.capabilities].sort(), [...capabilitiesOf(m)].sort());
});

Deno.test("tryLstat probes without a failing lstat; denied paths still get EACCES", async () => {
  class CountingLstat extends MemoryBackend {
    lstats = 0;
    override lstat(path: string) {
      this.lstats++;
      return super.lstat(path);
    }
  }
  const m = new CountingLstat();
  await m.mkdir("/workspace");
  const f = new PathFilter(m, { allow: ["/workspace/**"], deny: [".env"] });
  assert.equal(await f.tryLstat("/workspace/missing"), null);
  assert.equal((await f.tryLstat("/workspace"))?.type, "dir");
  await assert.rejects(f.tryLstat("/nowhere"), denied);
  await assert.rejects(f.tryLstat("/workspace/.env"), denied);
  assert.equal(m.lstats, 0);
  const all = new PathFilter(m, { allow: ["/**"] });
  assert.equal(await all.tryLstat("/missing"), null);
  assert.equal(m.lstats, 0);
});

Deno.test("without deny rules, an allowed directory lists everything in it", async () => {
  const { f } = await sandbox({ allow: ["/workspace/**"] });
  assert.deepEqual(await names(f, "/workspace"), [".env", "secrets", "src"]);
  assert.deepEqual(await names(f, "/"), ["workspace"]);
  const everything = (await sandbox({ allow: ["/**"] })).f;
  assert.deepEqual(await names(everything, "/"), ["etc", "tmp", "workspace"]);
  await everything.rename("/etc/passwd", "/tmp/passwd");
  assert.deepEqual(await names(everything, "/tmp"), ["passwd"]);
});
