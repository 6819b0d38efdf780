import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { capabilitiesOf } from "../../src/core/backend.ts";
import {
  RateLimit,
  type RateLimitClock,
  type RateLimitedOperation,
} from "../../src/middleware/rate_limit.ts";

/** A clock that only moves when told to; `sleep` records the wait and moves time by it. */
class FakeClock implements RateLimitClock {
  time = 0;
  sleeps: number[] = [];
  now(): number {
    return this.time;
  }
  sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    return Promise.resolve();
  }
}

Deno.test("fail mode: a burst beyond the bucket gets EAGAIN with limit and window", async () => {
  const clock = new FakeClock();
  const r = new RateLimit(new MemoryBackend(), { maxOps: 10, windowMs: 1000, burst: 3, clock });
  for (let i = 0; i < 3; i++) await r.lstat("/");
  await assert.rejects(r.lstat("/"), (e: { code: string; limit: number; message: string }) => {
    assert.equal(e.code, "EAGAIN");
    assert.equal(e.limit, 10);
    assert.match(e.message, /Resource temporarily unavailable/);
    assert.match(e.message, /10 operations per 1000 ms/);
    return true;
  });
  clock.time += 100; // one token back at 10 per second
  await r.lstat("/");
  await assert.rejects(r.lstat("/"), { code: "EAGAIN" });
  clock.time += 10_000; // refills to the burst, no further
  assert.equal(r.available(), 3);
  assert.deepEqual(clock.sleeps, []);
});

Deno.test("wait mode: operations wait for their tokens, first come first served", async () => {
  const clock = new FakeClock();
  const m = new MemoryBackend();
  const r = new RateLimit(m, { maxOps: 10, windowMs: 1000, burst: 1, mode: "wait", clock });
  await r.mkdir("/a"); // the one token of the burst
  const order: string[] = [];
  await Promise.all([
    r.mkdir("/b").then(() => order.push("b")),
    r.mkdir("/c").then(() => order.push("c")),
  ]);
  // Each waiter reserved its token: the second waits behind the first.
  assert.deepEqual(clock.sleeps, [100, 200]);
  assert.deepEqual(order, ["b", "c"]);
  assert.deepEqual((await m.readDir("/")).map((e) => e.name), ["a", "b", "c"]);
});

Deno.test("wait mode with maxWaitMs fails with EAGAIN instead of waiting too long", async () => {
  const clock = new FakeClock();
  const r = new RateLimit(new MemoryBackend(), {
    maxOps: 1,
    windowMs: 1000,
    mode: "wait",
    maxWaitMs: 500,
    clock,
  });
  await r.lstat("/");
  await assert.rejects(r.lstat("/"), { code: "EAGAIN" });
  clock.time += 600; // now only 400 ms short
  await r.lstat("/");
  assert.equal(clock.sleeps.length, 1);
  assert.ok(Math.abs(clock.sleeps[0] - 400) < 1e-6);
});

Deno.test("costs: per-operation table and a function weighing bytes", async () => {
  const clock = new FakeClock();
  const r = new RateLimit(new MemoryBackend(), {
    maxOps: 10,
    burst: 10,
    costs: { lstat: 0, readDir: 5 },
    clock,
  });
  for (let i = 0; i < 100; i++) await r.lstat("/"); // free
  await r.readDir("/");
  await r.readDir("/");
  await assert.rejects(r.readDir("/"), (e: { code: string; requested: number }) => {
    assert.equal(e.code, "EAGAIN");
    assert.equal(e.requested, 5);
    return true;
  });

  const perKiB = new RateLimit(new MemoryBackend(), {
    maxOps: 4,
    costs: (_op, bytes) => Math.max(1, Math.ceil(bytes / 1024)),
    clock,
  });
  await perKiB.writeFile("/a", new Uint8Array(3 * 1024)); // 3 tokens
  await perKiB.lstat("/a"); // 1 token
  await assert.rejects(perKiB.writeFile("/b", new Uint8Array(1)), { code: "EAGAIN" });
});

Deno.test("handle reads and writes are charged, closing is free", async () => {
  const clock = new FakeClock();
  const r = new RateLimit(new MemoryBackend(), { maxOps: 3, clock });
  const h = await r.open("/f", { write: true, read: true, create: true }); // 1
  await h.write(new Uint8Array([1]), 0); // 2
  await h.read(0, 1); // 3
  await assert.rejects(h.write(new Uint8Array([1]), 0), { code: "EAGAIN" });
  await h.close();
});

Deno.test("bad options are rejected with EINVAL", () => {
  const m = new MemoryBackend();
  for (
    const options of [
      { maxOps: 0 },
      { maxOps: 1, windowMs: -1 },
      { maxOps: 1, burst: 0 },
      { maxOps: 1, mode: "later" as "wait" },
    ]
  ) {
    assert.throws(() => new RateLimit(m, options), { code: "EINVAL" });
  }
});

Deno.test("the rate limit keeps the wrapped backend's capabilities", () => {
  const m = new MemoryBackend();
  const r = m.layer(RateLimit.layer({ maxOps: 5 }));
  assert.deepEqual([...r.capabilities].sort(), [...capabilitiesOf(m)].sort());
});

Deno.test("wait mode on the real clock completes a burst beyond the bucket", async () => {
  const r = new RateLimit(new MemoryBackend(), { maxOps: 1000, burst: 1, mode: "wait" });
  await Promise.all(Array.from({ length: 5 }, () => r.lstat("/")));
  assert.ok(r.available() <= 1);
});

/** A clock that counts how often it is read. */
class CountingClock extends FakeClock {
  reads = 0;
  override now(): number {
    this.reads++;
    return super.now();
  }
}

Deno.test("a large bucket reads the clock once per burst/64 tokens, not per operation", async () => {
  const clock = new CountingClock();
  const r = new RateLimit(new MemoryBackend(), { maxOps: 6400, clock });
  const before = clock.reads;
  for (let i = 0; i < 1000; i++) await r.lstat("/");
  // 1000 operations, 100 tokens between readings.
  assert.ok(clock.reads - before <= 10, `${clock.reads - before} readings`);
  // Still exact where it matters: the bucket runs out at the burst.
  for (let i = 0; i < 5400; i++) await r.lstat("/");
  await assert.rejects(r.lstat("/"), { code: "EAGAIN" });
});

/**
 * The token bucket by the book, refilled from the clock at every
 * operation: what the limiter must never be more generous than.
 */
class ExactBucket {
  tokens: number;
  last: number;
  constructor(readonly burst: number, readonly perMs: number, now: number) {
    this.tokens = burst;
    this.last = now;
  }
  at(now: number): number {
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.perMs);
    this.last = now;
    return this.tokens;
  }
}

Deno.test("never more generous than an exact bucket, and at most burst/64 tokens stricter", async () => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let round = 0; round < 40; round++) {
    const clock = new FakeClock();
    const burst = 1 + Math.floor(random() * 800);
    const maxOps = 1 + Math.floor(random() * 2000);
    const costs = { readDir: 3, mkdir: 0 };
    const r = new RateLimit(new MemoryBackend(), { maxOps, burst, costs, clock });
    const exact = new ExactBucket(burst, maxOps / 1000, clock.time);
    const slack = Math.max(1, Math.floor(burst / 64));
    for (let i = 0; i < 1500; i++) {
      const step = random();
      // Mostly bursts, sometimes pauses long enough to refill the bucket.
      clock.time += step < 0.6 ? 0 : step < 0.95 ? random() * 5 : random() * 2000;
      const listing = random() < 0.2;
      const cost = listing ? 3 : 1;
      const available = exact.at(clock.time);
      let allowed = true;
      try {
        if (listing) await r.readDir("/");
        else await r.lstat("/");
      } catch (e) {
        assert.equal((e as { code: string }).code, "EAGAIN");
        allowed = false;
      }
      if (allowed) {
        assert.ok(available >= cost - 1e-9, `round ${round}, op ${i}: allowed beyond the bucket`);
        exact.tokens -= cost;
      } else {
        assert.ok(available < cost + slack + 3, `round ${round}, op ${i}: refused too early`);
      }
    }
  }
});

Deno.test("tryLstat is charged as lstat and probes without a failing lstat", async () => {
  class CountingLstat extends MemoryBackend {
    lstats = 0;
    override lstat(path: string) {
      this.lstats++;
      return super.lstat(path);
    }
  }
  const m = new CountingLstat();
  const clock = new FakeClock();
  const r = new RateLimit(m, { maxOps: 2, clock });
  assert.equal(await r.tryLstat("/missing"), null);
  assert.equal((await r.tryLstat("/"))?.type, "dir");
  await assert.rejects(r.tryLstat("/"), { code: "EAGAIN" });
  assert.equal(m.lstats, 0);
});

Deno.test("a subclass overriding take() is asked for every operation", async () => {
  const asked: string[] = [];
  class Logged extends RateLimit {
    protected override take(operation: RateLimitedOperation, path: string, bytes = 0) {
      asked.push(`${operation} ${path}`);
      return super.take(operation, path, bytes);
    }
  }
  const limited = new Logged(new MemoryBackend(), { maxOps: 1e9 });
  await limited.writeFile("/a", new Uint8Array(1));
  await limited.lstat("/a");
  await limited.readFile("/a");
  await limited.unlink("/a");
  assert.deepEqual(asked, ["writeFile /a", "lstat /a", "readFile /a", "unlink /a"]);
});
