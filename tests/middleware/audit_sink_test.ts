// JsonLinesSink: one JSON object per line, appended to a file opened once;
// nothing lost on a normal exit or Deno.exit(); a clear error without the
// write permission.
import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { isFsError } from "../../src/core/errors.ts";
import { type AuditRecord, JsonLinesSink } from "../../src/middleware/audit_sink.ts";
import { Tracing } from "../../src/middleware/tracing.ts";

const dec = new TextDecoder();
const SINK = new URL("../../src/middleware/audit_sink.ts", import.meta.url).href;
const TRACING = new URL("../../src/middleware/tracing.ts", import.meta.url).href;
const MEMORY = new URL("../../src/backends/memory.ts", import.meta.url).href;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

function record(op: AuditRecord["op"], path: string): AuditRecord {
  return { ts: new Date(0).toISOString(), op, path, ok: true, ms: 0.5 };
}

async function lines(file: string): Promise<AuditRecord[]> {
  const text = await Deno.readTextFile(file);
  assert.ok(text === "" || text.endsWith("\n"), "every line is terminated");
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "anyfs-audit-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Run `code` in a child Deno with `flags`; returns its exit code and stderr. */
async function child(code: string, flags: string[]): Promise<{ code: number; stderr: string }> {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", `--config=${CONFIG}`, ...flags, "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = proc.stdin.getWriter();
  await writer.write(new TextEncoder().encode(code));
  await writer.close();
  const out = await proc.output();
  return { code: out.code, stderr: dec.decode(out.stderr) };
}

Deno.test("a file sink appends one JSON line per record, across sinks", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/audit.jsonl`;
    const first = await JsonLinesSink.toFile(file);
    first.record(record("writeFile", "/a"));
    first.record(record("mkdir", "/d"));
    await first.close();
    {
      await using second = await JsonLinesSink.toFile(file);
      second.record(record("unlink", "/a"));
    }
    assert.deepEqual((await lines(file)).map((r) => `${r.op} ${r.path}`), [
      "writeFile /a",
      "mkdir /d",
      "unlink /a",
    ]);
  });
});

Deno.test("a file that cannot be opened is an FsError with the system's code", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(JsonLinesSink.toFile(`${dir}/missing/audit.jsonl`), (e: unknown) => {
      assert.ok(isFsError(e), String(e));
      assert.equal(e.code, "ENOENT");
      assert.equal(e.path, `${dir}/missing/audit.jsonl`);
      return true;
    });
    await assert.rejects(JsonLinesSink.toFile(dir), (e: unknown) => {
      assert.ok(isFsError(e), String(e));
      assert.equal(e.code, "EISDIR");
      return true;
    });
  });
});

Deno.test("flush() waits for the lines recorded so far; records after close are dropped", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/audit.jsonl`;
    const sink = await JsonLinesSink.toFile(file);
    for (let i = 0; i < 1000; i++) sink.record(record("lstat", `/f${i}`));
    await sink.flush();
    assert.equal((await lines(file)).length, 1000);
    await sink.close();
    await sink.close();
    sink.record(record("lstat", "/late"));
    assert.equal((await lines(file)).length, 1000);
  });
});

Deno.test("a Tracing stack writes its operations to the file", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/audit.jsonl`;
    const sink = await JsonLinesSink.toFile(file);
    const backend = new Tracing(new MemoryBackend(), { audit: sink, spans: false });
    await backend.writeFile("/a", new Uint8Array(4096));
    await backend.readFile("/nope").catch(() => {});
    await sink.close();
    const [write, read] = await lines(file);
    assert.equal(write.op, "writeFile");
    assert.equal(write.bytes, 4096);
    assert.equal(write.ok, true);
    assert.equal(read.error, "ENOENT");
  });
});

Deno.test("a callback sink gets each line synchronously, without a newline", () => {
  const got: string[] = [];
  const sink = JsonLinesSink.toCallback((line) => got.push(line));
  sink.record(record("open", "/x"));
  assert.equal(got.length, 1);
  assert.ok(!got[0].includes("\n"));
  assert.equal(JSON.parse(got[0]).path, "/x");
});

Deno.test("nothing is lost when the program ends without close(), or calls Deno.exit()", async () => {
  await withTempDir(async (dir) => {
    for (const ending of ["", "Deno.exit(0);"]) {
      const file = `${dir}/audit${ending ? "-exit" : ""}.jsonl`;
      const result = await child(
        `
        import { JsonLinesSink } from "${SINK}";
        import { Tracing } from "${TRACING}";
        import { MemoryBackend } from "${MEMORY}";
        const sink = await JsonLinesSink.toFile(${JSON.stringify(file)});
        const backend = new Tracing(new MemoryBackend(), { audit: sink, spans: false });
        for (let i = 0; i < 500; i++) await backend.writeFile("/f" + i, new Uint8Array(8));
        ${ending}
        `,
        [`--allow-write=${dir}`, `--allow-read=${dir}`],
      );
      assert.equal(result.code, 0, result.stderr);
      assert.equal((await lines(file)).length, 500, ending || "normal exit");
    }
  });
});

Deno.test("without --allow-write the sink refuses with EACCES naming the flag", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/audit.jsonl`;
    const result = await child(
      `
      import { JsonLinesSink } from "${SINK}";
      try {
        await JsonLinesSink.toFile(${JSON.stringify(file)});
        console.error("opened");
      } catch (e) {
        console.error(e.code, e.message);
      }
      `,
      [],
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /^EACCES /);
    assert.match(result.stderr, new RegExp(`--allow-write=${file}`));
    await assert.rejects(Deno.stat(file), Deno.errors.NotFound);
  });
});
