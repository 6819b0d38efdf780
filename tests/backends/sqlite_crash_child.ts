// The child of sqlite_crash_test.ts: applies seeded random changes to files
// in a SqliteBackend until it is killed, reporting on stdout — before each
// operation, the state every touched path will have after it; after it,
// that it returned; after each fsync/sync, that everything so far is
// durable. Not a test on its own (the name does not end in _test.ts).
//
// Usage: deno run --allow-read=DB --allow-write=DB sqlite_crash_child.ts DB SEED

import { SqliteBackend } from "../../src/backends/sqlite.ts";
import { SeededRandom } from "../../src/testing/prng.ts";

const [file, seedArg] = Deno.args;
const rng = new SeededRandom(Number(seedArg));
const random = () => rng.next();

const int = (n: number) => rng.int(n);

function bytesOf(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = int(1 << 30) | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function size(): number {
  const r = random();
  if (r < 0.7) return int(100 * 1024);
  if (r < 0.95) return 100 * 1024 + int(300 * 1024);
  return 1024 * 1024 + int(2 * 1024 * 1024);
}

async function digest(data: Uint8Array): Promise<string> {
  const hash = new Uint8Array(
    await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>),
  );
  return Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
}

const say = (line: string) => console.log(line);

const backend = SqliteBackend.open(file);
const DIR = "/d";
const NAMES = ["a", "b", "c", "d", "e", "f"].map((n) => `${DIR}/${n}`);
try {
  await backend.mkdir(DIR);
} catch (e) {
  if ((e as { code?: string }).code !== "EEXIST") throw e;
}

// What the database holds now: the recovered state (the parent has checked it).
const model = new Map<string, Uint8Array>();
for (const path of NAMES) {
  try {
    model.set(path, await backend.readFile(path));
  } catch (e) {
    if ((e as { code?: string }).code !== "ENOENT") throw e;
  }
}
say("ready");

/** Announce op `seq`: the state each path in `after` will have (null: missing). */
async function announce(seq: number, after: Map<string, Uint8Array | null>): Promise<void> {
  const states: Record<string, string | null> = {};
  for (const [path, data] of after) states[path] = data === null ? null : await digest(data);
  say(`op ${seq} ${JSON.stringify(states)}`);
}

function apply(after: Map<string, Uint8Array | null>): void {
  for (const [path, data] of after) {
    if (data === null) model.delete(path);
    else model.set(path, data);
  }
}

function withWrite(old: Uint8Array | undefined, at: number, data: Uint8Array): Uint8Array {
  const base = old ?? new Uint8Array(0);
  const out = new Uint8Array(Math.max(base.length, at + data.length));
  out.set(base);
  out.set(data, at);
  return out;
}

for (let seq = 1;; seq++) {
  const existing = NAMES.filter((p) => model.has(p));
  const path = NAMES[int(NAMES.length)];
  const pick = existing.length ? existing[int(existing.length)] : undefined;
  const kind = int(100);
  if (kind < 30 || pick === undefined) {
    const data = bytesOf(size());
    const after = new Map([[path, data]]);
    await announce(seq, after);
    await backend.writeFile(path, data);
    apply(after);
  } else if (kind < 45) {
    const old = model.get(pick)!;
    const at = int(old.length + 64 * 1024);
    const data = bytesOf(1 + int(150 * 1024));
    const after = new Map([[pick, withWrite(old, at, data)]]);
    await announce(seq, after);
    const h = await backend.open(pick, { write: true });
    await h.write(data, at);
    await h.close();
    apply(after);
  } else if (kind < 53) {
    const old = model.get(pick)!;
    const length = int(Math.floor(old.length * 1.5) + 1);
    const next = new Uint8Array(length);
    next.set(old.subarray(0, Math.min(length, old.length)));
    const after = new Map([[pick, next]]);
    await announce(seq, after);
    await backend.truncate(pick, length);
    apply(after);
  } else if (kind < 63) {
    const old = model.get(pick)!;
    const data = bytesOf(1 + int(100 * 1024));
    const after = new Map([[pick, withWrite(old, old.length, data)]]);
    await announce(seq, after);
    await backend.appendFile(pick, data);
    apply(after);
  } else if (kind < 71) {
    const after = new Map<string, Uint8Array | null>([[path, model.get(pick)!]]);
    if (path !== pick) after.set(pick, null);
    await announce(seq, after);
    await backend.rename(pick, path);
    apply(after);
  } else if (kind < 76) {
    const after = new Map([[pick, null]]);
    await announce(seq, after);
    await backend.unlink(pick);
    apply(after);
  } else if (kind < 80) {
    // Unlink a file while a handle holds it, write through the handle, close:
    // a crash in between leaves an orphan for the next open to clean up.
    const after = new Map([[pick, null]]);
    await announce(seq, after);
    const h = await backend.open(pick, { write: true, read: true });
    await backend.unlink(pick);
    await h.write(bytesOf(1 + int(200 * 1024)), int(1024));
    await h.close();
    apply(after);
  } else if (kind < 92) {
    say(`op ${seq} {}`);
    await backend.fsync(pick);
    say(`done ${seq}`);
    say(`synced ${seq}`);
    continue;
  } else {
    say(`op ${seq} {}`);
    await backend.sync();
    say(`done ${seq}`);
    say(`synced ${seq}`);
    continue;
  }
  say(`done ${seq}`);
}
