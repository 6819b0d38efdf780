/**
 * `deno task bench [name…]`: every benchmark of the project, or the named
 * ones. Each prints its table with ratios against a reference measured in
 * the same run; the exit code is 0 even when a target is missed (a
 * benchmark informs, it does not gate), but the misses are summarised.
 *
 * @module
 */

interface BenchModule {
  main(args?: string[]): Promise<string[] | void>;
}

const BENCHES: Record<string, { file: string; what: string }> = {
  storage: { file: "./storage.ts", what: "FileStorage(MemoryBackend) vs memfs and ZenFS" },
  middleware: {
    file: "./middleware.ts",
    what: "six permissive middleware layers vs the bare backend",
  },
  mount: { file: "./mount.ts", what: "mounted MemoryBackend per cache policy vs tmpfs" },
  sqlite: { file: "./sqlite.ts", what: "SqliteBackend vs raw node:sqlite chunk rows" },
};

const wanted = Deno.args.length ? Deno.args : Object.keys(BENCHES);
const misses: string[] = [];
for (const name of wanted) {
  const entry = BENCHES[name];
  if (!entry) {
    console.error(`unknown benchmark '${name}'; known: ${Object.keys(BENCHES).join(", ")}`);
    Deno.exit(2);
  }
  console.log(`\n### ${name}: ${entry.what}`);
  const mod: BenchModule = await import(entry.file);
  const missed = await mod.main([]);
  if (missed) misses.push(...missed.map((m) => `${name}: ${m}`));
}
console.log(misses.length ? `\nTargets missed:\n  ${misses.join("\n  ")}` : "\nAll targets met.");
