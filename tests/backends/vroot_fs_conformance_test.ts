// The conformance kit and the differential test on VRootFsBackend over a
// fresh temporary directory per case, with both containment strategies:
// anchored (this suite runs with every permission, so it is available) and
// checked (what a process with only --allow-read/--allow-write gets).
import { VRootFsBackend } from "../../src/backends/vroot_fs.ts";
import type { Containment } from "../../src/backends/vroot_resolve.ts";
import { capabilitiesOf } from "../../src/core/backend.ts";
import { FileStorage } from "../../src/storage/file_storage.ts";
import { conformanceSuite } from "../../src/testing/conformance.ts";
import { differentialTest } from "../../src/testing/differential_suite.ts";
import type { ConformanceSubject } from "../../src/testing/kit.ts";

function subject(containment: Containment, virtualOwnership = false) {
  return async (): Promise<ConformanceSubject> => {
    const dir = await Deno.makeTempDir({ prefix: "anyfs_vroot_kit_" });
    const backend = await VRootFsBackend.open(dir, { containment, virtualOwnership });
    return {
      fs: new FileStorage(backend),
      capabilities: capabilitiesOf(backend),
      backend,
      dispose: async () => {
        await backend.close();
        await Deno.remove(dir, { recursive: true });
      },
    };
  };
}

for (const containment of ["anchored", "checked"] as const) {
  conformanceSuite(`VRootFsBackend (${containment})`, { subject: subject(containment) });
  differentialTest(`VRootFsBackend (${containment})`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "anyfs_vroot_diff_" });
    const backend = await VRootFsBackend.open(dir, { containment });
    const close = backend.close.bind(backend);
    return Object.assign(backend, {
      close: async () => {
        await close();
        await Deno.remove(dir, { recursive: true });
      },
    });
  }, { seed: containment === "anchored" ? 1 : 2, ops: 2000 });
  // Mode, owner and group kept in the sidecar database instead of the host.
  conformanceSuite(`VRootFsBackend (${containment}, virtual ownership)`, {
    subject: subject(containment, true),
  });
}
