/**
 * A tour of the AnyFS API on the default backend, in-process: no mount and
 * no permission flags needed.
 *
 *     deno run examples/quickstart.ts
 *
 * @module
 */

import { FileStorage, FsError, MemoryBackend, Quota, ReadOnly } from "../mod.ts";

// A file system in memory, used through the same API as Deno's own.
const fs = new FileStorage(new MemoryBackend());

await fs.mkdir("/project/src", { recursive: true });
await fs.writeTextFile("/project/src/main.ts", 'console.log("hello");\n');
await fs.writeTextFile("/project/README.md", "# Project\n");
await fs.symlink("src/main.ts", "/project/entry.ts");
await fs.link("/project/README.md", "/project/README.copy.md");
console.log("entry.ts ->", await fs.readLink("/project/entry.ts"));
console.log("through the link:", await fs.readTextFile("/project/entry.ts"));
console.log("README nlink:", (await fs.stat("/project/README.md")).nlink);

// Open files with a cursor, Web streams and `await using`.
{
  await using file = await fs.open("/project/log.txt", { write: true, create: true });
  await file.write(new TextEncoder().encode("line 1\n"));
  await file.write(new TextEncoder().encode("line 2\n"));
}
console.log("log:", JSON.stringify(await fs.readTextFile("/project/log.txt")));

// The @std/fs helpers, on any backend.
for await (const entry of fs.expandGlob("/project/**/*.ts")) console.log("glob:", entry.path);
await fs.copy("/project", "/backup");
console.log("backup:", (await Array.fromAsync(fs.walk("/backup"))).map((e) => e.path).join(" "));

// Errors are Deno's own error classes, with a POSIX code, the path and the operation.
try {
  await fs.readTextFile("/nope.txt");
} catch (e) {
  if (e instanceof Deno.errors.NotFound && e instanceof FsError) {
    console.log("error:", e.code, e.operation, e.path, "-", e.message);
  }
}

// Middleware wraps a backend in policy: here a 1 KiB quota, then read-only.
const limited = new FileStorage(new Quota(new MemoryBackend(), { maxTotalSize: 1024 }));
await limited.writeTextFile("/small.txt", "fits");
const quotaError = await limited.writeFile("/big.bin", new Uint8Array(4096)).catch((e) => e);
console.log("quota:", quotaError.code, "-", quotaError.message);

const frozen = new FileStorage(new MemoryBackend().layer(ReadOnly.layer()));
const roError = await frozen.writeTextFile("/x", "x").catch((e) => e);
console.log("read-only:", roError.code);

// A snapshot: later writes on either side stay on their side.
const original = new MemoryBackend();
const base = new FileStorage(original);
await base.writeTextFile("/state.txt", "before");
const snapshot = new FileStorage(original.clone());
await base.writeTextFile("/state.txt", "after");
console.log("snapshot keeps:", await snapshot.readTextFile("/state.txt"));
