// The kit on MemoryBackend through FileStorage: every capability claimed, so
// every case runs (xattrs and special files through the backend itself).
import { MemoryBackend } from "../../src/backends/memory.ts";
import { conformanceSuite } from "../../src/testing/conformance.ts";

conformanceSuite("MemoryBackend", () => new MemoryBackend());
