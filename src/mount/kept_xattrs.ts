/**
 * {@linkcode KeptXattrs}: the extended attributes of a file that lost its
 * last name while open, kept by the mount.
 *
 * @module
 */

import type { FsXattrs, SetXattrOptions } from "../core/backend.ts";
import { fsError } from "../core/errors.ts";

/**
 * Extended attributes held in memory, with the semantics of the `xattrs`
 * capability (`ENODATA` for a missing name, `EEXIST`/`ENODATA` for the
 * `create`/`replace` flags). The backend has no path any more under which
 * to store the attributes of an unlinked file, yet `fgetxattr(2)` and
 * `fsetxattr(2)` through its descriptors work on tmpfs; the mount answers
 * them from here. The `path` arguments only label errors.
 */
export class KeptXattrs implements FsXattrs {
  readonly #values: Map<string, Uint8Array>;

  /** Attributes starting as `values` (taken over, not copied). */
  constructor(values: Map<string, Uint8Array> = new Map()) {
    this.#values = values;
  }

  /** The value of attribute `name`; `ENODATA` when it is not set. */
  // deno-lint-ignore require-await -- async so that errors reject, never throw
  async getXattr(path: string, name: string): Promise<Uint8Array> {
    const value = this.#values.get(name);
    if (value === undefined) {
      throw fsError("ENODATA", "getxattr", path, { reason: `attribute ${name}` });
    }
    return value;
  }

  /** Set attribute `name` to a copy of `value`. */
  // deno-lint-ignore require-await -- async so that errors reject, never throw
  async setXattr(
    path: string,
    name: string,
    value: Uint8Array,
    options: SetXattrOptions = {},
  ): Promise<void> {
    const exists = this.#values.has(name);
    if (options.create && exists) {
      throw fsError("EEXIST", "setxattr", path, { reason: `attribute ${name}` });
    }
    if (options.replace && !exists) {
      throw fsError("ENODATA", "setxattr", path, { reason: `attribute ${name}` });
    }
    this.#values.set(name, value.slice());
  }

  /** The names of all attributes, in the order they were first set. */
  // deno-lint-ignore require-await -- async to match FsXattrs
  async listXattr(_path: string): Promise<string[]> {
    return [...this.#values.keys()];
  }

  /** Remove attribute `name`; `ENODATA` when it is not set. */
  // deno-lint-ignore require-await -- async so that errors reject, never throw
  async removeXattr(path: string, name: string): Promise<void> {
    if (!this.#values.delete(name)) {
      throw fsError("ENODATA", "removexattr", path, { reason: `attribute ${name}` });
    }
  }
}
