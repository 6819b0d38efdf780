// The adapter without FUSE: a recording reply stands in for libfuse, so we
// can show that every handler answers every request exactly once, even
// when the backend throws synchronously or rejects.
import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import type { Backend } from "../../src/core/backend.ts";
import { errnoOf } from "../../src/core/errno.ts";
import { fsError } from "../../src/core/errors.ts";
import { FuseAdapter } from "../../src/mount/adapter.ts";
import { resolveMountOptions } from "../../src/mount/options.ts";
import type { DirBuffer, FileInfoIn, FuseReply } from "../../ffi/ops.ts";

class RecordingReply implements FuseReply {
  replies: string[] = [];
  errno?: number;
  get replied() {
    return this.replies.length > 0;
  }
  #r(kind: string) {
    this.replies.push(kind);
    return 0;
  }
  context() {
    return { uid: 0, gid: 0, pid: 1, umask: 0o22 };
  }
  err(errno: number) {
    this.errno = errno;
    return this.#r(`err ${errno}`);
  }
  none() {
    this.#r("none");
  }
  entry() {
    return this.#r("entry");
  }
  negativeEntry() {
    return this.#r("negative");
  }
  create() {
    return this.#r("create");
  }
  attr() {
    return this.#r("attr");
  }
  readlink() {
    return this.#r("readlink");
  }
  open() {
    return this.#r("open");
  }
  write() {
    return this.#r("write");
  }
  buf() {
    return this.#r("buf");
  }
  statfs() {
    return this.#r("statfs");
  }
  xattrSize() {
    return this.#r("xattrSize");
  }
  lseek() {
    return this.#r("lseek");
  }
  dirBuffer(): DirBuffer {
    return {
      fits: () => true,
      add: () => true,
      addPlus: () => true,
      bytes: () => new Uint8Array(),
    };
  }
}

const fi = (fh = 1, flags = 0): FileInfoIn => ({
  flags,
  fh,
  lockOwner: 0n,
  writepage: false,
  flush: false,
  flockRelease: false,
});

type Call = (a: FuseAdapter, r: RecordingReply) => void;
const ALL_OPS: [string, Call][] = [
  ["lookup", (a, r) => a.lookup(r, 1, "x")],
  ["getattr", (a, r) => a.getattr(r, 1, undefined)],
  [
    "setattr",
    (a, r) =>
      a.setattr(
        r,
        1,
        { mode: 0o700, uid: 0, gid: 0, size: 0, atimeMs: 0, mtimeMs: 0 },
        1,
        undefined,
      ),
  ],
  ["readlink", (a, r) => a.readlink(r, 1)],
  ["mknod", (a, r) => a.mknod(r, 1, "n", 0o100644, 0)],
  ["mkdir", (a, r) => a.mkdir(r, 1, "d", 0o755)],
  ["unlink", (a, r) => a.unlink(r, 1, "x")],
  ["rmdir", (a, r) => a.rmdir(r, 1, "x")],
  ["symlink", (a, r) => a.symlink(r, "t", 1, "s")],
  ["rename", (a, r) => a.rename(r, 1, "x", 1, "y", 0)],
  ["link", (a, r) => a.link(r, 1, 1, "l")],
  ["open", (a, r) => a.open(r, 1, fi())],
  ["read", (a, r) => a.read(r, 1, 10, 0, fi())],
  ["write", (a, r) => a.write(r, 1, new Uint8Array(3), 0, fi())],
  ["flush", (a, r) => a.flush(r, 1, fi())],
  ["release", (a, r) => a.release(r, 1, fi())],
  ["fsync", (a, r) => a.fsync(r, 1, false, fi())],
  ["opendir", (a, r) => a.opendir(r, 1, fi())],
  ["readdir", (a, r) => a.readdir(r, 1, 4096, 0, fi(99))],
  ["readdirplus", (a, r) => a.readdirplus(r, 1, 4096, 0, fi(99))],
  ["releasedir", (a, r) => a.releasedir(r, 1, fi())],
  ["fsyncdir", (a, r) => a.fsyncdir(r, 1, false, fi())],
  ["statfs", (a, r) => a.statfs(r, 1)],
  ["setxattr", (a, r) => a.setxattr(r, 1, "user.a", new Uint8Array(1), 0)],
  ["getxattr", (a, r) => a.getxattr(r, 1, "user.a", 0)],
  ["listxattr", (a, r) => a.listxattr(r, 1, 0)],
  ["removexattr", (a, r) => a.removexattr(r, 1, "user.a")],
  ["access", (a, r) => a.access(r, 1, 4)],
  ["create", (a, r) => a.create(r, 1, "c", 0o644, fi(0, 0o1))],
  ["flock", (a, r) => a.flock(r, 1, fi(), 2)],
  ["fallocate", (a, r) => a.fallocate(r, 1, 0, 0, 10, fi())],
  ["lseek", (a, r) => a.lseek(r, 1, 0, 3, fi())],
  ["forget", (a, r) => a.forget(r, 5, 1)],
  ["forgetMulti", (a, r) => a.forgetMulti(r, [{ nodeId: 5, nlookup: 1 }])],
  ["badName", (a, r) => a.badName(r)],
];

/** A backend whose every method throws (synchronously or by rejecting). */
function brokenBackend(mode: "throw" | "reject"): Backend {
  return new Proxy(new MemoryBackend(), {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function" || prop === "constructor" || prop === "layer") return v;
      return () => {
        const e = new Error(`broken ${String(prop)}`);
        if (mode === "throw") throw e;
        return Promise.reject(e);
      };
    },
  });
}

async function settle(adapter: FuseAdapter): Promise<void> {
  await adapter.whenIdle();
  await new Promise((r) => setTimeout(r, 0));
}

for (const mode of ["throw", "reject"] as const) {
  Deno.test(`every operation answers exactly once when the backend ${mode}s (EIO)`, async () => {
    const adapter = new FuseAdapter(
      brokenBackend(mode),
      1,
      resolveMountOptions({ onBackendError: () => {} }),
    );
    for (const [name, call] of ALL_OPS) {
      const r = new RecordingReply();
      call(adapter, r);
      await settle(adapter);
      assert.equal(r.replies.length, 1, `${name} replied ${JSON.stringify(r.replies)}`);
    }
    assert.equal(adapter.stats.inFlight, 0);
  });
}

Deno.test("a throwing onBackendError callback changes nothing: every request still gets its EIO", async () => {
  const reported: unknown[] = [];
  const realConsoleError = console.error;
  console.error = (...args: unknown[]) => reported.push(args);
  try {
    await everyRequestAnsweredDespiteABrokenCallback();
  } finally {
    console.error = realConsoleError;
  }
  assert.ok(reported.length > 0, "the callback's failure is reported");
});

async function everyRequestAnsweredDespiteABrokenCallback(): Promise<void> {
  for (const mode of ["throw", "reject"] as const) {
    let called = 0;
    const adapter = new FuseAdapter(
      brokenBackend(mode),
      1,
      resolveMountOptions({
        onBackendError: () => {
          called++;
          throw new Error("the user's error callback is broken too");
        },
      }),
    );
    for (const [name, call] of ALL_OPS) {
      const r = new RecordingReply();
      call(adapter, r);
      await settle(adapter);
      assert.equal(r.replies.length, 1, `${name} (${mode}) replied ${JSON.stringify(r.replies)}`);
    }
    assert.ok(called > 0);
    assert.equal(adapter.stats.inFlight, 0);
  }
}

Deno.test("FsError codes from the backend become their errno; unknown errors EIO", async () => {
  const backend = new MemoryBackend();
  const adapter = new FuseAdapter(backend, (await backend.lstat("/")).ino, resolveMountOptions());
  const r1 = new RecordingReply();
  adapter.rmdir(r1, 1, "missing");
  await settle(adapter);
  assert.deepEqual(r1.replies, ["err 2"]); // ENOENT
  await backend.mkdir("/d");
  await backend.writeFile("/d/f", new Uint8Array());
  const r2 = new RecordingReply();
  adapter.rmdir(r2, 1, "d");
  await settle(adapter);
  assert.deepEqual(r2.replies, ["err 39"]); // ENOTEMPTY
  // lookup probes with tryLstat when the backend has it, else lstat.
  const denying = new Proxy(backend, {
    get: (t, p, rcv) =>
      p === "lstat" || p === "tryLstat"
        ? () => Promise.reject(fsError("EACCES", "lstat", "/x"))
        : Reflect.get(t, p, rcv),
  });
  const a2 = new FuseAdapter(denying, 1, resolveMountOptions());
  const r3 = new RecordingReply();
  a2.lookup(r3, 1, "x");
  await settle(a2);
  assert.deepEqual(r3.replies, ["err 13"]); // EACCES
});

Deno.test("read-only mounts answer EROFS before touching the backend", async () => {
  const backend = new MemoryBackend();
  const adapter = new FuseAdapter(backend, 1, resolveMountOptions({ readOnly: true }));
  for (
    const call of [
      (r: RecordingReply) => adapter.mkdir(r, 1, "d", 0o755),
      (r: RecordingReply) => adapter.create(r, 1, "c", 0o644, fi(0, 0o1)),
      (r: RecordingReply) => adapter.unlink(r, 1, "x"),
    ]
  ) {
    const r = new RecordingReply();
    call(r);
    await settle(adapter);
    assert.deepEqual(r.replies, ["err 30"]);
  }
  assert.deepEqual((await backend.readDir("/")).length, 0);
});

/** Records the node id of an entry reply. */
class EntryReply extends RecordingReply {
  nodeId = 0;
  override entry(nodeId = 0) {
    this.nodeId = nodeId;
    return super.entry();
  }
}

/** Run one request to its reply. */
async function ask(adapter: FuseAdapter, call: (r: EntryReply) => void): Promise<EntryReply> {
  const r = new EntryReply();
  call(r);
  await settle(adapter);
  return r;
}

// The kernel revalidates a cached name with LOOKUP without locking its
// directory, so a lookup of "target" can read the old file, then a rename
// of another file onto "target" completes, then the lookup records what it
// read. It must not undo the rename in the inode table: the renamed node
// would be left without a name, and (on a backend without inode numbers)
// every later open of "target" through the kernel's node would fail.
Deno.test("a lookup racing a rename onto the same name keeps the renamed file reachable", async () => {
  const inner = new MemoryBackend();
  const enc = new TextEncoder();
  await inner.writeFile("/target", enc.encode("old"));
  await inner.writeFile("/t2", enc.encode("new"));
  let hold: Promise<void> | undefined;
  const backend = new Proxy(inner, {
    get(t, p) {
      if (p === "capabilities") {
        return new Set([...t.capabilities].filter((c) => c !== "inodes"));
      }
      if (p === "tryLstat" || p === "lstat") {
        const probe = Reflect.get(t, p, t) as (path: string) => Promise<unknown>;
        return async (path: string) => {
          const found = await probe.call(t, path);
          if (hold && path === "/target") await hold;
          return found;
        };
      }
      const v = Reflect.get(t, p, t);
      return typeof v === "function" ? v.bind(t) : v;
    },
  });
  const adapter = new FuseAdapter(backend, (await inner.lstat("/")).ino, resolveMountOptions());
  await ask(adapter, (r) => adapter.lookup(r, 1, "target"));
  const renamed = (await ask(adapter, (r) => adapter.lookup(r, 1, "t2"))).nodeId;

  let release!: () => void;
  hold = new Promise((r) => release = r);
  const stale = new EntryReply();
  adapter.lookup(stale, 1, "target"); // reads the old file, then waits
  await new Promise((r) => setTimeout(r, 0));
  hold = undefined;
  const rename = new EntryReply();
  adapter.rename(rename, 1, "t2", 1, "target", 0);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(rename.replies, ["err 0"]);
  release();
  await settle(adapter);
  assert.equal(stale.replies.length, 1);

  // The kernel now knows "target" as the node it renamed.
  const opened = await ask(adapter, (r) => adapter.open(r, renamed, fi(0, 0)));
  assert.deepEqual(opened.replies, ["open"]);
  const fresh = await ask(adapter, (r) => adapter.lookup(r, 1, "target"));
  assert.equal(fresh.nodeId, renamed, "a new lookup finds the renamed node");
});

// The kernel's dentry for a name can still point to the file a rename just
// replaced: `cat target` while another process runs `mv tmp target`. On a
// local file system the open succeeds; here the old file is gone from the
// backend, so the open is served by the file that now has its name (what
// the kernel would reach by looking the name up again), and a name that is
// gone altogether answers ESTALE, on which the kernel looks it up again.
Deno.test("opening or reading a link a rename just replaced serves its successor; a removed file is ESTALE", async () => {
  const backend = new MemoryBackend();
  const enc = new TextEncoder();
  await backend.writeFile("/target", enc.encode("old"));
  await backend.writeFile("/t2", enc.encode("new"));
  await backend.writeFile("/gone", enc.encode("x"));
  const adapter = new FuseAdapter(backend, (await backend.lstat("/")).ino, resolveMountOptions());
  const replaced = (await ask(adapter, (r) => adapter.lookup(r, 1, "target"))).nodeId;
  await ask(adapter, (r) => adapter.lookup(r, 1, "t2"));
  const removed = (await ask(adapter, (r) => adapter.lookup(r, 1, "gone"))).nodeId;
  assert.deepEqual(
    (await ask(adapter, (r) => adapter.rename(r, 1, "t2", 1, "target", 0))).replies,
    [
      "err 0",
    ],
  );
  assert.deepEqual((await ask(adapter, (r) => adapter.unlink(r, 1, "gone"))).replies, ["err 0"]);

  assert.deepEqual((await ask(adapter, (r) => adapter.getattr(r, replaced, undefined))).replies, [
    "attr",
  ]);
  const opened = await ask(adapter, (r) => adapter.open(r, replaced, fi(0, 0)));
  assert.deepEqual(opened.replies, ["open"]);

  // `ln -s v tmp && mv -T tmp link` while others follow `link`.
  await backend.symlink("v1", "/link");
  await backend.symlink("v2", "/l2");
  const link = (await ask(adapter, (r) => adapter.lookup(r, 1, "link"))).nodeId;
  await ask(adapter, (r) => adapter.lookup(r, 1, "l2"));
  await ask(adapter, (r) => adapter.rename(r, 1, "l2", 1, "link", 0));
  assert.deepEqual((await ask(adapter, (r) => adapter.readlink(r, link))).replies, ["readlink"]);

  const stale = errnoOf("ESTALE");
  assert.deepEqual((await ask(adapter, (r) => adapter.open(r, removed, fi(0, 0)))).replies, [
    `err ${stale}`,
  ]);
  // Its attributes are still there, as tmpfs shows an unlinked inode (with
  // no links) to fstat(2) of an O_PATH descriptor or to a stat(2) that
  // raced the unlink: tests/mount/unlinked_open_test.ts checks the figures.
  assert.deepEqual((await ask(adapter, (r) => adapter.getattr(r, removed, undefined))).replies, [
    "attr",
  ]);
});

/** Backend `inner` without the `inodes` capability: the table is then the only way to a node's path. */
function withoutInodes(inner: MemoryBackend): Backend {
  return new Proxy(inner, {
    get(t, p) {
      if (p === "capabilities") return new Set([...t.capabilities].filter((c) => c !== "inodes"));
      const v = Reflect.get(t, p, t);
      return typeof v === "function" ? v.bind(t) : v;
    },
  });
}

const O_WRONLY = 0o1;
const O_RDWR = 0o2;
const O_TRUNC = 0o1000;

// The kernel sends OPEN for a node whose file lost its name not only when a
// rename raced a path walk, but also for a reopen through /proc/PID/fd/N of
// a file unlinked while open (`exec 3<>f; rm f; echo x > /proc/self/fd/3`).
// tmpfs opens the unlinked file; the mount cannot, but it must never hand
// out the unrelated file that has the name now: writing or truncating it
// destroys that file's data.
for (const inodes of [true, false]) {
  Deno.test(`reopening a file unlinked while open never opens the file that has its name now (inodes: ${inodes})`, async () => {
    const inner = new MemoryBackend();
    const backend = inodes ? inner : withoutInodes(inner);
    const enc = new TextEncoder();
    await inner.writeFile("/f", enc.encode("secret"));
    const adapter = new FuseAdapter(backend, (await inner.lstat("/")).ino, resolveMountOptions());
    const node = (await ask(adapter, (r) => adapter.lookup(r, 1, "f"))).nodeId;
    assert.deepEqual((await ask(adapter, (r) => adapter.open(r, node, fi(0, O_RDWR)))).replies, [
      "open",
    ]);
    assert.deepEqual((await ask(adapter, (r) => adapter.unlink(r, 1, "f"))).replies, ["err 0"]);
    await inner.writeFile("/f", enc.encode("other"));

    const stale = `err ${errnoOf("ESTALE")}`;
    for (const flags of [O_WRONLY | O_TRUNC, O_RDWR, O_WRONLY, 0, O_TRUNC]) {
      const r = await ask(adapter, (r) => adapter.open(r, node, fi(0, flags)));
      assert.deepEqual(r.replies, [stale], `open flags ${flags.toString(8)}`);
    }
    assert.equal(new TextDecoder().decode(await inner.readFile("/f")), "other");
  });
}

// A write through a node whose file a rename just replaced must not land in
// the replacement either: open(2) looks the name up again on ESTALE.
Deno.test("a writable open of a replaced file answers ESTALE; the replacement keeps its data", async () => {
  const backend = new MemoryBackend();
  const enc = new TextEncoder();
  await backend.writeFile("/target", enc.encode("old"));
  await backend.writeFile("/t2", enc.encode("new"));
  const adapter = new FuseAdapter(backend, (await backend.lstat("/")).ino, resolveMountOptions());
  const replaced = (await ask(adapter, (r) => adapter.lookup(r, 1, "target"))).nodeId;
  await ask(adapter, (r) => adapter.lookup(r, 1, "t2"));
  assert.deepEqual(
    (await ask(adapter, (r) => adapter.rename(r, 1, "t2", 1, "target", 0))).replies,
    [
      "err 0",
    ],
  );
  const r = await ask(adapter, (r) => adapter.open(r, replaced, fi(0, O_WRONLY | O_TRUNC)));
  assert.deepEqual(r.replies, [`err ${errnoOf("ESTALE")}`]);
  assert.equal(new TextDecoder().decode(await backend.readFile("/target")), "new");
});

// A file unlinked through the mount but still open in the backend (another
// process's descriptor) is alive, not replaced.
Deno.test("a read-only open of an unlinked file another user of the backend holds answers ESTALE", async () => {
  const backend = new MemoryBackend();
  const enc = new TextEncoder();
  await backend.writeFile("/f", enc.encode("secret"));
  const held = await backend.open("/f", { read: true });
  try {
    const adapter = new FuseAdapter(backend, (await backend.lstat("/")).ino, resolveMountOptions());
    const node = (await ask(adapter, (r) => adapter.lookup(r, 1, "f"))).nodeId;
    assert.deepEqual((await ask(adapter, (r) => adapter.unlink(r, 1, "f"))).replies, ["err 0"]);
    await backend.writeFile("/f", enc.encode("other"));
    const r = await ask(adapter, (r) => adapter.open(r, node, fi(0, 0)));
    assert.deepEqual(r.replies, [`err ${errnoOf("ESTALE")}`]);
  } finally {
    await held.close();
  }
});

/** A request from the unprivileged user `uid` (group `uid`). */
class UserReply extends EntryReply {
  constructor(readonly uid: number) {
    super();
  }
  override context() {
    return { uid: this.uid, gid: this.uid, pid: 1, umask: 0o22 };
  }
}

// With default_permissions the kernel checked the permissions of the
// replaced file, not of the one that has its name now.
Deno.test("a replaced file's successor is served only to a caller who may read it", async () => {
  const backend = new MemoryBackend();
  const enc = new TextEncoder();
  await backend.writeFile("/target", enc.encode("public"), { mode: 0o644 });
  await backend.writeFile("/t2", enc.encode("private"), { mode: 0o600, uid: 1000, gid: 1000 });
  const adapter = new FuseAdapter(backend, (await backend.lstat("/")).ino, resolveMountOptions());
  const replaced = (await ask(adapter, (r) => adapter.lookup(r, 1, "target"))).nodeId;
  await ask(adapter, (r) => adapter.lookup(r, 1, "t2"));
  await ask(adapter, (r) => adapter.rename(r, 1, "t2", 1, "target", 0));
  const open = async (uid: number) => {
    const r = new UserReply(uid);
    adapter.open(r, replaced, fi(0, 0));
    await settle(adapter);
    return r.replies;
  };
  assert.deepEqual(await open(2000), [`err ${errnoOf("ESTALE")}`]);
  assert.deepEqual(await open(1000), ["open"]);
});
