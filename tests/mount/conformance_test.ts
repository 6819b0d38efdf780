// The conformance kit through a real mount: a MemoryBackend is mounted, and
// every case of the kit runs against the mount point with Deno's own
// (async) file API. The kit passes on MemoryBackend in-process
// (tests/testing/conformance_memory_test.ts), so passing here means the
// mount gives programs the same results and error codes.
import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { DENO_FS_CAPABILITIES, hostDirSubject } from "../../src/testing/host_subject.ts";
import { caseId, runConformance } from "../../src/testing/runner.ts";
import type { CachePolicy } from "../../src/mount/options.ts";
import { withMount } from "./helpers.ts";
import { fuseTest } from "../_fuse.ts";

for (const cache of ["never", "auto", "always"] as CachePolicy[]) {
  fuseTest(`conformance kit through a mounted MemoryBackend (cache: ${cache})`, async () => {
    await withMount(new MemoryBackend(), { cache }, async (mountPoint) => {
      const report = await runConformance(
        hostDirSubject({
          parent: mountPoint,
          capabilities: [...DENO_FS_CAPABILITIES, "ownership"],
        }),
      );
      const failures = report.failed.map((f) => `${caseId(f.case)}: ${(f.error as Error).message}`);
      assert.deepEqual(failures, [], failures.join("\n"));
      assert.ok(report.passed.length >= 150, `only ${report.passed.length} cases ran`);
    });
  });
}
