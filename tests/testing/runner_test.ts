// The kit checks itself: enough cases, unique names, none that passes on a
// file system that does nothing, capability gating that skips instead of
// passing, and planted bugs that the matching cases catch.
import assert from "node:assert/strict";
import { ALL_CAPABILITIES, type Capability } from "../../src/core/backend.ts";
import { fsError } from "../../src/core/errors.ts";
import { CONFORMANCE_CASES } from "../../src/testing/cases/mod.ts";
import { denoFsAt } from "../../src/testing/deno_fs_at.ts";
import type { ConformanceCase, SubjectFactory } from "../../src/testing/kit.ts";
import { caseId, runConformance } from "../../src/testing/runner.ts";
import type { FsApi } from "../../src/storage/api.ts";
import { DoesNothing, Forwarding } from "./fs_doubles.ts";

const HOST_CAPS: Capability[] = [
  "ranges",
  "truncate",
  "append",
  "copy",
  "symlinks",
  "hardlinks",
  "permissions",
  "times",
  "sync",
  "handles",
];

/** Fresh temporary directories seen through `wrap(denoFsAt(dir))`. */
function plantedSubject(wrap: (fs: FsApi) => FsApi): SubjectFactory {
  return async () => {
    const dir = await Deno.makeTempDir({ prefix: "anyfs-kit-meta-" });
    return {
      fs: wrap(denoFsAt(dir)),
      capabilities: HOST_CAPS,
      dispose: () => Deno.remove(dir, { recursive: true }),
    };
  };
}

async function failuresIn(
  groups: string[],
  wrap: (fs: FsApi) => FsApi,
): Promise<string[]> {
  const report = await runConformance(plantedSubject(wrap), {
    filter: (c) => groups.includes(c.group),
  });
  return report.failed.map((f) => caseId(f.case));
}

Deno.test("the kit has at least 150 cases, each with a unique name", () => {
  assert.ok(CONFORMANCE_CASES.length >= 150, `${CONFORMANCE_CASES.length} cases`);
  const ids = CONFORMANCE_CASES.map(caseId);
  assert.equal(new Set(ids).size, ids.length, "duplicate case names");
});

Deno.test("no case passes on a file system that accepts everything and keeps nothing", async () => {
  const report = await runConformance(() => ({
    fs: new DoesNothing(),
    capabilities: ALL_CAPABILITIES,
  }));
  assert.deepEqual(report.passed.map(caseId), []);
  // Only the cases that drive a backend directly were left out (no backend here).
  assert.ok(report.skipped.every((s) => s.case.needsBackend));
  assert.ok(report.failed.length >= 150);
});

Deno.test("cases needing an unclaimed capability are skipped with the reason, never passed", async () => {
  const report = await runConformance(() => ({ fs: new DoesNothing(), capabilities: [] }));
  const skipped = new Map(report.skipped.map((s) => [caseId(s.case), s.reason]));
  const symlinkCases = CONFORMANCE_CASES.filter((c: ConformanceCase) =>
    c.needs?.includes("symlinks")
  );
  assert.ok(symlinkCases.length >= 20);
  for (const c of symlinkCases) {
    assert.match(skipped.get(caseId(c)) ?? "", /lacks .*symlinks/, caseId(c));
  }
  assert.ok(report.passed.length === 0);
});

Deno.test("a filter skips the cases it rejects", async () => {
  const report = await runConformance(() => ({ fs: new DoesNothing(), capabilities: [] }), {
    filter: () => false,
  });
  assert.equal(report.skipped.length, CONFORMANCE_CASES.length);
  assert.ok(report.skipped.every((s) => s.reason === "filtered out"));
});

const FS_API_METHODS = [
  "readFile",
  "readTextFile",
  "writeFile",
  "writeTextFile",
  "stat",
  "lstat",
  "readDir",
  "mkdir",
  "remove",
  "rename",
  "copyFile",
  "symlink",
  "link",
  "readLink",
  "realPath",
  "chmod",
  "chown",
  "utime",
  "truncate",
  "open",
] as const;

Deno.test("on a real host directory every runnable case passes and every FsApi operation is used", async () => {
  const called = new Set<string>();
  const recording = (inner: FsApi): FsApi => {
    const out: Record<string, unknown> = {};
    for (const name of FS_API_METHODS) {
      const method = inner[name] as (...args: unknown[]) => unknown;
      out[name] = (...args: unknown[]) => {
        called.add(name);
        return method.apply(inner, args);
      };
    }
    return out as unknown as FsApi;
  };
  const report = await runConformance(async () => {
    const s = await plantedSubject(recording)();
    // chown needs root; claim it only when the process is root.
    return Deno.uid() === 0 ? { ...s, capabilities: [...HOST_CAPS, "ownership"] } : s;
  });
  assert.deepEqual(
    report.failed.map((f) => `${caseId(f.case)}: ${(f.error as Error).message}`),
    [],
  );
  assert.ok(report.passed.length >= 150, `${report.passed.length} passed`);
  const unused = FS_API_METHODS.filter((m) => !called.has(m));
  if (Deno.uid() !== 0) unused.splice(unused.indexOf("chown"), 1);
  assert.deepEqual(unused, []);
});

Deno.test("planted bug: rename that replaces a non-empty directory is caught", async () => {
  const failed = await failuresIn(["rename"], (inner) =>
    new class extends Forwarding {
      override async rename(a: string | URL, b: string | URL) {
        try {
          await this.inner.rename(a, b);
        } catch (e) {
          if ((e as { code?: string }).code !== "ENOTEMPTY") throw e;
          await this.inner.remove(b, { recursive: true });
          await this.inner.rename(a, b);
        }
      }
    }(inner));
  assert.deepEqual(failed, [
    "rename › a directory over a non-empty directory fails with ENOTEMPTY",
    "rename › a directory onto its own ancestor fails with ENOTEMPTY",
  ]);
});

Deno.test("planted bug: readDir that hides dot files is caught", async () => {
  const failed = await failuresIn(["readDir"], (inner) =>
    new class extends Forwarding {
      override async *readDir(p: string | URL) {
        for await (const e of this.inner.readDir(p)) if (!e.name.startsWith(".")) yield e;
      }
    }(inner));
  assert.deepEqual(failed, ["readDir › hidden names and odd names are listed"]);
});

Deno.test("planted bug: truncate that grows with garbage is caught", async () => {
  const failed = await failuresIn(["truncate"], (inner) =>
    new class extends Forwarding {
      override async truncate(p: string, len = 0) {
        const old = (await this.inner.stat(p)).size;
        await this.inner.truncate(p, len);
        if (len > old) {
          const f = await this.inner.open(p, { write: true });
          await f.seek(old, Deno.SeekMode.Start);
          await f.write(new Uint8Array(len - old).fill(0xff));
          f.close();
        }
      }
    }(inner));
  assert.ok(failed.includes("truncate › grows a file with zeros"), String(failed));
  assert.ok(failed.includes("truncate › shrink then grow does not resurrect old bytes"));
});

Deno.test("planted bug: an error code swapped for another is caught", async () => {
  const failed = await failuresIn(["link"], (inner) =>
    new class extends Forwarding {
      override async link(a: string, b: string) {
        try {
          await this.inner.link(a, b);
        } catch (e) {
          if ((e as { code?: string }).code === "EPERM") throw fsError("EISDIR", "link", a);
          throw e;
        }
      }
    }(inner));
  assert.deepEqual(failed, ["link › to a directory fails with EPERM"]);
});

Deno.test("planted bug: hard links reported with one link are caught", async () => {
  const failed = await failuresIn(["link"], (inner) =>
    new class extends Forwarding {
      override async stat(p: string | URL) {
        return { ...await this.inner.stat(p), nlink: 1 };
      }
    }(inner));
  assert.ok(failed.includes("link › both names share content, inode and link count"));
  assert.ok(failed.includes("link › link counts follow link and unlink"));
});

Deno.test("planted bug: appending by overwriting is caught", async () => {
  const failed = await failuresIn(["files"], (inner) =>
    new class extends Forwarding {
      override writeFile(
        p: string | URL,
        d: Uint8Array | ReadableStream<Uint8Array>,
        o?: Deno.WriteFileOptions,
      ) {
        return this.inner.writeFile(p, d, { ...o, append: false });
      }
      override writeTextFile(
        p: string | URL,
        d: string | ReadableStream<string>,
        o?: Deno.WriteFileOptions,
      ) {
        return this.inner.writeTextFile(p, d, { ...o, append: false });
      }
    }(inner));
  assert.deepEqual(failed, ["files › append adds to the end"]);
});
