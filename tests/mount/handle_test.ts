// The MountHandle API: builder, errors, lifecycle, counters, read-only,
// capability-driven answers, the sync-call guard and least privilege.
import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { isAvailable, mount, MountError, MountHandle } from "../../mount.ts";
import { mountAt } from "../../src/mount/system.ts";
import type { FileHandle, OpenOptions } from "../../src/core/backend.ts";
import { HandleWrapper, Middleware } from "../../src/middleware/middleware.ts";
import { coreOnly } from "../fixtures/core_only.ts";
import { delay, sh, shOk, withMount } from "./helpers.ts";
import { fuseTest } from "../_fuse.ts";

fuseTest("isAvailable reports this machine can mount, naming the library", () => {
  const a = isAvailable();
  assert.ok(a.available, JSON.stringify(a));
  assert.match(a.library, /^libfuse3\.so\.\d+ 3\.\d+/);
});

fuseTest(
  "without --allow-ffi: isAvailable says why, mount() names the flag, nothing prompts",
  async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "--allow-read",
        new URL("./fixtures/no_ffi.ts", import.meta.url).pathname,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const r = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(r.available, false);
    assert.match(r.fix, /--allow-ffi/);
    assert.equal(r.error.kind, "PermissionDenied");
    assert.match(r.error.message, /--allow-ffi/);
  },
);

fuseTest("mount errors: missing, nonexistent, non-directory and busy mount points", async () => {
  await assert.rejects(MountHandle.builder(new MemoryBackend()).mount(), {
    name: "MountError",
    kind: "MissingMountPoint",
  });
  await assert.rejects(mount(new MemoryBackend(), "/nonexistent/anyfs/here"), {
    kind: "InvalidMountPoint",
    code: "ENOENT",
  });
  const file = await Deno.makeTempFile();
  try {
    await assert.rejects(mount(new MemoryBackend(), file), { kind: "InvalidMountPoint" });
  } finally {
    await Deno.remove(file);
  }
  await withMount(new MemoryBackend(), {}, async (mp) => {
    await assert.rejects(mount(new MemoryBackend(), mp), (e: unknown) => {
      assert.ok(e instanceof MountError);
      assert.equal(e.kind, "MountPointBusy");
      assert.equal(e.code, "EBUSY");
      return true;
    });
  });
});

fuseTest("builder options reach the mount: fsName, subtype, read-only", async () => {
  const backend = new MemoryBackend();
  await backend.writeFile("/keep.txt", new TextEncoder().encode("kept\n"));
  const mp = await Deno.makeTempDir({ prefix: "anyfs-mnt-test-" });
  const m = await MountHandle.builder(backend)
    .mountPoint(mp)
    .readOnly()
    .fsName("mydrive")
    .subtype("anyfs-test")
    .cache("always")
    .handleSignals(false)
    .mount();
  try {
    const line = (await Deno.readTextFile("/proc/self/mounts")).split("\n")
      .find((l) => l.split(" ")[1] === mp)!;
    assert.match(line, /^mydrive \S+ fuse\.anyfs-test ro,/);
    assert.equal(await shOk(`cat keep.txt`, mp), "kept\n");
    const w = await sh(`echo x > new.txt`, mp);
    assert.match(w.stderr, /Read-only file system/);
    await assert.rejects(Deno.writeTextFile(`${mp}/keep.txt`, "x"), /os error 30/);
    assert.equal(m.options.cache, "always");
  } finally {
    await m.unmount();
    await Deno.remove(mp);
  }
  assert.equal(m.mounted, false);
  assert.deepEqual(await m.finished, { reason: "unmounted" });
});

fuseTest("finished settles when someone else unmounts (fusermount3 -u)", async () => {
  const mp = await Deno.makeTempDir({ prefix: "anyfs-mnt-test-" });
  try {
    const m = await mount(new MemoryBackend(), mp, { handleSignals: false });
    await shOk(`fusermount3 -u '${mp}'`);
    assert.deepEqual(await m.finished, { reason: "external" });
    assert.equal(m.mounted, false);
    await m.unmount(); // a no-op once ended
  } finally {
    await Deno.remove(mp);
  }
});

fuseTest(
  "unmount of a busy mount fails with MountPointBusy and keeps serving; force cuts it",
  async () => {
    await withMount(new MemoryBackend(), {}, async (mp, m) => {
      await Deno.writeTextFile(`${mp}/a`, "1");
      const f = await Deno.open(`${mp}/a`);
      try {
        await assert.rejects(m.unmount(), { kind: "MountPointBusy" });
        assert.equal(m.mounted, true);
        assert.equal(await Deno.readTextFile(`${mp}/a`), "1");
      } finally {
        f.close(); // synchronous close(2) of an own-mount file must not hang
      }
      await m.unmount();
      assert.equal(m.mounted, false);
    });
  },
);

fuseTest("await using unmounts at the end of the block; counters count", async () => {
  const mp = await Deno.makeTempDir({ prefix: "anyfs-mnt-test-" });
  let handle: MountHandle;
  try {
    await using m = await mount(new MemoryBackend(), mp, { handleSignals: false });
    handle = m;
    await Deno.writeTextFile(`${mp}/a`, "12345");
    assert.equal(await Deno.readTextFile(`${mp}/a`), "12345");
    const s = m.stats;
    assert.ok(s.operations > 0);
    assert.equal(s.bytesWritten, 5);
    assert.equal(s.bytesRead, 5);
    assert.ok(s.byOperation.create >= 1);
    assert.equal(s.inFlight, 0);
  } finally {
    await Deno.remove(mp);
  }
  assert.equal(handle!.mounted, false);
});

fuseTest(
  "once unmounted, no timer of the mount is left pending to keep the process alive",
  async () => {
    // A pending timer keeps a Deno process running: a program that mounts,
    // unmounts and ends must end then, not when a forgotten timeout fires.
    type Timers = {
      setTimeout: (fn: () => void, ms?: number) => number;
      clearTimeout: (id?: number) => void;
    };
    const timers = globalThis as unknown as Timers;
    const pending = new Set<number>();
    const realSetTimeout = timers.setTimeout;
    const realClearTimeout = timers.clearTimeout;
    timers.setTimeout = (fn, ms) => {
      const id = realSetTimeout(() => {
        pending.delete(id);
        fn();
      }, ms);
      pending.add(id);
      return id;
    };
    timers.clearTimeout = (id) => {
      if (id !== undefined) pending.delete(id);
      realClearTimeout(id);
    };
    const mp = await Deno.makeTempDir({ prefix: "anyfs-mnt-test-" });
    try {
      for (const force of [false, true]) {
        const m = await mount(new MemoryBackend(), mp, { handleSignals: false });
        await Deno.writeTextFile(`${mp}/a`, "1");
        await m.unmount({ force });
        assert.deepEqual(await m.finished, { reason: "unmounted" });
        assert.equal(pending.size, 0, `${pending.size} timer(s) still pending (force: ${force})`);
      }
    } finally {
      timers.setTimeout = realSetTimeout;
      timers.clearTimeout = realClearTimeout;
      for (const id of pending) realClearTimeout(id);
      await Deno.remove(mp);
    }
  },
);

fuseTest(
  "the signal option: aborting unmounts; aborted while mounting, mount() rejects",
  async () => {
    const mp = await Deno.makeTempDir({ prefix: "anyfs-mnt-test-" });
    try {
      const controller = new AbortController();
      const m = await mount(new MemoryBackend(), mp, {
        handleSignals: false,
        signal: controller.signal,
      });
      await Deno.writeTextFile(`${mp}/a`, "1");
      controller.abort();
      assert.deepEqual(await m.finished, { reason: "unmounted" });
      assert.equal(await mountAt(mp), undefined);

      // Aborted after mount() has started (its first checks passed) but
      // before it resolved: nothing may stay mounted with nobody to stop it.
      const late = new AbortController();
      const starting = mount(new MemoryBackend(), mp, {
        handleSignals: false,
        signal: late.signal,
      });
      late.abort();
      await assert.rejects(starting, { name: "MountError", kind: "Platform" });
      assert.equal(await mountAt(mp), undefined);

      const early = new AbortController();
      early.abort();
      await assert.rejects(mount(new MemoryBackend(), mp, { signal: early.signal }), {
        kind: "Platform",
      });
    } finally {
      if (await mountAt(mp)) await shOk(`fusermount3 -u -z '${mp}'`);
      await Deno.remove(mp);
    }
  },
);

fuseTest("capabilities decide answers: a core-only backend refuses links with EPERM", async () => {
  const backend = new MemoryBackend();
  await withMount(coreOnly(backend), {}, async (mp) => {
    await shOk(`echo data > f && echo more >> f && cat f > g`, mp);
    assert.equal(new TextDecoder().decode(await backend.readFile("/g")), "data\nmore\n");
    assert.match((await sh(`ln -s f s`, mp)).stderr, /Operation not permitted/);
    assert.match((await sh(`ln f h`, mp)).stderr, /Operation not permitted/);
    assert.match((await sh(`chmod 600 f`, mp)).stderr, /Operation not permitted/);
    assert.match((await sh(`setfattr -n user.a -v 1 f`, mp)).stderr, /Operation not supported/);
    await shOk(`touch f && truncate -s 2 f && mv f renamed`, mp);
    assert.equal(new TextDecoder().decode(await backend.readFile("/renamed")), "da");
  });
});

fuseTest("the sync guard turns a synchronous call inside the own mount into EDEADLK", async () => {
  await withMount(new MemoryBackend(), {}, (mp) => {
    assert.throws(() => Deno.statSync(`${mp}/x`), { code: "EDEADLK" });
    assert.throws(() => Deno.readTextFileSync(`${mp}/x`), { code: "EDEADLK" });
    assert.throws(() => Deno.renameSync("/tmp/anyfs-nothing", `${mp}/y`), { code: "EDEADLK" });
    // Outside the mount the real function runs.
    assert.throws(() => Deno.statSync(`${mp}-not-there`), Deno.errors.NotFound);
    return Promise.resolve();
  });
  // Once unmounted, nothing is guarded any more.
  assert.throws(() => Deno.statSync("/nonexistent/anyfs"), Deno.errors.NotFound);
});

fuseTest(
  "the guard refuses Deno.Command with a cwd inside the own mount (vfork would hang)",
  async () => {
    await withMount(new MemoryBackend(), {}, (mp) => {
      assert.throws(() => new Deno.Command("true", { cwd: mp }), { code: "EDEADLK" });
      assert.throws(() => new Deno.Command("true", { cwd: `${mp}/sub` }), /cd '/);
      // Elsewhere commands run as usual.
      assert.ok(new Deno.Command("true", { cwd: "/" }).outputSync().success);
      return Promise.resolve();
    });
    assert.equal(Deno.Command.name, "Command", "the original class is back after unmount");
  },
);

fuseTest(
  "without --allow-all, async calls on the own mount fail with EDEADLK instead of hanging",
  async () => {
    const mp = await Deno.makeTempDir({ prefix: "anyfs-noall-" });
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-prompt",
          "--allow-ffi",
          "--allow-read",
          `--allow-write=${mp}`,
          new URL("./fixtures/self_use_without_all.ts", import.meta.url).href,
          mp,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), {
        outcome: "EDEADLK",
        listing: "EDEADLK",
        mounted: true,
      });
      assert.ok(
        !(await Deno.readTextFile("/proc/self/mountinfo")).includes(mp),
        "unmounted on exit",
      );
    } finally {
      await Deno.remove(mp);
    }
  },
);

fuseTest(
  "with only --allow-ffi and --allow-read on the mount point, a busy unmount is MountPointBusy",
  async () => {
    const mp = await Deno.makeTempDir({ prefix: "anyfs-least-" });
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-prompt",
          "--allow-ffi",
          `--allow-read=${mp}`,
          "--allow-run=sh",
          new URL("./fixtures/busy_unmount.ts", import.meta.url).href,
          mp,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), {
        busy: { name: "MountError", kind: "MountPointBusy" },
        mounted: false,
      });
    } finally {
      if (await mountAt(mp)) await shOk(`fusermount3 -u -z '${mp}'`);
      await Deno.remove(mp);
    }
  },
);

fuseTest(
  "rename flags: RENAME_NOREPLACE honoured, RENAME_EXCHANGE refused with EINVAL",
  async () => {
    await withMount(new MemoryBackend(), {}, async (mp) => {
      await shOk(`echo a > a && echo b > b`, mp);
      const noreplace = await sh(
        `mv --no-clobber --update=none-fail a b 2>&1 || mv -n a b; cat b`,
        mp,
      );
      assert.match(noreplace.stdout, /b\n$/);
      const exchange = await sh(`mv --exchange a b`, mp);
      if (!/unrecognized option/.test(exchange.stderr)) {
        assert.notEqual(exchange.code, 0);
        assert.match(exchange.stderr, /Invalid argument/);
      }
    });
  },
);

fuseTest("invalidate() makes a direct backend change visible under cache: always", async () => {
  const backend = new MemoryBackend();
  await backend.writeFile("/f", new TextEncoder().encode("old"));
  await withMount(backend, { cache: "always" }, async (mp, m) => {
    assert.equal(await shOk(`cat f`, mp), "old");
    await backend.writeFile("/f", new TextEncoder().encode("new!"));
    await m.invalidate("/f");
    assert.equal(await shOk(`cat f`, mp), "new!");
  });
});

fuseTest("invalidate() racing unmount() settles, and the mount still ends cleanly", async () => {
  const backend = new MemoryBackend();
  await backend.writeFile("/f", new TextEncoder().encode("x"));
  const mp = await Deno.makeTempDir({ prefix: "anyfs-inval-race-" });
  try {
    for (let round = 0; round < 5; round++) {
      const m = await mount(backend, mp, { cache: "always", handleSignals: false });
      await Deno.readFile(`${mp}/f`); // the kernel now knows /f
      // Notifications run on Deno's thread pool while the session ends:
      // none may write to a freed session, and every one must settle.
      const racing = Array.from({ length: 20 }, () => m.invalidate("/f"));
      const unmounted = m.unmount();
      let ended = false;
      m.finished.then(() => ended = true);
      // Keep notifying through the whole shutdown, one macrotask at a time.
      while (!ended) {
        racing.push(m.invalidate("/f"));
        await delay(0);
      }
      const results = await Promise.allSettled([...racing, unmounted]);
      assert.deepEqual(results.filter((r) => r.status === "rejected"), []);
      assert.equal((await m.finished).reason, "unmounted");
    }
  } finally {
    await Deno.remove(mp, { recursive: true });
  }
});

/** A backend whose open files of `/slow` take `ms` milliseconds to close. */
class SlowClose extends Middleware {
  constructor(inner: MemoryBackend, readonly ms: number) {
    super(inner);
  }
  override async open(path: string, options: OpenOptions): Promise<FileHandle> {
    const handle = await super.open(path, options);
    if (path !== "/slow") return handle;
    const ms = this.ms;
    return new class extends HandleWrapper {
      override async close(): Promise<void> {
        await delay(ms);
        return super.close();
      }
    }(handle);
  }
}

fuseTest(
  "a forced unmount never aborts another mount that reused its connection number",
  async () => {
    // The kernel numbers FUSE connections from a pool and hands a freed
    // number to the next mount at once. Once this mount's connection is gone
    // (only a backend operation left to drain), cutting "its" connection
    // through fusectl would cut whoever has that number now.
    const inner = new MemoryBackend();
    await inner.writeFile("/slow", new TextEncoder().encode("slow"));
    const first = await Deno.makeTempDir({ prefix: "anyfs-mnt-test-" });
    const second = await Deno.makeTempDir({ prefix: "anyfs-mnt-test-" });
    let other: MountHandle | undefined;
    try {
      const m = await mount(new SlowClose(inner, 4_000), first, { handleSignals: false });
      // The kernel sends the release of a closed file in the background:
      // cat is gone, the backend is still closing its handle.
      await shOk(`cat slow`, first);
      while (m.stats.inFlight === 0) await delay(10);
      const unmounting = m.unmount({ force: true });
      // The connection ends with the mount; the next mount takes its number.
      while (await mountAt(first)) await delay(10);
      other = await mount(new MemoryBackend(), second, { handleSignals: false });
      await unmounting;
      assert.equal(other.mounted, true);
      await Deno.writeTextFile(`${second}/still-served.txt`, "yes");
      assert.equal(await shOk(`cat still-served.txt`, second), "yes");
    } finally {
      if (other?.mounted) await other.unmount({ force: true });
      for (const mp of [first, second]) {
        if (await mountAt(mp)) await shOk(`fusermount3 -u -z '${mp}'`);
        await Deno.remove(mp, { recursive: true }).catch(() => {});
      }
    }
  },
);
