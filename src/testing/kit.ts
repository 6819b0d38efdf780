/**
 * The vocabulary of the conformance kit: what a case is, what it runs
 * against, and the assertions cases share.
 *
 * @module
 */

import { AssertionError } from "node:assert/strict";
import type { Backend, Capability } from "../core/backend.ts";
import type { ErrorCode } from "../core/errno.ts";
import type { FsApi } from "../storage/api.ts";

/**
 * One thing the kit runs a case against: a fresh, empty file system seen
 * through the Deno-shaped {@linkcode FsApi}.
 */
export interface ConformanceSubject {
  /** The file system under test; every case starts with an empty root. */
  readonly fs: FsApi;
  /**
   * What the subject claims to support. Cases that need a capability it does
   * not list are skipped (reported as ignored), never silently passed.
   */
  readonly capabilities: Iterable<Capability>;
  /**
   * The backend behind `fs`, when the subject runs in-process and `fs`'s
   * paths are the backend's paths. Cases for features Deno's API has no
   * call for (extended attributes, special files) drive it directly and are
   * skipped without it.
   */
  readonly backend?: Backend;
  /** Release the subject (remove a temporary directory, close a database). */
  dispose?(): void | Promise<void>;
}

/** Makes a fresh, empty {@linkcode ConformanceSubject}; called once per case. */
export type SubjectFactory = () => ConformanceSubject | Promise<ConformanceSubject>;

/** What a case's body receives. */
export interface CaseContext {
  /** The file system under test, empty at the start of the case. */
  readonly fs: FsApi;
  /** The subject's capabilities. */
  readonly capabilities: ReadonlySet<Capability>;
  /** The subject's backend, when it has one (see {@linkcode ConformanceSubject.backend}). */
  readonly backend?: Backend;
}

/** One conformance case. */
export interface ConformanceCase {
  /** The area it belongs to, e.g. `"rename"`. */
  readonly group: string;
  /** What it pins, e.g. `"over a non-empty directory fails with ENOTEMPTY"`. */
  readonly name: string;
  /** Capabilities the subject must claim, else the case is skipped. */
  readonly needs?: readonly Capability[];
  /** Whether it drives {@linkcode CaseContext.backend} directly (skipped without one). */
  readonly needsBackend?: boolean;
  /** The case's body; it throws (an `AssertionError`) when the subject misbehaves. */
  run(ctx: CaseContext): Promise<void>;
}

/** Why `c` cannot run on a subject, or `undefined` when it can. */
export function skipReason(
  c: ConformanceCase,
  capabilities: ReadonlySet<Capability>,
  hasBackend: boolean,
): string | undefined {
  const missing = (c.needs ?? []).filter((cap) => !capabilities.has(cap));
  if (missing.length) return `subject lacks ${missing.join(", ")}`;
  if (c.needsBackend && !hasBackend) return "needs an in-process backend";
  return undefined;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of `s`. */
export function bytes(s: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(s);
}

/** `b` decoded as UTF-8. */
export function text(b: Uint8Array): string {
  return decoder.decode(b);
}

/**
 * Assert that `action` fails with one of `codes`, and return the error.
 * The message names what happened instead, so a failing case says at once
 * whether the subject succeeded, threw another code or threw something that
 * is not a file error at all.
 */
export async function rejects(
  action: Promise<unknown> | (() => Promise<unknown>),
  codes: ErrorCode | readonly ErrorCode[],
  what?: string,
): Promise<Error> {
  const expected = typeof codes === "string" ? [codes] : codes;
  const label = what ? `${what}: ` : "";
  let result: unknown;
  try {
    result = await (typeof action === "function" ? action() : action);
  } catch (e) {
    const code = (e as { code?: unknown } | null)?.code;
    if (!(e instanceof Error)) {
      throw new AssertionError({
        message: `${label}expected ${expected.join("|")}, got a non-Error throw: ${String(e)}`,
      });
    }
    if (typeof code !== "string" || !expected.includes(code as ErrorCode)) {
      throw new AssertionError({
        message: `${label}expected ${expected.join("|")}, got ${
          typeof code === "string" ? code : "an error without a code"
        } (${e.name}: ${e.message})`,
      });
    }
    return e;
  }
  throw new AssertionError({
    message: `${label}expected ${expected.join("|")}, but it succeeded${
      result === undefined ? "" : ` with ${Deno.inspect(result, { depth: 1 })}`
    }`,
  });
}

/** Every entry of the directory at `path`, sorted by name. */
export async function entries(fs: FsApi, path: string): Promise<Deno.DirEntry[]> {
  const out: Deno.DirEntry[] = [];
  for await (const e of fs.readDir(path)) out.push(e);
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The names in the directory at `path`, sorted. */
export async function names(fs: FsApi, path: string): Promise<string[]> {
  return (await entries(fs, path)).map((e) => e.name);
}

/** Whether `path` exists (without following a final symlink). */
export async function present(fs: FsApi, path: string): Promise<boolean> {
  try {
    await fs.lstat(path);
    return true;
  } catch (e) {
    if ((e as { code?: unknown }).code === "ENOENT") return false;
    throw e;
  }
}

/** The permission bits (`0o7777`) of `path`, following symlinks. */
export async function permBits(fs: FsApi, path: string): Promise<number> {
  const mode = (await fs.stat(path)).mode;
  if (mode === null) throw new AssertionError({ message: `stat(${path}).mode is null` });
  return mode & 0o7777;
}

/** Milliseconds of a `Deno.FileInfo` time, failing clearly when it is missing. */
export function ms(date: Date | null, what: string): number {
  if (!(date instanceof Date)) {
    throw new AssertionError({ message: `${what} is ${date}, expected a Date` });
  }
  return date.getTime();
}

/**
 * Assert two byte arrays are equal, with a message that names the lengths
 * and the first differing offset (a generic deep-equality diff of megabytes
 * would be unreadable and slow to build).
 */
export function assertBytes(actual: Uint8Array, expected: Uint8Array, what = "content"): void {
  const n = Math.min(actual.length, expected.length);
  let at = 0;
  while (at < n && actual[at] === expected[at]) at++;
  if (at === n && actual.length === expected.length) return;
  const hex = (b: Uint8Array, i: number) =>
    i < b.length ? `0x${b[i].toString(16).padStart(2, "0")}` : "(end)";
  throw new AssertionError({
    message: `${what} differs: ${actual.length} bytes, expected ${expected.length}; ` +
      `first difference at byte ${at}: got ${hex(actual, at)}, expected ${hex(expected, at)}`,
  });
}

/** Concatenate chunks, e.g. those of a readable stream. */
export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** `n` bytes of a recognizable, position-dependent pattern (catches offset bugs). */
export function pattern(n: number, seed = 0): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return out;
}

/** Read everything from an open file's cursor to the end, in small pieces. */
export async function readAll(
  file: { read(p: Uint8Array): Promise<number | null> },
  chunk = 7,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (;;) {
    const buf = new Uint8Array(chunk);
    const n = await file.read(buf);
    if (n === null) break;
    parts.push(buf.subarray(0, n));
  }
  return concat(parts);
}
