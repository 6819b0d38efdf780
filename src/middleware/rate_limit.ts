/**
 * RateLimit: a token bucket in front of a backend, so a runaway caller (an
 * agent stuck in a loop, a script walking the whole tree) cannot hammer the
 * storage.
 *
 * The bucket holds up to `burst` tokens and refills at `maxOps` tokens per
 * `windowMs`. Every operation takes its cost in tokens (1 unless `costs`
 * says otherwise; handle reads and writes count too, closing a handle is
 * free). When the bucket is short, the operation either fails at once with
 * `EAGAIN` ("Resource temporarily unavailable", `mode: "fail"`, the
 * default) or waits on a timer until its tokens have accumulated
 * (`mode: "wait"`). Waiters are served in arrival order: a waiting
 * operation reserves its tokens, so the bucket goes into debt and later
 * operations wait behind it. Nothing polls.
 *
 * ## Reading the clock
 * A token bucket needs the time only to refill, and reading a
 * high-resolution clock costs about as much as a whole in-memory
 * operation. So the bucket is refilled when it runs short, and otherwise
 * after every `burst / 64` tokens taken (every operation when the burst is
 * under 128). Tokens taken between two readings are counted as if taken at
 * the later one, which can only credit less refill, never more: the limiter
 * never allows more than an exact token bucket would, and at most
 * `burst / 64` tokens plus one operation's cost fewer — 1.6% of the burst.
 * A bucket refilled at a steady rate, i.e. one that is short, is exact.
 *
 * Put a rate limit outermost in a stack to charge for every attempt,
 * including ones an inner {@linkcode PathFilter} or {@linkcode Quota}
 * rejects; put it inner to charge only for what passes those checks.
 *
 * @module
 */

import type {
  Backend,
  BackendOperation,
  CreateOptions,
  FileHandle,
  HandleOperation,
  Layer,
  OpenOptions,
  SetXattrOptions,
  WriteFileOptions,
} from "../core/backend.ts";
import { tryLstat } from "../core/derive.ts";
import { fsError } from "../core/errors.ts";
import type { DirEntry, Metadata, StatFs } from "../core/types.ts";
import { HandleWrapper, Middleware } from "./middleware.ts";

/** The operations a {@linkcode RateLimit} charges for, by backend method name. */
export type RateLimitedOperation =
  | BackendOperation
  | Exclude<HandleOperation, "handle.unlock" | "handle.close">;

/** Time as a {@linkcode RateLimit} sees it; replace it in tests. */
export interface RateLimitClock {
  /** Milliseconds from an arbitrary origin, never going backwards. */
  now(): number;
  /** Resolve after `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
}

/** How a {@linkcode RateLimit} behaves. */
export interface RateLimitOptions {
  /** Tokens added per window: the sustained rate is `maxOps` operations per `windowMs`. */
  maxOps: number;
  /** The window in milliseconds (default 1000: `maxOps` per second). */
  windowMs?: number;
  /** Most tokens the bucket holds, i.e. the largest burst (default `maxOps`); it starts full. */
  burst?: number;
  /** `"fail"` (default): `EAGAIN` when the bucket is short; `"wait"`: wait for the tokens. */
  mode?: "fail" | "wait";
  /** In `"wait"` mode, fail with `EAGAIN` instead when the wait would be longer than this (default: no bound). */
  maxWaitMs?: number;
  /**
   * Cost of operations in tokens (default 1 each; 0 makes one free), as a
   * table by operation or a function that may also weigh the bytes involved.
   * In `"fail"` mode an operation costing more than `burst` always fails.
   */
  costs?:
    | Partial<Record<RateLimitedOperation, number>>
    | ((operation: RateLimitedOperation, bytes: number) => number);
  /** The clock (default: `performance.now()` and `setTimeout`). */
  clock?: RateLimitClock;
}

const systemClock: RateLimitClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * A middleware that limits the rate of operations with a token bucket.
 *
 * @example 100 operations per second, bursts of 20, fail fast
 * ```ts
 * import { MemoryBackend, RateLimit } from "@anyfs/anyfs";
 *
 * const backend = new RateLimit(new MemoryBackend(), { maxOps: 100, burst: 20 });
 * try {
 *   for (let i = 0; i < 50; i++) await backend.lstat("/");
 * } catch (e) {
 *   console.log((e as { code: string }).code); // "EAGAIN"
 * }
 * ```
 *
 * @example Slow down instead of failing; reads of directories cost 5
 * ```ts
 * import { MemoryBackend, RateLimit } from "@anyfs/anyfs";
 * const backend = new MemoryBackend().layer(
 *   RateLimit.layer({ maxOps: 1000, mode: "wait", costs: { readDir: 5 } }),
 * );
 * ```
 */
export class RateLimit<B extends Backend = Backend> extends Middleware<B> {
  /** The options in force. */
  readonly options: Readonly<RateLimitOptions>;
  readonly #rate: number;
  readonly #burst: number;
  readonly #clock: RateLimitClock;
  readonly #costs: RateLimitOptions["costs"];
  /** Tokens that may be taken without reading the clock (see the module doc). */
  readonly #slack: number;
  /** Tokens in the bucket at `#last`, less everything taken since. */
  #tokens: number;
  /** When the clock was last read. */
  #last: number;
  /** Tokens taken since `#last`, at times not read from the clock. */
  #untimed = 0;
  /**
   * Every operation costs one token and `take` is this class's own, so
   * {@linkcode #admit} may take a token itself while one is there and no
   * refill is due.
   */
  readonly #unitCosts: boolean;

  /** Wrap `inner`; `EINVAL` for a non-positive rate, window or burst. */
  constructor(inner: B, options: RateLimitOptions) {
    super(inner);
    const { maxOps, windowMs = 1000, burst = maxOps, mode = "fail", maxWaitMs } = options;
    const positive = (name: string, value: number) => {
      if (!(typeof value === "number" && value > 0 && Number.isFinite(value))) {
        throw fsError("EINVAL", "ratelimit", "", {
          reason: `${name} must be a positive number, got ${value}`,
        });
      }
    };
    positive("maxOps", maxOps);
    positive("windowMs", windowMs);
    positive("burst", burst);
    if (maxWaitMs !== undefined && !(maxWaitMs >= 0)) {
      throw fsError("EINVAL", "ratelimit", "", {
        reason: `maxWaitMs must be a non-negative number, got ${maxWaitMs}`,
      });
    }
    if (mode !== "fail" && mode !== "wait") {
      throw fsError("EINVAL", "ratelimit", "", {
        reason: `mode must be "fail" or "wait", got ${mode}`,
      });
    }
    this.options = { ...options, windowMs, burst, mode };
    this.#rate = maxOps / windowMs;
    this.#burst = burst;
    this.#clock = options.clock ?? systemClock;
    this.#costs = options.costs;
    this.#slack = Math.max(1, Math.floor(burst / 64));
    this.#tokens = burst;
    this.#last = this.#clock.now();
    this.#unitCosts = options.costs === undefined && this.take === RateLimit.prototype.take;
  }

  /**
   * A layer that wraps a backend in a {@linkcode RateLimit}.
   *
   * @example
   * ```ts
   * import { MemoryBackend, RateLimit } from "@anyfs/anyfs";
   * const backend = new MemoryBackend().layer(RateLimit.layer({ maxOps: 1000 }));
   * ```
   */
  static layer(options: RateLimitOptions): RateLimitLayer {
    return new RateLimitLayer(options);
  }

  /** Tokens in the bucket now (negative while waiters are in debt). */
  available(): number {
    this.#refill();
    return this.#tokens;
  }

  #refill(): void {
    const now = this.#clock.now();
    if (now > this.#last) {
      // The untimed tokens may all have been taken just now, after the
      // bucket had filled up: credit the refill before taking them, so the
      // cap cannot make this credit more than an exact bucket would have.
      const untimed = this.#untimed;
      this.#tokens =
        Math.min(this.#burst, this.#tokens + untimed + (now - this.#last) * this.#rate) - untimed;
      this.#last = now;
    }
    this.#untimed = 0;
  }

  #cost(operation: RateLimitedOperation, bytes: number): number {
    const costs = this.#costs;
    if (costs === undefined) return 1;
    const cost = typeof costs === "function" ? costs(operation, bytes) : costs[operation] ?? 1;
    return Number.isFinite(cost) && cost > 0 ? cost : 0;
  }

  /**
   * Take the tokens for one operation: `undefined` when they were there,
   * a promise that resolves when the operation may go on, or a thrown
   * `EAGAIN`.
   */
  protected take(
    operation: RateLimitedOperation,
    path: string,
    bytes = 0,
  ): Promise<void> | undefined {
    const cost = this.#cost(operation, bytes);
    if (cost === 0) return undefined;
    if (this.#tokens < cost || this.#untimed >= this.#slack) this.#refill();
    if (this.#tokens >= cost) {
      this.#tokens -= cost;
      this.#untimed += cost;
      return undefined;
    }
    const { maxOps, windowMs, mode, maxWaitMs } = this.options;
    const delay = (cost - this.#tokens) / this.#rate;
    if (mode === "fail" || (maxWaitMs !== undefined && delay > maxWaitMs)) {
      throw fsError("EAGAIN", operation, path, {
        reason: `rate limit of ${maxOps} operations per ${windowMs} ms exceeded` +
          (mode === "wait" ? ` (would wait ${Math.ceil(delay)} ms)` : ""),
        limit: maxOps,
        requested: cost,
        usage: Math.ceil(this.#burst - this.#tokens),
      });
    }
    // Reserve now: the debt makes every later operation wait behind this one.
    this.#tokens -= cost;
    return this.#clock.sleep(delay);
  }

  /**
   * `undefined` when the tokens for `operation` were there (the caller
   * forwards at once, so the common case costs no promise of its own);
   * otherwise a promise that resolves when it may go on or rejects with
   * `EAGAIN`.
   */
  #admit(operation: RateLimitedOperation, path: string, bytes = 0): Promise<void> | undefined {
    // What `take` does in the common case, without its calls: in a stack
    // over an in-memory backend they showed as a few percent.
    if (this.#unitCosts && this.#tokens >= 1 && this.#untimed < this.#slack) {
      this.#tokens--;
      this.#untimed++;
      return undefined;
    }
    try {
      return this.take(operation, path, bytes);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Run `run` once the tokens for `operation` are there. */
  #limited<T>(
    operation: RateLimitedOperation,
    path: string,
    run: () => Promise<T>,
    bytes = 0,
  ): Promise<T> {
    const wait = this.#admit(operation, path, bytes);
    return wait === undefined ? run() : wait.then(run);
  }

  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override lstat(path: string): Promise<Metadata> {
    const wait = this.#admit("lstat", path);
    return wait === undefined ? this.inner.lstat(path) : wait.then(() => this.inner.lstat(path));
  }
  /** The inner backend's `tryLstat` (its `lstat` with a miss as `null` when it has none). */
  #tryLstatInner(path: string): Promise<Metadata | null> {
    // From this class's own call site, not the base's: see Middleware.
    const inner = this.inner;
    return inner.tryLstat !== undefined ? inner.tryLstat(path) : tryLstat(inner, path);
  }
  /** Takes the tokens of an `lstat` (failing with `EAGAIN` or waiting), then probes. */
  override tryLstat(path: string): Promise<Metadata | null> {
    const wait = this.#admit("lstat", path);
    return wait === undefined
      ? this.#tryLstatInner(path)
      : wait.then(() => this.#tryLstatInner(path));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override readDir(path: string): Promise<DirEntry[]> {
    const wait = this.#admit("readDir", path);
    return wait === undefined
      ? this.inner.readDir(path)
      : wait.then(() => this.inner.readDir(path));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override readFile(path: string): Promise<Uint8Array> {
    const wait = this.#admit("readFile", path);
    return wait === undefined
      ? this.inner.readFile(path)
      : wait.then(() => this.inner.readFile(path));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override writeFile(path: string, data: Uint8Array, options?: WriteFileOptions): Promise<void> {
    const wait = this.#admit("writeFile", path, data.length);
    return wait === undefined
      ? this.inner.writeFile(path, data, options)
      : wait.then(() => this.inner.writeFile(path, data, options));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override mkdir(path: string, options?: CreateOptions): Promise<void> {
    const wait = this.#admit("mkdir", path);
    return wait === undefined
      ? this.inner.mkdir(path, options)
      : wait.then(() => this.inner.mkdir(path, options));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override unlink(path: string): Promise<void> {
    const wait = this.#admit("unlink", path);
    return wait === undefined ? this.inner.unlink(path) : wait.then(() => this.inner.unlink(path));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override rmdir(path: string): Promise<void> {
    const wait = this.#admit("rmdir", path);
    return wait === undefined ? this.inner.rmdir(path) : wait.then(() => this.inner.rmdir(path));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override rename(from: string, to: string): Promise<void> {
    const wait = this.#admit("rename", from);
    return wait === undefined
      ? this.inner.rename(from, to)
      : wait.then(() => this.inner.rename(from, to));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override read(path: string, offset: number, length: number): Promise<Uint8Array> {
    const wait = this.#admit("read", path, length);
    return wait === undefined
      ? super.read(path, offset, length)
      : wait.then(() => super.read(path, offset, length));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override truncate(path: string, length: number): Promise<void> {
    const wait = this.#admit("truncate", path);
    return wait === undefined
      ? super.truncate(path, length)
      : wait.then(() => super.truncate(path, length));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override appendFile(path: string, data: Uint8Array, options?: CreateOptions): Promise<void> {
    const wait = this.#admit("appendFile", path, data.length);
    return wait === undefined
      ? super.appendFile(path, data, options)
      : wait.then(() => super.appendFile(path, data, options));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override copyFile(from: string, to: string): Promise<void> {
    const wait = this.#admit("copyFile", from);
    return wait === undefined
      ? super.copyFile(from, to)
      : wait.then(() => super.copyFile(from, to));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override symlink(
    target: string,
    path: string,
    options?: Omit<CreateOptions, "mode">,
  ): Promise<void> {
    const wait = this.#admit("symlink", path);
    return wait === undefined
      ? super.symlink(target, path, options)
      : wait.then(() => super.symlink(target, path, options));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override readLink(path: string): Promise<string> {
    const wait = this.#admit("readLink", path);
    return wait === undefined ? super.readLink(path) : wait.then(() => super.readLink(path));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override link(existing: string, newPath: string): Promise<void> {
    const wait = this.#admit("link", existing);
    return wait === undefined
      ? super.link(existing, newPath)
      : wait.then(() => super.link(existing, newPath));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override chmod(path: string, mode: number): Promise<void> {
    const wait = this.#admit("chmod", path);
    return wait === undefined ? super.chmod(path, mode) : wait.then(() => super.chmod(path, mode));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override chown(path: string, uid: number | null, gid: number | null): Promise<void> {
    const wait = this.#admit("chown", path);
    return wait === undefined
      ? super.chown(path, uid, gid)
      : wait.then(() => super.chown(path, uid, gid));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override utime(path: string, atimeMs: number | null, mtimeMs: number | null): Promise<void> {
    const wait = this.#admit("utime", path);
    return wait === undefined
      ? super.utime(path, atimeMs, mtimeMs)
      : wait.then(() => super.utime(path, atimeMs, mtimeMs));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override sync(): Promise<void> {
    const wait = this.#admit("sync", "");
    return wait === undefined ? super.sync() : wait.then(() => super.sync());
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override fsync(path: string): Promise<void> {
    const wait = this.#admit("fsync", path);
    return wait === undefined ? super.fsync(path) : wait.then(() => super.fsync(path));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override statfs(): Promise<StatFs> {
    const wait = this.#admit("statfs", "");
    return wait === undefined ? super.statfs() : wait.then(() => super.statfs());
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override statIno(ino: number): Promise<Metadata> {
    const wait = this.#admit("statIno", `#${ino}`);
    return wait === undefined ? super.statIno(ino) : wait.then(() => super.statIno(ino));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override inodePath(ino: number): Promise<string> {
    const wait = this.#admit("inodePath", `#${ino}`);
    return wait === undefined ? super.inodePath(ino) : wait.then(() => super.inodePath(ino));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override getXattr(path: string, name: string): Promise<Uint8Array> {
    const wait = this.#admit("getXattr", path);
    return wait === undefined
      ? super.getXattr(path, name)
      : wait.then(() => super.getXattr(path, name));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override setXattr(
    path: string,
    name: string,
    value: Uint8Array,
    options?: SetXattrOptions,
  ): Promise<void> {
    const wait = this.#admit("setXattr", path, value.length);
    return wait === undefined
      ? super.setXattr(path, name, value, options)
      : wait.then(() => super.setXattr(path, name, value, options));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override listXattr(path: string): Promise<string[]> {
    const wait = this.#admit("listXattr", path);
    return wait === undefined ? super.listXattr(path) : wait.then(() => super.listXattr(path));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override removeXattr(path: string, name: string): Promise<void> {
    const wait = this.#admit("removeXattr", path);
    return wait === undefined
      ? super.removeXattr(path, name)
      : wait.then(() => super.removeXattr(path, name));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override mknod(
    path: string,
    mode: number,
    rdev: number,
    options?: Omit<CreateOptions, "mode">,
  ): Promise<void> {
    const wait = this.#admit("mknod", path);
    return wait === undefined
      ? super.mknod(path, mode, rdev, options)
      : wait.then(() => super.mknod(path, mode, rdev, options));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override open(path: string, options: OpenOptions): Promise<FileHandle> {
    return this.#limited("open", path, async () => {
      const handle = await super.open(path, options);
      return new RateLimitHandle(
        handle,
        (operation, bytes, run) => this.#limited(operation, handle.path, run, bytes),
      );
    });
  }
}

/** Charges the limiter for one handle operation, then runs it. */
type Charge = <T>(
  operation: RateLimitedOperation,
  bytes: number,
  run: () => Promise<T>,
) => Promise<T>;

/** A handle whose operations (but not `close`) take tokens from its limiter. */
class RateLimitHandle extends HandleWrapper {
  readonly #charge: Charge;

  constructor(inner: FileHandle, charge: Charge) {
    super(inner);
    this.#charge = charge;
    if (inner.lock) {
      this.lock = (mode, wait) => charge("handle.lock", 0, () => inner.lock!(mode, wait));
    }
  }

  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override read(position: number, length: number): Promise<Uint8Array> {
    return this.#charge("handle.read", length, () => super.read(position, length));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override write(data: Uint8Array, position: number): Promise<number> {
    return this.#charge("handle.write", data.length, () => super.write(data, position));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override truncate(length: number): Promise<void> {
    return this.#charge("handle.truncate", 0, () => super.truncate(length));
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override stat(): Promise<Metadata> {
    return this.#charge("handle.stat", 0, () => super.stat());
  }
  /** Takes the operation's tokens (failing with `EAGAIN` or waiting), then forwards. */
  override sync(): Promise<void> {
    return this.#charge("handle.sync", 0, () => super.sync());
  }
}

/** The layer of {@linkcode RateLimit}. */
export class RateLimitLayer implements Layer<Backend, RateLimit> {
  /** The options each wrapped backend gets. */
  readonly options: Readonly<RateLimitOptions>;

  /** A layer applying `options`. */
  constructor(options: RateLimitOptions) {
    this.options = { ...options };
  }

  /**
   * Wrap `inner` in a {@linkcode RateLimit}. Each backend wrapped gets a
   * bucket of its own.
   */
  layer<B extends Backend>(inner: B): RateLimit<B> {
    return new RateLimit(inner, this.options);
  }
}
