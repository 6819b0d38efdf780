// The differential engine itself: deterministic generation, agreement of a
// real directory with itself, and a planted divergence caught with a
// replayable report.
import assert from "node:assert/strict";
import type { Capability } from "../../src/core/backend.ts";
import type { FsApi } from "../../src/storage/api.ts";
import { denoFsAt } from "../../src/testing/deno_fs_at.ts";
import { generateOps, runDifferential } from "../../src/testing/differential.ts";
import { Forwarding } from "./fs_doubles.ts";

const ALL: ReadonlySet<Capability> = new Set(["symlinks", "hardlinks", "permissions"]);

async function withTwoDirs(fn: (a: FsApi, b: FsApi) => Promise<void>): Promise<void> {
  const a = await Deno.makeTempDir({ prefix: "anyfs-diff-a-" });
  const b = await Deno.makeTempDir({ prefix: "anyfs-diff-b-" });
  try {
    await fn(denoFsAt(a), denoFsAt(b));
  } finally {
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  }
}

Deno.test("generateOps is a pure function of the seed", () => {
  assert.deepEqual(generateOps(42, 300, ALL), generateOps(42, 300, ALL));
  assert.notDeepEqual(generateOps(42, 300, ALL), generateOps(43, 300, ALL));
  // A longer run starts with the shorter run's operations, so `ops: step + 1` replays a prefix.
  assert.deepEqual(generateOps(9, 2000, ALL).slice(0, 100), generateOps(9, 100, ALL));
});

Deno.test("generateOps uses every operation kind and only the capabilities given", () => {
  const kinds = new Set(generateOps(1, 2000, ALL).map((o) => o.op));
  assert.equal(kinds.size, 16, [...kinds].join(","));
  const bare = new Set(generateOps(1, 2000, new Set()).map((o) => o.op));
  for (const k of ["symlink", "link", "readLink", "chmod"]) assert.ok(!bare.has(k as never), k);
});

Deno.test("generated paths never climb above the root and symlink targets stay relative and descending", () => {
  for (const op of generateOps(3, 5000, ALL)) {
    for (const p of [("path" in op) ? op.path : op.from, ("to" in op) ? op.to : "/"]) {
      assert.ok(p.startsWith("/"), p);
      let depth = 0;
      for (const part of p.split("/").filter((x) => x !== "")) {
        depth += part === ".." ? -1 : 1;
        assert.ok(depth >= 0, `${p} climbs above the root`);
      }
    }
    if (op.op === "symlink") {
      assert.ok(!op.target.startsWith("/") && !op.target.split("/").includes(".."), op.target);
    }
  }
});

Deno.test("a real directory agrees with itself over 2,000 operations, with frequent errors", async () => {
  await withTwoDirs(async (a, b) => {
    const report = await runDifferential(a, b, { seed: 11, ops: 2000 });
    assert.equal(report.ops, 2000);
    assert.ok(report.snapshots >= 20);
    const errors = Object.values(report.byKind).reduce((n, k) => n + k.error, 0);
    const oks = Object.values(report.byKind).reduce((n, k) => n + k.ok, 0);
    assert.ok(errors > 400 && oks > 400, `${oks} ok, ${errors} errors`);
    for (const code of ["ENOENT", "EEXIST", "ENOTDIR", "EISDIR", "ENOTEMPTY", "EINVAL", "ELOOP"]) {
      assert.ok((report.errorCodes[code] ?? 0) > 0, `${code} never happened`);
    }
  });
});

Deno.test("a planted divergence is reported with seed, step, both outcomes and the history", async () => {
  // chmod that silently drops group/other write bits.
  class SloppyChmod extends Forwarding {
    override chmod(p: string | URL, mode: number) {
      return this.inner.chmod(p, mode & ~0o022);
    }
  }
  await withTwoDirs(async (a, b) => {
    const e = await runDifferential(new SloppyChmod(a), b, { seed: 5, ops: 2000 }).then(
      () => undefined,
      (e) => e as Error,
    );
    assert.ok(e instanceof Error, "the divergence went unnoticed");
    assert.match(e.message, /differential mismatch at step \d+ \(seed 5\)/);
    assert.match(e.message, /candidate: .*\n\s+reference: /);
    assert.match(e.message, /replay with \{ seed: 5, ops: \d+ \}/);
    assert.match(e.message, /#\d+ \{"op":/);
    assert.match(e.message, /"mode":"\d*777"|"mode":"\d*666"|chmod/);
  });
});

Deno.test("a divergence only visible in the tree is caught by a snapshot", async () => {
  // Copies that lose their last byte: no copyFile result shows it, the tree does.
  class ShortCopy extends Forwarding {
    override async copyFile(from: string | URL, to: string | URL) {
      await this.inner.copyFile(from, to);
      const size = (await this.inner.stat(to)).size;
      if (size > 0) await this.inner.truncate(to as string, size - 1);
    }
  }
  await withTwoDirs(async (a, b) => {
    const e = await runDifferential(new ShortCopy(a), b, { seed: 2, ops: 2000, snapshotEvery: 1 })
      .then(() => undefined, (e) => e as Error);
    assert.ok(e instanceof Error, "the divergence went unnoticed");
    assert.match(e.message, /trees differ after it|readFile|copyFile|stat/);
  });
});
