/**
 * {@linkcode DualBackend}: two backends behind one, with a dispatch policy
 * that decides which one each operation uses — the policies of
 * microsandbox's DualFs.
 *
 * @module
 */

import type { Backend } from "../core/backend.ts";
import { fsError } from "../core/errors.ts";
import { type DirEntry, type Metadata, S_IFDIR } from "../core/types.ts";
import { Overlay } from "./overlay.ts";

/**
 * How a {@linkcode DualBackend} dispatches operations between backend A
 * (written) and backend B (only read):
 *
 * - `"readBWriteA"`: the overlay — see {@linkcode Overlay}.
 * - `"aOnly"`: everything goes to A; B is never consulted.
 * - `"aThenFallbackToBRead"`: reads try A, then B, name by name; listings are A's.
 * - `"mergeReadsAPrecedence"`: merged listings, A wins a name; removing A's entry shows B's again.
 */
export type DualPolicy =
  | "readBWriteA"
  | "aOnly"
  | "aThenFallbackToBRead"
  | "mergeReadsAPrecedence";

/** Every policy, in the order of the table in {@linkcode DualBackend}. */
export const DUAL_POLICIES: readonly DualPolicy[] = [
  "readBWriteA",
  "aOnly",
  "aThenFallbackToBRead",
  "mergeReadsAPrecedence",
];

/** A backend with an empty root and nothing else: B for the `aOnly` policy. */
class Nothing implements Backend {
  #root: Metadata = {
    type: "dir",
    ino: 1,
    mode: S_IFDIR | 0o755,
    nlink: 2,
    uid: 0,
    gid: 0,
    size: 0,
    blocks: 0,
    rdev: 0,
    atimeMs: 0,
    mtimeMs: 0,
    ctimeMs: 0,
    birthtimeMs: 0,
  };

  // deno-lint-ignore require-await
  async lstat(path: string): Promise<Metadata> {
    if (path === "/") return { ...this.#root };
    throw fsError("ENOENT", "lstat", path);
  }
  // deno-lint-ignore require-await
  async readDir(path: string): Promise<DirEntry[]> {
    if (path === "/") return [];
    throw fsError("ENOENT", "readdir", path);
  }
  readFile(path: string): Promise<Uint8Array> {
    return Promise.reject(fsError(path === "/" ? "EISDIR" : "ENOENT", "readfile", path));
  }
  writeFile(path: string): Promise<void> {
    return Promise.reject(fsError("EROFS", "writefile", path));
  }
  mkdir(path: string): Promise<void> {
    return Promise.reject(fsError("EROFS", "mkdir", path));
  }
  unlink(path: string): Promise<void> {
    return Promise.reject(fsError("EROFS", "unlink", path));
  }
  rmdir(path: string): Promise<void> {
    return Promise.reject(fsError("EROFS", "rmdir", path));
  }
  rename(from: string, to: string): Promise<void> {
    return Promise.reject(fsError("EROFS", "rename", from, { dest: to }));
  }
}

/**
 * Two backends behind one, after microsandbox's DualFs: **A** takes every
 * write, **B** is only ever read, and a policy decides how reads combine
 * them. A write to a file only B has copies it to A first (with its
 * metadata), whatever the policy; B is never written.
 *
 * | Policy | Lookups and reads | Directory listings | Removing or renaming a name B has |
 * | --- | --- | --- | --- |
 * | `readBWriteA` (default) | A's entry, else B's | merged, A wins a name | hidden for good by a whiteout in A; a rename copies it to A first. Exactly `new Overlay(b, a)` |
 * | `aOnly` | A only | A only | — (B is never consulted) |
 * | `aThenFallbackToBRead` | A's entry, else B's, name by name | A's directory when A has one, else B's | only A's entry goes, and B's shows again; a name only B has: `EROFS`; renaming a name B has: `EXDEV` |
 * | `mergeReadsAPrecedence` | A's entry, else B's | merged, A wins a name | as `aThenFallbackToBRead` |
 *
 * What the table means in practice:
 * - `readBWriteA` is the writable sandbox over a read-only base (see
 *   {@linkcode Overlay} for the on-disk format, inode numbers and limits).
 * - `aOnly` switches B off without rebuilding the stack.
 * - `mergeReadsAPrecedence` keeps every file of B in view: A can add files
 *   and shadow B's, never hide them. Deleting a shadowing file *reverts*
 *   to B's version. Use it when B is reference data nobody may mask.
 * - `aThenFallbackToBRead` is the same per name, but lists only A's
 *   directory when A has it: a name that only B has there can be opened
 *   and stat'ed but is not listed — a fallback (defaults behind
 *   overrides), not a union.
 *
 * Under the two non-overlay policies `mv` of a B entry gets `EXDEV` and
 * copies then deletes, and the delete of B's original fails with `EROFS`:
 * B's entries cannot move. These two need no `special` or `xattrs`
 * capability in A (they make no whiteouts or opaque directories); the
 * overlay policy needs them to delete B's entries. Inode numbers are
 * unique across the two backends as described for {@linkcode Overlay},
 * with one difference under these two: a file of B copied to A gets A's
 * number instead of keeping B's (directories keep theirs). A's copy can
 * outlive its name — another hard link, an open file — while B's file
 * shows again under that name, and two files must never report one
 * number: a mount's kernel would take them for one inode and send writes
 * meant for one to the other. A file of B with several hard links comes
 * to A with every name that still shows it, as one file, under every
 * policy.
 * The policies are not interchangeable over the same A: whiteouts written
 * under `readBWriteA` are ordinary character devices to the others.
 *
 * @example A scratch layer over reference data that must stay visible
 * ```ts
 * import { DualBackend, FileStorage, MemoryBackend } from "@anyfs/anyfs";
 *
 * const reference = new MemoryBackend();
 * await reference.writeFile("/README", new TextEncoder().encode("read me"));
 * const fs = new FileStorage(new DualBackend(new MemoryBackend(), reference, "mergeReadsAPrecedence"));
 * await fs.writeTextFile("/README", "my notes"); // A now shadows B's README
 * await fs.remove("/README"); // removes A's copy…
 * console.log(await fs.readTextFile("/README")); // …and B's shows again: "read me"
 * ```
 */
export class DualBackend extends Overlay {
  /** The dispatch policy. */
  readonly policy: DualPolicy;
  /** Backend A: every write lands here. */
  readonly a: Backend;
  /** Backend B: only ever read (never consulted under `aOnly`). */
  readonly b: Backend;

  /**
   * Combine `a` (written) and `b` (read) under `policy`. Neither backend is
   * owned or closed by the dual backend.
   *
   * @param a The backend every write goes to.
   * @param b The backend that is only read.
   * @param policy How reads combine them (default `"readBWriteA"`, the overlay).
   */
  constructor(a: Backend, b: Backend, policy: DualPolicy = "readBWriteA") {
    if (!DUAL_POLICIES.includes(policy)) {
      throw fsError("EINVAL", "DualBackend", "", {
        reason: `unknown policy ${JSON.stringify(policy)}; use one of ${DUAL_POLICIES.join(", ")}`,
      });
    }
    super(policy === "aOnly" ? new Nothing() : b, a);
    this.policy = policy;
    this.a = a;
    this.b = b;
  }

  /** Only the overlay policy records deletions of B's entries. */
  protected override get hidesDeletedLower(): boolean {
    return this.policy === "readBWriteA";
  }

  /** Every policy but the per-name fallback merges listings. */
  protected override get mergesListings(): boolean {
    return this.policy !== "aThenFallbackToBRead";
  }
}
