// The kernel looks a name up without locking the directories above it: a
// directory renamed meanwhile (`mv a c` while a process works in a/b) must
// not make the lookup lose track of a file that never moved within its
// directory. Found with a backend whose lstat takes ~2 ms (a host directory,
// a network store, or middleware that waits): the lookup read the old path,
// found nothing, and took the name from the open file's node, after which
// fchmod(2) on its descriptor stayed in the mount and never reached the
// backend.
import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import type { Metadata } from "../../src/core/types.ts";
import { Middleware } from "../../src/middleware/middleware.ts";
import { delay, shOk, withMount } from "./helpers.ts";
import { fuseTest } from "../_fuse.ts";

/** Every metadata read waits a little: the lookup's read overlaps renames. */
class SlowStat extends Middleware {
  override async lstat(path: string): Promise<Metadata> {
    await delay(2);
    return await super.lstat(path);
  }
  override async tryLstat(path: string): Promise<Metadata | null> {
    await delay(2);
    return await super.tryLstat(path);
  }
}

// Works in a/b (its working directory) while the shell renames a back and
// forth: every fchmod through the descriptor must show in stat of the name.
const READER = String.raw`
import os, sys
fd = os.open('n', os.O_RDWR)
bad = []
for i in range(int(sys.argv[1])):
    mode = 0o600 if i % 2 else 0o640
    os.fchmod(fd, mode)
    try:
        st = os.stat('n')
        if st.st_mode & 0o777 != mode or st.st_nlink != 1 or os.fstat(fd).st_nlink != 1:
            bad.append((oct(st.st_mode), st.st_nlink))
    except OSError as e:
        bad.append(str(e))
print('bad', len(bad), bad[:3])
`;

async function race(dir: string, python: string): Promise<string> {
  const scratch = await Deno.makeTempDir({ prefix: "anyfs-race-scratch-" });
  try {
    await Deno.writeTextFile(`${scratch}/reader.py`, READER);
    return await shOk(
      `mkdir -p a/b; echo hi > a/b/n; top=$PWD; cd a/b; ` +
        `'${python}' '${scratch}/reader.py' 300 > '${scratch}/out' & ` +
        `cd "$top"; for i in $(seq 1 60); do mv a c; mv c a; done; wait; cat '${scratch}/out'`,
      dir,
    );
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
}

fuseTest(
  "a lookup racing the rename of a directory above it keeps the file's node",
  async () => {
    // The interpreter itself, not a wrapper script (pyenv's shim looks up
    // the working directory, which the renames move away).
    const python = (await shOk(`python3 -c 'import sys; print(sys.executable)'`)).trim();
    const shm = await Deno.makeTempDir({ dir: "/dev/shm", prefix: "anyfs-race-" });
    try {
      assert.equal(await race(shm, python), "bad 0 []\n", "tmpfs");
    } finally {
      await Deno.remove(shm, { recursive: true });
    }
    const backend = new SlowStat(new MemoryBackend());
    await withMount(backend, { cache: "never", entryTimeout: 0, attrTimeout: 0 }, async (mp) => {
      assert.equal(await race(mp, python), "bad 0 []\n");
    });
  },
);
