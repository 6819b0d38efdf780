// The stack the middleware flags build, checked in process (no FUSE):
// where the quota sits decides what an agent in a sandbox may still write.
import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { Overlay } from "../../src/backends/overlay.ts";
import { buildStack, parseMiddlewareFlags } from "../../src/cli/middleware_flags.ts";
import { supports } from "../../src/core/backend.ts";

const bytes = (n: number) => new Uint8Array(n).fill(120);

/** A template with 64 KiB in it, as an overlay's lower layer. */
async function template(): Promise<MemoryBackend> {
  const lower = new MemoryBackend();
  await lower.mkdir("/project");
  await lower.writeFile("/project/big.bin", bytes(64 * 1024));
  return lower;
}

Deno.test("--quota-size on an overlay bounds the changes (UPPER), not the template below", async () => {
  const lower = await template();
  const upper = new MemoryBackend();
  const settings = parseMiddlewareFlags({ "quota-size": "16K" }, "mount");
  const stack = await buildStack(new Overlay(lower, upper), settings);
  try {
    const fs = stack.backend;
    // The 64 KiB template is far over 16 KiB, yet the agent may write.
    await fs.writeFile("/project/notes.txt", bytes(4096));
    assert.ok(supports(fs, "statfs") && supports(fs, "truncate") && supports(fs, "append"));
    const usage = await fs.statfs();
    assert.equal(usage.totalBytes, 16 * 1024);
    // The change, plus the few bytes of the overlay's own markers in UPPER.
    assert.ok(usage.usedBytes >= 4096 && usage.usedBytes < 8192, `used ${usage.usedBytes}`);
    await assert.rejects(fs.writeFile("/project/more.bin", bytes(16 * 1024)), { code: "ENOSPC" });
    // Changing a template file copies it up, and the copy counts.
    await assert.rejects(fs.appendFile("/project/big.bin", bytes(1)), { code: "ENOSPC" });
    await fs.truncate("/project/big.bin", 100); // copies up only the 100 bytes kept
    assert.equal((await fs.readFile("/project/big.bin")).length, 100);
    assert.equal((await lower.readFile("/project/big.bin")).length, 64 * 1024, "LOWER untouched");
    assert.deepEqual(stack.layers, ["quota 16.0 KiB"]);
  } finally {
    await stack.close();
  }
});

Deno.test("--quota-size on a plain backend counts everything it holds", async () => {
  const storage = await template();
  const stack = await buildStack(storage, parseMiddlewareFlags({ "quota-size": "16K" }, "mount"));
  try {
    await assert.rejects(stack.backend.writeFile("/a", bytes(1)), { code: "ENOSPC" });
  } finally {
    await stack.close();
  }
});

Deno.test("--dry-run over an overlay still checks the quota against everything", async () => {
  const lower = await template();
  const upper = new MemoryBackend();
  const settings = parseMiddlewareFlags({ "quota-size": "16K", "dry-run": true }, "mount");
  const stack = await buildStack(new Overlay(lower, upper), settings);
  try {
    await assert.rejects(stack.backend.writeFile("/a", bytes(1)), { code: "ENOSPC" });
    assert.deepEqual(await upper.readDir("/"), [], "a dry run writes nothing");
  } finally {
    await stack.close();
  }
});
