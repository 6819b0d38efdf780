/**
 * Several processes on one SqliteBackend database file at once, doing
 * seeded random operations on a shared namespace of 39 paths (see
 * sqlite_multiprocess_child.ts), so that they collide constantly: renames
 * of files and directories across directories and over each other, links,
 * unlinks of files other processes hold open, truncates, copies, xattrs,
 * handles kept open across all of that.
 *
 * The oracle holds whatever the interleaving was:
 * - while they run, each child checks every failure is an FsError with a
 *   code a real file system could give (EBUSY only after the busy timeout),
 *   every content it reads is whole self-checking cells (no torn or mixed
 *   bytes), and no inode number comes back with another birth time;
 * - afterwards the database passes `PRAGMA integrity_check`, and the file
 *   system invariants hold in the raw tables: every entry names a live
 *   inode in a live directory, every directory is reachable from the root
 *   and has one name, link counts equal the number of names (directories:
 *   2 + subdirectories), directory sizes are 20 × (2 + entries), content is
 *   in one form (inline or chunks, never past the size), no xattr, chunk or
 *   holder row outlives its inode, and an inode without a name exists only
 *   while a holder row keeps it; the next inode number is above every
 *   number any process ever saw; every file reads back as whole cells,
 *   none written by an operation that failed (EBUSY included).
 *
 * A second test SIGKILLs one process mid-run while another keeps going and
 * a third opens the database afterwards; the killed process's holder rows
 * may keep orphans alive until a backend opens the database alone, which
 * must then remove them.
 *
 * The default run takes a few seconds. For a soak, set
 * `ANYFS_SQLITE_SOAK_SECONDS` (total time; rounds with new seeds until it
 * is used up) and optionally `ANYFS_SQLITE_SOAK_PROCESSES` (default 3) and
 * `ANYFS_SQLITE_SOAK_ROUND_MS` (how long each round's children run,
 * default 4000).
 * A failing round prints its seeds; `ANYFS_SQLITE_SEED` replays one.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SqliteBackend } from "../../src/backends/sqlite.ts";
import { checkContent, writesIn } from "./_multiprocess_cells.ts";

const CHILD = new URL("./sqlite_multiprocess_child.ts", import.meta.url);

interface ChildReport {
  writer: number;
  ops: number;
  busy: number;
  counts: Record<string, Record<string, number>>;
  failedWrites: number[];
  births: [number, number][];
}

interface Child {
  process: Deno.ChildProcess;
  /** Resolves once the child said it has opened the database. */
  ready: Promise<void>;
  /** Resolves when its stdout closes: violations, and its last report. */
  done: Promise<{
    bad: string[];
    last?: ChildReport;
    probe?: { code: string; message?: string };
    ended: boolean;
    stderr: string;
  }>;
}

/**
 * Start child `writer`. It gets read/write permission on `dir` only, unless
 * `flags` holds `allow-all` (the one way Deno lets compact run); `flags` go
 * to the child as they are.
 */
function spawn(
  file: string,
  dir: string,
  writer: number,
  seed: number,
  durationMs: number,
  flags: string[] = [],
): Child {
  const permissions = flags.includes("allow-all")
    ? ["--allow-all"]
    : flags.includes("readonly")
    ? [`--allow-read=${dir}`]
    : [`--allow-read=${dir}`, `--allow-write=${dir}`];
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-lock",
      ...permissions,
      CHILD.href,
      file,
      String(writer),
      String(seed),
      String(durationMs),
      ...flags,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const { promise: ready, resolve: markReady } = Promise.withResolvers<void>();
  const stderr = new Response(process.stderr).text();
  const done = (async () => {
    const bad: string[] = [];
    let last: ChildReport | undefined;
    let probe: { code: string; message?: string } | undefined;
    let ended = false;
    let buffer = "";
    const take = (line: string) => {
      const space = line.indexOf(" ");
      const word = line.slice(0, space);
      const json = line.slice(space + 1);
      if (word === "ready") markReady();
      else if (word === "bad") bad.push(json);
      else if (word === "probe") probe = JSON.parse(json);
      else if (word === "stats" || word === "end") {
        last = JSON.parse(json);
        ended ||= word === "end";
      }
    };
    for await (const chunk of process.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        take(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
      }
    }
    markReady(); // a child that died before opening must not hang the test
    return { bad, last, probe, ended, stderr: await stderr };
  })();
  return { process, ready, done };
}

/** Every inode number a child saw must not have come back with another birth time. */
function mergeBirths(reports: (ChildReport | undefined)[]): Map<number, number> {
  const births = new Map<number, number>();
  for (const report of reports) {
    for (const [ino, birth] of report?.births ?? []) {
      const seen = births.get(ino);
      assert.ok(
        seen === undefined || seen === birth,
        `inode ${ino} was seen with birth times ${seen} and ${birth}: its number was reused`,
      );
      births.set(ino, birth);
    }
  }
  return births;
}

type Row = Record<string, number | string | null>;

/**
 * The file system invariants, read from the raw tables. `orphansHeld`: an
 * inode without a name is allowed while a holder row keeps it (else none
 * may exist). Returns counts for the report.
 */
function checkTables(
  file: string,
  births: Map<number, number>,
  orphansHeld: boolean,
): { inodes: number; orphans: number; holders: number } {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const all = (sql: string) => db.prepare(sql).all() as Row[];
    const one = (sql: string) => db.prepare(sql).get() as Row;
    assert.deepEqual(all("PRAGMA integrity_check").map((r) => r.integrity_check), ["ok"]);
    const none = (sql: string, what: string) => {
      const rows = all(sql);
      assert.deepEqual(rows, [], `${what}: ${JSON.stringify(rows.slice(0, 5))}`);
    };
    const DIR = "(mode & 0xf000) = 0x4000";
    none(
      "SELECT e.* FROM entries e LEFT JOIN inodes i ON i.ino = e.ino WHERE i.ino IS NULL",
      "entries naming a missing inode",
    );
    none(
      `SELECT e.* FROM entries e LEFT JOIN inodes p ON p.ino = e.parent
       WHERE p.ino IS NULL OR (p.mode & 0xf000) <> 0x4000 OR p.nlink = 0`,
      "entries in something that is not a live directory",
    );
    none(
      `SELECT i.ino, i.nlink, (SELECT count(*) FROM entries e WHERE e.ino = i.ino) AS names
       FROM inodes i WHERE NOT (${DIR}) AND i.nlink <> names`,
      "link count of a non-directory is not its number of names",
    );
    none(
      `SELECT i.ino, i.nlink, i.size,
         (SELECT count(*) FROM entries e WHERE e.ino = i.ino) AS names,
         (SELECT count(*) FROM entries e WHERE e.parent = i.ino) AS children,
         (SELECT count(*) FROM entries e JOIN inodes c ON c.ino = e.ino
            WHERE e.parent = i.ino AND (c.mode & 0xf000) = 0x4000) AS subdirs
       FROM inodes i WHERE ${DIR} AND i.nlink > 0 AND (
         i.nlink <> 2 + subdirs OR i.size <> 20 * (2 + children)
         OR names <> (CASE WHEN i.ino = 1 THEN 0 ELSE 1 END))`,
      "a live directory with a wrong link count, size or number of names",
    );
    none(
      `SELECT i.ino, i.nlink FROM inodes i WHERE ${DIR} AND i.nlink = 0
         AND EXISTS (SELECT 1 FROM entries e WHERE e.ino = i.ino OR e.parent = i.ino)`,
      "a removed directory that still has a name or entries",
    );
    none(
      `SELECT c.ino, c.idx, length(c.data) AS len, i.size, i.mode, length(i.data) AS inline
       FROM chunks c LEFT JOIN inodes i ON i.ino = c.ino
       WHERE i.ino IS NULL OR (i.mode & 0xf000) <> 0x8000 OR i.data IS NOT NULL
         OR length(c.data) > 65536 OR c.idx * 65536 + length(c.data) > i.size`,
      "a chunk of no file, of an inline file, too long or past the size",
    );
    none(
      `SELECT ino, size, length(data) AS len FROM inodes
       WHERE data IS NOT NULL AND ((mode & 0xf000) <> 0x8000 OR length(data) > size OR length(data) > 65536)`,
      "inline content on something else than a file, or past the size",
    );
    none(
      "SELECT ino, size FROM inodes WHERE (mode & 0xf000) = 0x8000 AND size % 64 <> 0",
      "a file size that no sequence of this test's writes and truncates gives",
    );
    none(
      "SELECT ino, size, target FROM inodes WHERE (mode & 0xf000) = 0xa000 AND size <> length(CAST(target AS BLOB))",
      "a symlink whose size is not its target's length",
    );
    none(
      "SELECT x.ino, x.name FROM xattrs x LEFT JOIN inodes i ON i.ino = x.ino WHERE i.ino IS NULL",
      "xattrs of a missing inode",
    );
    none(
      "SELECT h.* FROM holders h LEFT JOIN inodes i ON i.ino = h.ino WHERE i.ino IS NULL",
      "holder rows of a missing inode",
    );
    const orphans = all(
      `SELECT i.ino, i.nlink, EXISTS (SELECT 1 FROM holders h WHERE h.ino = i.ino) AS held
       FROM inodes i WHERE i.ino <> 1 AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.ino = i.ino)`,
    );
    for (const orphan of orphans) {
      assert.equal(orphan.nlink, 0, `inode ${orphan.ino} has no name but nlink ${orphan.nlink}`);
      assert.ok(
        orphansHeld && orphan.held === 1,
        `inode ${orphan.ino} has no name and ${orphan.held ? "only a stale" : "no"} holder`,
      );
    }
    // Every named inode is reachable from the root (no cycle cut off by a rename).
    const reachable = Number(
      one(
        `WITH RECURSIVE tree(ino) AS (SELECT 1 UNION SELECT e.ino FROM entries e JOIN tree t ON e.parent = t.ino)
         SELECT count(*) AS n FROM tree`,
      ).n,
    );
    const named = Number(one("SELECT count(DISTINCT ino) AS n FROM entries").n) + 1;
    assert.equal(reachable, named, "inodes with names that the root does not reach");
    // Inode numbers are never handed out again: the next one is above all ever seen.
    const next = Number(
      one(
        `SELECT max(coalesce((SELECT max(ino) FROM inodes), 0),
                    (SELECT value FROM meta WHERE key = 'ino_floor')) + 1 AS n`,
      ).n,
    );
    for (const ino of births.keys()) {
      assert.ok(ino < next, `inode ${ino} was seen, but the next create would take ${next}`);
    }
    for (const row of all("SELECT ino, btime FROM inodes")) {
      const seen = births.get(Number(row.ino));
      assert.ok(
        seen === undefined || seen === row.btime,
        `inode ${row.ino}: born ${row.btime}, seen born ${seen}`,
      );
    }
    return {
      inodes: Number(one("SELECT count(*) AS n FROM inodes").n),
      orphans: orphans.length,
      holders: Number(one("SELECT count(*) AS n FROM holders").n),
    };
  } finally {
    db.close();
  }
}

/** The writes (`"writer:seq"`) that failed in any child: their bytes must be nowhere. */
function failedWrites(reports: (ChildReport | undefined)[]): Set<string> {
  const keys = new Set<string>();
  for (const report of reports) {
    for (const seq of report?.failedWrites ?? []) keys.add(`${report!.writer}:${seq}`);
  }
  return keys;
}

/**
 * Open the database with a backend (alone: orphans go), read every file
 * back as whole cells, none of them from a write that failed.
 */
async function checkThroughBackend(file: string, failed: Set<string>): Promise<number> {
  using backend = SqliteBackend.open(file);
  assert.deepEqual(backend.integrityCheck(), ["ok"]);
  let files = 0;
  const walk = async (dir: string) => {
    for (const entry of await backend.readDir(dir)) {
      const path = `${dir === "/" ? "" : dir}/${entry.name}`;
      if (entry.type === "dir") await walk(path);
      else if (entry.type === "file") {
        const data = await backend.readFile(path);
        const problem = checkContent(data);
        assert.equal(problem, undefined, `${path}: ${problem}`);
        for (const key of writesIn(data)) {
          assert.ok(!failed.has(key), `${path} holds bytes of write ${key}, which failed`);
        }
        files++;
      }
    }
  };
  await walk("/");
  return files;
}

function failures(results: { bad: string[] }[]): string[] {
  return results.flatMap((r) => r.bad);
}

function total(
  reports: (ChildReport | undefined)[],
): { ops: number; failed: number; busy: number } {
  let ops = 0, failed = 0, busy = 0;
  for (const report of reports) {
    if (report === undefined) continue;
    ops += report.ops;
    busy += report.busy;
    for (const byOutcome of Object.values(report.counts)) {
      for (const [outcome, n] of Object.entries(byOutcome)) if (outcome !== "ok") failed += n;
    }
  }
  return { ops, failed, busy };
}

async function withDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "anyfs_sqlite_mp_" });
  try {
    return await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * One round: `processes` children for `durationMs` on a new database, then
 * every check. With `busyMs`, the children use that busy timeout instead of
 * the default 5 s, so that operations fail with EBUSY often.
 */
async function concurrentRound(
  seed: number,
  processes: number,
  durationMs: number,
  busyMs?: number,
) {
  return await withDir(async (dir) => {
    const file = `${dir}/shared.anyfs`;
    // Create it first, so no child races another through the first migration.
    SqliteBackend.open(file).close();
    // The first child may compact (VACUUM) while the others work.
    const children = Array.from(
      { length: processes },
      (_, i) =>
        spawn(file, dir, i + 1, seed * 16 + i, durationMs, [
          "compact",
          ...(i === 0 ? ["allow-all"] : []),
          ...(busyMs === undefined ? [] : [`busy=${busyMs}`]),
        ]),
    );
    // And a read-only backend reading beside them.
    children.push(spawn(file, dir, processes + 1, seed * 16 + processes, durationMs, [
      "readonly",
      ...(busyMs === undefined ? [] : [`busy=${busyMs}`]),
    ]));
    const results = await Promise.all(children.map((c) => c.done));
    for (const [i, r] of results.entries()) {
      assert.ok(r.ended, `seed ${seed}: child ${i + 1} did not finish:\n${r.stderr}`);
    }
    const bad = failures(results);
    assert.deepEqual(bad, [], `seed ${seed}: violations:\n${bad.join("\n")}`);
    const reports = results.map((r) => r.last);
    const births = mergeBirths(reports);
    if (busyMs === undefined) {
      const tables = checkTables(file, births, false);
      assert.equal(tables.holders, 0, "every child closed cleanly: no holder rows are left");
    } else {
      // A close that found the database busy keeps its holder rows (and the
      // orphans they hold) until a backend opens it alone: documented.
      checkTables(file, births, true);
    }
    const files = await checkThroughBackend(file, failedWrites(reports));
    const after = checkTables(file, births, false);
    assert.equal(after.holders, 0, "a lone open leaves no holder rows");
    return { ...total(reports), inodesSeen: births.size, files, reports };
  });
}

/**
 * One process is SIGKILLed mid-run while a second keeps going; a third
 * opens the database after the kill and runs alongside the second.
 */
async function killRound(seed: number, durationMs: number) {
  return await withDir(async (dir) => {
    const file = `${dir}/shared.anyfs`;
    SqliteBackend.open(file).close();
    // On odd seeds the victim may be compacting (VACUUM) when it dies.
    const victim = spawn(file, dir, 1, seed * 16, 60_000, seed % 2 ? ["compact", "allow-all"] : []);
    const survivor = spawn(file, dir, 2, seed * 16 + 1, durationMs);
    await Promise.all([victim.ready, survivor.ready]);
    // Somewhere in the first half of the survivor's run, mid-operation.
    await new Promise((resolve) => setTimeout(resolve, durationMs * (0.2 + 0.3 * (seed % 7) / 7)));
    victim.process.kill("SIGKILL");
    const killed = await victim.done;
    assert.equal((await victim.process.status).signal, "SIGKILL", killed.stderr);
    const late = spawn(file, dir, 3, seed * 16 + 2, durationMs / 2);
    const results = [killed, ...await Promise.all([survivor.done, late.done])];
    assert.ok(results[1].ended, `seed ${seed}: the survivor did not finish:\n${results[1].stderr}`);
    assert.ok(
      results[2].ended,
      `seed ${seed}: the late process did not finish:\n${results[2].stderr}`,
    );
    const bad = failures(results);
    assert.deepEqual(bad, [], `seed ${seed}: violations:\n${bad.join("\n")}`);
    const reports = results.map((r) => r.last);
    const births = mergeBirths(reports);
    // The killed process's holder rows stay until a backend opens alone.
    const before = checkTables(file, births, true);
    const files = await checkThroughBackend(file, failedWrites(reports));
    const after = checkTables(file, births, false);
    assert.equal(after.holders, 0, "opening alone cleared the killed process's holder rows");
    assert.equal(after.orphans, 0, "opening alone removed what only the killed process held");
    return { ...total(reports), staleOrphans: before.orphans, staleHolders: before.holders, files };
  });
}

const soakSeconds = Number(Deno.env.get("ANYFS_SQLITE_SOAK_SECONDS") ?? 0);
/** How long the children of one round run (ms). */
const roundMs = Number(Deno.env.get("ANYFS_SQLITE_SOAK_ROUND_MS") ?? 4000);
const replaySeed = Deno.env.get("ANYFS_SQLITE_SEED");
const firstSeed = replaySeed !== undefined
  ? Number(replaySeed)
  : soakSeconds > 0
  ? Math.floor(Math.random() * 1e6)
  : 4242;

/** Concurrent rounds with new seeds until `seconds` are used up (at least one). */
async function concurrentRounds(seconds: number, busyMs?: number): Promise<void> {
  const soakProcesses = Number(Deno.env.get("ANYFS_SQLITE_SOAK_PROCESSES") ?? 3);
  const deadline = performance.now() + seconds * 1000;
  let seed = firstSeed;
  let rounds = 0;
  const sum = { ops: 0, failed: 0, busy: 0, inodesSeen: 0, files: 0 };
  do {
    const r = await concurrentRound(seed, soakSeconds > 0 ? soakProcesses : 3, roundMs, busyMs);
    for (const key of Object.keys(sum) as (keyof typeof sum)[]) sum[key] += r[key];
    // The test exercised what it claims: handles across unlinks, renames that worked, collisions.
    const merged: Record<string, Record<string, number>> = {};
    for (const report of r.reports) {
      for (const [op, byOutcome] of Object.entries(report!.counts)) {
        for (const [outcome, n] of Object.entries(byOutcome)) {
          (merged[op] ??= {})[outcome] = (merged[op][outcome] ?? 0) + n;
        }
      }
    }
    if (busyMs !== undefined) assert.ok(r.busy > 0, `seed ${seed}: no operation ran into EBUSY`);
    for (const op of ["rename", "link", "unlink", "rmdir", "handle.write", "copyFile"]) {
      assert.ok((merged[op]?.ok ?? 0) > 0, `seed ${seed}: no ${op} succeeded`);
    }
    if (rounds === 0) {
      const lines = Object.entries(merged).sort().map(([op, byOutcome]) =>
        `    ${op}: ${Object.entries(byOutcome).map(([o, n]) => `${o} ${n}`).join(", ")}`
      );
      console.log(`  outcomes of seed ${seed}:\n${lines.join("\n")}`);
    }
    rounds++;
    seed++;
  } while (performance.now() < deadline && replaySeed === undefined);
  console.log(
    `  ${rounds} round(s) from seed ${firstSeed}: ${sum.ops} operations, ${sum.failed} failed with an allowed code, ` +
      `${sum.busy} EBUSY after the ${
        busyMs ?? 5000
      } ms timeout, ${sum.inodesSeen} inode numbers seen, ` +
      `${sum.files} files checked`,
  );
}

Deno.test("SqliteBackend: three processes colliding on one file keep it sound, with only real errno", async () => {
  await concurrentRounds(soakSeconds / 2);
});

Deno.test("SqliteBackend: with a 1 ms busy timeout, colliding processes get EBUSY and never a broken file", async () => {
  await concurrentRounds(soakSeconds / 4, 1);
});

Deno.test("SqliteBackend: a process SIGKILLed mid-run leaves the others and the next opener a sound database", async () => {
  const deadline = performance.now() + (soakSeconds * 1000) / 4;
  let seed = firstSeed;
  let rounds = 0;
  const sum = { ops: 0, failed: 0, busy: 0, staleOrphans: 0, staleHolders: 0, files: 0 };
  do {
    const r = await killRound(seed, roundMs);
    for (const key of Object.keys(sum) as (keyof typeof sum)[]) sum[key] += r[key];
    rounds++;
    seed++;
  } while (performance.now() < deadline && replaySeed === undefined);
  console.log(
    `  ${rounds} kill round(s) from seed ${firstSeed}: ${sum.ops} operations, ${sum.busy} EBUSY after the timeout, ` +
      `${sum.staleHolders} holder rows and ${sum.staleOrphans} orphans left by killed processes (all removed on the next lone open), ` +
      `${sum.files} files checked`,
  );
});

Deno.test("SqliteBackend.compact without --allow-all fails with EACCES naming the flag (Deno refuses VACUUM's attach)", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/shared.anyfs`;
    {
      using backend = SqliteBackend.open(file);
      await backend.writeFile("/a", new Uint8Array(200_000));
      await backend.unlink("/a");
    }
    const size = (await Deno.stat(file)).size;
    const restricted = await spawn(file, dir, 1, 1, 0, ["compact-probe"]).done;
    assert.equal(restricted.probe?.code, "EACCES", restricted.stderr);
    assert.match(restricted.probe?.message ?? "", /--allow-all/);
    assert.equal((await Deno.stat(file)).size, size, "the refused compact changed nothing");
    const all = await spawn(file, dir, 1, 1, 0, ["compact-probe", "allow-all"]).done;
    assert.equal(all.probe?.code, "ok", all.stderr);
    assert.ok((await Deno.stat(file)).size < size, "with --allow-all it gave the space back");
  });
});

/** Run `lines` in a separate Deno process with `b`, a SqliteBackend on `file`; fails if it fails. */
async function inOtherProcess(file: string, lines: string): Promise<void> {
  const script = `
    import { SqliteBackend } from ${
    JSON.stringify(new URL("../../src/backends/sqlite.ts", import.meta.url).href)
  };
    using b = SqliteBackend.open(${JSON.stringify(file)});
    ${lines}
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-lock", "-A", "-"],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const { code, stderr } = await child.output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
}

Deno.test("SqliteBackend: a file another process removes after this one had it open is freed at this one's next handle close or write, not at its close", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/shared.anyfs`;
    using reader = SqliteBackend.open(file);
    const used = async () => (await reader.statfs()).usedInodes;
    await reader.writeFile("/other", new Uint8Array(1));
    for (const name of ["/big", "/big2"]) {
      await reader.writeFile(name, new Uint8Array(20 * 1024 * 1024));
      await (await reader.open(name, { read: true })).close();
    }
    assert.equal(await used(), 4);

    // The other process cannot tell the reader's idle claim from an open
    // handle, so it leaves the 20 MiB in place...
    await inOtherProcess(file, `await b.unlink("/big");`);
    assert.equal(await used(), 4, "the other process left /big to the reader");
    // ...and the reader's next close of any handle, which writes nothing of
    // its own, frees it.
    await (await reader.open("/other", { read: true })).close();
    assert.equal(await used(), 3, "freed at the reader's next handle close");

    await inOtherProcess(file, `await b.unlink("/big2");`);
    await reader.mkdir("/d");
    assert.equal(await used(), 3, "freed at the reader's next write (/d came, /big2 went)");
  });
});
