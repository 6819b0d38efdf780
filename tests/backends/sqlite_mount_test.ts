// SqliteBackend mounted as a real file system: shell tools work on it, what
// they write is in the database file after unmounting, and the conformance
// kit passes through the mount.
import assert from "node:assert/strict";
import { SqliteBackend } from "../../src/backends/sqlite.ts";
import { DENO_FS_CAPABILITIES, hostDirSubject } from "../../src/testing/host_subject.ts";
import { caseId, runConformance } from "../../src/testing/runner.ts";
import { shOk, withMount } from "../mount/helpers.ts";
import { fuseTest } from "../_fuse.ts";

/**
 * Run `script` in `dir` with `cd` inside the shell: spawning with `cwd` on
 * our own mount would deadlock (the spawn waits on this thread for the
 * child's exec, while the child's chdir waits for this thread to answer).
 */
function inDir(dir: string, script: string): Promise<string> {
  return shOk(`cd '${dir}' && ${script}`);
}

async function withDatabase(body: (file: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "anyfs_sqlite_mount_" });
  try {
    await body(`${dir}/drive.anyfs`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

fuseTest("a mounted SqliteBackend works with shell tools and keeps what they wrote", async () => {
  await withDatabase(async (file) => {
    let bigSum = "";
    const backend = SqliteBackend.open(file);
    try {
      await withMount(backend, { cache: "auto" }, async (mnt) => {
        await inDir(
          mnt,
          `set -e
          mkdir -p src/lib docs
          printf 'hello\\n' > docs/hello.txt
          echo more >> docs/hello.txt
          cp docs/hello.txt docs/copy.txt
          mv docs/copy.txt src/moved.txt
          ln -s ../docs/hello.txt src/link.txt
          ln docs/hello.txt docs/hard.txt
          chmod 600 docs/hard.txt
          head -c 3000000 /dev/urandom > big.bin
          dd if=/dev/zero of=sparse.bin bs=1 count=1 seek=5000000 2>/dev/null
          touch -d '2001-02-03 04:05:06 UTC' docs/hello.txt
          rm -f nothing-here
          tar -cf ../snap.tar docs src && mkdir restored && tar -xf ../snap.tar -C restored
          rm ../snap.tar`,
        );
        bigSum = (await inDir(mnt, "sha256sum big.bin | cut -d' ' -f1")).trim();
        assert.equal(await inDir(mnt, "cat src/link.txt"), "hello\nmore\n");
        assert.equal(await inDir(mnt, "cat restored/src/moved.txt"), "hello\nmore\n");
        assert.equal(
          (await inDir(mnt, "stat -c '%h %a' docs/hard.txt")).trim(),
          "2 600",
        );
        assert.equal((await inDir(mnt, "stat -c %s sparse.bin")).trim(), "5000001");
        assert.equal(
          (await inDir(mnt, "find . -type f | sort")).trim().split("\n").length,
          8, // 5 made here + 3 restored by tar (the two link.txt are symlinks)
        );
        assert.equal((await inDir(mnt, "wc -c < big.bin")).trim(), "3000000");
      });
    } finally {
      backend.close();
    }
    // Unmounted and closed: everything is in the database file.
    using again = SqliteBackend.open(file);
    assert.deepEqual(again.integrityCheck(), ["ok"]);
    const hello = await again.readFile("/docs/hello.txt");
    assert.equal(new TextDecoder().decode(hello), "hello\nmore\n");
    assert.equal((await again.lstat("/docs/hello.txt")).mtimeMs, Date.UTC(2001, 1, 3, 4, 5, 6));
    assert.equal(await again.readLink("/src/link.txt"), "../docs/hello.txt");
    assert.equal((await again.lstat("/docs/hard.txt")).nlink, 2);
    const big = await again.readFile("/big.bin");
    const sum = Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", big as Uint8Array<ArrayBuffer>)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    assert.equal(sum, bigSum);
    assert.deepEqual(
      (await again.readDir("/restored/docs")).map((e) => e.name),
      ["hard.txt", "hello.txt"],
    );
  });
});

fuseTest("the conformance kit passes through a mounted SqliteBackend", async () => {
  await withDatabase(async (file) => {
    const backend = SqliteBackend.open(file);
    try {
      await withMount(backend, { cache: "auto" }, async (mnt) => {
        const report = await runConformance(
          hostDirSubject({ parent: mnt, capabilities: [...DENO_FS_CAPABILITIES, "ownership"] }),
        );
        const failures = report.failed.map((f) =>
          `${caseId(f.case)}: ${(f.error as Error).message}`
        );
        assert.deepEqual(failures, [], failures.join("\n"));
        assert.ok(report.passed.length >= 150, `only ${report.passed.length} cases ran`);
      });
    } finally {
      backend.close();
    }
  });
});
