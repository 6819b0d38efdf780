/**
 * Conformance cases: `chmod`, `chown`, `utime`, and the timestamps POSIX
 * says operations move. Times are compared by ordering against a time set
 * in the past, never by exact clock values, so coarse clocks and slow
 * machines cannot make a case flaky.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type ConformanceCase, ms, permBits, rejects } from "../kit.ts";

const CHMOD = "chmod";
const CHOWN = "chown";
const TIMES = "times";

/** 1,000,000 ms after the epoch, as `utime` seconds: a time safely in the past. */
const PAST_S = 1000;
const PAST_MS = PAST_S * 1000;

/** Cases for `chmod`. */
export const CHMOD_CASES: readonly ConformanceCase[] = [
  {
    group: CHMOD,
    name: "sets the permission bits of a file",
    needs: ["permissions"],
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      for (const mode of [0o600, 0o640, 0o755, 0o000, 0o777, 0o111]) {
        await fs.chmod("/f", mode);
        assert.equal(await permBits(fs, "/f"), mode, mode.toString(8));
      }
    },
  },
  {
    group: CHMOD,
    name: "sets setuid, setgid and sticky bits",
    needs: ["permissions"],
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await fs.mkdir("/d");
      await fs.chmod("/f", 0o4755);
      assert.equal(await permBits(fs, "/f"), 0o4755);
      await fs.chmod("/f", 0o2750);
      assert.equal(await permBits(fs, "/f"), 0o2750);
      await fs.chmod("/d", 0o1777);
      assert.equal(await permBits(fs, "/d"), 0o1777);
    },
  },
  {
    group: CHMOD,
    name: "keeps the type bits",
    needs: ["permissions"],
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await fs.mkdir("/d");
      await fs.chmod("/f", 0o700);
      await fs.chmod("/d", 0o700);
      assert.equal((await fs.stat("/f")).mode, 0o100700);
      assert.equal((await fs.stat("/d")).mode, 0o040700);
      assert.equal((await fs.stat("/d")).isDirectory, true);
    },
  },
  {
    group: CHMOD,
    name: "a directory made read-only (0o555) keeps its entries reachable",
    needs: ["permissions"],
    async run({ fs }) {
      await fs.mkdir("/d");
      await fs.writeTextFile("/d/f", "x");
      await fs.chmod("/d", 0o555);
      assert.equal(await permBits(fs, "/d"), 0o555);
      assert.equal((await fs.stat("/d/f")).isFile, true);
      await fs.chmod("/d", 0o755);
    },
  },
  {
    group: CHMOD,
    name: "of a missing path fails with ENOENT",
    needs: ["permissions"],
    async run({ fs }) {
      await rejects(fs.chmod("/missing", 0o644), "ENOENT");
    },
  },
  {
    group: CHMOD,
    name: "does not change content or mtime",
    needs: ["permissions", "times"],
    async run({ fs }) {
      await fs.writeTextFile("/f", "content");
      await fs.utime("/f", PAST_S, PAST_S);
      await fs.chmod("/f", 0o600);
      assert.equal(ms((await fs.stat("/f")).mtime, "mtime"), PAST_MS);
      assert.equal(await fs.readTextFile("/f"), "content");
    },
  },
];

/** Cases for `chown` (the kit runs them only when the subject claims `ownership`). */
export const CHOWN_CASES: readonly ConformanceCase[] = [
  {
    group: CHOWN,
    name: "sets owner and group",
    needs: ["ownership"],
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await fs.chown("/f", 1234, 5678);
      const st = await fs.stat("/f");
      assert.equal(st.uid, 1234);
      assert.equal(st.gid, 5678);
    },
  },
  {
    group: CHOWN,
    name: "null leaves owner or group unchanged",
    needs: ["ownership"],
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await fs.chown("/f", 1000, 2000);
      await fs.chown("/f", null, 3000);
      let st = await fs.stat("/f");
      assert.deepEqual([st.uid, st.gid], [1000, 3000]);
      await fs.chown("/f", 4000, null);
      st = await fs.stat("/f");
      assert.deepEqual([st.uid, st.gid], [4000, 3000]);
    },
  },
  {
    group: CHOWN,
    name: "works on directories",
    needs: ["ownership"],
    async run({ fs }) {
      await fs.mkdir("/d");
      await fs.chown("/d", 42, 43);
      const st = await fs.stat("/d");
      assert.deepEqual([st.uid, st.gid], [42, 43]);
    },
  },
  {
    group: CHOWN,
    name: "of a missing path fails with ENOENT",
    needs: ["ownership"],
    async run({ fs }) {
      await rejects(fs.chown("/missing", 1, 1), "ENOENT");
    },
  },
  {
    group: CHOWN,
    name: "goes through a symlink to its target",
    needs: ["ownership", "symlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/t", "x");
      await fs.symlink("t", "/l");
      await fs.chown("/l", 77, 88);
      const st = await fs.stat("/t");
      assert.deepEqual([st.uid, st.gid], [77, 88]);
    },
  },
];

/** Cases for `utime` and the times other operations move. */
export const TIME_CASES: readonly ConformanceCase[] = [
  {
    group: TIMES,
    name: "utime with Dates round-trips to the millisecond",
    needs: ["times"],
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      const atime = new Date(1_500_000_000_123);
      const mtime = new Date(1_600_000_000_456);
      await fs.utime("/f", atime, mtime);
      const st = await fs.stat("/f");
      assert.equal(ms(st.atime, "atime"), atime.getTime());
      assert.equal(ms(st.mtime, "mtime"), mtime.getTime());
    },
  },
  {
    group: TIMES,
    name: "utime with numbers takes seconds, fractions included",
    needs: ["times"],
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await fs.utime("/f", 1234.5, 2345.25);
      const st = await fs.stat("/f");
      assert.equal(ms(st.atime, "atime"), 1_234_500);
      assert.equal(ms(st.mtime, "mtime"), 2_345_250);
    },
  },
  {
    group: TIMES,
    name: "utime works on directories",
    needs: ["times"],
    async run({ fs }) {
      await fs.mkdir("/d");
      await fs.utime("/d", PAST_S, PAST_S);
      assert.equal(ms((await fs.stat("/d")).mtime, "mtime"), PAST_MS);
    },
  },
  {
    group: TIMES,
    name: "utime of a missing path fails with ENOENT",
    needs: ["times"],
    async run({ fs }) {
      await rejects(fs.utime("/missing", 1, 1), "ENOENT");
    },
  },
  {
    group: TIMES,
    name: "utime goes through a symlink to its target",
    needs: ["times", "symlinks"],
    async run({ fs }) {
      await fs.writeTextFile("/t", "x");
      await fs.symlink("t", "/l");
      await fs.utime("/l", PAST_S, PAST_S);
      assert.equal(ms((await fs.stat("/t")).mtime, "mtime"), PAST_MS);
    },
  },
  {
    group: TIMES,
    name: "writing a file moves its mtime forward",
    needs: ["times"],
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await fs.utime("/f", PAST_S, PAST_S);
      await fs.writeTextFile("/f", "y");
      assert.ok(ms((await fs.stat("/f")).mtime, "mtime") > PAST_MS);
    },
  },
  {
    group: TIMES,
    name: "appending moves mtime forward",
    needs: ["times"],
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await fs.utime("/f", PAST_S, PAST_S);
      await fs.writeTextFile("/f", "y", { append: true });
      assert.ok(ms((await fs.stat("/f")).mtime, "mtime") > PAST_MS);
    },
  },
  {
    group: TIMES,
    name: "writing through an open file moves mtime forward",
    needs: ["times"],
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await fs.utime("/f", PAST_S, PAST_S);
      const f = await fs.open("/f", { write: true });
      await f.write(new Uint8Array([1]));
      f.close();
      assert.ok(ms((await fs.stat("/f")).mtime, "mtime") > PAST_MS);
    },
  },
  {
    group: TIMES,
    name: "truncate moves mtime forward",
    needs: ["times"],
    async run({ fs }) {
      await fs.writeTextFile("/f", "abc");
      await fs.utime("/f", PAST_S, PAST_S);
      await fs.truncate("/f", 1);
      assert.ok(ms((await fs.stat("/f")).mtime, "mtime") > PAST_MS);
    },
  },
  {
    group: TIMES,
    name: "reading does not change mtime",
    needs: ["times"],
    async run({ fs }) {
      await fs.writeTextFile("/f", "x");
      await fs.utime("/f", PAST_S, PAST_S);
      await fs.readFile("/f");
      const f = await fs.open("/f");
      await f.read(new Uint8Array(4));
      f.close();
      assert.equal(ms((await fs.stat("/f")).mtime, "mtime"), PAST_MS);
    },
  },
  {
    group: TIMES,
    name: "creating an entry moves the directory's mtime forward",
    needs: ["times"],
    async run({ fs }) {
      await fs.mkdir("/d");
      await fs.utime("/d", PAST_S, PAST_S);
      await fs.writeTextFile("/d/f", "x");
      assert.ok(ms((await fs.stat("/d")).mtime, "mtime") > PAST_MS, "after file create");
      await fs.utime("/d", PAST_S, PAST_S);
      await fs.mkdir("/d/sub");
      assert.ok(ms((await fs.stat("/d")).mtime, "mtime") > PAST_MS, "after mkdir");
    },
  },
  {
    group: TIMES,
    name: "removing an entry moves the directory's mtime forward",
    needs: ["times"],
    async run({ fs }) {
      await fs.mkdir("/d");
      await fs.writeTextFile("/d/f", "x");
      await fs.utime("/d", PAST_S, PAST_S);
      await fs.remove("/d/f");
      assert.ok(ms((await fs.stat("/d")).mtime, "mtime") > PAST_MS);
    },
  },
  {
    group: TIMES,
    name: "rename moves both parents' mtime forward",
    needs: ["times"],
    async run({ fs }) {
      await fs.mkdir("/from");
      await fs.mkdir("/to");
      await fs.writeTextFile("/from/f", "x");
      await fs.utime("/from", PAST_S, PAST_S);
      await fs.utime("/to", PAST_S, PAST_S);
      await fs.rename("/from/f", "/to/f");
      assert.ok(ms((await fs.stat("/from")).mtime, "mtime") > PAST_MS, "source parent");
      assert.ok(ms((await fs.stat("/to")).mtime, "mtime") > PAST_MS, "destination parent");
    },
  },
  {
    group: TIMES,
    name: "rename keeps the moved file's mtime",
    needs: ["times"],
    async run({ fs }) {
      await fs.writeTextFile("/a", "x");
      await fs.utime("/a", PAST_S, PAST_S);
      await fs.rename("/a", "/b");
      assert.equal(ms((await fs.stat("/b")).mtime, "mtime"), PAST_MS);
    },
  },
  {
    group: TIMES,
    name: "writing a file does not change its directory's mtime",
    needs: ["times"],
    async run({ fs }) {
      await fs.mkdir("/d");
      await fs.writeTextFile("/d/f", "x");
      await fs.utime("/d", PAST_S, PAST_S);
      await fs.writeTextFile("/d/f", "rewritten");
      assert.equal(ms((await fs.stat("/d")).mtime, "mtime"), PAST_MS);
    },
  },
  {
    group: TIMES,
    name: "a hard link moves the directory's mtime forward",
    needs: ["times", "hardlinks"],
    async run({ fs }) {
      await fs.mkdir("/d");
      await fs.writeTextFile("/f", "x");
      await fs.utime("/d", PAST_S, PAST_S);
      await fs.link("/f", "/d/l");
      assert.ok(ms((await fs.stat("/d")).mtime, "mtime") > PAST_MS);
    },
  },
];
