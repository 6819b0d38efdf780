// What keeps a mount trustworthy: heavy concurrent use by the mounting
// process itself, backends that throw, and processes that die.
import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { SqliteBackend } from "../../src/backends/sqlite.ts";
import type { FileHandle, OpenOptions } from "../../src/core/backend.ts";
import { fsError } from "../../src/core/errors.ts";
import type { DirEntry, Metadata } from "../../src/core/types.ts";
import { Middleware } from "../../src/middleware/middleware.ts";
import { mount } from "../../src/mount/handle.ts";
import { mountAt } from "../../src/mount/system.ts";
import { delay, sh, shOk, withMount } from "./helpers.ts";
import { fuseTest } from "../_fuse.ts";

/** Every operation waits a little, so that requests pile up in flight. */
class Slow extends Middleware {
  constructor(inner: MemoryBackend, readonly ms = 2) {
    super(inner);
  }
  override async lstat(path: string): Promise<Metadata> {
    await delay(this.ms);
    return super.lstat(path);
  }
  override async open(path: string, options: OpenOptions): Promise<FileHandle> {
    await delay(this.ms);
    return super.open(path, options);
  }
  override async readDir(path: string): Promise<DirEntry[]> {
    await delay(this.ms);
    return super.readDir(path);
  }
}

fuseTest(
  "the mounting process uses its own mount with 300 concurrent async operations",
  async () => {
    const backend = new MemoryBackend();
    await withMount(new Slow(backend), { cache: "never" }, async (mp, handle) => {
      await Deno.mkdir(`${mp}/dir`);
      const N = 300;
      await Promise.all(
        Array.from({ length: N }, (_, i) => Deno.writeTextFile(`${mp}/dir/f${i}`, `value ${i}`)),
      );
      // Reads, stats, listings, renames and new directories, all at once.
      const results = await Promise.all([
        ...Array.from({ length: N }, (_, i) => Deno.readTextFile(`${mp}/dir/f${i}`)),
        ...Array.from({ length: 100 }, (_, i) => Deno.stat(`${mp}/dir/f${i}`).then((s) => s.size)),
        ...Array.from({ length: 20 }, () => Array.fromAsync(Deno.readDir(`${mp}/dir`))),
        ...Array.from({ length: 50 }, (_, i) => Deno.rename(`${mp}/dir/f${i}`, `${mp}/dir/g${i}`)),
        ...Array.from({ length: 50 }, (_, i) => Deno.mkdir(`${mp}/sub${i}`)),
      ]);
      for (let i = 0; i < N; i++) assert.equal(results[i], `value ${i}`);
      for (let i = 0; i < 100; i++) assert.equal(results[N + i], `value ${i}`.length);
      const names = (await backend.readDir("/dir")).map((e) => e.name);
      assert.equal(names.length, N);
      for (let i = 0; i < 50; i++) assert.ok(names.includes(`g${i}`));
      assert.equal((await backend.readDir("/")).length, 51);
      assert.ok(handle.stats.maxInFlight > 1, "requests were served concurrently");
      assert.equal(handle.stats.inFlight, 0);
    });
  },
);

fuseTest("hundreds of requests from other processes are in flight at once", async () => {
  const backend = new MemoryBackend();
  await backend.writeFile(`/f`, new TextEncoder().encode("x"));
  // Opens of one file by 200 processes at once. (First lookups of different
  // names in one directory are serialized by the kernel itself.)
  await withMount(new Slow(backend, 100), { cache: "never" }, async (mp, handle) => {
    const out = await shOk(
      `for i in $(seq 0 199); do cat f > /dev/null & done; wait; echo done`,
      mp,
    );
    assert.equal(out, "done\n");
    assert.ok(handle.stats.maxInFlight >= 50, `maxInFlight ${handle.stats.maxInFlight}`);
  });
});

/** Fails on paths containing "bad": with a plain Error, or with EACCES for "denied". */
class Throwing extends Middleware {
  seen: string[] = [];
  #check(path: string): void {
    if (path.includes("denied")) throw fsError("EACCES", "read", path);
    if (path.includes("bad")) throw new Error(`disk on fire at ${path}`);
  }
  override readFile(path: string): Promise<Uint8Array> {
    this.#check(path);
    return super.readFile(path);
  }
  override read(path: string, offset: number, length: number): Promise<Uint8Array> {
    this.#check(path);
    return super.read(path, offset, length);
  }
  override open(path: string, options: OpenOptions): Promise<FileHandle> {
    if (path.includes("rejects")) return Promise.reject(new TypeError("async failure"));
    this.#check(path);
    return super.open(path, options);
  }
}

fuseTest("a throwing backend gives EIO to the caller while other files keep working", async () => {
  const inner = new MemoryBackend();
  for (const name of ["good", "bad", "denied", "rejects"]) {
    await inner.writeFile(`/${name}`, new TextEncoder().encode(`${name}\n`));
  }
  const errors: string[] = [];
  await withMount(new Throwing(inner), {
    cache: "never",
    onBackendError: (e, op) => errors.push(`${op}: ${(e as Error).message}`),
  }, async (mp, handle) => {
    const bad = await sh(`cat bad`, mp);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Input\/output error/);
    const rejects = await sh(`cat rejects`, mp);
    assert.match(rejects.stderr, /Input\/output error/);
    const denied = await sh(`cat denied`, mp);
    assert.match(denied.stderr, /Permission denied/);
    await assert.rejects(Deno.readFile(`${mp}/bad`), (e: Error) => /os error 5/.test(e.message));
    assert.equal(await shOk(`cat good`, mp), "good\n");
    assert.equal(await Deno.readTextFile(`${mp}/good`), "good\n");
    assert.ok(errors.some((e) => e.includes("disk on fire")), errors.join("\n"));
    assert.ok(errors.some((e) => e.includes("async failure")), errors.join("\n"));
    assert.ok(handle.stats.errors >= 4);
    assert.equal(handle.stats.inFlight, 0);
  });
});

async function spawnMountChild(mp: string, mode = ""): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./fixtures/mount_child.ts", import.meta.url).pathname, mp, mode],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the child exited before mounting: ${seen}`);
    seen += value;
  }
  reader.releaseLock();
  return child;
}

fuseTest("a SIGKILLed mounting process leaves the mount point usable within 2 s", async () => {
  const mp = await Deno.makeTempDir({ prefix: "anyfs-kill-" });
  try {
    const child = await spawnMountChild(mp);
    assert.equal(await shOk(`cat from-child.txt`, mp), "child\n");
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel().catch(() => {});
    const deadline = Date.now() + 2000;
    let usable = false;
    while (Date.now() < deadline) {
      const r = await sh(`test ! -e from-child.txt && touch probe && rm probe && echo ok`, mp);
      if (r.stdout === "ok\n" && !(await mountAt(mp))) {
        usable = true;
        break;
      }
      await delay(50);
    }
    assert.ok(usable, "the mount point is back to a plain, usable directory");
  } finally {
    await sh(`fusermount3 -u -z '${mp}' 2>/dev/null; true`);
    await Deno.remove(mp, { recursive: true });
  }
});

fuseTest(
  "mount() cleans up a dead mount left by a killed process without auto-unmount",
  async () => {
    const mp = await Deno.makeTempDir({ prefix: "anyfs-stale-" });
    try {
      const child = await spawnMountChild(mp, "no-auto-unmount");
      child.kill("SIGKILL");
      await child.status;
      await child.stdout.cancel().catch(() => {});
      const dead = await sh(`ls '${mp}'`);
      assert.match(dead.stderr, /Transport endpoint is not connected/);
      const backend = new MemoryBackend();
      const handle = await mount(backend, mp, { handleSignals: false });
      try {
        await shOk(`echo fresh > new.txt`, mp);
        assert.equal(new TextDecoder().decode(await backend.readFile("/new.txt")), "fresh\n");
      } finally {
        await handle.unmount({ force: true });
      }
    } finally {
      await sh(`fusermount3 -u -z '${mp}' 2>/dev/null; true`);
      await Deno.remove(mp, { recursive: true });
    }
  },
);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  fuseTest(`${signal} unmounts, then the process exits with the usual status`, async () => {
    const mp = await Deno.makeTempDir({ prefix: "anyfs-sig-" });
    try {
      // Without auto-unmount, so that only the signal handler can clean up.
      const child = await spawnMountChild(mp, "signals");
      assert.ok(await mountAt(mp));
      child.kill(signal);
      const status = await child.status;
      await child.stdout.cancel().catch(() => {});
      assert.equal(status.code, signal === "SIGTERM" ? 143 : 130);
      assert.equal(await mountAt(mp), undefined);
      assert.equal(await shOk(`ls -A`, mp), "");
    } finally {
      await sh(`fusermount3 -u -z '${mp}' 2>/dev/null; true`);
      await Deno.remove(mp, { recursive: true });
    }
  });
}

fuseTest(
  "mounting and unmounting at once prints nothing: libfuse never sees a failed write",
  async () => {
    // The INIT reply goes out through our own writev callback (ffi/init_reply.ts),
    // which runs on the JavaScript thread: libfuse must not report a failure
    // of it with the errno of its own thread ("fuse: writing device: Success").
    const mp = await Deno.makeTempDir({ prefix: "anyfs-cycles-" });
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL("./fixtures/quick_cycles.ts", import.meta.url).pathname, mp],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      assert.equal(new TextDecoder().decode(out.stdout), "done\n");
      assert.equal(stderr, "");
    } finally {
      await Deno.remove(mp);
    }
  },
);

// `exec 3<>f; rm f; echo x > /proc/self/fd/3` opens the unlinked file again
// through the kernel's node of it. tmpfs opens that file; the mount cannot
// reach it by any path, and must not open the file that has its name now
// instead: the write would destroy that file's content.
fuseTest(
  "a reopen through /proc/self/fd of an unlinked file never writes into the file that has its name now",
  async () => {
    for (const backend of [new MemoryBackend(), SqliteBackend.memory()]) {
      await withMount(backend, {}, async (mp) => {
        const r = await sh(
          `echo secret > f
         exec 3<>f
         rm f
         echo other > f
         echo clobbered > /proc/self/fd/3
         cat /proc/self/fd/3
         exec 3>&-
         cat f`,
          mp,
        );
        assert.equal(r.stdout, "other\n", r.stderr);
      });
    }
  },
);

// Other processes replace `target` with mv, append to files whose extra
// names others keep adding and removing, and read `target`, all at once.
// Every read must be one whole version of `target` (never cut to another
// version's size, never another file), every append must land in its file.
fuseTest(
  "replacing, linking and appending from many processes: every read is a whole version, no append is lost",
  async () => {
    const rounds = 150;
    const script = `
    for w in 1 2 3; do (for i in $(seq 1 ${rounds}); do
      printf 'W%d-%d-%0*d\\n' $w $i $((i % 7 * 9 + 1)) 0 > tmp.$w && mv tmp.$w target; done) & done
    for a in 1 2; do (for i in $(seq 1 ${rounds}); do echo "A$a-$i" >> log.$a; done) & done
    for a in 1 2; do (for i in $(seq 1 ${rounds}); do
      ln log.$a alias.$a 2>/dev/null; rm -f alias.$a; done) & done
    for r in 1 2 3; do (for i in $(seq 1 ${rounds}); do cat target 2>>err.$r >> seen.$r; done) & done
    wait`;
    for (const backend of [new MemoryBackend(), SqliteBackend.memory()]) {
      await withMount(backend, {}, async (mp) => {
        await shOk("printf 'W0-0-0\\n' > target; : > log.1; : > log.2", mp);
        await shOk(script, mp);
        const seen = (await shOk("cat seen.1 seen.2 seen.3", mp)).split("\n").filter((l) => l);
        assert.deepEqual(seen.filter((l) => !/^W\d-\d+-0+$/.test(l)), []);
        // A read that lost every race with the writers may fail, never wrongly.
        const errors = (await shOk("cat err.1 err.2 err.3", mp)).split("\n").filter((l) => l);
        assert.deepEqual(errors.filter((l) => !l.endsWith("Stale file handle")), []);
        for (const a of [1, 2]) {
          const lines = (await shOk(`cat log.${a}`, mp)).split("\n").filter((l) => l);
          assert.deepEqual(lines, Array.from({ length: rounds }, (_, i) => `A${a}-${i + 1}`));
        }
      });
    }
  },
);
