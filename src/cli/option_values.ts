/**
 * Parsing the values of command-line flags: sizes (`100M`), counts, user
 * and group ids, seconds, rates (`500/s`) and the cache policy. Every
 * parser throws a {@linkcode UsageError} that names the flag, the value and
 * what would have been accepted.
 *
 * @module
 */

import type { CachePolicy } from "../mount/options.ts";
import { UsageError } from "./errors.ts";

const UNITS: Readonly<Record<string, number>> = {
  "": 1,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
};

/**
 * A size in bytes from text such as `512`, `64K`, `100M`, `1.5G`, `2GiB`
 * or `10MB`. Units are powers of 1024 (`K`, `M`, `G`, `T`, with an optional
 * `B` or `iB`; case does not matter), as `du -h` and `df -h` count.
 *
 * @example
 * ```ts ignore
 * parseSize("100M", "--quota-size"); // 104857600
 * parseSize("10X", "--quota-size"); // UsageError: bad size '10X' for --quota-size …
 * ```
 */
export function parseSize(text: string, flag: string, command?: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(text);
  if (!m || (m[3] !== undefined && m[2] === "" && m[3].toLowerCase() !== "b")) {
    throw new UsageError(
      `bad size '${text}' for ${flag}: use a number of bytes with an optional unit ` +
        `K, M, G or T (powers of 1024), e.g. 100M`,
      command,
    );
  }
  const bytes = Math.floor(Number(m[1]) * UNITS[m[2].toUpperCase()]);
  if (!Number.isSafeInteger(bytes)) {
    throw new UsageError(`size '${text}' for ${flag} is too large`, command);
  }
  return bytes;
}

/** A whole number ≥ `min` (default 0), e.g. a file count. */
export function parseCount(text: string, flag: string, command?: string, min = 0): number {
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    throw new UsageError(
      `bad value '${text}' for ${flag}: expected a whole number${min > 0 ? ` >= ${min}` : " >= 0"}`,
      command,
    );
  }
  return n;
}

/** A user or group id: a whole number from 0 to 4294967294. */
export function parseId(text: string, flag: string, command?: string): number {
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n > 0xffff_fffe) {
    throw new UsageError(
      `bad value '${text}' for ${flag}: expected a numeric id from 0 to 4294967294`,
      command,
    );
  }
  return n;
}

/** A non-negative number of seconds, fractions allowed (`0.5`). */
export function parseSeconds(text: string, flag: string, command?: string): number {
  const n = /^\s*\d+(?:\.\d+)?\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(n) || n < 0) {
    throw new UsageError(
      `bad value '${text}' for ${flag}: expected a number of seconds >= 0, e.g. 1 or 0.5`,
      command,
    );
  }
  return n;
}

/** An operation rate: how many operations per how many milliseconds. */
export interface Rate {
  /** Operations allowed per window. */
  maxOps: number;
  /** The window in milliseconds. */
  windowMs: number;
}

const RATE_WINDOWS: Readonly<Record<string, number>> = {
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
};

/**
 * A rate such as `500` or `500/s` (per second), `6000/m` or `6000/min`
 * (per minute), `100000/h` (per hour).
 */
export function parseRate(text: string, flag: string, command?: string): Rate {
  const m = /^\s*(\d+)\s*(?:\/\s*([a-z]+))?\s*$/i.exec(text);
  const windowMs = m ? RATE_WINDOWS[(m[2] ?? "s").toLowerCase()] : undefined;
  const maxOps = m ? Number(m[1]) : NaN;
  if (!m || windowMs === undefined || !Number.isSafeInteger(maxOps) || maxOps < 1) {
    throw new UsageError(
      `bad rate '${text}' for ${flag}: expected operations per second like 500 or 500/s ` +
        `(also /m, /h)`,
      command,
    );
  }
  return { maxOps, windowMs };
}

/** One of the mount's cache policies: `never`, `auto` or `always`. */
export function parseCachePolicy(text: string, flag: string, command?: string): CachePolicy {
  if (text === "never" || text === "auto" || text === "always") return text;
  throw new UsageError(
    `bad value '${text}' for ${flag}: expected never, auto or always`,
    command,
  );
}
