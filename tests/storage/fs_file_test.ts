import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { FileStorage } from "../../src/storage/file_storage.ts";
import type { FsFile } from "../../src/storage/fs_file.ts";
import { coreOnly, rejectsWith } from "./_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function storage() {
  return new FileStorage(new MemoryBackend());
}

async function readAll(f: FsFile, size = 1024): Promise<string> {
  const buf = new Uint8Array(size);
  let out = "";
  for (;;) {
    const n = await f.read(buf);
    if (n === null) return out;
    out += dec.decode(buf.subarray(0, n));
  }
}

Deno.test("read, write and seek move one cursor", async () => {
  const fs = storage();
  const f = await fs.open("/f", { read: true, write: true, createNew: true });
  equal(await f.write(enc.encode("hello world")), 11);
  equal(await f.seek(0, Deno.SeekMode.Current), 11);
  equal(await f.seek(-5, Deno.SeekMode.End), 6);
  equal(await readAll(f), "world");
  equal(await f.seek(0n, Deno.SeekMode.Start), 0);
  await f.write(enc.encode("J"));
  equal(await f.seek(2, Deno.SeekMode.Current), 3);
  equal(await readAll(f), "lo world");
  // Past the end: a write leaves a zero-filled gap.
  await f.seek(13, Deno.SeekMode.Start);
  await f.write(enc.encode("!"));
  await f.close();
  deepStrictEqual(Array.from(await fs.readFile("/f")).slice(10), [100, 0, 0, 33]);
});

Deno.test("seek rejects a negative position and an unknown whence with EINVAL", async () => {
  const fs = storage();
  await fs.writeTextFile("/f", "abc");
  await using f = await fs.open("/f");
  const e = await rejectsWith(f.seek(-1, Deno.SeekMode.Start), "EINVAL");
  ok(e instanceof TypeError);
  await rejectsWith(f.seek(-4, Deno.SeekMode.End), "EINVAL");
  await rejectsWith(f.seek(0, 9 as Deno.SeekMode), "EINVAL");
  await rejectsWith(f.seek(NaN, Deno.SeekMode.Start), "EINVAL");
  equal(await f.seek(0, Deno.SeekMode.Current), 0, "a failed seek does not move the cursor");
});

Deno.test("truncate keeps the cursor; needs write access", async () => {
  const fs = storage();
  await fs.writeTextFile("/f", "0123456789");
  const f = await fs.open("/f", { read: true, write: true });
  await f.seek(8, Deno.SeekMode.Start);
  await f.truncate(4);
  equal(await f.seek(0, Deno.SeekMode.Current), 8);
  equal(await f.read(new Uint8Array(4)), null);
  await f.truncate(6);
  equal((await f.stat()).size, 6);
  await f.truncate(-3);
  equal((await f.stat()).size, 0);
  await f.close();
  const ro = await fs.open("/f");
  await rejectsWith(ro.truncate(1), "EINVAL");
  await ro.close();
});

Deno.test("access modes: EBADF for reads of write-only and writes of read-only files", async () => {
  const fs = storage();
  await fs.writeTextFile("/f", "x");
  await using w = await fs.open("/f", { write: true });
  await rejectsWith(w.read(new Uint8Array(1)), "EBADF");
  await using r = await fs.open("/f");
  await rejectsWith(r.write(enc.encode("y")), "EBADF");
  equal(await r.read(new Uint8Array(0)), 0);
});

Deno.test("append mode writes at the end whatever the cursor", async () => {
  const fs = storage();
  await fs.writeTextFile("/log", "one\n");
  const f = await fs.open("/log", { append: true, read: true });
  await f.seek(0, Deno.SeekMode.Start);
  await f.write(enc.encode("two\n"));
  equal(await f.seek(0, Deno.SeekMode.Current), 8);
  equal(await f.write(new Uint8Array()), 0);
  await f.close();
  equal(await fs.readTextFile("/log"), "one\ntwo\n");
});

Deno.test("closed files: every call is EBADF (BadResource), closing twice too", async () => {
  const fs = storage();
  await fs.writeTextFile("/f", "x");
  const f = await fs.open("/f", { read: true, write: true });
  await f.close();
  equal(f.closed, true);
  const calls: (() => Promise<unknown>)[] = [
    () => f.read(new Uint8Array(1)),
    () => f.write(enc.encode("x")),
    () => f.seek(0, Deno.SeekMode.Start),
    () => f.truncate(),
    () => f.stat(),
    () => f.sync(),
    () => f.syncData(),
    () => f.lock(),
    () => f.close(),
  ];
  for (const call of calls) {
    const e = await rejectsWith(call, "EBADF");
    ok(e instanceof Deno.errors.BadResource);
  }
  await f[Symbol.asyncDispose](); // already closed: no error
});

Deno.test("await using closes the file at the end of the scope", async () => {
  const fs = storage();
  let escaped: FsFile;
  {
    await using f = await fs.open("/f", { write: true, create: true });
    await f.write(enc.encode("scoped"));
    escaped = f;
  }
  equal(escaped.closed, true);
  await rejectsWith(escaped.write(enc.encode("late")), "EBADF");
  equal(await fs.readTextFile("/f"), "scoped");
});

Deno.test("operations started before close still complete, in order", async () => {
  const fs = storage();
  const f = await fs.open("/f", { write: true, create: true });
  const writes = [f.write(enc.encode("a")), f.write(enc.encode("b")), f.write(enc.encode("c"))];
  const closed = f.close();
  deepStrictEqual(await Promise.all(writes), [1, 1, 1]);
  await closed;
  equal(await fs.readTextFile("/f"), "abc");
});

Deno.test("concurrent reads on one file never share a cursor position", async () => {
  const fs = storage();
  await fs.writeTextFile("/f", "abcdefghij");
  await using f = await fs.open("/f");
  const bufs = Array.from({ length: 5 }, () => new Uint8Array(2));
  await Promise.all(bufs.map((b) => f.read(b)));
  deepStrictEqual(bufs.map((b) => dec.decode(b)), ["ab", "cd", "ef", "gh", "ij"]);
});

Deno.test("readable streams the rest of the file and closes it", async () => {
  const fs = storage();
  const big = new Uint8Array(200 * 1024).map((_, i) => i % 251);
  await fs.writeFile("/big", big);
  const f = await fs.open("/big");
  await f.seek(1000, Deno.SeekMode.Start);
  const chunks: Uint8Array[] = [];
  for await (const chunk of f.readable) chunks.push(chunk);
  ok(chunks.length >= 3, "read in several chunks");
  const joined = new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer());
  deepStrictEqual(joined, big.subarray(1000));
  equal(f.closed, true);
  equal(f.readable, f.readable, "one stream per file");
});

Deno.test("readable chunks are copies, not views of the file", async () => {
  const fs = storage();
  await fs.writeTextFile("/f", "abc");
  const f = await fs.open("/f");
  const reader = f.readable.getReader();
  const { value } = await reader.read();
  await fs.writeTextFile("/f", "xyz");
  equal(dec.decode(value), "abc");
  await reader.cancel();
  equal(f.closed, true, "cancelling closes the file");
});

Deno.test("writable writes at the cursor and closes the file", async () => {
  const fs = storage();
  await fs.writeTextFile("/f", "0123456789");
  const f = await fs.open("/f", { write: true });
  await f.seek(2, Deno.SeekMode.Start);
  await ReadableStream.from([enc.encode("ab"), enc.encode("cd")]).pipeTo(f.writable);
  equal(f.closed, true);
  equal(await fs.readTextFile("/f"), "01abcd6789");
  const g = await fs.open("/g", { write: true, create: true });
  const writer = g.writable.getWriter();
  await writer.write(enc.encode("partial"));
  await writer.abort(new Error("stop"));
  equal(g.closed, true, "aborting closes the file");
  equal(await fs.readTextFile("/g"), "partial");
});

Deno.test("stat follows the open file across a rename", async () => {
  const fs = storage();
  await fs.writeTextFile("/a", "12345");
  await using f = await fs.open("/a", { read: true, write: true });
  await fs.rename("/a", "/b");
  await f.write(enc.encode("X"));
  const info = await f.stat();
  equal(info.isFile, true);
  equal(info.size, 5);
  equal(await fs.readTextFile("/b"), "X2345");
});

Deno.test("handles on the same file see each other's writes", async () => {
  const fs = storage();
  await fs.writeTextFile("/f", "");
  await using a = await fs.open("/f", { write: true });
  await using b = await fs.open("/f");
  await a.write(enc.encode("shared"));
  equal(await readAll(b), "shared");
  await a.truncate(3);
  await b.seek(0, Deno.SeekMode.Start);
  equal(await readAll(b), "sha");
});

Deno.test("a directory opens for reading: stat works, reads are EISDIR", async () => {
  const fs = storage();
  await fs.mkdir("/d");
  await using d = await fs.open("/d");
  equal((await d.stat()).isDirectory, true);
  await rejectsWith(d.read(new Uint8Array(1)), "EISDIR");
  await rejectsWith(d.write(enc.encode("x")), "EBADF");
  await rejectsWith(d.truncate(0), "EINVAL");
});

Deno.test("locks: an exclusive lock waits for the holder to unlock", async () => {
  const fs = storage();
  await fs.writeTextFile("/f", "");
  await using a = await fs.open("/f", { read: true, write: true });
  await using b = await fs.open("/f", { read: true, write: true });
  await a.lock(true);
  const order: string[] = [];
  const waiting = b.lock(true).then(() => order.push("b locked"));
  await new Promise((r) => setTimeout(r, 10));
  order.push("a unlocks");
  await a.unlock();
  await waiting;
  deepStrictEqual(order, ["a unlocks", "b locked"]);
  await b.unlock();
});

Deno.test("a backend without handles: the buffered file writes back on close", async () => {
  const mem = new MemoryBackend();
  const fs = new FileStorage(coreOnly(mem));
  await fs.writeTextFile("/f", "abc");
  const f = await fs.open("/f", { read: true, write: true });
  await f.seek(0, Deno.SeekMode.End);
  await f.write(enc.encode("def"));
  await f.sync();
  equal(await fs.readTextFile("/f"), "abcdef");
  await f.write(enc.encode("!"));
  await f.close();
  equal(await fs.readTextFile("/f"), "abcdef!");
  await using g = await fs.open("/f");
  await rejectsWith(g.lock(), "ENOTSUP");
});
