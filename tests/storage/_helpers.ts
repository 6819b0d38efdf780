/** Shared helpers of the storage tests. */

import { AssertionError } from "node:assert/strict";
import type { Backend } from "../../src/core/backend.ts";
import type { MemoryBackend } from "../../src/backends/memory.ts";
import { Middleware } from "../../src/middleware/middleware.ts";

/** Await `promise` and assert it fails with `code`; returns the error. */
export async function rejectsWith(
  promise: Promise<unknown> | (() => Promise<unknown>),
  code: string,
): Promise<Error & { code: string; path: string; operation: string; dest?: string }> {
  try {
    await (typeof promise === "function" ? promise() : promise);
  } catch (e) {
    const got = (e as { code?: unknown }).code;
    if (got !== code) {
      throw new AssertionError({
        message: `expected ${code}, got ${String(got)}: ${(e as Error).message}`,
        actual: got,
        expected: code,
      });
    }
    return e as Error & { code: string; path: string; operation: string; dest?: string };
  }
  throw new AssertionError({ message: `expected ${code}, but it succeeded` });
}

/** `inner` seen through the required core only: no optional capability. */
export function coreOnly(inner: MemoryBackend): Backend {
  return {
    lstat: (p) => inner.lstat(p),
    readDir: (p) => inner.readDir(p),
    readFile: (p) => inner.readFile(p),
    writeFile: (p, d, o) => inner.writeFile(p, d, o),
    mkdir: (p, o) => inner.mkdir(p, o),
    unlink: (p) => inner.unlink(p),
    rmdir: (p) => inner.rmdir(p),
    rename: (f, t) => inner.rename(f, t),
  };
}

/** A pass-through backend that counts the core calls made to it. */
export class Counting extends Middleware {
  readonly calls = new Map<string, number>();

  #count(op: string): void {
    this.calls.set(op, (this.calls.get(op) ?? 0) + 1);
  }

  /** Calls of `op` since the last reset. */
  count(op: string): number {
    return this.calls.get(op) ?? 0;
  }

  /** Total calls since the last reset. */
  total(): number {
    let n = 0;
    for (const v of this.calls.values()) n += v;
    return n;
  }

  reset(): void {
    this.calls.clear();
  }

  override lstat(path: string) {
    this.#count("lstat");
    return super.lstat(path);
  }
  override readLink(path: string) {
    this.#count("readLink");
    return super.readLink(path);
  }
  override readFile(path: string) {
    this.#count("readFile");
    return super.readFile(path);
  }
  override writeFile(...args: Parameters<Middleware["writeFile"]>) {
    this.#count("writeFile");
    return super.writeFile(...args);
  }
  override readDir(path: string) {
    this.#count("readDir");
    return super.readDir(path);
  }
  override mkdir(...args: Parameters<Middleware["mkdir"]>) {
    this.#count("mkdir");
    return super.mkdir(...args);
  }
  override unlink(path: string) {
    this.#count("unlink");
    return super.unlink(path);
  }
  override rmdir(path: string) {
    this.#count("rmdir");
    return super.rmdir(path);
  }
  override rename(from: string, to: string) {
    this.#count("rename");
    return super.rename(from, to);
  }
}
