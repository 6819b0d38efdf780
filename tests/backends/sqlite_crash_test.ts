// Crash safety of SqliteBackend: a child process (sqlite_crash_child.ts)
// changes files and fsyncs them; it is killed with SIGKILL at random points,
// 20 times over the same database. After each kill the database must open,
// pass PRAGMA integrity_check, and hold exactly the state after the child's
// last completed operation — or, all paths at once, the state after the
// operation it was in the middle of. So no operation is ever half done, and
// every write whose fsync had returned is there byte for byte (counted
// separately below). Orphans the child left (files unlinked while open)
// must be gone once the database is opened again.
import assert from "node:assert/strict";
import { SqliteBackend } from "../../src/backends/sqlite.ts";

const CHILD = new URL("./sqlite_crash_child.ts", import.meta.url);
const ROUNDS = 20;
const NAMES = ["a", "b", "c", "d", "e", "f"].map((n) => `/d/${n}`);

/** path → SHA-256 of the content, or null when the file does not exist. */
type State = Map<string, string | null>;

interface Op {
  seq: number;
  changes: Record<string, string | null>;
  done: boolean;
}

async function digest(data: Uint8Array): Promise<string> {
  const hash = new Uint8Array(
    await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>),
  );
  return Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
}

function applied(base: State, ops: Op[]): State {
  const state = new Map(base);
  for (const op of ops) {
    for (const [path, hash] of Object.entries(op.changes)) state.set(path, hash);
  }
  return state;
}

function same(a: State, b: State): boolean {
  return NAMES.every((p) => (a.get(p) ?? null) === (b.get(p) ?? null));
}

function show(state: State): string {
  return NAMES.map((p) => `${p}=${(state.get(p) ?? "missing").slice(0, 8)}`).join(" ");
}

/** mulberry32, for a reproducible kill schedule. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Open the database, check it, and return what it holds. */
async function inspect(file: string): Promise<State> {
  using backend = SqliteBackend.open(file);
  assert.deepEqual(backend.integrityCheck(), ["ok"]);
  const state: State = new Map();
  let files = 0;
  for (const path of NAMES) {
    try {
      state.set(path, await digest(await backend.readFile(path)));
      files++;
    } catch (e) {
      if ((e as { code?: string }).code !== "ENOENT") throw e;
      state.set(path, null);
    }
  }
  // Opened alone, the backend has removed every orphan a crash left: only
  // the root, /d (if the child got that far) and the files remain.
  const dirs = (await backend.readDir("/")).length;
  assert.equal((await backend.statfs()).usedInodes, 1 + dirs + files, "orphans were cleaned up");
  return state;
}

Deno.test("SqliteBackend: SIGKILL at 20 random points never loses an fsynced write or leaves half an operation", async () => {
  const dir = await Deno.makeTempDir({ prefix: "anyfs_sqlite_crash_" });
  const file = `${dir}/crash.anyfs`;
  const random = rng(20_240_601);
  let baseline: State = new Map(NAMES.map((p) => [p, null]));
  const stats = { ops: 0, fsyncs: 0, fsyncedWritesChecked: 0, inFlight: 0, inFlightCommitted: 0 };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // Only the database file needs permissions (not even its -wal/-shm).
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-lock",
          `--allow-read=${file}`,
          `--allow-write=${file}`,
          CHILD.href,
          file,
          String(1000 + round),
        ],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const stderr = new Response(child.stderr).text();
      // Kill after a random number of completed operations, or right after a
      // random operation was announced (so probably in the middle of it), or
      // (round 0) at a random moment of start-up, maybe inside the open.
      const style = round === 0 ? "startup" : round % 2 ? "announced" : "completed";
      const target = 1 + Math.floor(random() * 40);
      const delayMs = Math.floor(random() * (style === "completed" ? 20 : 4));
      let killed = false;
      const kill = () => {
        if (killed) return;
        killed = true;
        setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // Already gone: its stderr will say why.
          }
        }, delayMs);
      };
      if (style === "startup") setTimeout(kill, Math.floor(random() * 150));

      const ops: Op[] = [];
      const synced: number[] = [];
      let buffer = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        let nl;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          const [word, seq, json] = line.split(" ", 3);
          if (word === "op") {
            const rest = line.slice(word.length + seq.length + 2);
            ops.push({ seq: Number(seq), changes: JSON.parse(rest || json), done: false });
            if (style === "announced" && Number(seq) >= target) kill();
          } else if (word === "done") {
            ops[ops.length - 1].done = true;
            if (style === "completed" && Number(seq) >= target) kill();
          } else if (word === "synced") {
            synced.push(Number(seq));
          }
        }
      }
      const status = await child.status;
      const errors = await stderr;
      assert.equal(status.signal, "SIGKILL", `the child died on its own:\n${errors}`);

      const completed = ops.filter((op) => op.done);
      const inFlight = ops.find((op) => !op.done);
      const afterCompleted = applied(baseline, completed);
      const actual = await inspect(file);
      if (!same(actual, afterCompleted)) {
        assert.ok(
          inFlight !== undefined && same(actual, applied(afterCompleted, [inFlight])),
          `round ${round}: the database holds neither the state after op ${completed.length} ` +
            `nor after the one in flight\n  actual:    ${show(actual)}\n  completed: ${
              show(afterCompleted)
            }`,
        );
        stats.inFlightCommitted++;
      }
      if (inFlight !== undefined && Object.keys(inFlight.changes).length) stats.inFlight++;
      // The promise being tested, spelled out: every file as it was when an
      // fsync returned is there unless a later operation changed it.
      for (const seq of synced) {
        const durable = applied(baseline, ops.filter((op) => op.seq <= seq));
        const later = ops.filter((op) => op.seq > seq);
        for (const path of NAMES) {
          if (later.some((op) => path in op.changes)) continue;
          assert.equal(
            actual.get(path),
            durable.get(path),
            `round ${round}: fsync ${seq}, ${path}`,
          );
          if (durable.get(path) !== null) stats.fsyncedWritesChecked++;
        }
      }
      stats.ops += completed.length;
      stats.fsyncs += synced.length;
      baseline = actual;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  console.log(
    `  ${ROUNDS} kills: ${stats.ops} operations completed, ${stats.fsyncs} fsyncs returned, ` +
      `${stats.fsyncedWritesChecked} fsynced file states checked byte for byte, ` +
      `${stats.inFlight} kills hit a change in flight (${stats.inFlightCommitted} had committed, ` +
      `the rest had left no trace)`,
  );
  assert.ok(stats.fsyncs > 0, "the schedule exercised fsync");
});
