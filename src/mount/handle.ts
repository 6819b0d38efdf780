/**
 * {@linkcode MountHandle}: a live mount of a backend, and how to make one.
 *
 * @module
 */

import type { Backend } from "../core/backend.ts";
import { isFsError } from "../core/errors.ts";
import { ReadOnly } from "../middleware/read_only.ts";
import { cString } from "../../ffi/layout.ts";
import { type LibFuse, loadLibfuse } from "../../ffi/libfuse.ts";
import { type InitReplyPatch, installInitReplyPatch } from "../../ffi/init_reply.ts";
import { buildArgs, buildLowLevelOps, type LowLevelOps } from "../../ffi/ops.ts";
import { FuseAdapter, type MountStats, type NegotiatedConnection } from "./adapter.ts";
import { type Availability, isAvailable } from "./availability.ts";
import { MountError } from "./errors.ts";
import { guardMountPoint, unguardMountPoint } from "./sync_guard.ts";
import {
  type CachePolicy,
  fuseArgv,
  type MountOptions,
  type ResolvedMountOptions,
  resolveMountOptions,
} from "./options.ts";
import {
  abortConnection,
  cleanStaleMount,
  fusermountPath,
  isNotConnected,
  isRoot,
  mountAt,
  processIds,
  unmountPath,
} from "./system.ts";

/** How a mount ended, as {@linkcode MountHandle.finished} reports it. */
export interface MountEnd {
  /**
   * `"unmounted"`: by {@linkcode MountHandle.unmount} (or dispose, a signal,
   * an abort signal); `"external"`: by someone else (`fusermount3 -u`,
   * `umount`); `"error"`: the session failed.
   */
  reason: "unmounted" | "external" | "error";
  /** The session loop's error, for `"error"`. */
  error?: Error;
}

/** Options of {@linkcode MountHandle.unmount}. */
export interface UnmountOptions {
  /**
   * Detach the mount now even while files in it are open or directories
   * in it are some process's working directory; it is served until the
   * last of them is gone. Without it a busy mount fails with
   * `MountPointBusy` and stays mounted.
   */
  lazy?: boolean;
  /**
   * Detach and cut the connection now: requests of remaining users fail
   * with "Transport endpoint is not connected". Implies `lazy`.
   */
  force?: boolean;
}

/** How long pending requests may take to finish once the kernel side is gone. */
const DRAIN_MS = 5_000;
/** How long a lazy unmount of a forced or disposing unmount waits before cutting the connection. */
const FORCE_AFTER_MS = 2_000;

const active = new Set<MountHandle>();
let signalsInstalled = false;

function onSignal(signal: "SIGINT" | "SIGTERM"): void {
  const mounts = [...active];
  Promise.allSettled(mounts.map((m) => m.unmount({ force: true }))).finally(() => {
    // Adding a listener replaced the default action; do what it would
    // have done, with the conventional status.
    Deno.exit(signal === "SIGINT" ? 130 : 143);
  });
}
const onSigint = () => onSignal("SIGINT");
const onSigterm = () => onSignal("SIGTERM");

function updateSignals(): void {
  const want = [...active].some((m) => m.options.handleSignals);
  if (want === signalsInstalled) return;
  signalsInstalled = want;
  if (want) {
    Deno.addSignalListener("SIGINT", onSigint);
    Deno.addSignalListener("SIGTERM", onSigterm);
  } else {
    // A signal listener keeps the process alive: remove it with the last mount.
    Deno.removeSignalListener("SIGINT", onSigint);
    Deno.removeSignalListener("SIGTERM", onSigterm);
  }
}

let unloadInstalled = false;
function installUnload(): void {
  if (unloadInstalled) return;
  unloadInstalled = true;
  globalThis.addEventListener("unload", () => {
    // The process is exiting (Deno.exit or the end of the program). It can
    // no longer answer requests, so unmounting must happen in another
    // process: fusermount3 -u -z, not waited for. Mounts with autoUnmount
    // are taken down by their own helper anyway.
    for (const m of active) {
      if (m.options.autoUnmount) continue;
      try {
        new Deno.Command(fusermountPath(), {
          args: ["-u", "-z", m.mountPoint],
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).spawn().unref();
      } catch {
        // nothing more can be done on the way out
      }
    }
  });
}

function absolute(path: string): string {
  const parts: string[] = [];
  const full = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  for (const part of full.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return "/" + parts.join("/");
}

function needPermission(descriptor: Deno.PermissionDescriptor, flag: string, what: string): void {
  if (Deno.permissions.querySync(descriptor).state !== "granted") {
    throw new MountError("PermissionDenied", `mounting needs ${what}`, {
      fix: `run deno with ${flag}`,
    });
  }
}

async function checkMountPoint(path: string): Promise<void> {
  needPermission({ name: "read", path }, `--allow-read`, `read access to ${path}`);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (isNotConnected(e)) {
      try {
        await cleanStaleMount(path);
      } catch (cleanup) {
        throw new MountError(
          "MountPointBusy",
          `${path} is a dead FUSE mount (Transport endpoint is not connected) and could ` +
            `not be cleaned up`,
          { path, fix: `run: fusermount3 -u -z ${path}`, cause: cleanup },
        );
      }
      console.error(
        `anyfs mount: ${path} was a dead FUSE mount (Transport endpoint is not connected: ` +
          `its server had died); unmounted it`,
      );
      info = await Deno.stat(path);
    } else if (e instanceof Deno.errors.NotFound) {
      throw new MountError("InvalidMountPoint", `mount point ${path} does not exist`, {
        path,
        fix: `create it first: await Deno.mkdir(${JSON.stringify(path)}, { recursive: true })`,
        cause: e,
      });
    } else {
      throw new MountError("InvalidMountPoint", `mount point ${path} cannot be used: ${e}`, {
        path,
        cause: e,
      });
    }
  }
  if (!info.isDirectory) {
    throw new MountError("InvalidMountPoint", `mount point ${path} is not a directory`, { path });
  }
  const existing = await mountAt(path);
  if (existing && path !== "/") {
    throw new MountError(
      "MountPointBusy",
      `${path} is already a mount point (${existing.fsType} from ${existing.source})`,
      { path, fix: `unmount it first, or choose another directory` },
    );
  }
}

/**
 * A mounted backend. Every program on the machine sees the backend (with
 * all its middleware) as a directory at {@linkcode MountHandle.mountPoint}
 * until the handle is unmounted or disposed.
 *
 * The mounting process may itself use the mount with Deno's **async** file
 * API (`Deno.readFile`, `Deno.open`, …), with any number of operations in
 * flight. It must never call a **synchronous** file function
 * (`Deno.readFileSync`, `Deno.statSync`, …) on a path inside its own
 * mount: the one thread that would have to answer the kernel is the one
 * waiting for the answer, so the call hangs forever and the process cannot
 * even be killed (`kill -9` leaves it in D state; only
 * `echo 1 > /sys/fs/fuse/connections/<N>/abort` frees it). The same goes
 * for `new Deno.Command(…, { cwd })` with a `cwd` inside the mount (Deno
 * spawns with vfork: `cd` in the command instead), and for Deno's async
 * file functions on paths inside the mount when the process lacks
 * `--allow-all` (Deno then resolves the path synchronously to check
 * permissions). While mounted, all of these fail with `EDEADLK` for such
 * paths instead of hanging (option `guardSyncCalls`). Calls from *other*
 * processes are fine.
 *
 * Needs `--allow-ffi` and `--allow-read=<mount point>` (as non-root also
 * `--allow-run=fusermount3`, to unmount); `-A` to use the mount from this
 * process.
 *
 * @example Mount, use from this process and from a shell, unmount
 * ```ts
 * import { MemoryBackend } from "@anyfs/anyfs";
 * import { mount } from "@anyfs/anyfs/mount";
 *
 * await Deno.mkdir("/tmp/anyfs-mnt", { recursive: true });
 * await using m = await mount(new MemoryBackend(), "/tmp/anyfs-mnt");
 * await Deno.writeTextFile("/tmp/anyfs-mnt/hello.txt", "hi\n");
 * await new Deno.Command("cat", { args: ["/tmp/anyfs-mnt/hello.txt"] }).output();
 * console.log(m.stats.operations);
 * // leaving the block unmounts
 * ```
 */
export class MountHandle implements AsyncDisposable {
  /** The absolute path it is mounted at. */
  readonly mountPoint: string;
  /** The backend being served. */
  readonly backend: Backend;
  /** The options in effect, defaults applied. */
  readonly options: ResolvedMountOptions;
  /** Settles (never rejects) when the mount has ended, for whatever reason. */
  readonly finished: Promise<MountEnd>;

  #lib: LibFuse;
  #session: Deno.PointerObject;
  #ops: LowLevelOps;
  #adapter: FuseAdapter;
  #keepAlive: unknown[];
  #initPatch?: InitReplyPatch;
  #ended = false;
  // #end has begun: no new notification may start.
  #ending = false;
  // The session loop has returned: the kernel connection, and with it the
  // connection number, is no longer ours.
  #loopEnded = false;
  #unmountRequested = false;
  // Notifications (invalidate()) running on a thread of Deno's pool: the
  // session they write to must outlive them.
  #notifying = new Set<Promise<number>>();
  #minor?: number;
  #abortListener?: () => void;

  private constructor(
    backend: Backend,
    mountPoint: string,
    options: ResolvedMountOptions,
    lib: LibFuse,
    session: Deno.PointerObject,
    ops: LowLevelOps,
    adapter: FuseAdapter,
    loop: Promise<number>,
    keepAlive: unknown[],
    initPatch: InitReplyPatch | undefined,
  ) {
    this.backend = backend;
    this.mountPoint = mountPoint;
    this.options = options;
    this.#lib = lib;
    this.#session = session;
    this.#ops = ops;
    this.#adapter = adapter;
    this.#keepAlive = keepAlive;
    this.#initPatch = initPatch;
    this.finished = loop.then(
      (code) => {
        this.#loopEnded = true;
        return this.#end(code === 0 ? undefined : new Error(`fuse_session_loop returned ${code}`));
      },
      (e) => {
        this.#loopEnded = true;
        return this.#end(e instanceof Error ? e : new Error(String(e)));
      },
    );
  }

  /**
   * Mount `backend` at `mountPoint` (an existing directory). Resolves once
   * the kernel has connected, so the mount is usable at once.
   *
   * A dead FUSE mount found at `mountPoint` ("Transport endpoint is not
   * connected", left by a killed server) is unmounted first, with a
   * message on stderr.
   *
   * @throws {MountError} with the kind of failure and, where known, the fix.
   */
  static async mount(
    backend: Backend,
    mountPoint: string,
    options: MountOptions = {},
  ): Promise<MountHandle> {
    // A ReadOnly backend mounts read-only unless told otherwise: the kernel
    // then answers access(W_OK), `test -w` and statvfs's ST_RDONLY as on any
    // read-only mount, instead of promising writes that all fail.
    const opt = resolveMountOptions({
      ...options,
      readOnly: options.readOnly ?? backend instanceof ReadOnly,
    });
    const availability = isAvailable();
    if (!availability.available) {
      throw new MountError(availability.kind, `cannot mount: ${availability.reason}`, {
        fix: availability.fix,
      });
    }
    if (!isRoot()) {
      // (isAvailable made sure this user may run fusermount3: without it
      // every unmount() would fail and the mount outlive this process, as
      // libfuse before 3.15 cannot auto-unmount a user's mount without
      // allow_other.)
      // See MountOptions.uid: a user's own mount shows their files as theirs.
      const me = processIds();
      if (options.uid === undefined) opt.uid = me.uid;
      if (options.gid === undefined) opt.gid = me.gid;
    }
    if (typeof mountPoint !== "string" || mountPoint === "") {
      throw new MountError("MissingMountPoint", "no mount point given", {
        fix: "pass the directory to mount at",
      });
    }
    if (opt.signal?.aborted) {
      throw new MountError("Platform", "the mount was aborted before it started", {
        cause: opt.signal.reason,
      });
    }
    const path = absolute(mountPoint);
    await checkMountPoint(path);

    let rootIno: number;
    try {
      const root = await backend.lstat("/");
      if (root.type !== "dir") throw new Error(`the backend's root is a ${root.type}`);
      rootIno = root.ino;
    } catch (e) {
      throw new MountError("Backend", `the backend cannot be mounted: ${(e as Error).message}`, {
        cause: e,
      });
    }

    const lib = loadLibfuse();
    const adapter = new FuseAdapter(backend, rootIno, opt);
    const ops = buildLowLevelOps(lib.symbols, adapter, {
      flock: adapter.forwardsLocks,
      readdirplus: opt.cache !== "never",
    });
    const argv = buildArgs(fuseArgv(opt));
    const session = lib.sessionNew(argv.args, ops.buffer);
    if (session === null) {
      ops.close();
      throw new MountError("Platform", "libfuse rejected the session options (see stderr)");
    }
    const mounted = await lib.symbols.fuse_session_mount(session, cString(path));
    if (mounted !== 0) {
      lib.symbols.fuse_session_destroy(session);
      ops.close();
      const root = isRoot();
      throw new MountError(
        root ? "Platform" : "PermissionDenied",
        `the kernel refused to mount at ${path} (libfuse's reason is on stderr)`,
        {
          path,
          fix: root ? undefined : "mounting as non-root needs fusermount3 installed setuid " +
            "(apt install fuse3) and, for allowOther, user_allow_other in /etc/fuse.conf",
        },
      );
    }
    // libfuse before 3.17 cannot ask for FUSE_HANDLE_KILLPRIV_V2, which
    // spares a GETXATTR round trip per cached write: add it to the INIT
    // reply ourselves. Without the patch the mount works as before.
    const initPatch = lib.negotiatesKillPrivV2
      ? undefined
      : installInitReplyPatch(lib.symbols, session);
    if (initPatch) adapter.useInitReplyPatch(initPatch);

    const loop = lib.symbols.fuse_session_loop(session);
    const handle = new MountHandle(
      backend,
      path,
      opt,
      lib,
      session,
      ops,
      adapter,
      loop,
      [argv, cString(path)],
      initPatch,
    );
    // Attributes only (offset -1): no page is touched, so this cannot wait
    // on a writer holding the file's pages.
    adapter.useAttrInvalidation((node) =>
      handle.#ended
        ? Promise.resolve(0)
        : lib.symbols.fuse_lowlevel_notify_inval_inode(session, BigInt(node), -1n, 0n)
    );
    active.add(handle);
    updateSignals();
    installUnload();
    // `init` runs before libfuse writes the INIT reply; with the patch, wait
    // for the reply too, so that the kernel has connected when this
    // resolves and an unmount right away does not race the handshake.
    const first = await Promise.race([
      adapter.whenInitialized().then(() => initPatch?.sent).then(() => "ready" as const),
      handle.finished,
    ]);
    if (first !== "ready") {
      throw new MountError("Platform", `the mount at ${path} ended before the kernel connected`, {
        path,
        cause: first.error,
      });
    }
    handle.#minor = (await mountAt(path))?.minor;
    if (opt.guardSyncCalls) guardMountPoint(path);
    if (opt.signal?.aborted) {
      // Aborted while mounting: an abort event will not come again, and
      // the caller never gets the handle to unmount it.
      await handle.unmount({ force: true });
      throw new MountError("Platform", `the mount at ${path} was aborted while it started`, {
        path,
        cause: opt.signal.reason,
      });
    }
    if (opt.signal) {
      handle.#abortListener = () => void handle.unmount({ force: true }).catch(() => {});
      opt.signal.addEventListener("abort", handle.#abortListener, { once: true });
    }
    return handle;
  }

  /** A builder, mirroring the mounting guide's `MountHandle::builder`. */
  static builder(backend: Backend): MountBuilder {
    return new MountBuilder(backend);
  }

  /** Whether mounting can work in this process; see {@linkcode isAvailable}. */
  static isAvailable(): Availability {
    return isAvailable();
  }

  /** Whether the mount is still live. */
  get mounted(): boolean {
    return !this.#ended;
  }

  /** Live counters: operations, errors, bytes, requests in flight, nodes, open handles. */
  get stats(): MountStats {
    return this.#adapter.stats;
  }

  /** What the kernel and libfuse agreed on at connection time. */
  get connection(): NegotiatedConnection & { library: string } {
    return { ...this.#adapter.connection!, library: `${this.#lib.soname} ${this.#lib.version}` };
  }

  /**
   * Drop what the kernel caches about `path` (a path inside the backend,
   * e.g. `/docs/a.txt`): its name, attributes and data. Call it after
   * changing the backend directly (not through the mount) when the cache
   * policy is `"always"` or `"auto"`.
   */
  async invalidate(path: string): Promise<void> {
    const s = this.#lib.symbols;
    const node = this.#adapter.knownNode(path);
    if (node !== undefined) {
      await this.#notify(() =>
        s.fuse_lowlevel_notify_inval_inode(this.#session, BigInt(node), 0n, 0n)
      );
    }
    const entry = this.#adapter.knownEntry(path);
    if (entry) {
      const name = new TextEncoder().encode(entry.name);
      await this.#notify(() =>
        s.fuse_lowlevel_notify_inval_entry(
          this.#session,
          BigInt(entry.parent),
          cString(entry.name),
          BigInt(name.length),
        )
      );
    }
  }

  /**
   * Run a notification unless the mount is ending; `#end` waits for those
   * in flight before it frees the session they write to.
   */
  async #notify(call: () => Promise<number>): Promise<void> {
    if (this.#ending) return;
    const pending = call();
    this.#notifying.add(pending);
    try {
      await pending;
    } finally {
      this.#notifying.delete(pending);
    }
  }

  /**
   * Unmount. Resolves when the session has ended and every backend handle
   * the kernel had open is closed. See {@linkcode UnmountOptions} for busy
   * mounts.
   *
   * @throws {MountError} `MountPointBusy` when the mount is in use (and
   * neither `lazy` nor `force` was asked); the mount then stays.
   */
  async unmount(options: UnmountOptions = {}): Promise<void> {
    if (this.#ended) {
      await this.finished;
      return;
    }
    this.#unmountRequested = true;
    const lazy = options.lazy === true || options.force === true;
    try {
      await unmountPath(this.mountPoint, lazy);
    } catch (e) {
      if (!options.force) {
        this.#unmountRequested = false;
        throw e;
      }
    }
    if (options.force) {
      const timer = setTimeout(() => void this.#abort(), FORCE_AFTER_MS);
      try {
        await this.finished;
      } finally {
        clearTimeout(timer);
      }
    } else {
      await this.finished;
    }
  }

  async #abort(): Promise<void> {
    // Once the loop has returned the connection is gone, and the kernel
    // hands its number to the next FUSE mount at once: aborting "it" then
    // would cut someone else's mount. Asked again right before each write.
    const ours = () => !this.#loopEnded;
    if (!ours() || this.#minor === undefined) return;
    if (!(await abortConnection(this.#minor, ours))) {
      console.error(
        `anyfs mount: ${this.mountPoint} is detached but still in use; it ends when the ` +
          `last user leaves (mount fusectl to allow forcing it)`,
      );
    }
  }

  /** Unmount; a busy mount is detached and cut off (`force`). */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#ended) return;
    try {
      await this.unmount();
    } catch (e) {
      if (!(e instanceof MountError) || e.kind !== "MountPointBusy") throw e;
      await this.unmount({ force: true });
    }
  }

  async #end(error: Error | undefined): Promise<MountEnd> {
    this.#ending = true;
    // The kernel side is gone (or the loop failed). Let handlers still
    // awaiting their backend finish; their replies are simply not
    // delivered. Then no reply may reach libfuse any more: the session's
    // memory is freed by fuse_session_destroy.
    let drainTimer: ReturnType<typeof setTimeout> | undefined;
    const drained = await Promise.race([
      this.#adapter.whenIdle().then(() => true),
      new Promise<boolean>((r) => drainTimer = setTimeout(() => r(false), DRAIN_MS)),
    ]);
    // A pending timer keeps the process alive: a program that unmounts and
    // ends would otherwise linger for the rest of DRAIN_MS.
    clearTimeout(drainTimer);
    if (!drained) {
      console.error(
        `anyfs mount: ${this.mountPoint}: ${this.#adapter.stats.inFlight} backend ` +
          `operation(s) did not finish within ${DRAIN_MS} ms of the unmount; their replies are dropped`,
      );
    }
    if (await mountAt(this.mountPoint).catch(() => undefined)) {
      // The loop ended but the kernel mount is still there (a loop error):
      // take it down without blocking this thread.
      await unmountPath(this.mountPoint, true).catch(() => {});
    }
    // With the connection gone a notification fails at once (ENODEV). One
    // still stuck after DRAIN_MS (the kernel waiting on pages nobody will
    // write back) keeps using the session: leak it rather than free it
    // under that thread.
    let notifyTimer: ReturnType<typeof setTimeout> | undefined;
    const notified = await Promise.race([
      Promise.allSettled(this.#notifying).then(() => true),
      new Promise<boolean>((r) => notifyTimer = setTimeout(() => r(false), DRAIN_MS)),
    ]);
    clearTimeout(notifyTimer);
    this.#ops.retire();
    if (notified) {
      this.#lib.symbols.fuse_session_unmount(this.#session);
      this.#lib.symbols.fuse_session_destroy(this.#session);
    } else {
      console.error(
        `anyfs mount: ${this.mountPoint}: an invalidate() did not finish; its session is left allocated`,
      );
    }
    this.#ops.close();
    this.#initPatch?.close();
    this.#keepAlive.length = 0;
    this.#ended = true;
    if (this.#abortListener) {
      this.options.signal?.removeEventListener("abort", this.#abortListener);
    }
    active.delete(this);
    unguardMountPoint(this.mountPoint);
    updateSignals();
    const closing = await Promise.allSettled([this.#adapter.closeAll()]);
    for (const c of closing) {
      if (c.status === "rejected" && !isFsError(c.reason)) {
        this.#adapter.reportBackendError(c.reason, "close");
      }
    }
    if (error) return { reason: "error", error };
    return { reason: this.#unmountRequested ? "unmounted" : "external" };
  }
}

/**
 * Builds a mount step by step, mirroring the mounting guide's builder.
 *
 * @example
 * ```ts
 * import { MemoryBackend } from "@anyfs/anyfs";
 * import { MountHandle } from "@anyfs/anyfs/mount";
 *
 * await Deno.mkdir("/tmp/anyfs-data", { recursive: true });
 * const m = await MountHandle.builder(new MemoryBackend())
 *   .mountPoint("/tmp/anyfs-data")
 *   .readOnly(false)
 *   .cache("always")
 *   .mount();
 * await m.unmount();
 * ```
 */
export class MountBuilder {
  #backend: Backend;
  #mountPoint?: string;
  #options: MountOptions = {};

  /** A builder for `backend`. */
  constructor(backend: Backend) {
    this.#backend = backend;
  }

  /** Where to mount (required). */
  mountPoint(path: string): this {
    this.#mountPoint = path;
    return this;
  }
  /** See {@linkcode MountOptions.readOnly}. */
  readOnly(value = true): this {
    this.#options.readOnly = value;
    return this;
  }
  /** See {@linkcode MountOptions.allowOther}. */
  allowOther(value = true): this {
    this.#options.allowOther = value;
    return this;
  }
  /** See {@linkcode MountOptions.autoUnmount}. */
  autoUnmount(value = true): this {
    this.#options.autoUnmount = value;
    return this;
  }
  /** See {@linkcode MountOptions.uid}. */
  uid(uid: number | null): this {
    this.#options.uid = uid;
    return this;
  }
  /** See {@linkcode MountOptions.gid}. */
  gid(gid: number | null): this {
    this.#options.gid = gid;
    return this;
  }
  /** See {@linkcode MountOptions.defaultPermissions}. */
  defaultPermissions(value = true): this {
    this.#options.defaultPermissions = value;
    return this;
  }
  /** See {@linkcode MountOptions.fsName}. */
  fsName(name: string): this {
    this.#options.fsName = name;
    return this;
  }
  /** See {@linkcode MountOptions.subtype}. */
  subtype(name: string): this {
    this.#options.subtype = name;
    return this;
  }
  /** See {@linkcode MountOptions.cache}. */
  cache(policy: CachePolicy): this {
    this.#options.cache = policy;
    return this;
  }
  /** See {@linkcode MountOptions.entryTimeout}. */
  entryTimeout(seconds: number): this {
    this.#options.entryTimeout = seconds;
    return this;
  }
  /** See {@linkcode MountOptions.attrTimeout}. */
  attrTimeout(seconds: number): this {
    this.#options.attrTimeout = seconds;
    return this;
  }
  /** See {@linkcode MountOptions.writebackCache}. */
  writebackCache(value = true): this {
    this.#options.writebackCache = value;
    return this;
  }
  /** See {@linkcode MountOptions.xattrs}. */
  xattrs(value = true): this {
    this.#options.xattrs = value;
    return this;
  }
  /** See {@linkcode MountOptions.maxWrite}. */
  maxWrite(bytes: number): this {
    this.#options.maxWrite = bytes;
    return this;
  }
  /** See {@linkcode MountOptions.debug}. */
  debug(value = true): this {
    this.#options.debug = value;
    return this;
  }
  /** See {@linkcode MountOptions.handleSignals}. */
  handleSignals(value = true): this {
    this.#options.handleSignals = value;
    return this;
  }
  /** See {@linkcode MountOptions.guardSyncCalls}. */
  guardSyncCalls(value = true): this {
    this.#options.guardSyncCalls = value;
    return this;
  }
  /** See {@linkcode MountOptions.signal}. */
  signal(signal: AbortSignal): this {
    this.#options.signal = signal;
    return this;
  }
  /** Set several options at once. */
  options(options: MountOptions): this {
    Object.assign(this.#options, options);
    return this;
  }

  /**
   * Mount with the options given so far.
   *
   * @throws {MountError} `MissingMountPoint` when no mount point was set.
   */
  mount(): Promise<MountHandle> {
    if (this.#mountPoint === undefined) {
      return Promise.reject(
        new MountError("MissingMountPoint", "the builder has no mount point", {
          fix: "call .mountPoint(path) before .mount()",
        }),
      );
    }
    return MountHandle.mount(this.#backend, this.#mountPoint, { ...this.#options });
  }
}

/**
 * Mount `backend` at `mountPoint`; the same as {@linkcode MountHandle.mount}.
 *
 * @example
 * ```ts
 * import { MemoryBackend } from "@anyfs/anyfs";
 * import { mount } from "@anyfs/anyfs/mount";
 *
 * await Deno.mkdir("/tmp/anyfs-ws", { recursive: true });
 * await using ws = await mount(new MemoryBackend(), "/tmp/anyfs-ws", { cache: "always" });
 * await new Deno.Command("sh", { args: ["-c", "echo hi > /tmp/anyfs-ws/a.txt"] }).output();
 * ```
 */
export function mount(
  backend: Backend,
  mountPoint: string,
  options?: MountOptions,
): Promise<MountHandle> {
  return MountHandle.mount(backend, mountPoint, options);
}
