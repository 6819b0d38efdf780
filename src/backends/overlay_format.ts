/**
 * The format an {@linkcode Overlay} keeps in its upper layer, chosen to be
 * the one Linux overlayfs uses, so that it survives a reopen of any upper
 * backend that can store it (a {@linkcode SqliteBackend} file, a host
 * directory) and reads the same way a kernel overlay would:
 *
 * - **Whiteout**: a deleted lower entry is hidden by a character device
 *   with device number 0/0 at the same name in the upper layer (needs the
 *   upper's `special` capability).
 * - **Opaque directory**: an upper directory with the extended attribute
 *   `trusted.overlay.opaque` = `y` hides every lower entry below its path —
 *   a directory removed and made again (needs the upper's `xattrs`).
 * - **Origin**: a copied-up entry carries `trusted.overlay.anyfs.ino`, the
 *   inode number the overlay reported for it before the copy, so it keeps
 *   that number across copy-up and reopen (an AnyFS addition; overlayfs
 *   ignores unknown `trusted.overlay.*` attributes).
 * - **Work directory**: `/.anyfs-overlay-work` at the upper's root, where
 *   copies are assembled before one atomic rename puts them in place.
 *
 * Users never see any of these: whiteouts and the work directory are left
 * out of listings and lookups, `trusted.overlay.*` attributes are hidden
 * and cannot be set, and a 0/0 character device cannot be created.
 *
 * @module
 */

import type { Metadata } from "../core/types.ts";

/** Name of the work directory at the root of the upper layer. */
export const WORK_DIR_NAME = ".anyfs-overlay-work";
/** Path of the work directory in the upper layer. */
export const WORK_DIR = "/" + WORK_DIR_NAME;
/** Prefix of the extended attributes an overlay keeps for itself. */
export const PRIVATE_XATTR_PREFIX = "trusted.overlay.";
/** Marks an upper directory that hides the lower layer below it. */
export const OPAQUE_XATTR = "trusted.overlay.opaque";
/** The inode number an entry had before it was copied up (decimal text). */
export const ORIGIN_XATTR = "trusted.overlay.anyfs.ino";
/** The value of {@linkcode OPAQUE_XATTR} (overlayfs writes `y`). */
export const OPAQUE_VALUE: Uint8Array = new TextEncoder().encode("y");

/** Whether `meta` is a whiteout: a character device numbered 0/0. */
export function isWhiteout(meta: Pick<Metadata, "type" | "rdev">): boolean {
  return meta.type === "chardev" && meta.rdev === 0;
}

/** Whether `name` is an attribute the overlay keeps for itself. */
export function isPrivateXattr(name: unknown): boolean {
  return typeof name === "string" && name.startsWith(PRIVATE_XATTR_PREFIX);
}

/** Whether `path` is the work directory or lies below it. */
export function isWorkPath(path: unknown): boolean {
  return typeof path === "string" &&
    (path === WORK_DIR || path.startsWith(WORK_DIR + "/"));
}
