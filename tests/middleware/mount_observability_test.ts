// Tracing, metrics and the cache seen through a real FUSE mount driven by
// real programs: `cp` of a few files into a traced stack leaves audit lines
// and spans for what it did; `cat` through a cache reads fresh data after a
// change. Needs FUSE (Linux, /dev/fuse, fusermount3) and --allow-all.
//
// Only child processes touch the mount: a synchronous call from this process
// on its own mount would block the thread that has to answer it.
import assert from "node:assert/strict";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "npm:@opentelemetry/sdk-trace-base@2";
import { MemoryBackend } from "../../src/backends/memory.ts";
import type { Backend } from "../../src/core/backend.ts";
import { type AuditRecord, JsonLinesSink } from "../../src/middleware/audit_sink.ts";
import { BackendStack } from "../../src/middleware/stack.ts";
import { mount } from "../../src/mount/handle.ts";
import { fuseTest } from "../_fuse.ts";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Mount `backend` on a fresh directory, run `body` with its path, and always clean up. */
async function withMount(backend: Backend, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "anyfs-obs-" });
  try {
    const handle = await mount(backend, dir, { cache: "never", handleSignals: false });
    try {
      await body(dir);
    } finally {
      await handle.unmount({ force: true });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Run a shell script (LC_ALL=C) with `$1` set to `arg`; never blocks this event loop. */
async function sh(script: string, ...args: string[]): Promise<Run> {
  const out = await new Deno.Command("sh", {
    args: ["-c", script, "sh", ...args],
    env: { LC_ALL: "C", PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

fuseTest("tracing through a mount: cp leaves JSON lines and spans for its operations", async () => {
  const source = await Deno.makeTempDir({ prefix: "anyfs-obs-src-" });
  const logDir = await Deno.makeTempDir({ prefix: "anyfs-obs-log-" });
  try {
    const sizes: Record<string, number> = { "a.txt": 5, "b.bin": 70_000, "c.txt": 0 };
    for (const [name, size] of Object.entries(sizes)) {
      await Deno.writeFile(`${source}/${name}`, new Uint8Array(size).fill(65));
    }
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const log = `${logDir}/audit.jsonl`;
    const sink = await JsonLinesSink.toFile(log);
    const metered = BackendStack.from(new MemoryBackend())
      .traced({ tracer: provider.getTracer("anyfs-test"), audit: sink })
      .metered()
      .build();
    await withMount(metered, async (dir) => {
      const cp = await sh(`cp "$1"/a.txt "$1"/b.bin "$1"/c.txt "$2"/`, source, dir);
      assert.equal(cp.code, 0, cp.stderr);
      const cmp = await sh(`cmp "$1"/b.bin "$2"/b.bin`, source, dir);
      assert.equal(cmp.code, 0, cmp.stderr);
    });
    await sink.close();
    const records: AuditRecord[] = (await Deno.readTextFile(log)).trim().split("\n")
      .map((line) => JSON.parse(line));
    for (const [name, size] of Object.entries(sizes)) {
      const path = `/${name}`;
      const opens = records.filter((r) => r.op === "open" && r.path === path && r.ok);
      assert.ok(opens.length >= 1, `an open of ${path} in ${JSON.stringify(records)}`);
      const closes = records.filter((r) => r.op === "handle.close" && r.path === path);
      const written = closes.reduce((n, r) => n + (r.bytesWritten ?? 0), 0);
      assert.equal(written, size, `bytes written to ${path}`);
      const spans = exporter.getFinishedSpans().filter((s) => s.attributes["anyfs.path"] === path);
      const names = new Set(spans.map((s) => s.name));
      assert.ok(names.has("anyfs.open"), `${path}: ${[...names]}`);
      assert.ok(names.has("anyfs.handle.close"), `${path}: ${[...names]}`);
      const closeSpans = spans.filter((s) => s.name === "anyfs.handle.close");
      assert.equal(
        closeSpans.reduce((n, s) => n + Number(s.attributes["anyfs.bytes_written"] ?? 0), 0),
        size,
      );
    }
    // The kernel looked the names up before creating them: failed lookups are there too.
    assert.ok(records.some((r) => r.op === "lstat" && r.error === "ENOENT"));
    // Metrics (around the tracing layer) counted the same writes.
    assert.equal(
      metered.snapshot().bytesWritten,
      Object.values(sizes).reduce((a, b) => a + b, 0),
    );
  } finally {
    await Deno.remove(source, { recursive: true });
    await Deno.remove(logDir, { recursive: true });
  }
});

fuseTest("cache through a mount: cat sees every change made through the mount", async () => {
  const memory = new MemoryBackend();
  const cached = BackendStack.from(memory).cached({ blockSize: 4096 }).build();
  await withMount(cached, async (dir) => {
    const steps = [
      [`printf one > "$1"/f && cat "$1"/f`, "one"],
      [`cat "$1"/f`, "one"],
      [`printf two-longer > "$1"/f && cat "$1"/f`, "two-longer"],
      [`printf '+' >> "$1"/f && cat "$1"/f`, "two-longer+"],
      [`truncate -s 3 "$1"/f && cat "$1"/f`, "two"],
      [`ln "$1"/f "$1"/g && printf X | dd of="$1"/g conv=notrunc status=none && cat "$1"/f`, "Xwo"],
      [`mv "$1"/g "$1"/h && printf Y | dd of="$1"/h conv=notrunc status=none && cat "$1"/f`, "Ywo"],
      [`mkdir "$1"/d && mv "$1"/f "$1"/d/f && ls "$1"/d && cat "$1"/d/f`, "f\nYwo"],
    ];
    for (const [script, expected] of steps) {
      const run = await sh(script, dir);
      assert.equal(run.code, 0, `${script}: ${run.stderr}`);
      assert.equal(run.stdout, expected, script);
    }
  });
  assert.ok(cached.stats().hits > 0, "the cache answered some requests");
  assert.equal(new TextDecoder().decode(await memory.readFile("/d/f")), "Ywo");
});
