// Every policy middleware, configured permissively, must be invisible: the
// whole conformance kit passes through it on MemoryBackend. ReadOnly has no
// permissive configuration (refusing writes is all it does), so its own
// tests pin it instead.
import { MemoryBackend } from "../../src/backends/memory.ts";
import { PathFilter } from "../../src/middleware/path_filter.ts";
import { Quota } from "../../src/middleware/quota.ts";
import { RateLimit } from "../../src/middleware/rate_limit.ts";
import { Restrictions } from "../../src/middleware/restrictions.ts";
import { BackendStack } from "../../src/middleware/stack.ts";
import { conformanceSuite } from "../../src/testing/conformance.ts";

const GENEROUS = Number.MAX_SAFE_INTEGER;

conformanceSuite(
  "Quota(generous limits) over MemoryBackend",
  () =>
    new Quota(new MemoryBackend(), {
      maxTotalSize: GENEROUS,
      maxFileSize: GENEROUS,
      maxNodeCount: GENEROUS,
      maxDirEntries: GENEROUS,
      maxPathDepth: GENEROUS,
    }),
);

conformanceSuite("Restrictions(nothing denied) over MemoryBackend", () => {
  return new Restrictions(new MemoryBackend());
});

// Rules that match nothing the kit creates, so every matcher still runs.
conformanceSuite("PathFilter(allow everything) over MemoryBackend", () => {
  return new PathFilter(new MemoryBackend(), {
    allow: ["/**"],
    deny: ["/never-created-by-the-kit/**", "*.never-used-extension"],
  });
});

conformanceSuite("RateLimit(generous) over MemoryBackend", () => {
  return new RateLimit(new MemoryBackend(), { maxOps: 1e9, mode: "wait" });
});

conformanceSuite("BackendStack of every permissive policy layer over MemoryBackend", () => {
  return BackendStack.from(new MemoryBackend())
    .limited({ maxTotalSize: GENEROUS, maxNodeCount: GENEROUS, maxDirEntries: GENEROUS })
    .restricted({})
    .filtered({ deny: ["*.never-used-extension"] })
    .rateLimited({ maxOps: 1e9 })
    .build();
});
