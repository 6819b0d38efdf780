// The conformance kit and the differential test on SqliteBackend, both in
// memory and on a database file (a fresh file per case, removed after it).
import { MemoryBackend } from "../../src/backends/memory.ts";
import { SqliteBackend } from "../../src/backends/sqlite.ts";
import { FileStorage } from "../../src/storage/file_storage.ts";
import { conformanceSuite } from "../../src/testing/conformance.ts";
import { runDifferential } from "../../src/testing/differential.ts";
import { differentialTest } from "../../src/testing/differential_suite.ts";

const dir = Deno.makeTempDirSync({ prefix: "anyfs_sqlite_conformance_" });
let counter = 0;

/** A backend on a new database file, whose files go when it is closed. */
function fileBackend(): SqliteBackend {
  const file = `${dir}/case${counter++}.anyfs`;
  const backend = SqliteBackend.open(file);
  const close = backend.close.bind(backend);
  backend.close = () => {
    close();
    for (const suffix of ["", "-wal", "-shm"]) {
      try {
        Deno.removeSync(file + suffix);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
  };
  return backend;
}

conformanceSuite("SqliteBackend (memory)", () => SqliteBackend.memory());
conformanceSuite("SqliteBackend (file)", fileBackend);
differentialTest("SqliteBackend (memory)", () => SqliteBackend.memory(), { seed: 1, ops: 2000 });
differentialTest("SqliteBackend (file)", fileBackend, { seed: 2, ops: 2000 });

// Against MemoryBackend through the same FileStorage: anything the storage
// layer does cancels out, so every difference is one between the backends.
for (const seed of [11, 12, 13]) {
  Deno.test(`differential › SqliteBackend (file) against MemoryBackend (seed ${seed})`, async () => {
    const sqlite = fileBackend();
    try {
      await runDifferential(new FileStorage(sqlite), new FileStorage(new MemoryBackend()), {
        seed,
        ops: 3000,
        capabilities: ["symlinks", "hardlinks", "permissions"],
      });
    } finally {
      sqlite.close();
    }
  });
}

// Cases close their databases (which removes the files); the directory
// goes when the test process ends, also when filters skipped some cases.
globalThis.addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
});
