// FileStorage over MemoryBackend against a real temporary directory: a
// seeded random sequence of operations must give identical results, error
// codes and trees. A failure prints the seed and step to replay.
import { MemoryBackend } from "../../src/backends/memory.ts";
import { differentialTest } from "../../src/testing/differential_suite.ts";

for (const seed of [1, 2, 3]) {
  differentialTest("FileStorage(MemoryBackend)", () => new MemoryBackend(), { seed, ops: 2000 });
}
