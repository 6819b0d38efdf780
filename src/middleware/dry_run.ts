/**
 * DryRun: see what a program would change without letting it change
 * anything. Every mutating operation is recorded and answered as if it had
 * succeeded; the wrapped backend is never modified. {@linkcode DryRun.operations}
 * returns the record.
 *
 ## Two modes
 * **By default reads go to the wrapped backend and do not see the recorded
 * writes**: after a dry-run `writeFile("/a", …)`, `readFile("/a")` gives
 * the old content, or `ENOENT` if `/a` did not exist. So does `lstat`, and
 * `readDir` does not list files a dry run "created". Programs that read
 * back what they wrote (or `mkdir -p` and then write inside) may therefore
 * take other paths than they would for real. Mutations are not checked
 * against the wrapped backend either: a write into a directory that does
 * not exist is recorded like any other. The exception is opening: opening
 * a missing file without `create` fails with `ENOENT`, as it would for
 * real, because the handle needs something to read from.
 *
 * **With `simulate: true`** the changes are really made — in memory, in an
 * {@linkcode Overlay} whose lower layer is the wrapped backend — so every
 * read sees the simulated result, errors are the real ones (`EEXIST`,
 * `ENOTEMPTY`, …) and only operations that succeeded are recorded. The
 * wrapped backend is still never written. The simulation holds a copy of
 * every file it changed (copy-up), so memory grows with what the program
 * writes; {@linkcode DryRun.clear} forgets the record, not the simulated
 * state. The `inodes` capability is not offered in this mode (the overlay
 * numbers inodes its own way).
 *
 * What is recorded: `writeFile`, `appendFile`, `truncate`, `copyFile`,
 * `mkdir`, `unlink`, `rmdir`, `rename`, `symlink`, `link`, `chmod`, `chown`,
 * `utime`, `setXattr`, `removeXattr`, `mknod`, opening for writing
 * (`open`, with its options), and writes and truncation through such a
 * handle (`handle.write`, `handle.truncate`). `sync` and `fsync` pass
 * through: they change nothing.
 *
 * @module
 */

import {
  type Backend,
  capabilitiesOf,
  type Capability,
  type CreateOptions,
  type FileHandle,
  type Layer,
  type OpenOptions,
  type SetXattrOptions,
  type WriteFileOptions,
} from "../core/backend.ts";
import { tryLstat } from "../core/derive.ts";
import { fsError } from "../core/errors.ts";
import { type DirEntry, type Metadata, S_IFREG, type StatFs } from "../core/types.ts";
import { MemoryBackend } from "../backends/memory.ts";
import { Overlay } from "../backends/overlay.ts";
import { HandleWrapper, Middleware } from "./middleware.ts";

/** The operations a {@linkcode DryRun} records. */
export type DryRunOperationName =
  | "writeFile"
  | "appendFile"
  | "truncate"
  | "copyFile"
  | "mkdir"
  | "unlink"
  | "rmdir"
  | "rename"
  | "symlink"
  | "link"
  | "chmod"
  | "chown"
  | "utime"
  | "setXattr"
  | "removeXattr"
  | "mknod"
  | "open"
  | "handle.write"
  | "handle.truncate";

/** One operation a {@linkcode DryRun} answered without doing it. */
export interface DryRunOperation {
  /** What was asked. */
  op: DryRunOperationName;
  /** The path it applies to (the source of `rename`, `link`, `copyFile`). */
  path: string;
  /** The destination of `rename`, `link`, `copyFile`; the target of `symlink`. */
  dest?: string;
  /** Bytes of data that would have been written. */
  bytes?: number;
  /**
   * The operation's other arguments: `writeFile`/`open` options, `mode`,
   * `uid`/`gid`, `atimeMs`/`mtimeMs`, `length`, an xattr's `name`, a
   * handle write's `position`.
   */
  options?: Record<string, unknown>;
  /** A copy of the data, when the DryRun was made with `keepData`. */
  data?: Uint8Array;
}

/** How a {@linkcode DryRun} records. */
export interface DryRunOptions {
  /** Keep a copy of every byte that would have been written (default `false`: sizes only). */
  keepData?: boolean;
  /**
   * Make the changes in an in-memory overlay over the wrapped backend, so
   * reads see them (default `false`: reads see the wrapped backend as it is).
   */
  simulate?: boolean;
}

/**
 * A middleware that records mutations instead of doing them.
 *
 * @example What would this code change?
 * ```ts
 * import { DryRun, MemoryBackend } from "@anyfs/anyfs";
 *
 * const real = new MemoryBackend();
 * const dry = new DryRun(real);
 * await dry.mkdir("/out");
 * await dry.writeFile("/out/report.txt", new TextEncoder().encode("hello"));
 * console.log(dry.operations().map((o) => `${o.op} ${o.path}`)); // [ "mkdir /out", "writeFile /out/report.txt" ]
 * console.log((await real.readDir("/")).length); // 0: nothing happened
 * ```
 *
 * @example Simulate: reads see the changes, the real backend still does not
 * ```ts
 * import { DryRun, FileStorage, MemoryBackend } from "@anyfs/anyfs";
 *
 * const real = new MemoryBackend();
 * const dry = new DryRun(real, { simulate: true });
 * const fs = new FileStorage(dry);
 * await fs.mkdir("/out/logs", { recursive: true });
 * await fs.writeTextFile("/out/logs/today.txt", "hello");
 * console.log(await fs.readTextFile("/out/logs/today.txt")); // "hello"
 * console.log(dry.operations().map((o) => o.op)); // [ "mkdir", "mkdir", "writeFile" ]
 * console.log((await real.readDir("/")).length); // 0
 * ```
 */
export class DryRun<B extends Backend = Backend> extends Middleware<B> {
  /** The options in force. */
  readonly options: Readonly<DryRunOptions>;
  /** The wrapped backend's capabilities (without `inodes` when simulating). */
  override readonly capabilities: ReadonlySet<Capability>;
  /** With `simulate`: where the changes are made and the reads answered. */
  readonly #simulation: Overlay | undefined;
  #operations: DryRunOperation[] = [];

  /** Wrap `inner`. */
  constructor(inner: B, options: DryRunOptions = {}) {
    super(inner);
    this.options = { ...options };
    if (options.simulate) {
      this.#simulation = new Overlay(inner, new MemoryBackend());
      const offered = this.#simulation.capabilities;
      this.capabilities = new Set([...capabilitiesOf(inner)].filter((c) => offered.has(c)));
    } else {
      this.capabilities = capabilitiesOf(inner);
    }
  }

  /**
   * A layer that wraps a backend in {@linkcode DryRun}. Keep the wrapped
   * backend to read its record: `const dry = backend.layer(DryRun.layer())`.
   *
   * @example
   * ```ts
   * import { DryRun, MemoryBackend } from "@anyfs/anyfs";
   * const dry = new MemoryBackend().layer(DryRun.layer({ keepData: true }));
   * ```
   */
  static layer(options: DryRunOptions = {}): DryRunLayer {
    return new DryRunLayer(options);
  }

  /** The operations recorded so far, oldest first (a copy). */
  operations(): DryRunOperation[] {
    return this.#operations.map((o) => ({ ...o }));
  }

  /** Forget the recorded operations. */
  clear(): void {
    this.#operations = [];
  }

  /** Record one operation (also used by this DryRun's handles). */
  #record(entry: DryRunOperation, data?: Uint8Array): void {
    if (data !== undefined) {
      entry.bytes = data.length;
      if (this.options.keepData) entry.data = data.slice();
    }
    this.#operations.push(entry);
  }

  /**
   * Answer a mutation: `ENOTSUP` without the capability it needs; recorded
   * as done; or, when simulating, done in the simulation and recorded if it
   * succeeded there.
   */
  #done(
    entry: DryRunOperation,
    data: Uint8Array | undefined,
    simulate: (simulation: Overlay) => Promise<void>,
    capability?: Capability,
  ): Promise<void> {
    if (capability && !this.capabilities.has(capability)) {
      return Promise.reject(fsError("ENOTSUP", entry.op, entry.path, {
        reason: `the backend has no '${capability}' capability`,
      }));
    }
    const simulation = this.#simulation;
    if (!simulation) {
      this.#record(entry, data);
      return Promise.resolve();
    }
    return simulate(simulation).then(() => this.#record(entry, data));
  }

  /** The simulation, when there is one and it offers `capability`. */
  #simulating(capability: Capability, operation: string, path: string): Overlay | undefined {
    if (!this.#simulation) return undefined;
    if (!this.capabilities.has(capability)) {
      throw fsError("ENOTSUP", operation, path, {
        reason: `the backend has no '${capability}' capability`,
      });
    }
    return this.#simulation;
  }

  /** From the simulation when simulating, else from the wrapped backend. */
  override lstat(path: string): Promise<Metadata> {
    return this.#simulation ? this.#simulation.lstat(path) : super.lstat(path);
  }
  /** As {@linkcode DryRun.lstat}, `null` for a missing name. */
  override tryLstat(path: string): Promise<Metadata | null> {
    return tryLstat(this.#simulation ?? this.inner, path);
  }
  /** From the simulation when simulating, else from the wrapped backend. */
  override readDir(path: string): Promise<DirEntry[]> {
    return this.#simulation ? this.#simulation.readDir(path) : super.readDir(path);
  }
  /** From the simulation when simulating, else from the wrapped backend. */
  override readFile(path: string): Promise<Uint8Array> {
    return this.#simulation ? this.#simulation.readFile(path) : super.readFile(path);
  }
  /** From the simulation when simulating, else from the wrapped backend. */
  override read(path: string, offset: number, length: number): Promise<Uint8Array> {
    return this.#simulation
      ? this.#simulation.read(path, offset, length)
      : super.read(path, offset, length);
  }
  /** From the simulation when simulating, else from the wrapped backend. */
  override readLink(path: string): Promise<string> {
    return this.#simulating("symlinks", "readlink", path)?.readLink(path) ?? super.readLink(path);
  }
  /** From the simulation when simulating, else from the wrapped backend. */
  override getXattr(path: string, name: string): Promise<Uint8Array> {
    return this.#simulating("xattrs", "getxattr", path)?.getXattr(path, name) ??
      super.getXattr(path, name);
  }
  /** From the simulation when simulating, else from the wrapped backend. */
  override listXattr(path: string): Promise<string[]> {
    return this.#simulating("xattrs", "listxattr", path)?.listXattr(path) ??
      super.listXattr(path);
  }
  /** From the simulation when simulating, else from the wrapped backend. */
  override statfs(): Promise<StatFs> {
    return this.#simulating("statfs", "statfs", "")?.statfs() ?? super.statfs();
  }
  /** `ENOTSUP` when simulating (the overlay has its own inode numbers), else forwarded. */
  override statIno(ino: number): Promise<Metadata> {
    return this.#simulation ? this.#noInodes("stat", ino) : super.statIno(ino);
  }
  /** `ENOTSUP` when simulating (the overlay has its own inode numbers), else forwarded. */
  override inodePath(ino: number): Promise<string> {
    return this.#simulation ? this.#noInodes("stat", ino) : super.inodePath(ino);
  }
  #noInodes(operation: string, ino: number): Promise<never> {
    return Promise.reject(fsError("ENOTSUP", operation, `#${ino}`, {
      reason: "a simulating DryRun has no 'inodes' capability",
    }));
  }
  /** Changes nothing: a no-op when simulating, else forwarded. */
  override sync(): Promise<void> {
    return this.#simulation ? Promise.resolve() : super.sync();
  }
  /** Changes nothing: checks the path exists when simulating, else forwarded. */
  override fsync(path: string): Promise<void> {
    return this.#simulation ? this.#simulation.lstat(path).then(() => {}) : super.fsync(path);
  }

  /** Recorded, not done. */
  override writeFile(path: string, data: Uint8Array, options?: WriteFileOptions): Promise<void> {
    return this.#done(
      { op: "writeFile", path, options: options && { ...options } },
      data,
      (sim) => sim.writeFile(path, data, options),
    );
  }
  /** Recorded, not done. */
  override appendFile(path: string, data: Uint8Array, options?: CreateOptions): Promise<void> {
    return this.#done(
      { op: "appendFile", path, options: options && { ...options } },
      data,
      (sim) => sim.appendFile(path, data, options),
    );
  }
  /** Recorded, not done. */
  override truncate(path: string, length: number): Promise<void> {
    return this.#done(
      { op: "truncate", path, options: { length } },
      undefined,
      (sim) => sim.truncate(path, length),
    );
  }
  /** Recorded, not done. */
  override copyFile(from: string, to: string): Promise<void> {
    return this.#done(
      { op: "copyFile", path: from, dest: to },
      undefined,
      (sim) => sim.copyFile(from, to),
    );
  }
  /** Recorded, not done. */
  override mkdir(path: string, options?: CreateOptions): Promise<void> {
    return this.#done(
      { op: "mkdir", path, options: options && { ...options } },
      undefined,
      (sim) => sim.mkdir(path, options),
    );
  }
  /** Recorded, not done. */
  override unlink(path: string): Promise<void> {
    return this.#done({ op: "unlink", path }, undefined, (sim) => sim.unlink(path));
  }
  /** Recorded, not done. */
  override rmdir(path: string): Promise<void> {
    return this.#done({ op: "rmdir", path }, undefined, (sim) => sim.rmdir(path));
  }
  /** Recorded, not done. */
  override rename(from: string, to: string): Promise<void> {
    return this.#done(
      { op: "rename", path: from, dest: to },
      undefined,
      (sim) => sim.rename(from, to),
    );
  }
  /** Recorded, not done. */
  override symlink(
    target: string,
    path: string,
    options?: Omit<CreateOptions, "mode">,
  ): Promise<void> {
    return this.#done(
      { op: "symlink", path, dest: target, options: options && { ...options } },
      undefined,
      (sim) => sim.symlink(target, path, options),
      "symlinks",
    );
  }
  /** Recorded, not done. */
  override link(existing: string, newPath: string): Promise<void> {
    return this.#done(
      { op: "link", path: existing, dest: newPath },
      undefined,
      (sim) => sim.link(existing, newPath),
      "hardlinks",
    );
  }
  /** Recorded, not done. */
  override chmod(path: string, mode: number): Promise<void> {
    return this.#done(
      { op: "chmod", path, options: { mode } },
      undefined,
      (sim) => sim.chmod(path, mode),
      "permissions",
    );
  }
  /** Recorded, not done. */
  override chown(path: string, uid: number | null, gid: number | null): Promise<void> {
    return this.#done(
      { op: "chown", path, options: { uid, gid } },
      undefined,
      (sim) => sim.chown(path, uid, gid),
      "ownership",
    );
  }
  /** Recorded, not done. */
  override utime(path: string, atimeMs: number | null, mtimeMs: number | null): Promise<void> {
    return this.#done(
      { op: "utime", path, options: { atimeMs, mtimeMs } },
      undefined,
      (sim) => sim.utime(path, atimeMs, mtimeMs),
      "times",
    );
  }
  /** Recorded, not done. */
  override setXattr(
    path: string,
    name: string,
    value: Uint8Array,
    options?: SetXattrOptions,
  ): Promise<void> {
    return this.#done(
      { op: "setXattr", path, options: { name, ...options } },
      value,
      (sim) => sim.setXattr(path, name, value, options),
      "xattrs",
    );
  }
  /** Recorded, not done. */
  override removeXattr(path: string, name: string): Promise<void> {
    return this.#done(
      { op: "removeXattr", path, options: { name } },
      undefined,
      (sim) => sim.removeXattr(path, name),
      "xattrs",
    );
  }
  /** Recorded, not done. */
  override mknod(
    path: string,
    mode: number,
    rdev: number,
    options?: Omit<CreateOptions, "mode">,
  ): Promise<void> {
    return this.#done(
      { op: "mknod", path, options: { mode, rdev, ...options } },
      undefined,
      (sim) => sim.mknod(path, mode, rdev, options),
      "special",
    );
  }

  /**
   * Opening for reading is forwarded. Opening for writing, appending,
   * truncating or creating is recorded and gives a handle whose writes and
   * truncation are recorded too; its reads see the file as it is in the
   * wrapped backend (empty for a file the dry run "created"), and its
   * `stat` reports the size the writes would have given.
   */
  override async open(path: string, options: OpenOptions): Promise<FileHandle> {
    const { write, append, truncate, create, createNew } = options;
    const changing = write || append || truncate || create || createNew;
    const simulation = this.#simulation;
    if (simulation) {
      const handle = await simulation.open(path, options);
      if (!changing) return handle;
      this.#record({ op: "open", path, options: { ...options } });
      return new RecordingHandle(handle, (entry, data) => this.#record(entry, data));
    }
    if (!changing) return super.open(path, options);
    let reader: FileHandle | undefined;
    try {
      reader = await super.open(path, { read: true });
    } catch (e) {
      const missing = (e as { code?: string } | null)?.code === "ENOENT";
      if (!missing || !(create || createNew)) throw e;
    }
    let size = 0;
    if (reader) {
      const meta = await reader.stat();
      const refusal = createNew
        ? fsError("EEXIST", "open", path)
        : meta.type === "dir" && (write || append || truncate)
        ? fsError("EISDIR", "open", path)
        : undefined;
      if (refusal) {
        await reader.close();
        throw refusal;
      }
      if (!truncate) size = meta.size;
    }
    this.#record({ op: "open", path, options: { ...options } });
    return new DryRunHandle(
      path,
      reader,
      size,
      options,
      (entry, data) => this.#record(entry, data),
    );
  }
}

/** A handle of the simulation that also records its writes and truncation. */
class RecordingHandle extends HandleWrapper {
  readonly #record: (entry: DryRunOperation, data?: Uint8Array) => void;

  constructor(inner: FileHandle, record: (entry: DryRunOperation, data?: Uint8Array) => void) {
    super(inner);
    this.#record = record;
  }

  /** Written in the simulation, then recorded. */
  override async write(data: Uint8Array, position: number): Promise<number> {
    const written = await super.write(data, position);
    this.#record(
      { op: "handle.write", path: this.path, options: { position } },
      data.subarray(0, written),
    );
    return written;
  }

  /** Truncated in the simulation, then recorded. */
  override async truncate(length: number): Promise<void> {
    await super.truncate(length);
    this.#record({ op: "handle.truncate", path: this.path, options: { length } });
  }
}

/** A handle that records writes; reads go to the wrapped backend's file, if there is one. */
class DryRunHandle implements FileHandle {
  readonly path: string;
  readonly #reader: FileHandle | undefined;
  readonly #options: OpenOptions;
  readonly #record: (entry: DryRunOperation, data?: Uint8Array) => void;
  #size: number;
  #closed = false;

  constructor(
    path: string,
    reader: FileHandle | undefined,
    size: number,
    options: OpenOptions,
    record: (entry: DryRunOperation, data?: Uint8Array) => void,
  ) {
    this.path = path;
    this.#reader = reader;
    this.#size = size;
    this.#options = options;
    this.#record = record;
  }

  #check(operation: string): void {
    if (this.#closed) throw fsError("EBADF", operation, this.path);
  }

  read(position: number, length: number): Promise<Uint8Array> {
    try {
      this.#check("read");
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#reader ? this.#reader.read(position, length) : Promise.resolve(new Uint8Array());
  }

  write(data: Uint8Array, position: number): Promise<number> {
    try {
      this.#check("write");
    } catch (e) {
      return Promise.reject(e);
    }
    const at = this.#options.append ? this.#size : position;
    this.#size = Math.max(this.#size, at + data.length);
    this.#record({ op: "handle.write", path: this.path, options: { position: at } }, data);
    return Promise.resolve(data.length);
  }

  truncate(length: number): Promise<void> {
    try {
      this.#check("truncate");
      if (!Number.isSafeInteger(length) || length < 0) {
        throw fsError("EINVAL", "truncate", this.path, { reason: `bad length ${length}` });
      }
    } catch (e) {
      return Promise.reject(e);
    }
    this.#size = length;
    this.#record({ op: "handle.truncate", path: this.path, options: { length } });
    return Promise.resolve();
  }

  async stat(): Promise<Metadata> {
    this.#check("stat");
    if (this.#reader) return { ...(await this.#reader.stat()), size: this.#size };
    const now = Date.now();
    return {
      type: "file",
      ino: 0,
      mode: S_IFREG | ((this.#options.mode ?? 0o644) & 0o7777),
      nlink: 1,
      uid: this.#options.uid ?? 0,
      gid: this.#options.gid ?? 0,
      size: this.#size,
      blocks: 0,
      rdev: 0,
      atimeMs: now,
      mtimeMs: now,
      ctimeMs: now,
      birthtimeMs: now,
    };
  }

  sync(): Promise<void> {
    try {
      this.#check("sync");
    } catch (e) {
      return Promise.reject(e);
    }
    return Promise.resolve();
  }

  async close(): Promise<void> {
    this.#check("close");
    this.#closed = true;
    await this.#reader?.close();
  }
}

/** The layer of {@linkcode DryRun}. */
export class DryRunLayer implements Layer<Backend, DryRun> {
  /** The options each wrapped backend gets. */
  readonly options: Readonly<DryRunOptions>;

  /** A layer with `options`. */
  constructor(options: DryRunOptions = {}) {
    this.options = { ...options };
  }

  /** Wrap `inner` in {@linkcode DryRun}; each wrapped backend records on its own. */
  layer<B extends Backend>(inner: B): DryRun<B> {
    return new DryRun(inner, this.options);
  }
}
