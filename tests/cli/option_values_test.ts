import assert from "node:assert/strict";
import { UsageError } from "../../src/cli/errors.ts";
import {
  parseCachePolicy,
  parseCount,
  parseId,
  parseRate,
  parseSeconds,
  parseSize,
} from "../../src/cli/option_values.ts";

Deno.test("parseSize: bytes and K/M/G/T in powers of 1024, with optional B or iB", () => {
  assert.equal(parseSize("512", "--x"), 512);
  assert.equal(parseSize("64K", "--x"), 65536);
  assert.equal(parseSize("100M", "--x"), 100 * 1024 ** 2);
  assert.equal(parseSize("1.5g", "--x"), 1.5 * 1024 ** 3);
  assert.equal(parseSize("2GiB", "--x"), 2 * 1024 ** 3);
  assert.equal(parseSize("10MB", "--x"), 10 * 1024 ** 2);
  assert.equal(parseSize("7B", "--x"), 7);
  for (const bad of ["10X", "", "-1M", "M", "1.2.3", "10 apples", "5iB", "1e9"]) {
    assert.throws(() => parseSize(bad, "--quota-size", "mount"), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, new RegExp(`bad size '${bad.replace(".", "\\.")}' for --quota-size`));
      return true;
    }, bad);
  }
});

Deno.test("parseCount, parseId, parseSeconds reject what is not a fitting number", () => {
  assert.equal(parseCount("0", "--n"), 0);
  assert.throws(() => parseCount("0", "--depth", "tree", 1), /expected a whole number >= 1/);
  assert.throws(() => parseCount("-3", "--n"), UsageError);
  assert.equal(parseId("1000", "--uid"), 1000);
  for (const bad of ["-1", "4294967295", "x", "1.5"]) {
    assert.throws(() => parseId(bad, "--uid"), /expected a numeric id/, bad);
  }
  assert.equal(parseSeconds("0.5", "--t"), 0.5);
  assert.throws(() => parseSeconds("-1", "--t"), /number of seconds/);
});

Deno.test("parseRate: per second by default, /s /m /min /h", () => {
  assert.deepEqual(parseRate("500", "--rate"), { maxOps: 500, windowMs: 1000 });
  assert.deepEqual(parseRate("500/s", "--rate"), { maxOps: 500, windowMs: 1000 });
  assert.deepEqual(parseRate("60/min", "--rate"), { maxOps: 60, windowMs: 60_000 });
  assert.deepEqual(parseRate("10/h", "--rate"), { maxOps: 10, windowMs: 3_600_000 });
  for (const bad of ["fast", "0", "5/fortnight", "1.5/s"]) {
    assert.throws(() => parseRate(bad, "--rate"), /bad rate/, bad);
  }
});

Deno.test("parseCachePolicy", () => {
  assert.equal(parseCachePolicy("always", "--cache"), "always");
  assert.throws(() => parseCachePolicy("sometimes", "--cache"), /never, auto or always/);
});
