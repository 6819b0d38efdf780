// Tracing: every operation becomes a span with its path, bytes and result,
// and an audit record; handle I/O is summarized at close (or reported call
// by call); Deno's own OpenTelemetry export carries the spans.
import assert from "node:assert/strict";
import { trace } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "npm:@opentelemetry/sdk-trace-base@2";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { capabilitiesOf } from "../../src/core/backend.ts";
import type { AuditRecord } from "../../src/middleware/audit_sink.ts";
import { ReadOnly } from "../../src/middleware/read_only.ts";
import { BackendStack } from "../../src/middleware/stack.ts";
import { Tracing, type TracingOptions } from "../../src/middleware/tracing.ts";
import { FileStorage } from "../../src/storage/file_storage.ts";
import { coreOnly } from "../fixtures/core_only.ts";

const enc = new TextEncoder();

function traced(options: TracingOptions = {}) {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const records: AuditRecord[] = [];
  const backend = new Tracing(new MemoryBackend(), {
    tracer: provider.getTracer("test"),
    audit: (r) => records.push(r),
    ...options,
  });
  const spans = () => exporter.getFinishedSpans();
  const named = (name: string) => spans().filter((s) => s.name === name);
  return { backend, spans, named, records };
}

Deno.test("each operation is a span with operation, path, dest, bytes and result", async () => {
  const { backend, named } = traced();
  await backend.mkdir("/d");
  await backend.writeFile("/d/a", new Uint8Array(4096));
  await backend.readFile("/d/a");
  await backend.rename("/d/a", "/d/b");
  await backend.lstat("/d/b");

  const [write] = named("anyfs.writeFile");
  assert.deepEqual(write.attributes, {
    "anyfs.operation": "writeFile",
    "anyfs.path": "/d/a",
    "anyfs.bytes": 4096,
    "anyfs.result": "ok",
  });
  assert.equal(write.status.code, 0);
  assert.equal(named("anyfs.readFile")[0].attributes["anyfs.bytes"], 4096);
  const [rename] = named("anyfs.rename");
  assert.equal(rename.attributes["anyfs.path"], "/d/a");
  assert.equal(rename.attributes["anyfs.dest"], "/d/b");
  assert.equal(rename.attributes["anyfs.bytes"], undefined, "no data moved");
  assert.equal(named("anyfs.mkdir").length, 1);
  assert.equal(named("anyfs.lstat").length, 1);
});

Deno.test("a failure is a span with status ERROR, error.type and the code as result", async () => {
  const { backend, named, records } = traced();
  await assert.rejects(backend.readFile("/missing"), { code: "ENOENT" });
  const [span] = named("anyfs.readFile");
  assert.equal(span.status.code, 2);
  assert.match(span.status.message!, /No such file or directory/);
  assert.equal(span.attributes["error.type"], "ENOENT");
  assert.equal(span.attributes["anyfs.result"], "ENOENT");
  assert.equal(records[0].ok, false);
  assert.equal(records[0].error, "ENOENT");
});

Deno.test("errors thrown before a promise exists are traced and rethrown unchanged", async () => {
  // Without the capability the base middleware throws ENOTSUP synchronously.
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const backend = new Tracing(coreOnly(new MemoryBackend()), {
    tracer: provider.getTracer("t"),
  });
  await assert.rejects(async () => await backend.symlink("x", "/l"), { code: "ENOTSUP" });
  assert.equal(exporter.getFinishedSpans()[0].attributes["error.type"], "ENOTSUP");
});

Deno.test("audit records: one per operation, fields in a fixed order", async () => {
  const { backend, records } = traced({ spans: false });
  await backend.writeFile("/a", new Uint8Array(10));
  await backend.link("/a", "/b");
  await assert.rejects(backend.mkdir("/a"), { code: "EEXIST" });
  assert.deepEqual(records.map((r) => [r.op, r.path, r.dest, r.bytes, r.ok, r.error]), [
    ["writeFile", "/a", undefined, 10, true, undefined],
    ["link", "/a", "/b", undefined, true, undefined],
    ["mkdir", "/a", undefined, undefined, false, "EEXIST"],
  ]);
  for (const r of records) {
    assert.ok(!Number.isNaN(Date.parse(r.ts)), r.ts);
    assert.match(r.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(r.ms >= 0);
  }
  assert.deepEqual(Object.keys(records[0]), ["ts", "op", "path", "bytes", "ok", "ms"]);
  assert.deepEqual(Object.keys(records[2]), ["ts", "op", "path", "ok", "error", "ms"]);
});

Deno.test("an audit callback that throws does not fail the operation", async () => {
  const backend = new Tracing(new MemoryBackend(), {
    audit: () => {
      throw new Error("sink down");
    },
  });
  await backend.writeFile("/a", enc.encode("x"));
  assert.equal((await backend.lstat("/a")).size, 1);
});

Deno.test("handle I/O is summarized once, at close", async () => {
  const { backend, named, records } = traced();
  const h = await backend.open("/f", { read: true, write: true, create: true });
  await h.write(new Uint8Array(100), 0);
  await h.write(new Uint8Array(50), 100);
  await h.read(0, 120);
  await h.read(120, 1000);
  await h.close();
  assert.equal(named("anyfs.handle.write").length, 0);
  assert.equal(named("anyfs.handle.read").length, 0);
  const [close] = named("anyfs.handle.close");
  assert.equal(close.attributes["anyfs.path"], "/f");
  assert.equal(close.attributes["anyfs.writes"], 2);
  assert.equal(close.attributes["anyfs.reads"], 2);
  assert.equal(close.attributes["anyfs.bytes_written"], 150);
  assert.equal(close.attributes["anyfs.bytes_read"], 150);
  assert.equal(close.attributes["anyfs.bytes"], 300);
  const record = records.find((r) => r.op === "handle.close")!;
  assert.equal(record.writes, 2);
  assert.equal(record.bytesWritten, 150);
  assert.equal(record.bytesRead, 150);
  assert.ok(record.openMs! >= 0);
  assert.equal(named("anyfs.open").length, 1);
});

Deno.test("a failed handle read or write is reported on its own, even when summarizing", async () => {
  const { backend, named, records } = traced();
  await backend.writeFile("/f", enc.encode("data"));
  const h = await backend.open("/f", { read: true });
  await assert.rejects(h.write(enc.encode("x"), 0), { code: "EBADF" });
  await h.close();
  const [failed] = named("anyfs.handle.write");
  assert.equal(failed.status.code, 2);
  assert.equal(failed.attributes["error.type"], "EBADF");
  assert.ok(records.some((r) => r.op === "handle.write" && r.error === "EBADF"));
  const [close] = named("anyfs.handle.close");
  assert.equal(close.attributes["anyfs.writes"], 0);
});

Deno.test('handleIO: "each" reports every handle call', async () => {
  const { backend, named } = traced({ handleIO: "each" });
  const h = await backend.open("/f", { read: true, write: true, create: true });
  await h.write(new Uint8Array(10), 0);
  await h.write(new Uint8Array(10), 10);
  await h.read(0, 5);
  await h.truncate(3);
  await h.close();
  assert.equal(named("anyfs.handle.write").length, 2);
  assert.equal(named("anyfs.handle.write")[0].attributes["anyfs.bytes"], 10);
  assert.equal(named("anyfs.handle.read")[0].attributes["anyfs.bytes"], 5);
  assert.equal(named("anyfs.handle.truncate").length, 1);
  assert.equal(named("anyfs.handle.close").length, 1);
});

Deno.test("constant attributes are on every span", async () => {
  const { backend, spans } = traced({ attributes: { "tenant.id": "t-42" } });
  await backend.mkdir("/x");
  assert.equal(spans()[0].attributes["tenant.id"], "t-42");
});

Deno.test("outermost, tracing sees the code an inner policy refused with", async () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const backend = BackendStack.from(new MemoryBackend())
    .readOnly()
    .traced({ tracer: provider.getTracer("t") })
    .build();
  await assert.rejects(backend.writeFile("/a", enc.encode("x")), { code: "EROFS" });
  assert.equal(exporter.getFinishedSpans()[0].attributes["error.type"], "EROFS");
  assert.ok(backend.inner instanceof ReadOnly);
});

Deno.test("with no provider the default tracer records nothing and costs no span", async () => {
  const backend = new Tracing(new MemoryBackend());
  await backend.writeFile("/a", enc.encode("x"));
  assert.equal((await backend.readFile("/a"))[0], 0x78);
  assert.deepEqual(capabilitiesOf(backend), capabilitiesOf(new MemoryBackend()));
});

Deno.test("a provider registered after the middleware was created is used from then on", async () => {
  const backend = new Tracing(new MemoryBackend());
  await backend.mkdir("/before");
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  assert.ok(trace.setGlobalTracerProvider(provider));
  try {
    await backend.mkdir("/after");
  } finally {
    trace.disable();
  }
  await backend.mkdir("/unregistered");
  const paths = exporter.getFinishedSpans().map((s) => s.attributes["anyfs.path"]);
  assert.deepEqual(paths, ["/after"]);
});

Deno.test("through FileStorage: the backend operations of a high-level call are traced", async () => {
  const { backend, spans } = traced();
  const fs = new FileStorage(backend);
  await fs.mkdir("/a/b", { recursive: true });
  await fs.writeTextFile("/a/b/c.txt", "hello");
  const names = spans().map((s) => `${s.name} ${s.attributes["anyfs.path"]}`);
  assert.ok(names.includes("anyfs.mkdir /a"), names.join("\n"));
  assert.ok(names.includes("anyfs.mkdir /a/b"), names.join("\n"));
  assert.ok(names.includes("anyfs.writeFile /a/b/c.txt"), names.join("\n"));
});

/** The spans of one OTLP/JSON export request, flattened. */
interface OtlpSpan {
  name: string;
  spanId: string;
  parentSpanId?: string;
  status?: { code?: number };
  attributes: Record<string, unknown>;
}

function otlpSpans(body: unknown): OtlpSpan[] {
  const out: OtlpSpan[] = [];
  // deno-lint-ignore no-explicit-any
  for (const rs of (body as any).resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) {
      for (const span of ss.spans ?? []) {
        const attributes: Record<string, unknown> = {};
        for (const { key, value } of span.attributes ?? []) {
          attributes[key] = value.stringValue ?? Number(value.intValue ?? value.doubleValue);
        }
        out.push({
          name: span.name,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId,
          status: span.status,
          attributes,
        });
      }
    }
  }
  return out;
}

Deno.test("Deno's built-in OpenTelemetry export (OTEL_DENO=true) carries the spans, nested", async () => {
  const received: OtlpSpan[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      if (new URL(req.url).pathname === "/v1/traces") received.push(...otlpSpans(await req.json()));
      else await req.body?.cancel();
      return Response.json({});
    },
  );
  try {
    const script = `
      import { MemoryBackend } from "${new URL("../../src/backends/memory.ts", import.meta.url)}";
      import { Tracing } from "${new URL("../../src/middleware/tracing.ts", import.meta.url)}";
      import { trace } from "@opentelemetry/api";
      const backend = new Tracing(new MemoryBackend());
      await trace.getTracer("app").startActiveSpan("request", async (span) => {
        await backend.writeFile("/report.txt", new Uint8Array(4096));
        await backend.readFile("/nope").catch(() => {});
        span.end();
      });
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "-A",
        `--config=${new URL("../../deno.json", import.meta.url).pathname}`,
        "-",
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: {
        OTEL_DENO: "true",
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${server.addr.port}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_DENO_CONSOLE: "ignore",
      },
    }).spawn();
    const writer = out.stdin.getWriter();
    await writer.write(enc.encode(script));
    await writer.close();
    const { code, stderr } = await out.output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
  } finally {
    await server.shutdown();
  }
  const write = received.find((s) => s.name === "anyfs.writeFile");
  assert.ok(write, `spans received: ${received.map((s) => s.name).join(", ")}`);
  assert.equal(write.attributes["anyfs.path"], "/report.txt");
  assert.equal(write.attributes["anyfs.bytes"], 4096);
  assert.equal(write.attributes["anyfs.result"], "ok");
  const read = received.find((s) => s.name === "anyfs.readFile")!;
  assert.equal(read.attributes["error.type"], "ENOENT");
  assert.equal(read.status?.code, 2);
  // Both nest under the span that was active where they were called.
  const request = received.find((s) => s.name === "request")!;
  assert.ok(request, "the application's span was exported");
  assert.equal(write.parentSpanId, request.spanId);
  assert.equal(read.parentSpanId, request.spanId);
});

Deno.test("a tryLstat probe is traced as lstat; one that finds nothing as ENOENT", async () => {
  const { backend, named, records } = traced();
  await backend.mkdir("/d");
  assert.equal((await backend.tryLstat("/d"))?.type, "dir");
  assert.equal(await backend.tryLstat("/nothing"), null);
  const [found, missed] = named("anyfs.lstat");
  assert.equal(found.attributes["anyfs.result"], "ok");
  assert.equal(missed.attributes["error.type"], "ENOENT");
  assert.equal(missed.status.code, 2);
  assert.equal(records.at(-1)!.error, "ENOENT");
});
