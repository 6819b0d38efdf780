// The policy middleware seen by real programs through a real FUSE mount:
// what an agent running `dd`, `touch`, `ls`, `cat` or `stat` in a sandbox
// actually gets. Needs FUSE (Linux, /dev/fuse, fusermount3) and --allow-all.
//
// Only child processes touch the mount: a synchronous call from this process
// on its own mount would block the thread that has to answer it.
import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import type { Backend } from "../../src/core/backend.ts";
import { mount } from "../../src/mount/handle.ts";
import { PathFilter } from "../../src/middleware/path_filter.ts";
import { Quota } from "../../src/middleware/quota.ts";
import { RateLimit } from "../../src/middleware/rate_limit.ts";
import { ReadOnly } from "../../src/middleware/read_only.ts";
import { fuseTest } from "../_fuse.ts";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Mount `backend` on a fresh directory, run `body` with its path, and always clean up. */
async function withMount(
  backend: Backend,
  body: (dir: string) => Promise<void>,
  options: { cache?: "never" | "auto" | "always" } = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "anyfs-mw-" });
  try {
    const handle = await mount(backend, dir, { cache: options.cache ?? "never" });
    try {
      await body(dir);
    } finally {
      await handle.unmount({ force: true });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Run a shell script inside `dir` (the mount), LC_ALL=C so messages are the
 * C library's. The shell changes into the directory itself: Deno's `cwd`
 * option checks the directory from this process, synchronously, and would
 * wait forever on its own mount.
 */
async function sh(dir: string, script: string): Promise<Run> {
  const out = await new Deno.Command("sh", {
    args: ["-c", `cd "$1" || exit 99; ${script}`, "sh", dir],
    env: { LC_ALL: "C", PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

fuseTest(
  "quota through a mount: dd fails with 'No space left on device', usage exact",
  async () => {
    const quota = await Quota.create(new MemoryBackend(), { maxTotalSize: 1024 * 1024 });
    await withMount(quota, async (dir) => {
      const dd = await sh(dir, "dd if=/dev/zero of=big bs=64k count=32");
      assert.notEqual(dd.code, 0, "dd must fail");
      assert.match(dd.stderr, /No space left on device/);
      const size = await sh(dir, "stat -c %s big");
      assert.equal(size.code, 0, size.stderr);
      assert.equal(quota.usage().bytes, Number(size.stdout.trim()));
      assert.ok(quota.usage().bytes <= 1024 * 1024);
      // df shows the quota as the size of the file system.
      const df = await sh(dir, "df -B1 --output=size . | tail -1");
      assert.equal(Number(df.stdout.trim()), 1024 * 1024);
      const rm = await sh(dir, "rm big");
      assert.equal(rm.code, 0, rm.stderr);
      assert.deepEqual(quota.usage(), { bytes: 0, nodes: 0 });
    });
  },
);

fuseTest("quota through a mount: capacityCode EDQUOT gives 'Disk quota exceeded'", async () => {
  const quota = await Quota.create(new MemoryBackend(), {
    maxTotalSize: 256 * 1024,
    capacityCode: "EDQUOT",
  });
  await withMount(quota, async (dir) => {
    const dd = await sh(dir, "dd if=/dev/zero of=big bs=64k count=8");
    assert.notEqual(dd.code, 0);
    assert.match(dd.stderr, /Disk quota exceeded/);
  });
});

fuseTest("read-only through a mount: touch gets 'Read-only file system'", async () => {
  const memory = new MemoryBackend();
  await memory.writeFile("/existing", new TextEncoder().encode("x"));
  await withMount(new ReadOnly(memory), async (dir) => {
    const touch = await sh(dir, "touch new");
    assert.notEqual(touch.code, 0);
    assert.match(touch.stderr, /Read-only file system/);
    const cat = await sh(dir, "cat existing");
    assert.equal(cat.stdout, "x");
    const write = await sh(dir, "echo y > existing");
    assert.match(write.stderr, /Read-only file system/);
  });
  assert.equal(new TextDecoder().decode(await memory.readFile("/existing")), "x");
});

fuseTest(
  "path filter through a mount: ls hides .env, cat .env gets 'Permission denied'",
  async () => {
    const memory = new MemoryBackend();
    await memory.writeFile("/.env", new TextEncoder().encode("TOKEN=secret"));
    await memory.writeFile("/app.ts", new TextEncoder().encode("code"));
    await withMount(new PathFilter(memory, { deny: [".env"] }), async (dir) => {
      const ls = await sh(dir, "ls -a");
      assert.equal(ls.code, 0, ls.stderr);
      const listed = ls.stdout.split("\n").filter(Boolean);
      assert.ok(listed.includes("app.ts"), ls.stdout);
      assert.ok(!listed.includes(".env"), ls.stdout);
      const cat = await sh(dir, "cat .env");
      assert.notEqual(cat.code, 0);
      assert.match(cat.stderr, /Permission denied/);
      assert.doesNotMatch(cat.stdout, /secret/);
      const write = await sh(dir, "echo leak > .env");
      assert.match(write.stderr, /Permission denied/);
    });
    assert.equal(new TextDecoder().decode(await memory.readFile("/.env")), "TOKEN=secret");
  },
);

fuseTest("rate limit through a mount: a burst of stats sees EAGAIN in fail mode", async () => {
  const memory = new MemoryBackend();
  await memory.writeFile("/f", new Uint8Array(1));
  // One operation per minute after a burst of 20: the burst below must run dry.
  const limited = new RateLimit(memory, { maxOps: 1, windowMs: 60_000, burst: 20 });
  await withMount(limited, async (dir) => {
    const burst = await sh(dir, "for i in $(seq 60); do stat -c %s f >/dev/null || exit 1; done");
    assert.notEqual(burst.code, 0);
    assert.match(burst.stderr, /Resource temporarily unavailable/);
  });
});

fuseTest(
  "rate limit through a mount: in wait mode the same burst completes, slowed down",
  async () => {
    const memory = new MemoryBackend();
    await memory.writeFile("/f", new Uint8Array(1));
    // 20 operations per second after a burst of 5: 10 stats (each several
    // operations) can only finish this side of 250 ms by waiting for tokens,
    // which the clock records.
    const waits: number[] = [];
    const clock = {
      now: () => performance.now(),
      sleep: (ms: number) => {
        waits.push(ms);
        return new Promise<void>((resolve) => setTimeout(resolve, ms));
      },
    };
    const limited = new RateLimit(memory, {
      maxOps: 1,
      windowMs: 50,
      burst: 5,
      mode: "wait",
      clock,
    });
    await withMount(limited, async (dir) => {
      const burst = await sh(dir, "for i in $(seq 10); do stat -c %s f >/dev/null || exit 1; done");
      assert.equal(burst.code, 0, burst.stderr);
    });
    assert.ok(waits.length > 0, "no operation waited for a token");
  },
);
