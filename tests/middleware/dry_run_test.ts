// DryRun: every mutation is recorded and answered as done, the wrapped
// backend never changes, and reads show the backend as it is.
import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { capabilitiesOf } from "../../src/core/backend.ts";
import { DryRun } from "../../src/middleware/dry_run.ts";
import { BackendStack } from "../../src/middleware/stack.ts";
import { FileStorage } from "../../src/storage/file_storage.ts";
import { coreOnly } from "../fixtures/core_only.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Every path with its type, size and mode: to compare a backend before and after. */
async function tree(backend: MemoryBackend, dir = "/"): Promise<string[]> {
  const out: string[] = [];
  for (const e of await backend.readDir(dir)) {
    const path = dir === "/" ? `/${e.name}` : `${dir}/${e.name}`;
    const m = await backend.lstat(path);
    out.push(`${path} ${m.type} ${m.size} ${m.mode.toString(8)} ${m.nlink} ${m.uid}:${m.gid}`);
    if (e.type === "dir") out.push(...await tree(backend, path));
  }
  return out;
}

async function populated(): Promise<MemoryBackend> {
  const memory = new MemoryBackend();
  await memory.mkdir("/docs");
  await memory.writeFile("/docs/a.txt", enc.encode("original"));
  await memory.mkdir("/empty");
  await memory.symlink("a.txt", "/docs/link");
  return memory;
}

Deno.test("every mutation is recorded, answered as done, and changes nothing", async () => {
  const memory = await populated();
  const before = await tree(memory);
  const dry = new DryRun(memory);
  await dry.writeFile("/docs/a.txt", enc.encode("new!"), { mode: 0o600 });
  await dry.appendFile("/docs/a.txt", enc.encode("++"));
  await dry.truncate("/docs/a.txt", 2);
  await dry.copyFile("/docs/a.txt", "/docs/copy");
  await dry.mkdir("/new", { mode: 0o700 });
  await dry.unlink("/docs/link");
  await dry.rmdir("/empty");
  await dry.rename("/docs/a.txt", "/docs/b.txt");
  await dry.symlink("b.txt", "/docs/l2");
  await dry.link("/docs/a.txt", "/docs/hard");
  await dry.chmod("/docs/a.txt", 0o600);
  await dry.chown("/docs/a.txt", 1000, null);
  await dry.utime("/docs/a.txt", null, 5);
  await dry.setXattr("/docs/a.txt", "user.tag", enc.encode("v"), { create: true });
  await dry.removeXattr("/docs/a.txt", "user.tag");
  await dry.mknod("/fifo", 0o010644, 0);
  assert.deepEqual(await tree(memory), before, "the backend is untouched");
  assert.deepEqual(dry.operations().map((o) => [o.op, o.path, o.dest, o.bytes]), [
    ["writeFile", "/docs/a.txt", undefined, 4],
    ["appendFile", "/docs/a.txt", undefined, 2],
    ["truncate", "/docs/a.txt", undefined, undefined],
    ["copyFile", "/docs/a.txt", "/docs/copy", undefined],
    ["mkdir", "/new", undefined, undefined],
    ["unlink", "/docs/link", undefined, undefined],
    ["rmdir", "/empty", undefined, undefined],
    ["rename", "/docs/a.txt", "/docs/b.txt", undefined],
    ["symlink", "/docs/l2", "b.txt", undefined],
    ["link", "/docs/a.txt", "/docs/hard", undefined],
    ["chmod", "/docs/a.txt", undefined, undefined],
    ["chown", "/docs/a.txt", undefined, undefined],
    ["utime", "/docs/a.txt", undefined, undefined],
    ["setXattr", "/docs/a.txt", undefined, 1],
    ["removeXattr", "/docs/a.txt", undefined, undefined],
    ["mknod", "/fifo", undefined, undefined],
  ]);
  const ops = dry.operations();
  assert.deepEqual(ops[0].options, { mode: 0o600 });
  assert.deepEqual(ops[2].options, { length: 2 });
  assert.deepEqual(ops[11].options, { uid: 1000, gid: null });
  assert.deepEqual(ops[12].options, { atimeMs: null, mtimeMs: 5 });
  assert.deepEqual(ops[13].options, { name: "user.tag", create: true });
  assert.deepEqual(ops[15].options, { mode: 0o010644, rdev: 0 });
});

Deno.test("reads see the backend as it is, not the recorded writes (documented)", async () => {
  const memory = await populated();
  const dry = new DryRun(memory);
  await dry.writeFile("/docs/a.txt", enc.encode("changed"));
  await dry.writeFile("/docs/new.txt", enc.encode("x"));
  assert.equal(dec.decode(await dry.readFile("/docs/a.txt")), "original");
  await assert.rejects(dry.readFile("/docs/new.txt"), { code: "ENOENT" });
  assert.deepEqual((await dry.readDir("/docs")).map((e) => e.name).sort(), ["a.txt", "link"]);
  assert.equal(await dry.readLink("/docs/link"), "a.txt");
});

Deno.test("opening for writing gives a recording handle; reads come from the backend", async () => {
  const memory = await populated();
  const dry = new DryRun(memory);
  const h = await dry.open("/docs/a.txt", { read: true, write: true });
  assert.equal(await h.write(enc.encode("XY"), 2), 2);
  assert.equal(dec.decode(await h.read(0, 100)), "original");
  assert.equal((await h.stat()).size, 8);
  await h.write(enc.encode("tail!"), 8);
  assert.equal((await h.stat()).size, 13);
  await h.truncate(4);
  assert.equal((await h.stat()).size, 4);
  await h.sync();
  await h.close();
  await assert.rejects(h.write(enc.encode("x"), 0), { code: "EBADF" });
  assert.equal(dec.decode(await memory.readFile("/docs/a.txt")), "original");
  assert.deepEqual(
    dry.operations().map((o) => [o.op, o.bytes, o.options?.position ?? o.options?.length]),
    [
      ["open", undefined, undefined],
      ["handle.write", 2, 2],
      ["handle.write", 5, 8],
      ["handle.truncate", undefined, 4],
    ],
  );
});

Deno.test("opening follows what would really happen: ENOENT, EEXIST, EISDIR, new files", async () => {
  const memory = await populated();
  const dry = new DryRun(memory);
  await assert.rejects(dry.open("/docs/missing", { write: true }), { code: "ENOENT" });
  await assert.rejects(dry.open("/docs/a.txt", { write: true, createNew: true }), {
    code: "EEXIST",
  });
  await assert.rejects(dry.open("/docs", { write: true }), { code: "EISDIR" });
  assert.equal(dry.operations().length, 0, "refused opens are not recorded");
  const created = await dry.open("/docs/new", { write: true, create: true, mode: 0o600 });
  assert.equal(dec.decode(await created.read(0, 10)), "");
  await created.write(enc.encode("hello"), 0);
  const meta = await created.stat();
  assert.equal(meta.type, "file");
  assert.equal(meta.size, 5);
  assert.equal(meta.mode & 0o777, 0o600);
  await created.close();
  await assert.rejects(memory.lstat("/docs/new"), { code: "ENOENT" });
  const appending = await dry.open("/docs/a.txt", { append: true });
  await appending.write(enc.encode("!"), 0);
  assert.equal(dry.operations().at(-1)!.options?.position, 8, "appends land at the end");
  await appending.close();
  const truncating = await dry.open("/docs/a.txt", { write: true, truncate: true });
  assert.equal((await truncating.stat()).size, 0);
  await truncating.close();
  // Read-only opens are plain backend handles and are not recorded.
  const count = dry.operations().length;
  const reader = await dry.open("/docs/a.txt", { read: true });
  assert.equal(dec.decode(await reader.read(0, 3)), "ori");
  await reader.close();
  assert.equal(dry.operations().length, count);
});

Deno.test("keepData keeps a copy of the bytes; operations() and clear()", async () => {
  const dry = new DryRun(new MemoryBackend(), { keepData: true });
  const data = enc.encode("abc");
  await dry.writeFile("/f", data);
  data[0] = 0x7a;
  const [op] = dry.operations();
  assert.equal(dec.decode(op.data!), "abc");
  op.path = "/changed";
  assert.equal(dry.operations()[0].path, "/f", "the record is handed out as copies");
  dry.clear();
  assert.deepEqual(dry.operations(), []);
  const sizesOnly = new DryRun(new MemoryBackend());
  await sizesOnly.writeFile("/f", data);
  assert.equal(sizesOnly.operations()[0].data, undefined);
});

Deno.test("through FileStorage: a whole program's changes, nothing written", async () => {
  const memory = await populated();
  const dry = new DryRun(memory);
  const fs = new FileStorage(dry);
  await fs.mkdir("/out", { recursive: true });
  await fs.writeTextFile("/out/report.txt", "done");
  await fs.remove("/docs/a.txt");
  assert.deepEqual(dry.operations().map((o) => `${o.op} ${o.path}`), [
    "mkdir /out",
    "writeFile /out/report.txt",
    "unlink /docs/a.txt",
  ]);
  assert.equal(dec.decode(await memory.readFile("/docs/a.txt")), "original");
  await assert.rejects(memory.lstat("/out"), { code: "ENOENT" });
});

Deno.test("innermost in a stack, policies above still refuse (and nothing is recorded)", async () => {
  const memory = await populated();
  const dry = new DryRun(memory);
  const stack = BackendStack.from(dry).filtered({ deny: ["*.secret"] }).readOnly().build();
  await assert.rejects(stack.writeFile("/x", enc.encode("1")), { code: "EROFS" });
  const filtered = BackendStack.from(dry).filtered({ deny: ["*.secret"] }).build();
  await assert.rejects(filtered.writeFile("/k.secret", enc.encode("1")), { code: "EACCES" });
  await filtered.writeFile("/ok", enc.encode("1"));
  assert.deepEqual(dry.operations().map((o) => o.path), ["/ok"]);
  assert.deepEqual(capabilitiesOf(dry), capabilitiesOf(memory));
});

Deno.test("simulate: reads see the simulated changes, errors are real, the backend untouched", async () => {
  const memory = await populated();
  const before = await tree(memory);
  const dry = new DryRun(memory, { simulate: true });
  const fs = new FileStorage(dry);
  await fs.mkdir("/out/logs", { recursive: true });
  await fs.writeTextFile("/out/logs/today.txt", "hello");
  await fs.writeTextFile("/docs/a.txt", "rewritten");
  await fs.rename("/docs/a.txt", "/docs/b.txt");
  await fs.remove("/empty");
  assert.equal(await fs.readTextFile("/out/logs/today.txt"), "hello");
  assert.equal(await fs.readTextFile("/docs/b.txt"), "rewritten");
  assert.equal(await fs.exists("/docs/a.txt"), false);
  assert.equal(await fs.exists("/empty"), false);
  // The real error, and nothing recorded for it.
  await assert.rejects(dry.mkdir("/out"), { code: "EEXIST" });
  await assert.rejects(dry.rmdir("/out"), { code: "ENOTEMPTY" });
  assert.deepEqual(dry.operations().map((o) => `${o.op} ${o.path}`), [
    "mkdir /out",
    "mkdir /out/logs",
    "writeFile /out/logs/today.txt",
    "writeFile /docs/a.txt",
    "rename /docs/a.txt",
    "rmdir /empty",
  ]);
  const h = await dry.open("/out/logs/today.txt", { read: true, write: true });
  await h.write(enc.encode("J"), 0);
  assert.equal(dec.decode(await h.read(0, 10)), "Jello");
  await h.truncate(2);
  await h.close();
  assert.equal(await fs.readTextFile("/out/logs/today.txt"), "Je");
  assert.deepEqual(dry.operations().slice(-3).map((o) => [o.op, o.bytes]), [
    ["open", undefined],
    ["handle.write", 1],
    ["handle.truncate", undefined],
  ]);
  assert.deepEqual(await tree(memory), before, "the backend is untouched");
  assert.equal(dec.decode(await memory.readFile("/docs/a.txt")), "original");
  assert.equal(capabilitiesOf(dry).has("inodes"), false);
  await assert.rejects(dry.statIno(1), { code: "ENOTSUP" });
});

Deno.test("without the capability, a recorded feature is ENOTSUP in both modes", async () => {
  const core = new MemoryBackend();
  for (const simulate of [false, true]) {
    const dry = new DryRun(coreOnly(core), { simulate });
    await assert.rejects(dry.symlink("a", "/l"), { code: "ENOTSUP" });
    await assert.rejects(dry.chmod("/", 0o700), { code: "ENOTSUP" });
    assert.deepEqual(dry.operations(), []);
  }
});

Deno.test("tryLstat answers from what reads see in each mode", async () => {
  const plain = new DryRun(new MemoryBackend());
  await plain.writeFile("/f", enc.encode("x"));
  assert.equal(await plain.tryLstat("/f"), null);
  const simulating = new DryRun(new MemoryBackend(), { simulate: true });
  await simulating.writeFile("/f", enc.encode("x"));
  assert.equal((await simulating.tryLstat("/f"))?.size, 1);
  assert.equal(await simulating.tryLstat("/g"), null);
});
