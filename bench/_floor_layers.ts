/**
 * Stand-in layers for the middleware benchmark's floor: the least six
 * layers can cost on this runtime, whatever they enforce. They do no policy
 * work at all. Four only forward each call (the cost of being a layer); two
 * also observe results with one `.then` each — the least a quota layer
 * (which must see what each mutation did to account for it, and only
 * forwards reads) and a metrics layer (which must see how every call ended
 * to count errors by code) have to do. Quota's stand-in assumes a backend
 * that would report what a mutation replaced, so it needs no lookup first.
 * If this stack misses the overhead target, no real stack of six can meet
 * it over the same backend.
 *
 * Each layer is its own class with its own method bodies, as each real
 * middleware is: layers sharing inherited code would make V8's call sites
 * polymorphic and the floor look higher than it is. Only the operations the
 * benchmark reaches are overridden.
 *
 * @module
 */

import {
  type CreateOptions,
  type DirEntry,
  type Metadata,
  Middleware,
  type WriteFileOptions,
} from "../mod.ts";

const passed = <T>(result: T): T => result;
const raised = (error: unknown): never => {
  throw error;
};

/** Forwards; the first of four. */
export class ForwardA extends Middleware {
  override lstat(p: string): Promise<Metadata> {
    return this.inner.lstat(p);
  }
  override tryLstat(p: string): Promise<Metadata | null> {
    return this.tryLstatInner(p);
  }
  override readDir(p: string): Promise<DirEntry[]> {
    return this.inner.readDir(p);
  }
  override readFile(p: string): Promise<Uint8Array> {
    return this.inner.readFile(p);
  }
  override writeFile(p: string, d: Uint8Array, o?: WriteFileOptions): Promise<void> {
    return this.inner.writeFile(p, d, o);
  }
  override mkdir(p: string, o?: CreateOptions): Promise<void> {
    return this.inner.mkdir(p, o);
  }
  override unlink(p: string): Promise<void> {
    return this.inner.unlink(p);
  }
  override rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }
}

/** Forwards; the second of four. */
export class ForwardB extends Middleware {
  override lstat(p: string): Promise<Metadata> {
    return this.inner.lstat(p);
  }
  override tryLstat(p: string): Promise<Metadata | null> {
    return this.tryLstatInner(p);
  }
  override readDir(p: string): Promise<DirEntry[]> {
    return this.inner.readDir(p);
  }
  override readFile(p: string): Promise<Uint8Array> {
    return this.inner.readFile(p);
  }
  override writeFile(p: string, d: Uint8Array, o?: WriteFileOptions): Promise<void> {
    return this.inner.writeFile(p, d, o);
  }
  override mkdir(p: string, o?: CreateOptions): Promise<void> {
    return this.inner.mkdir(p, o);
  }
  override unlink(p: string): Promise<void> {
    return this.inner.unlink(p);
  }
  override rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }
}

/** Forwards; the third of four. */
export class ForwardC extends Middleware {
  override lstat(p: string): Promise<Metadata> {
    return this.inner.lstat(p);
  }
  override tryLstat(p: string): Promise<Metadata | null> {
    return this.tryLstatInner(p);
  }
  override readDir(p: string): Promise<DirEntry[]> {
    return this.inner.readDir(p);
  }
  override readFile(p: string): Promise<Uint8Array> {
    return this.inner.readFile(p);
  }
  override writeFile(p: string, d: Uint8Array, o?: WriteFileOptions): Promise<void> {
    return this.inner.writeFile(p, d, o);
  }
  override mkdir(p: string, o?: CreateOptions): Promise<void> {
    return this.inner.mkdir(p, o);
  }
  override unlink(p: string): Promise<void> {
    return this.inner.unlink(p);
  }
  override rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }
}

/** Forwards; the fourth of four. */
export class ForwardD extends Middleware {
  override lstat(p: string): Promise<Metadata> {
    return this.inner.lstat(p);
  }
  override tryLstat(p: string): Promise<Metadata | null> {
    return this.tryLstatInner(p);
  }
  override readDir(p: string): Promise<DirEntry[]> {
    return this.inner.readDir(p);
  }
  override readFile(p: string): Promise<Uint8Array> {
    return this.inner.readFile(p);
  }
  override writeFile(p: string, d: Uint8Array, o?: WriteFileOptions): Promise<void> {
    return this.inner.writeFile(p, d, o);
  }
  override mkdir(p: string, o?: CreateOptions): Promise<void> {
    return this.inner.mkdir(p, o);
  }
  override unlink(p: string): Promise<void> {
    return this.inner.unlink(p);
  }
  override rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }
}

/**
 * Forwards reads and observes the result of each mutation, as a quota layer
 * must to account for what the mutation did.
 */
export class ObserveMutations extends Middleware {
  override lstat(p: string): Promise<Metadata> {
    return this.inner.lstat(p);
  }
  override tryLstat(p: string): Promise<Metadata | null> {
    return this.tryLstatInner(p);
  }
  override readDir(p: string): Promise<DirEntry[]> {
    return this.inner.readDir(p);
  }
  override readFile(p: string): Promise<Uint8Array> {
    return this.inner.readFile(p);
  }
  override writeFile(p: string, d: Uint8Array, o?: WriteFileOptions): Promise<void> {
    return this.inner.writeFile(p, d, o).then(passed, raised);
  }
  override mkdir(p: string, o?: CreateOptions): Promise<void> {
    return this.inner.mkdir(p, o).then(passed, raised);
  }
  override unlink(p: string): Promise<void> {
    return this.inner.unlink(p).then(passed, raised);
  }
  override rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to).then(passed, raised);
  }
}

/** Forwards and observes the result of every call, as a metrics layer must to count errors. */
export class ObserveAll extends Middleware {
  override lstat(p: string): Promise<Metadata> {
    return this.inner.lstat(p).then(passed, raised);
  }
  override tryLstat(p: string): Promise<Metadata | null> {
    return this.tryLstatInner(p).then(passed, raised);
  }
  override readDir(p: string): Promise<DirEntry[]> {
    return this.inner.readDir(p).then(passed, raised);
  }
  override readFile(p: string): Promise<Uint8Array> {
    return this.inner.readFile(p).then(passed, raised);
  }
  override writeFile(p: string, d: Uint8Array, o?: WriteFileOptions): Promise<void> {
    return this.inner.writeFile(p, d, o).then(passed, raised);
  }
  override mkdir(p: string, o?: CreateOptions): Promise<void> {
    return this.inner.mkdir(p, o).then(passed, raised);
  }
  override unlink(p: string): Promise<void> {
    return this.inner.unlink(p).then(passed, raised);
  }
  override rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to).then(passed, raised);
  }
}
