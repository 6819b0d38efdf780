// The observability and cache layers in BackendStack and in stacks built
// from configuration, and the Instrumented base as an extension point.
import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { capabilitiesOf } from "../../src/core/backend.ts";
import type { AuditRecord } from "../../src/middleware/audit_sink.ts";
import { Cache } from "../../src/middleware/cache.ts";
import { DryRun } from "../../src/middleware/dry_run.ts";
import { Instrumented, type InstrumentedOperation } from "../../src/middleware/instrumented.ts";
import { Metrics } from "../../src/middleware/metrics.ts";
import { BackendStack, type LayerConfig } from "../../src/middleware/stack.ts";
import { Tracing } from "../../src/middleware/tracing.ts";

const enc = new TextEncoder();

Deno.test("builder: cached, dryRun, traced and metered wrap in call order, fully typed", async () => {
  const memory = new MemoryBackend();
  const records: AuditRecord[] = [];
  const backend = BackendStack.from(memory)
    .dryRun()
    .cached({ maxEntries: 10 })
    .traced({ audit: (r) => records.push(r), spans: false })
    .metered({ labels: { stack: "test" } })
    .build();
  assert.ok(backend instanceof Metrics);
  assert.ok(backend.inner instanceof Tracing);
  assert.ok(backend.inner.inner instanceof Cache);
  assert.ok(backend.inner.inner.inner instanceof DryRun);
  await backend.writeFile("/a", enc.encode("x"));
  assert.deepEqual(backend.inner.inner.inner.operations().map((o) => o.op), ["writeFile"]);
  await assert.rejects(backend.readFile("/a"), { code: "ENOENT" });
  assert.deepEqual(records.map((r) => `${r.op} ${r.ok}`), ["writeFile true", "readFile false"]);
  assert.match(
    backend.prometheus(),
    /anyfs_operations_total\{stack="test",operation="readFile"\} 1/,
  );
  assert.deepEqual(capabilitiesOf(backend), capabilitiesOf(memory));
});

Deno.test("fromConfig knows tracing, dryRun, cache and metrics", async () => {
  const config: LayerConfig[] = JSON.parse(JSON.stringify([
    { kind: "cache", maxEntries: 100, ttlMs: 1000 },
    { kind: "tracing", handleIO: "each" },
    { kind: "metrics", prefix: "fs" },
    { kind: "dryRun" },
  ]));
  const backend = BackendStack.fromConfig(new MemoryBackend(), config);
  assert.ok(backend instanceof DryRun);
  const metrics = (backend as DryRun).inner;
  assert.ok(metrics instanceof Metrics);
  assert.ok(metrics.inner instanceof Tracing);
  assert.equal(metrics.inner.options.handleIO, "each");
  assert.ok(metrics.inner.inner instanceof Cache);
  assert.equal(metrics.inner.inner.options.ttlMs, 1000);
  await backend.mkdir("/d");
  assert.match(metrics.prometheus(), /^# HELP fs_operations_total/);
  assert.throws(
    () => BackendStack.fromConfig(new MemoryBackend(), [{ kind: "cache", maxEntries: -1 }]),
    { code: "EINVAL" },
  );
});

Deno.test("Instrumented: one observe() sees every operation, handle calls included", async () => {
  class Log extends Instrumented {
    seen: string[] = [];
    protected override observe<T>(
      operation: InstrumentedOperation,
      path: string,
      dest: string | undefined,
      bytes: number,
      run: () => Promise<T>,
    ): Promise<T> {
      this.seen.push(`${operation} ${path}${dest ? ` ${dest}` : ""} ${bytes}`);
      return run();
    }
  }
  const log = new Log(new MemoryBackend());
  await log.writeFile("/a", enc.encode("abc"));
  await log.symlink("a", "/l");
  await log.rename("/a", "/b");
  const h = await log.open("/b", { read: true, write: true });
  await h.write(enc.encode("z"), 0);
  await h.read(0, 10);
  await h.close();
  await log.statfs();
  assert.deepEqual(log.seen, [
    "writeFile /a 3",
    "symlink /l a 0",
    "rename /a /b 0",
    "open /b 0",
    "handle.write /b 1",
    "handle.read /b 10",
    "handle.close /b 0",
    "statfs  0",
  ]);
});
