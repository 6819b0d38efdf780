// The conformance kit and the differential test on StdFsBackend over a fresh
// temporary directory per case (removed after it).
import { StdFsBackend } from "../../src/backends/std_fs.ts";
import { capabilitiesOf } from "../../src/core/backend.ts";
import { FileStorage } from "../../src/storage/file_storage.ts";
import { conformanceSuite } from "../../src/testing/conformance.ts";
import { differentialTest } from "../../src/testing/differential_suite.ts";
import type { ConformanceSubject } from "../../src/testing/kit.ts";

async function subject(): Promise<ConformanceSubject> {
  const dir = await Deno.makeTempDir({ prefix: "anyfs_stdfs_kit_" });
  const backend = new StdFsBackend({ root: dir });
  return {
    fs: new FileStorage(backend),
    capabilities: capabilitiesOf(backend),
    backend,
    dispose: () => Deno.remove(dir, { recursive: true }),
  };
}

conformanceSuite("StdFsBackend", { subject });

for (const seed of [1, 2]) {
  differentialTest("StdFsBackend", () => {
    const dir = Deno.makeTempDirSync({ prefix: "anyfs_stdfs_diff_" });
    const backend = new StdFsBackend({ root: dir });
    return Object.assign(backend, { close: () => Deno.removeSync(dir, { recursive: true }) });
  }, { seed, ops: 2000 });
}
