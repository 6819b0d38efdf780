import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { capabilitiesOf } from "../../src/core/backend.ts";
import { PathFilter } from "../../src/middleware/path_filter.ts";
import { Quota } from "../../src/middleware/quota.ts";
import { RateLimit } from "../../src/middleware/rate_limit.ts";
import { ReadOnly } from "../../src/middleware/read_only.ts";
import { Restrictions } from "../../src/middleware/restrictions.ts";
import { BackendStack, type LayerConfig } from "../../src/middleware/stack.ts";

Deno.test("the builder stacks layers inner first and keeps them typed", async () => {
  const memory = new MemoryBackend();
  const stack = BackendStack.from(memory)
    .limited({ maxTotalSize: 100 })
    .restricted({ denyHardLinks: true })
    .filtered({ allow: ["/workspace/**"], deny: [".env"] })
    .rateLimited({ maxOps: 1000 })
    .build();
  assert.ok(stack instanceof RateLimit);
  assert.ok(stack.inner instanceof PathFilter);
  assert.ok(stack.inner.inner instanceof Restrictions);
  const quota: Quota<MemoryBackend> = stack.inner.inner.inner;
  assert.equal(quota.inner, memory);
  await stack.mkdir("/workspace");
  await stack.writeFile("/workspace/a", new Uint8Array(60));
  await assert.rejects(stack.writeFile("/workspace/b", new Uint8Array(60)), { code: "ENOSPC" });
  await assert.rejects(stack.writeFile("/workspace/.env", new Uint8Array()), { code: "EACCES" });
  await assert.rejects(stack.link("/workspace/a", "/workspace/b"), { code: "EPERM" });
  assert.deepEqual(quota.usage(), { bytes: 60, nodes: 2 });
});

Deno.test("a stack keeps the capabilities of the storage (the quota adds statfs)", () => {
  const memory = new MemoryBackend();
  const stack = BackendStack.from(memory).limited({}).restricted({}).filtered({}).readOnly()
    .rateLimited({ maxOps: 1 }).build();
  assert.deepEqual([...stack.capabilities].sort(), [...capabilitiesOf(memory)].sort());
});

Deno.test(".layer() on a backend composes the same way", async () => {
  const stack = new MemoryBackend()
    .layer(Quota.layer({ maxNodeCount: 1 }))
    .layer(ReadOnly.layer());
  assert.ok(stack.inner instanceof Quota);
  await assert.rejects(stack.mkdir("/a"), { code: "EROFS" });
});

Deno.test("fromConfig builds a stack from plain data", async () => {
  const config: LayerConfig[] = JSON.parse(JSON.stringify([
    { kind: "quota", maxTotalSize: 10 },
    { kind: "pathFilter", deny: ["*.key"] },
    { kind: "restrictions", denySymlinks: true },
    { kind: "rateLimit", maxOps: 100 },
  ]));
  const backend = BackendStack.fromConfig(new MemoryBackend(), config);
  await assert.rejects(backend.writeFile("/a", new Uint8Array(11)), { code: "ENOSPC" });
  await assert.rejects(backend.writeFile("/a.key", new Uint8Array(1)), { code: "EACCES" });
  await backend.writeFile("/a", new Uint8Array(10));
  const readOnly = BackendStack.fromConfig(backend, [{ kind: "readOnly" }]);
  await assert.rejects(readOnly.unlink("/a"), { code: "EROFS" });
});

Deno.test("fromConfig rejects an unknown kind and bad options with EINVAL", () => {
  const m = new MemoryBackend();
  assert.throws(
    () => BackendStack.fromConfig(m, [{ kind: "antivirus" } as unknown as LayerConfig]),
    { code: "EINVAL" },
  );
  assert.throws(
    () => BackendStack.fromConfig(m, [{ kind: "quota", maxTotalSize: -5 }]),
    { code: "EINVAL" },
  );
});

Deno.test("order matters: a quota below a filter counts hidden files, above it does not", async () => {
  const memory = new MemoryBackend();
  await memory.writeFile("/.env", new Uint8Array(50));
  await memory.writeFile("/visible", new Uint8Array(5));
  const below = BackendStack.from(memory).limited({}).filtered({ deny: [".env"] }).build();
  await below.inner.ready;
  assert.equal(below.inner.usage().bytes, 55);
  const above = new Quota(new PathFilter(memory, { deny: [".env"] }));
  await above.ready;
  assert.equal(above.usage().bytes, 5);
});

Deno.test("storage() gives the Deno-shaped API over the stack", async () => {
  const memory = new MemoryBackend();
  const fs = BackendStack.from(memory)
    .limited({ maxTotalSize: 10 })
    .filtered({ deny: [".env"] })
    .storage();
  await fs.mkdir("/a/b", { recursive: true });
  await fs.writeTextFile("/a/b/note.txt", "hello");
  assert.equal(await fs.readTextFile("/a/b/note.txt"), "hello");
  await assert.rejects(fs.writeTextFile("/a/big.txt", "123456"), { code: "ENOSPC" });
  await assert.rejects(fs.writeTextFile("/a/.env", "x"), { code: "EACCES" });
  await assert.rejects(fs.readTextFile("/a/.env"), Deno.errors.PermissionDenied);
  const names: string[] = [];
  for await (const e of fs.readDir("/a")) names.push(e.name);
  assert.deepEqual(names, ["b"]);
});
