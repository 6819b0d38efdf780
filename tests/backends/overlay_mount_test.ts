// An Overlay mounted as a real file system: shell tools change it freely,
// the lower layer stays exactly as it was, deletions and renames of lower
// entries look like a plain directory to every program, and the
// conformance kit passes through the mount. Needs FUSE and --allow-all.
//
// Only child processes touch the mount, always with `cd` inside the shell:
// spawning with `cwd` on our own mount, or any synchronous call from this
// process on it, would wait on the very thread that must answer.
import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { Overlay } from "../../src/backends/overlay.ts";
import { SqliteBackend } from "../../src/backends/sqlite.ts";
import type { Backend } from "../../src/core/backend.ts";
import { DENO_FS_CAPABILITIES, hostDirSubject } from "../../src/testing/host_subject.ts";
import { caseId, runConformance } from "../../src/testing/runner.ts";
import { shOk, withMount } from "../mount/helpers.ts";
import { fuseTest } from "../_fuse.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function inDir(dir: string, script: string): Promise<string> {
  return shOk(`cd '${dir}' && ${script}`);
}

async function lowerLayer(): Promise<MemoryBackend> {
  const lower = new MemoryBackend();
  await lower.mkdir("/etc");
  await lower.writeFile("/etc/motd", enc.encode("hello\n"));
  await lower.writeFile("/etc/hosts", enc.encode("127.0.0.1 localhost\n"));
  await lower.mkdir("/docs");
  await lower.writeFile("/docs/a.txt", enc.encode("a\n"));
  await lower.writeFile("/docs/b.txt", enc.encode("b\n"));
  await lower.mkdir("/docs/sub");
  await lower.writeFile("/docs/sub/c.txt", enc.encode("c\n"));
  await lower.mkdir("/bin");
  await lower.writeFile("/bin/tool", enc.encode("#!/bin/sh\necho tool\n"), { mode: 0o755 });
  await lower.symlink("etc/motd", "/link");
  return lower;
}

/** Every path of a layer with its type, mode, size, link count, times and content. */
async function dump(backend: Backend): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const e of await backend.readDir(dir)) {
      const path = dir === "/" ? `/${e.name}` : `${dir}/${e.name}`;
      // Reads through the mount update access times, as reads of the layer would.
      const { atimeMs: _, ...meta } = await backend.lstat(path);
      out[path] = meta.type === "file"
        ? { ...meta, content: dec.decode(await backend.readFile(path)) }
        : meta;
      if (meta.type === "dir") await walk(path);
    }
  };
  await walk("/");
  return out;
}

fuseTest("a mounted Overlay works with shell tools and never touches its lower layer", async () => {
  const lower = await lowerLayer();
  const before = await dump(lower);
  const upper = new MemoryBackend();
  await withMount(new Overlay(lower, upper), { cache: "auto" }, async (mnt) => {
    assert.equal(await inDir(mnt, "cat etc/motd link"), "hello\nhello\n");
    await inDir(
      mnt,
      `set -e
      echo more >> etc/motd
      rm docs/b.txt
      mv docs/a.txt docs/renamed.txt
      mv docs/sub newsub
      rm -r bin
      mkdir bin
      echo new > bin/tool2
      ln etc/hosts hosts.hard
      echo local >> hosts.hard
      chmod 600 etc/hosts`,
    );
    assert.equal(await inDir(mnt, "cat link"), "hello\nmore\n");
    assert.equal(await inDir(mnt, "ls -a docs"), ".\n..\nrenamed.txt\n");
    assert.equal(await inDir(mnt, "ls -a"), ".\n..\nbin\ndocs\netc\nhosts.hard\nlink\nnewsub\n");
    assert.equal(await inDir(mnt, "ls bin"), "tool2\n");
    assert.equal(await inDir(mnt, "cat newsub/c.txt docs/renamed.txt"), "c\na\n");
    assert.equal(await inDir(mnt, "cat etc/hosts"), "127.0.0.1 localhost\nlocal\n");
    assert.equal((await inDir(mnt, "stat -c '%h %a' etc/hosts hosts.hard")).trim(), "2 600\n2 600");
    // Same inode for both names, and distinct inodes everywhere else.
    const inodes = (await inDir(mnt, "find . -mindepth 1 -not -name hosts.hard -printf '%i\\n'"))
      .trim().split("\n");
    assert.equal(new Set(inodes).size, inodes.length, inodes.join(" "));
    assert.equal(
      (await inDir(mnt, "stat -c %i etc/hosts")).trim(),
      (await inDir(mnt, "stat -c %i hosts.hard")).trim(),
    );
    assert.match((await inDir(mnt, "test -e docs/b.txt || echo gone")).trim(), /^gone$/);
    assert.equal((await inDir(mnt, "find . | sort")).trim().split("\n").length, 12);
    // The kernel saw an ordinary directory: `du`, `tar` and `cp -a` work on it.
    await inDir(mnt, "tar -cf /dev/null . && du -s . >/dev/null && cp -a docs docs-copy");
    assert.equal(await inDir(mnt, "cat docs-copy/renamed.txt"), "a\n");
  });
  assert.deepEqual(await dump(lower), before);
  // The changes, whiteouts and all, are in the upper layer.
  assert.equal(dec.decode(await upper.readFile("/etc/motd")), "hello\nmore\n");
  assert.equal((await upper.lstat("/docs/b.txt")).type, "chardev");
});

fuseTest(
  "the conformance kit passes through a mounted Overlay over a prefilled lower layer",
  async () => {
    const lower = await lowerLayer();
    const before = await dump(lower);
    await withMount(new Overlay(lower, new MemoryBackend()), { cache: "auto" }, async (mnt) => {
      const report = await runConformance(
        hostDirSubject({ parent: mnt, capabilities: [...DENO_FS_CAPABILITIES, "ownership"] }),
      );
      const failures = report.failed.map((f) => `${caseId(f.case)}: ${(f.error as Error).message}`);
      assert.deepEqual(failures, [], failures.join("\n"));
      assert.ok(report.passed.length >= 150, `only ${report.passed.length} cases ran`);
    });
    assert.deepEqual(await dump(lower), before);
  },
);

// Found by a hostile-shell review: before copy-up both names report the
// lower inode's number, so the kernel keeps one inode for them; if the
// copy-up of one name left the other on the lower bytes, the kernel's
// writes through one name and truncates through the other hit different
// files and `f` lost its data. Both names must come up as one upper inode.
for (const kind of ["Memory", "Sqlite"] as const) {
  fuseTest(`a mounted Overlay keeps lower hard links one file (${kind} upper)`, async () => {
    const lower = new MemoryBackend();
    await lower.writeFile("/f", enc.encode("hello\n"));
    await lower.link("/f", "/hl");
    const before = await dump(lower);
    for (const cache of ["auto", "always", "never"] as const) {
      const upper = kind === "Memory" ? new MemoryBackend() : SqliteBackend.memory();
      try {
        await withMount(new Overlay(lower, upper), { cache }, async (mnt) => {
          await inDir(mnt, "ls -li >/dev/null; echo more >> f; truncate -s 0 hl");
          assert.equal(await inDir(mnt, "wc -c < f; wc -c < hl"), "0\n0\n", cache);
          await inDir(mnt, "echo again >> hl");
          assert.equal(await inDir(mnt, "cat f"), "again\n", cache);
          const [f, hl] = (await inDir(mnt, "stat -c '%i %h' f hl")).trim().split("\n");
          assert.equal(f, hl, cache);
          assert.match(f, / 2$/, cache);
        });
      } finally {
        if (upper instanceof SqliteBackend) upper.close();
      }
    }
    assert.deepEqual(await dump(lower), before);
  });
}
