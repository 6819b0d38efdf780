/**
 * Conformance cases: many operations in flight at once. Each case starts
 * everything before awaiting anything, so a backend that serializes badly,
 * shares a buffer between calls or loses an update shows it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { assertBytes, bytes, type ConformanceCase, names, pattern, text } from "../kit.ts";

const G = "concurrency";

/** Cases for concurrent operations. */
export const CONCURRENCY_CASES: readonly ConformanceCase[] = [
  {
    group: G,
    name: "200 concurrent writes to different files all land intact",
    async run({ fs }) {
      const n = 200;
      await Promise.all(
        Array.from({ length: n }, (_, i) => fs.writeFile(`/f${i}`, pattern(1000 + i, i))),
      );
      const read = await Promise.all(Array.from({ length: n }, (_, i) => fs.readFile(`/f${i}`)));
      read.forEach((data, i) => assertBytes(data, pattern(1000 + i, i), `/f${i}`));
      assert.equal((await names(fs, "/")).length, n);
    },
  },
  {
    group: G,
    name: "concurrent appends to different files keep each file's order",
    async run({ fs }) {
      const files = 20;
      const rounds = 10;
      for (let r = 0; r < rounds; r++) {
        // Every file gets one append per round, all rounds' files at once.
        await Promise.all(
          Array.from(
            { length: files },
            (_, i) => fs.writeTextFile(`/log${i}`, `${r},`, { append: true }),
          ),
        );
      }
      const want = Array.from({ length: rounds }, (_, r) => `${r},`).join("");
      for (let i = 0; i < files; i++) assert.equal(await fs.readTextFile(`/log${i}`), want);
    },
  },
  {
    group: G,
    name: "50 open files written in interleaved chunks stay separate",
    async run({ fs }) {
      const n = 50;
      const handles = await Promise.all(
        Array.from({ length: n }, (_, i) => fs.open(`/h${i}`, { write: true, create: true })),
      );
      for (let chunk = 0; chunk < 4; chunk++) {
        await Promise.all(handles.map((h, i) => h.write(bytes(`[${i}:${chunk}]`))));
      }
      await Promise.all(handles.map((h) => h.close()));
      for (let i = 0; i < n; i++) {
        assert.equal(await fs.readTextFile(`/h${i}`), `[${i}:0][${i}:1][${i}:2][${i}:3]`);
      }
    },
  },
  {
    group: G,
    name: "concurrent recursive mkdir of overlapping trees all succeed",
    async run({ fs }) {
      await Promise.all(
        Array.from(
          { length: 30 },
          (_, i) => fs.mkdir(`/a/b/c/d${i % 5}/e${i}`, { recursive: true }),
        ),
      );
      assert.deepEqual(await names(fs, "/a/b/c"), ["d0", "d1", "d2", "d3", "d4"]);
      assert.equal((await names(fs, "/a/b/c/d0")).length, 6);
    },
  },
  {
    group: G,
    name: "concurrent mixed operations on disjoint subtrees do not interfere",
    async run({ fs }) {
      const n = 25;
      await Promise.all(Array.from({ length: n }, async (_, i) => {
        const d = `/w${i}`;
        await fs.mkdir(d);
        await fs.writeTextFile(`${d}/a`, `a${i}`);
        await fs.rename(`${d}/a`, `${d}/b`);
        await fs.copyFile(`${d}/b`, `${d}/c`);
        await fs.truncate(`${d}/c`, 1);
        await fs.remove(`${d}/b`);
      }));
      for (let i = 0; i < n; i++) {
        assert.deepEqual(await names(fs, `/w${i}`), ["c"]);
        assert.equal(await fs.readTextFile(`/w${i}/c`), "a");
      }
    },
  },
  {
    group: G,
    name: "concurrent readers see the complete content",
    async run({ fs }) {
      const data = pattern(50_000, 9);
      await fs.writeFile("/shared", data);
      const reads = await Promise.all(Array.from({ length: 40 }, () => fs.readFile("/shared")));
      for (const r of reads) assertBytes(r, data);
    },
  },
  {
    group: G,
    name: "exactly one of many concurrent createNew writes wins",
    async run({ fs }) {
      const results = await Promise.allSettled(
        Array.from(
          { length: 20 },
          (_, i) => fs.writeTextFile("/once", `w${i}`, { createNew: true }),
        ),
      );
      const won = results.filter((r) => r.status === "fulfilled").length;
      assert.equal(won, 1);
      for (const r of results) {
        if (r.status === "rejected") assert.equal((r.reason as { code?: string }).code, "EEXIST");
      }
      assert.match(await fs.readTextFile("/once"), /^w\d+$/);
    },
  },
  {
    group: G,
    name: "exactly one of many concurrent mkdirs of one name wins",
    async run({ fs }) {
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => fs.mkdir("/one")));
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
      for (const r of results) {
        if (r.status === "rejected") assert.equal((r.reason as { code?: string }).code, "EEXIST");
      }
    },
  },
  {
    group: G,
    name: "a text file written concurrently with others reads back exactly",
    async run({ fs }) {
      const jobs = Array.from({ length: 60 }, (_, i) => fs.writeTextFile(`/t${i}`, `text ${i} é`));
      await Promise.all(jobs);
      const got = await Promise.all(Array.from({ length: 60 }, (_, i) => fs.readFile(`/t${i}`)));
      got.forEach((b, i) => assert.equal(text(b), `text ${i} é`));
    },
  },
];
