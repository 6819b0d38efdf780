/**
 * Backend specs: the URL-like text that names a backend on the command
 * line.
 *
 * | spec | backend |
 * | --- | --- |
 * | `mem:` | a new, empty {@linkcode MemoryBackend} (gone when the command ends) |
 * | `sqlite:PATH` | the drive in the SQLite file `PATH` ({@linkcode SqliteBackend}) |
 * | `dir:PATH` | the host directory `PATH`, contained ({@linkcode VRootFsBackend}) |
 * | `overlay:LOWER,UPPER` | `LOWER` read-only with changes going to `UPPER` ({@linkcode Overlay}); both are `mem:`, `sqlite:` or `dir:` specs |
 *
 * A bare path ending in `.db`, `.sqlite`, `.sqlite3` or `.anyfs` stands for
 * `sqlite:PATH`, so `anyfs ls ./drive.db` works.
 *
 * @module
 */

import { posix } from "node:path";
import { UsageError } from "./errors.ts";

/** A parsed backend spec. Paths are as the user wrote them (relative ones stay relative). */
export type BackendSpec =
  | { kind: "mem" }
  | { kind: "sqlite"; path: string }
  | { kind: "dir"; path: string }
  | { kind: "overlay"; lower: LayerSpec; upper: LayerSpec };

/** A backend an overlay can be made of: anything but another overlay. */
export type LayerSpec = Exclude<BackendSpec, { kind: "overlay" }>;

/** The schemes a spec may start with. */
export const SCHEMES = ["mem:", "sqlite:", "dir:", "overlay:"] as const;

const SQLITE_EXTENSIONS = [".db", ".sqlite", ".sqlite3", ".anyfs"];

/** The forms a spec takes, for error messages. */
export const SPEC_FORMS = "mem:, sqlite:PATH, dir:PATH or overlay:LOWER,UPPER";

/** Whether `text` starts with one of the known schemes (and so is meant as a spec). */
export function hasScheme(text: string): boolean {
  return SCHEMES.some((s) => text.startsWith(s));
}

/** Whether `text` is a bare path that stands for a SQLite drive (`./drive.db`). */
export function isSqliteFileName(text: string): boolean {
  const lower = text.toLowerCase();
  return !hasScheme(text) && SQLITE_EXTENSIONS.some((ext) => lower.endsWith(ext)) &&
    lower.length > 1;
}

/** Whether `text` is meant as a backend spec: a known scheme or a SQLite file name. */
export function looksLikeBackendSpec(text: string): boolean {
  return hasScheme(text) || isSqliteFileName(text);
}

function parseLayer(text: string, whole: string, command?: string): LayerSpec {
  if (text === "mem:") return { kind: "mem" };
  if (text.startsWith("mem:")) {
    throw new UsageError(
      `'${whole}': mem: takes nothing after the colon (a memory backend has no path)`,
      command,
    );
  }
  for (const kind of ["sqlite", "dir"] as const) {
    if (!text.startsWith(`${kind}:`)) continue;
    const path = text.slice(kind.length + 1);
    if (path === "") {
      throw new UsageError(
        `'${whole}': ${kind}: needs a path, e.g. ${
          kind === "sqlite" ? "sqlite:./drive.db" : "dir:./data"
        }`,
        command,
      );
    }
    if (path.includes("\0")) throw new UsageError(`'${whole}': the path contains NUL`, command);
    return { kind, path };
  }
  if (isSqliteFileName(text)) return { kind: "sqlite", path: text };
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(text);
  if (scheme) {
    throw new UsageError(
      `unknown backend scheme '${scheme[1]}:' in '${whole}' (expected ${SPEC_FORMS})`,
      command,
    );
  }
  throw new UsageError(
    `'${whole}' is not a backend spec (expected ${SPEC_FORMS}; ` +
      `for a host directory write dir:${text}, for a drive file sqlite:${text})`,
    command,
  );
}

/**
 * Parse a backend spec; a {@linkcode UsageError} (naming `command`'s help)
 * says what is wrong with a bad one.
 *
 * @example
 * ```ts ignore
 * parseBackendSpec("overlay:dir:./template,mem:");
 * // { kind: "overlay", lower: { kind: "dir", path: "./template" }, upper: { kind: "mem" } }
 * ```
 */
export function parseBackendSpec(text: string, command?: string): BackendSpec {
  if (text === "") throw new UsageError(`empty backend spec (expected ${SPEC_FORMS})`, command);
  if (!text.startsWith("overlay:")) return parseLayer(text, text, command);
  const body = text.slice("overlay:".length);
  // Split where the upper spec starts: at the last comma followed by a
  // scheme, so commas inside the lower path survive.
  let cut = -1;
  for (const scheme of ["mem:", "sqlite:", "dir:"]) {
    cut = Math.max(cut, body.lastIndexOf(`,${scheme}`));
  }
  if (cut < 0) {
    const lastComma = body.lastIndexOf(",");
    if (lastComma >= 0 && isSqliteFileName(body.slice(lastComma + 1))) cut = lastComma;
    // `overlay:mem:,s3:bucket` has two layers; the problem is the unknown scheme, so say that.
    else if (lastComma >= 0 && /^[A-Za-z][A-Za-z0-9+.-]*:/.test(body.slice(lastComma + 1))) {
      parseLayer(body.slice(lastComma + 1), text, command);
    }
  }
  if (cut < 0) {
    throw new UsageError(
      `'${text}': an overlay needs two backends, LOWER,UPPER (e.g. overlay:dir:./template,mem:)`,
      command,
    );
  }
  const lowerText = body.slice(0, cut);
  const upperText = body.slice(cut + 1);
  if (lowerText === "" || upperText === "") {
    throw new UsageError(
      `'${text}': an overlay needs two backends, LOWER,UPPER (e.g. overlay:dir:./template,mem:)`,
      command,
    );
  }
  if (lowerText.startsWith("overlay:") || upperText.startsWith("overlay:")) {
    throw new UsageError(`'${text}': an overlay's layers cannot be overlays themselves`, command);
  }
  return {
    kind: "overlay",
    lower: parseLayer(lowerText, text, command),
    upper: parseLayer(upperText, text, command),
  };
}

/**
 * The spec as text, with paths made absolute against `cwd` — what
 * `anyfs status` and the mount's file system name show.
 */
export function formatBackendSpec(spec: BackendSpec, cwd?: string): string {
  const clean = (p: string) => (cwd ? posix.resolve(cwd, p) : posix.normalize(p));
  switch (spec.kind) {
    case "mem":
      return "mem:";
    case "sqlite":
      return `sqlite:${clean(spec.path)}`;
    case "dir":
      return `dir:${clean(spec.path)}`;
    case "overlay":
      return `overlay:${formatBackendSpec(spec.lower, cwd)},${formatBackendSpec(spec.upper, cwd)}`;
  }
}
