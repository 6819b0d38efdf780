import assert from "node:assert/strict";
import { SeededRandom } from "../../src/testing/prng.ts";

Deno.test("SeededRandom replays the same sequence for the same seed", () => {
  const a = new SeededRandom(1234);
  const b = new SeededRandom(1234);
  const c = new SeededRandom(1235);
  const seqA = Array.from({ length: 50 }, () => a.next());
  const seqB = Array.from({ length: 50 }, () => b.next());
  const seqC = Array.from({ length: 50 }, () => c.next());
  assert.deepEqual(seqA, seqB);
  assert.notDeepEqual(seqA, seqC);
});

Deno.test("SeededRandom is pinned: seed 1 starts with the same numbers forever", () => {
  // A change here silently changes every recorded differential seed. The
  // first value is mulberry32's published first output for seed 1.
  const r = new SeededRandom(1);
  assert.equal(new SeededRandom(1).next(), 0.6270739405881613);
  assert.deepEqual(Array.from({ length: 5 }, () => r.int(1000)), [627, 2, 527, 981, 968]);
});

Deno.test("SeededRandom stays in range and covers it", () => {
  const r = new SeededRandom(7);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const f = r.next();
    assert.ok(f >= 0 && f < 1);
    const n = r.int(10);
    assert.ok(Number.isInteger(n) && n >= 0 && n < 10);
    seen.add(n);
  }
  assert.equal(seen.size, 10);
});

Deno.test("SeededRandom.weighted follows the weights and never picks a zero weight", () => {
  const r = new SeededRandom(99);
  const counts = { a: 0, b: 0, never: 0 };
  for (let i = 0; i < 4000; i++) counts[r.weighted({ a: 3, b: 1, never: 0 })]++;
  assert.equal(counts.never, 0);
  assert.ok(counts.a > 2 * counts.b, JSON.stringify(counts));
});

Deno.test("SeededRandom.pick and chance", () => {
  const r = new SeededRandom(5);
  const items = ["x", "y", "z"];
  for (let i = 0; i < 100; i++) assert.ok(items.includes(r.pick(items)));
  let yes = 0;
  for (let i = 0; i < 1000; i++) if (r.chance(0.2)) yes++;
  assert.ok(yes > 100 && yes < 300, String(yes));
  assert.equal(new SeededRandom(1).chance(0), false);
});
