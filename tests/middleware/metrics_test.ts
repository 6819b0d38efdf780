// Metrics: exact counters of operations, errors and bytes, a latency
// histogram, and a valid Prometheus text exposition, served over HTTP.
import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { capabilitiesOf } from "../../src/core/backend.ts";
import type { InstrumentedOperation } from "../../src/middleware/instrumented.ts";
import { Metrics, type MetricsOptions } from "../../src/middleware/metrics.ts";
import { Middleware } from "../../src/middleware/middleware.ts";
import { BackendStack } from "../../src/middleware/stack.ts";

const enc = new TextEncoder();

/** A parsed sample line of the text format. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * A strict parser of the Prometheus text format (0.0.4): every line is a
 * `# HELP`, a `# TYPE` or a sample; label values are unescaped; a sample's
 * family must have had its TYPE line first.
 */
function parse(text: string): { samples: Sample[]; types: Record<string, string> } {
  assert.ok(text.endsWith("\n"), "ends with a newline");
  const types: Record<string, string> = {};
  const helps = new Set<string>();
  const samples: Sample[] = [];
  for (const line of text.slice(0, -1).split("\n")) {
    let m = line.match(/^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/);
    if (m) {
      assert.ok(!helps.has(m[1]), `one HELP for ${m[1]}`);
      helps.add(m[1]);
      continue;
    }
    m = line.match(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/);
    if (m) {
      assert.ok(!(m[1] in types), `one TYPE for ${m[1]}`);
      types[m[1]] = m[2];
      continue;
    }
    m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/);
    assert.ok(m, `not a valid line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
    const body = m[2] ?? "";
    labelRe.lastIndex = 0;
    while (labelRe.lastIndex < body.length) {
      const l = labelRe.exec(body);
      assert.ok(l, `bad labels: ${body}`);
      labels[l[1]] = l[2].replace(/\\(["\\n])/g, (_, c) => c === "n" ? "\n" : c);
    }
    const family = m[1].replace(/_(bucket|sum|count)$/, "");
    assert.ok(m[1] in types || family in types, `TYPE before samples of ${m[1]}`);
    const value = m[3] === "+Inf" ? Infinity : Number(m[3]);
    assert.ok(!Number.isNaN(value), `bad value ${m[3]}`);
    samples.push({ name: m[1], labels, value });
  }
  return { samples, types };
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  assert.equal(found.length, 1, `one sample ${name} ${JSON.stringify(labels)}`);
  return found[0].value;
}

Deno.test("operations, errors by code and bytes are counted exactly", async () => {
  const metrics = new Metrics(new MemoryBackend());
  await metrics.writeFile("/a", new Uint8Array(4096));
  await metrics.appendFile("/a", new Uint8Array(10));
  await metrics.readFile("/a");
  await metrics.read("/a", 100, 50);
  await assert.rejects(metrics.readFile("/missing"), { code: "ENOENT" });
  await assert.rejects(metrics.mkdir("/a"), { code: "EEXIST" });
  await assert.rejects(metrics.lstat("/nope"), { code: "ENOENT" });
  const h = await metrics.open("/a", { read: true, write: true });
  await h.write(new Uint8Array(7), 0);
  await h.read(0, 3);
  await h.close();
  const snap = metrics.snapshot();
  assert.equal(snap.bytesWritten, 4096 + 10 + 7);
  assert.equal(snap.bytesRead, 4106 + 50 + 3);
  assert.equal(snap.operations.readFile.count, 2);
  assert.deepEqual(snap.operations.readFile.errors, { ENOENT: 1 });
  assert.deepEqual(snap.operations.mkdir.errors, { EEXIST: 1 });
  assert.equal(snap.operations["handle.write"].count, 1);
  assert.equal(snap.operations["handle.close"].count, 1);
  assert.equal(snap.operations.open.count, 1);
  for (const stats of Object.values(snap.operations)) {
    assert.equal(stats.buckets.reduce((a, b) => a + b, 0), stats.count);
    assert.ok(stats.seconds >= 0);
  }
  metrics.reset();
  assert.deepEqual(metrics.snapshot().operations, {});
  assert.equal(metrics.snapshot().bytesRead, 0);
});

Deno.test("prometheus(): valid text format with HELP/TYPE, cumulative buckets, _sum and _count", async () => {
  const metrics = new Metrics(new MemoryBackend());
  await metrics.writeFile("/a", enc.encode("hello"));
  await metrics.readFile("/a");
  await metrics.readFile("/a");
  await assert.rejects(metrics.readFile("/x"), { code: "ENOENT" });
  const { samples, types } = parse(metrics.prometheus());
  assert.deepEqual(types, {
    anyfs_operations_total: "counter",
    anyfs_errors_total: "counter",
    anyfs_read_bytes_total: "counter",
    anyfs_written_bytes_total: "counter",
    anyfs_operation_duration_seconds: "histogram",
  });
  assert.equal(value(samples, "anyfs_operations_total", { operation: "readFile" }), 3);
  assert.equal(value(samples, "anyfs_operations_total", { operation: "writeFile" }), 1);
  assert.equal(
    value(samples, "anyfs_errors_total", { operation: "readFile", code: "ENOENT" }),
    1,
  );
  assert.equal(value(samples, "anyfs_read_bytes_total"), 10);
  assert.equal(value(samples, "anyfs_written_bytes_total"), 5);
  const buckets = samples.filter((s) =>
    s.name === "anyfs_operation_duration_seconds_bucket" && s.labels.operation === "readFile"
  );
  assert.ok(buckets.length >= 2);
  const bounds = buckets.map((b) => b.labels.le === "+Inf" ? Infinity : Number(b.labels.le));
  assert.deepEqual(bounds, [...bounds].sort((a, b) => a - b), "le ascending");
  assert.equal(bounds.at(-1), Infinity);
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value);
  const count = value(samples, "anyfs_operation_duration_seconds_count", { operation: "readFile" });
  assert.equal(count, 3);
  assert.equal(buckets.at(-1)!.value, count, "+Inf bucket equals _count");
  assert.ok(value(samples, "anyfs_operation_duration_seconds_sum", { operation: "readFile" }) >= 0);
});

Deno.test("constant labels are escaped; prefix and buckets are configurable", async () => {
  const metrics = new Metrics(new MemoryBackend(), {
    prefix: "sandbox_fs",
    labels: { stack: 'say "hi"\\ there\nnow' },
    buckets: [0.001, 1],
  });
  await metrics.lstat("/");
  const text = metrics.prometheus();
  assert.ok(text.includes('stack="say \\"hi\\"\\\\ there\\nnow"'), text);
  const { samples } = parse(text);
  const bucket = samples.filter((s) => s.name === "sandbox_fs_operation_duration_seconds_bucket");
  assert.deepEqual(bucket.map((b) => b.labels.le), ["0.001", "1", "+Inf"]);
  for (const s of samples) assert.equal(s.labels.stack, 'say "hi"\\ there\nnow');
});

/** A backend whose lstat takes at least 30 ms (a timer never fires early). */
class SlowLstat extends Middleware {
  override lstat(p: string) {
    return new Promise((r) => setTimeout(r, 30)).then(() => super.lstat(p));
  }
}

Deno.test("the histogram puts a call in the bucket of its duration", async () => {
  const slow = new Metrics(new SlowLstat(new MemoryBackend()), { buckets: [0.01, 1000] });
  await slow.lstat("/");
  assert.deepEqual(slow.snapshot().operations.lstat.buckets, [0, 1, 0]);
  assert.ok(slow.snapshot().operations.lstat.seconds >= 0.03);
});

Deno.test("bad options are EINVAL", () => {
  for (
    const options of <MetricsOptions[]> [
      { prefix: "9bad" },
      { prefix: "with space" },
      { buckets: [1, 0.5] },
      { buckets: [0] },
      { labels: { "bad-name": "x" } },
      { labels: { le: "x" } },
      { labels: { __reserved: "x" } },
    ]
  ) {
    assert.throws(() => new Metrics(new MemoryBackend(), options), { code: "EINVAL" });
  }
});

Deno.test("serve(): /metrics over HTTP, 404 elsewhere, shut down on request", async () => {
  const metrics = BackendStack.from(new MemoryBackend()).metered().build();
  await metrics.writeFile("/a", enc.encode("x"));
  const server = metrics.serve({ port: 0 });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
    const { samples } = parse(await res.text());
    assert.equal(value(samples, "anyfs_operations_total", { operation: "writeFile" }), 1);
    const other = await fetch(`${base}/`);
    assert.equal(other.status, 404);
    await other.body?.cancel();
  } finally {
    await server.shutdown();
  }
  assert.deepEqual(capabilitiesOf(metrics), capabilitiesOf(new MemoryBackend()));
});

Deno.test("serve() without --allow-net refuses with EACCES naming the flag", async () => {
  const code = `
    import { Metrics } from "${new URL("../../src/middleware/metrics.ts", import.meta.url)}";
    import { MemoryBackend } from "${new URL("../../src/backends/memory.ts", import.meta.url)}";
    try {
      new Metrics(new MemoryBackend()).serve({ port: 9464 });
      console.error("served");
    } catch (e) {
      console.error(e.code, e.message);
    }
  `;
  const proc = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      `--config=${new URL("../../deno.json", import.meta.url).pathname}`,
      "-",
    ],
    stdin: "piped",
    stderr: "piped",
    stdout: "null",
  }).spawn();
  const writer = proc.stdin.getWriter();
  await writer.write(enc.encode(code));
  await writer.close();
  const { code: exit, stderr } = await proc.output();
  const text = new TextDecoder().decode(stderr);
  assert.equal(exit, 0, text);
  assert.match(text, /^EACCES .*--allow-net=127\.0\.0\.1:9464/);
});

Deno.test("a tryLstat probe that finds nothing counts as lstat's ENOENT", async () => {
  const metrics = new Metrics(new MemoryBackend());
  assert.equal(await metrics.tryLstat("/nothing"), null);
  assert.ok(await metrics.tryLstat("/"));
  assert.equal(metrics.snapshot().operations.lstat.count, 2);
  assert.deepEqual(metrics.snapshot().operations.lstat.errors, { ENOENT: 1 });
});

Deno.test("latency sampleEvery: the first call of each operation, then every n-th, is timed", async () => {
  const metrics = new Metrics(new MemoryBackend(), { latency: { sampleEvery: 4 } });
  for (let i = 0; i < 10; i++) await metrics.lstat("/");
  await metrics.mkdir("/d");
  await assert.rejects(metrics.mkdir("/d"), { code: "EEXIST" });
  const { operations } = metrics.snapshot();
  // Counters stay exact; calls 1, 5 and 9 of lstat were timed.
  assert.equal(operations.lstat.count, 10);
  assert.equal(operations.lstat.timed, 3);
  assert.equal(operations.lstat.buckets.reduce((a, b) => a + b, 0), 3);
  assert.equal(operations.mkdir.count, 2);
  assert.equal(operations.mkdir.timed, 1);
  assert.deepEqual(operations.mkdir.errors, { EEXIST: 1 });
  const text = metrics.prometheus();
  const { samples } = parse(text);
  assert.equal(value(samples, "anyfs_operations_total", { operation: "lstat" }), 10);
  assert.equal(value(samples, "anyfs_operation_duration_seconds_count", { operation: "lstat" }), 3);
  assert.match(text, /# HELP anyfs_operation_duration_seconds .*one in 4/);
});

Deno.test('latency "off": exact counters, no timing and no histogram', async () => {
  const metrics = new Metrics(new MemoryBackend(), { latency: "off" });
  await metrics.writeFile("/a", new Uint8Array(10));
  await metrics.readFile("/a");
  const snap = metrics.snapshot();
  assert.equal(snap.operations.readFile.count, 1);
  assert.equal(snap.operations.readFile.timed, 0);
  assert.equal(snap.bytesWritten, 10);
  assert.equal(snap.bytesRead, 10);
  const { samples, types } = parse(metrics.prometheus());
  assert.equal(types.anyfs_operation_duration_seconds, undefined);
  assert.ok(!samples.some((s) => s.name.startsWith("anyfs_operation_duration_seconds")));
  assert.equal(value(samples, "anyfs_operations_total", { operation: "writeFile" }), 1);
});

Deno.test("by default every call is timed: the histogram's _count equals the calls", async () => {
  const metrics = new Metrics(new MemoryBackend());
  for (let i = 0; i < 5; i++) await metrics.lstat("/");
  assert.equal(metrics.snapshot().operations.lstat.timed, 5);
  const { samples } = parse(metrics.prometheus());
  assert.equal(value(samples, "anyfs_operation_duration_seconds_count", { operation: "lstat" }), 5);
});

Deno.test("a bad latency option is EINVAL", () => {
  for (const latency of [{ sampleEvery: 0 }, { sampleEvery: 1.5 }, { sampleEvery: "2" }, "some"]) {
    assert.throws(
      () => new Metrics(new MemoryBackend(), { latency } as unknown as MetricsOptions),
      { code: "EINVAL" },
    );
  }
});

Deno.test('latency "off": every core operation, failed or not, is counted exactly, also after reset()', async () => {
  const metrics = new Metrics(new MemoryBackend(), { latency: "off" });
  for (let pass = 0; pass < 2; pass++) {
    await metrics.mkdir("/d");
    await assert.rejects(metrics.mkdir("/d"), { code: "EEXIST" });
    await metrics.writeFile("/d/a", new Uint8Array(5));
    await assert.rejects(metrics.writeFile("/nope/a", new Uint8Array(3)), { code: "ENOENT" });
    assert.equal((await metrics.readFile("/d/a")).length, 5);
    assert.equal((await metrics.readDir("/d")).length, 1);
    await metrics.lstat("/d/a");
    assert.equal(await metrics.tryLstat("/d/b"), null);
    await metrics.rename("/d/a", "/d/b");
    await assert.rejects(metrics.rename("/d/a", "/d/c"), { code: "ENOENT" });
    await metrics.unlink("/d/b");
    await assert.rejects(metrics.unlink("/d/b"), { code: "ENOENT" });
    await metrics.rmdir("/d");
    await assert.rejects(metrics.rmdir("/d"), { code: "ENOENT" });
    const snap = metrics.snapshot();
    const counts = Object.fromEntries(
      Object.entries(snap.operations).map(([op, s]) => [op, [s.count, s.errors, s.timed]]),
    );
    assert.deepEqual(counts, {
      mkdir: [2, { EEXIST: 1 }, 0],
      writeFile: [2, { ENOENT: 1 }, 0],
      readFile: [1, {}, 0],
      readDir: [1, {}, 0],
      lstat: [2, { ENOENT: 1 }, 0],
      rename: [2, { ENOENT: 1 }, 0],
      unlink: [2, { ENOENT: 1 }, 0],
      rmdir: [2, { ENOENT: 1 }, 0],
    });
    assert.equal(snap.bytesWritten, 5, "a failed write writes no bytes");
    assert.equal(snap.bytesRead, 5);
    metrics.reset();
  }
});

Deno.test("a subclass overriding observe sees the core operations too", async () => {
  const seen: string[] = [];
  class Spy extends Metrics {
    protected override observe<T>(
      operation: InstrumentedOperation,
      path: string,
      dest: string | undefined,
      bytes: number,
      run: () => Promise<T>,
    ): Promise<T> {
      seen.push(operation);
      return super.observe(operation, path, dest, bytes, run);
    }
  }
  const spy = new Spy(new MemoryBackend(), { latency: "off" });
  await spy.writeFile("/a", new Uint8Array(1));
  await spy.lstat("/a");
  await spy.tryLstat("/b");
  await spy.unlink("/a");
  assert.deepEqual(seen, ["writeFile", "lstat", "lstat", "unlink"]);
  assert.equal(spy.snapshot().operations.lstat.count, 2);
});
