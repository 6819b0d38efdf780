/**
 * Assertions shared by the backend tests: text ↔ bytes, and a rejection
 * with a given FsError code.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type FsError, isFsError } from "../../src/core/errors.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
/** UTF-8 bytes of `s`. */
export const bytes = (s: string): Uint8Array => enc.encode(s);
/** `b` decoded as UTF-8. */
export const text = (b: Uint8Array): string => dec.decode(b);

/** Assert that `p` rejects with an FsError of `code`. */
export async function fails(p: Promise<unknown>, code: string, message?: string): Promise<FsError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(
    caught !== undefined,
    `expected ${code}, but it succeeded${message ? ": " + message : ""}`,
  );
  assert.ok(isFsError(caught), `expected an FsError, got ${caught}`);
  assert.equal((caught as FsError).code, code, message ?? (caught as Error).message);
  return caught as FsError;
}
