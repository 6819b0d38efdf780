// The observability and cache middleware, configured permissively, must be
// invisible: the whole conformance kit passes through each of them on
// MemoryBackend. DryRun passes it when simulating; by default not writing is
// what it does, and its own tests pin that.
import { MemoryBackend } from "../../src/backends/memory.ts";
import { Cache } from "../../src/middleware/cache.ts";
import { DryRun } from "../../src/middleware/dry_run.ts";
import { Metrics } from "../../src/middleware/metrics.ts";
import { BackendStack } from "../../src/middleware/stack.ts";
import { Tracing } from "../../src/middleware/tracing.ts";
import { conformanceSuite } from "../../src/testing/conformance.ts";

conformanceSuite("Tracing(no provider) over MemoryBackend", () => {
  return new Tracing(new MemoryBackend());
});

// With an audit callback every record is built, so the recording path runs too.
conformanceSuite("Tracing(audit, every handle call) over MemoryBackend", () => {
  return new Tracing(new MemoryBackend(), { audit: () => {}, handleIO: "each" });
});

conformanceSuite("Metrics over MemoryBackend", () => new Metrics(new MemoryBackend()));

conformanceSuite("Cache over MemoryBackend", () => new Cache(new MemoryBackend()));

// Tiny bounds: constant eviction, and blocks smaller than most files.
conformanceSuite("Cache(8 entries, 4 KiB, 16-byte blocks) over MemoryBackend", () => {
  return new Cache(new MemoryBackend(), { maxEntries: 8, maxBytes: 4096, blockSize: 16 });
});

conformanceSuite("BackendStack: cache under tracing and metrics over MemoryBackend", () => {
  return BackendStack.from(new MemoryBackend())
    .cached()
    .traced({ audit: () => {} })
    .metered()
    .build();
});

// Simulating, a dry run is a full file system (an overlay in memory over the
// wrapped backend) that never writes to what it wraps.
conformanceSuite("DryRun(simulate) over MemoryBackend", () => {
  return new DryRun(new MemoryBackend(), { simulate: true });
});
