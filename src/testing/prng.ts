/**
 * {@linkcode SeededRandom}: a small, fast, seeded pseudo-random generator, so
 * a randomized test that fails can be replayed exactly from its seed.
 *
 * @module
 */

/**
 * A deterministic pseudo-random sequence (mulberry32): the same seed always
 * yields the same numbers, on every platform. Not for cryptography.
 *
 * @example
 * ```ts
 * import { SeededRandom } from "@anyfs/anyfs/testing";
 * const a = new SeededRandom(42);
 * const b = new SeededRandom(42);
 * console.log(a.int(100) === b.int(100)); // true
 * ```
 */
export class SeededRandom {
  #state: number;

  /** Start the sequence for `seed` (any integer; it is reduced to 32 bits). */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** One key of `weights`, chosen with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const keys = Object.keys(weights) as K[];
    let total = 0;
    for (const k of keys) total += weights[k];
    let at = this.next() * total;
    for (const k of keys) {
      at -= weights[k];
      if (at < 0) return k;
    }
    return keys[keys.length - 1];
  }
}
