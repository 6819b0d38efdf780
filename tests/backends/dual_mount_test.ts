// DualBackend mounted as a real file system, under the policies that let
// B's files show again once A's copy of a name is removed. Needs FUSE and
// --allow-all.
//
// Only child processes touch the mount, always with `cd` inside the shell:
// any synchronous call from this process on its own mount would wait on
// the very thread that must answer.
import assert from "node:assert/strict";
import { DualBackend } from "../../src/backends/dual.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { shOk, withMount } from "../mount/helpers.ts";
import { fuseTest } from "../_fuse.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function inDir(dir: string, script: string): Promise<string> {
  return shOk(`cd '${dir}' && ${script}`);
}

// Found in-process first: a copied-up file kept B's inode number, so after
// `ln f hl; rm f` B's f came back with the number A's hl still had. The
// kernel keys its inodes on that number: it took the two for one inode,
// and a truncate of hl emptied f (B's file, copied up again) instead.
for (const policy of ["mergeReadsAPrecedence", "aThenFallbackToBRead"] as const) {
  fuseTest(`a mounted DualBackend(${policy}) never shows two files as one inode`, async () => {
    for (const cache of ["auto", "always", "never"] as const) {
      const a = new MemoryBackend();
      const b = new MemoryBackend();
      await b.writeFile("/f", enc.encode("hello\n"));
      await b.writeFile("/g", enc.encode("g\n"));
      await withMount(new DualBackend(a, b, policy), { cache }, async (mnt) => {
        await inDir(mnt, "ls -li >/dev/null; echo more >> f; ln f hl; rm f; cat f >/dev/null");
        await inDir(mnt, "truncate -s 0 hl; echo again >> hl");
        assert.equal(await inDir(mnt, "cat f"), "hello\n", cache);
        assert.equal(await inDir(mnt, "cat hl"), "again\n", cache);
        const [f, hl] = (await inDir(mnt, "stat -c %i f hl")).trim().split("\n");
        assert.notEqual(f, hl, cache);
        // The same with the link made first (it copies g to A).
        await inDir(mnt, "ln g gl; echo x >> gl; rm g; cat g >/dev/null; truncate -s 0 gl");
        assert.equal(await inDir(mnt, "cat g; wc -c < gl"), "g\n0\n", cache);
        const [g, gl] = (await inDir(mnt, "stat -c %i g gl")).trim().split("\n");
        assert.notEqual(g, gl, cache);
      });
      assert.equal(dec.decode(await b.readFile("/f")), "hello\n");
      assert.equal(dec.decode(await a.readFile("/hl")), "again\n");
    }
  });
}

// Found by the same review: a file of B with two names was copied to A
// under one name alone. The kernel held both names as one inode, sent the
// append through one name and the truncate through the other, and the
// appended bytes were lost while `cat f` showed an empty file.
for (const policy of ["mergeReadsAPrecedence", "aThenFallbackToBRead"] as const) {
  fuseTest(`a mounted DualBackend(${policy}) keeps B's hard links one file`, async () => {
    for (const cache of ["auto", "always", "never"] as const) {
      const a = new MemoryBackend();
      const b = new MemoryBackend();
      await b.writeFile("/f", enc.encode("hello\n"));
      await b.link("/f", "/hl");
      await withMount(new DualBackend(a, b, policy), { cache }, async (mnt) => {
        await inDir(mnt, "ls -li >/dev/null; echo more >> f; echo again >> hl");
        assert.equal(await inDir(mnt, "cat f"), "hello\nmore\nagain\n", cache);
        await inDir(mnt, "truncate -s 0 hl");
        assert.equal(await inDir(mnt, "wc -c < f; wc -c < hl"), "0\n0\n", cache);
        const [f, hl] = (await inDir(mnt, "stat -c '%i %h' f hl")).trim().split("\n");
        assert.equal(f, hl, cache);
        assert.match(f, / 2$/, cache);
      });
      assert.equal(dec.decode(await b.readFile("/f")), "hello\n");
      assert.equal((await b.lstat("/f")).nlink, 2);
    }
  });
}

// Found by the review of the fix above: a copy-up gives B's file A's
// number, but the mount kept the node under B's number. After `rm q`,
// `cat q` showed B's q again, with B's number: the mount took it for the
// node p still had, so the kernel saw one inode for p and q and sent the
// next append to p through the name q (a new copy of q got it).
for (const policy of ["mergeReadsAPrecedence", "aThenFallbackToBRead"] as const) {
  fuseTest(
    `a mounted DualBackend(${policy}) lets go of a copied-up file's old number`,
    async () => {
      for (const cache of ["auto", "always", "never"] as const) {
        const a = new MemoryBackend();
        const b = new MemoryBackend();
        await b.writeFile("/p", enc.encode("hello\n"));
        await b.link("/p", "/q");
        await withMount(new DualBackend(a, b, policy), { cache }, async (mnt) => {
          await inDir(
            mnt,
            "ls -li >/dev/null; echo more >> p; rm q; cat q >/dev/null; echo x >> p",
          );
          assert.equal(await inDir(mnt, "cat p"), "hello\nmore\nx\n", cache);
          assert.equal(await inDir(mnt, "cat q"), "hello\n", cache);
          const [p, q] = (await inDir(mnt, "stat -c %i p q")).trim().split("\n");
          assert.notEqual(p, q, cache);
        });
        assert.equal(dec.decode(await a.readFile("/p")), "hello\nmore\nx\n");
        assert.equal(dec.decode(await b.readFile("/q")), "hello\n");
      }
    },
  );
}
