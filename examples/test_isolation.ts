/**
 * Test isolation: build a fixture file system once, then give every test
 * its own copy-on-write snapshot (`MemoryBackend.clone()`), so tests can
 * write, delete and rename freely, run in any order, and never see each
 * other's changes — without touching the host disk.
 *
 *     deno run examples/test_isolation.ts          # no flags needed
 *
 * In a test file the same pattern is one line per test:
 *
 * ```ts
 * Deno.test("renames the config", async () => {
 *   const fs = new FileStorage(fixture.clone());
 *   // ... exercise code that takes a Deno-shaped file API ...
 * });
 * ```
 *
 * @module
 */

import { FileStorage, type FsApi, MemoryBackend } from "../mod.ts";

/** Code under test: takes any Deno-shaped file API (Deno itself in production). */
async function migrateConfig(fs: FsApi, root: string): Promise<string> {
  const old = JSON.parse(await fs.readTextFile(`${root}/config.json`));
  await fs.writeTextFile(`${root}/config.v2.json`, JSON.stringify({ ...old, version: 2 }));
  await fs.remove(`${root}/config.json`);
  return `${root}/config.v2.json`;
}

// The fixture: built once.
const fixture = new MemoryBackend();
const setup = new FileStorage(fixture);
await setup.mkdir("/app/data", { recursive: true });
await setup.writeTextFile("/app/config.json", JSON.stringify({ name: "demo", version: 1 }));
for (let i = 0; i < 100; i++) {
  await setup.writeTextFile(`/app/data/record-${i}.txt`, `record ${i}\n`);
}

const results: string[] = [];
async function test(name: string, body: (fs: FileStorage) => Promise<void>) {
  // A snapshot costs metadata only; file bytes are shared until written.
  const fs = new FileStorage(fixture.clone());
  try {
    await body(fs);
    results.push(`ok    ${name}`);
  } catch (e) {
    results.push(`FAIL  ${name}: ${(e as Error).message}`);
  }
}
function expect(condition: boolean, what: string) {
  if (!condition) throw new Error(what);
}

await test("migration writes v2 and removes v1", async (fs) => {
  const path = await migrateConfig(fs, "/app");
  expect(JSON.parse(await fs.readTextFile(path)).version === 2, "version is 2");
  expect(!(await fs.exists("/app/config.json")), "v1 is gone");
});
await test("the next test still sees the untouched fixture", async (fs) => {
  expect(await fs.exists("/app/config.json"), "v1 is back for this test");
  expect(!(await fs.exists("/app/config.v2.json")), "no v2 leaked from the previous test");
});
await test("tests may wreck their copy", async (fs) => {
  await fs.remove("/app", { recursive: true });
  expect(!(await fs.exists("/app")), "gone here");
});
await test("...and the fixture survives", async (fs) => {
  let count = 0;
  for await (const _ of fs.readDir("/app/data")) count++;
  expect(count === 100, `100 records, got ${count}`);
});
await test("parallel tests do not interfere", async () => {
  const runs = Array.from({ length: 20 }, async (_, i) => {
    const fs = new FileStorage(fixture.clone());
    await fs.writeTextFile("/app/data/record-0.txt", `run ${i}`);
    return await fs.readTextFile("/app/data/record-0.txt");
  });
  const seen = await Promise.all(runs);
  expect(seen.every((text, i) => text === `run ${i}`), "each run reads its own write");
});

console.log(results.join("\n"));
console.log("fixture untouched:", await setup.readTextFile("/app/config.json"));
if (results.some((r) => r.startsWith("FAIL"))) Deno.exit(1);
