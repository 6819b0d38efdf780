/**
 * The adapter's inode table: the kernel refers to files by node id, the
 * backends by path (and, with the `inodes` capability, by inode number).
 *
 * Every node the kernel holds a reference to is here, with the names
 * (parent node, name) it is known under, so that a path can be rebuilt for
 * it after renames of it or of any of its ancestors, and so that hard links
 * (several names, one backend inode) map to one node. Node ids are handed
 * out from a counter and never reused during a mount, so the kernel can
 * never confuse a new file with an old one.
 *
 * Memory is bounded by the kernel's references: a node goes away when the
 * kernel has forgotten every lookup of it (`forget`) and no other node
 * still names it as its parent.
 *
 * @module
 */

import type { FileType, Metadata } from "../core/types.ts";
import type { KeptXattrs } from "./kept_xattrs.ts";
import { ROOT_NODE_ID } from "../../ffi/layout.ts";

/** One name of a node: an entry `name` in directory `parent`. */
export interface InodeLink {
  /** The directory holding the entry. */
  readonly parent: InodeNode;
  /** The entry's name. */
  readonly name: string;
}

/**
 * Attributes of a file that has no name any more, kept by the mount
 * (`futimens`, `fchmod`, `fchown` through a descriptor still open).
 */
export interface DetachedAttributes {
  /** Last access time, ms since the epoch. */
  atimeMs?: number;
  /** Last modification time, ms since the epoch. */
  mtimeMs?: number;
  /** Permission bits (`0o7777`). */
  mode?: number;
  /** Owner user id. */
  uid?: number;
  /** Owner group id. */
  gid?: number;
  /**
   * Extended attributes, read from the backend just before the file's last
   * name was removed through the mount while it was open; from then on the
   * mount keeps them (`fgetxattr`, `fsetxattr` through its descriptors).
   */
  xattrs?: KeptXattrs;
}

/** A node the kernel knows. */
export class InodeNode {
  /** The FUSE node id (1 for the root). */
  readonly id: number;
  /**
   * The backend's inode number (0 when the backend has none to offer).
   * A backend may give a file a new one (a copy-up); see
   * {@linkcode InodeTable.renumber}.
   */
  ino: number;
  /** The node's type. */
  readonly type: FileType;
  /** Lookups the kernel has not forgotten yet. */
  lookups = 0;
  /** Links of other nodes whose parent is this node (keeps it alive for path building). */
  children = 0;
  /** The names this node is known under, first one preferred for its path. */
  readonly links: InodeLink[] = [];
  /** The last name this node lost (set once it has none left). */
  lastLink?: InodeLink;
  /** Entries of this directory that the table knows: name → node. */
  readonly entries: Map<string, InodeNode> = new Map();
  /**
   * Counts changes made to this directory through the mount (see
   * {@linkcode InodeTable.changed}).
   */
  changes = 0;
  /**
   * Attributes set on this file after its last name was removed (while it
   * was still open). The backend has no path to store them under; the
   * mount shows them instead of the backend's own.
   */
  detached?: DetachedAttributes;
  /**
   * The metadata last sent to the kernel for this node: what `fstat(2)` of
   * a descriptor shows once the file is gone from the backend (with no
   * links), as a local file system shows the unlinked inode.
   */
  lastMetadata?: Metadata;
  /**
   * A symlink's target, read just before its last name was removed through
   * the mount: `readlink` of a descriptor of it (`O_PATH`) still answers.
   */
  linkTarget?: string;

  /** A node with id `id` for backend inode `ino`. */
  constructor(id: number, ino: number, type: FileType) {
    this.id = id;
    this.ino = ino;
    this.type = type;
  }
}

/** The identity of what a name refers to in the backend. */
export interface InodeIdentity {
  /** The backend inode number (0 when unknown). */
  ino: number;
  /** The type of the entry. */
  type: FileType;
}

/** Deepest directory nesting the table follows when building a path. */
const MAX_DEPTH = 4096;

/** Maps kernel node ids to backend nodes and their current paths. */
export class InodeTable {
  /** The root directory (node id 1). */
  readonly root: InodeNode;
  #byId = new Map<number, InodeNode>();
  #byIno = new Map<number, InodeNode>();
  #nextId = 2;

  /** A table whose root has backend inode `rootIno`. */
  constructor(rootIno: number) {
    this.root = new InodeNode(ROOT_NODE_ID, rootIno, "dir");
    this.#byId.set(ROOT_NODE_ID, this.root);
    if (rootIno > 0) this.#byIno.set(rootIno, this.root);
  }

  /** The number of nodes held (the root included). */
  get size(): number {
    return this.#byId.size;
  }

  /** The node with kernel id `id`. */
  get(id: number): InodeNode | undefined {
    return this.#byId.get(id);
  }

  /**
   * The current path of `node`, or `undefined` when it has no name any more
   * (unlinked while the kernel still holds it).
   */
  pathOf(node: InodeNode): string | undefined {
    if (node === this.root) return "/";
    const parts: string[] = [];
    let at: InodeNode = node;
    for (let depth = 0; at !== this.root; depth++) {
      const link = at.links[0];
      if (!link || depth > MAX_DEPTH) return undefined;
      parts.push(link.name);
      at = link.parent;
    }
    return "/" + parts.reverse().join("/");
  }

  /**
   * For a node without names: the path of the last name it lost (which may
   * now belong to another file), or `undefined`.
   */
  lastPathOf(node: InodeNode): string | undefined {
    const last = node.links.length === 0 ? node.lastLink : undefined;
    return last && this.childPath(last.parent, last.name);
  }

  /** The path of entry `name` in directory `parent`, or `undefined` when `parent` has none. */
  childPath(parent: InodeNode, name: string): string | undefined {
    const dir = this.pathOf(parent);
    if (dir === undefined) return undefined;
    return dir === "/" ? "/" + name : dir + "/" + name;
  }

  /**
   * The node for entry `name` of `parent`, whose backend identity is `id`:
   * the one already known under that name, or the one with the same backend
   * inode (another hard link), or a new one. The entry is recorded. A new
   * node has no lookups: {@linkcode ref} it when it is handed to the kernel,
   * or {@linkcode dropIfUnused} it.
   */
  resolve(parent: InodeNode, name: string, id: InodeIdentity): InodeNode {
    const known = parent.entries.get(name);
    if (known && this.#same(known, id)) return known;
    if (known) this.unlinkEntry(parent, name);
    let node = id.ino > 0 ? this.#byIno.get(id.ino) : undefined;
    if (!node || node.type !== id.type) {
      node = new InodeNode(this.#nextId++, id.ino, id.type);
      this.#byId.set(node.id, node);
      if (id.ino > 0) this.#byIno.set(id.ino, node);
    } else if (node.type === "dir") {
      // A directory has one name: found under another one, it was renamed
      // in the backend directly. Its old names would build dead paths for
      // it and everything below it.
      const old = node.links.splice(0);
      for (const link of old) {
        if (link.parent.entries.get(link.name) === node) link.parent.entries.delete(link.name);
        link.parent.children--;
      }
      this.#addLink(node, parent, name);
      for (const link of old) this.#collect(link.parent);
      return node;
    }
    this.#addLink(node, parent, name);
    return node;
  }

  /**
   * The node that entry `name` of `parent` with identity `id` would join
   * as another hard link of it (by backend inode number), if any.
   */
  joinedBy(parent: InodeNode, name: string, id: InodeIdentity): InodeNode | undefined {
    if (id.ino <= 0 || id.type === "dir") return undefined;
    const node = this.#byIno.get(id.ino);
    if (!node || node.type !== id.type || parent.entries.get(name) === node) return undefined;
    return node;
  }

  /**
   * The backend now reports `ino` for `node`'s file: a backend may give a
   * file a new number (DualBackend copies a file of B to A with A's
   * number). Its old number may still show on another file (B's other
   * name of it); left in the index, that file would join this node and the
   * kernel would send writes for one file through a name of the other.
   * The node takes the new number only when no other node holds it;
   * otherwise it answers to no number (a lookup makes new nodes).
   */
  renumber(node: InodeNode, ino: number): void {
    if (node === this.root || node.ino === ino) return;
    if (node.ino > 0 && this.#byIno.get(node.ino) === node) this.#byIno.delete(node.ino);
    node.ino = ino;
    if (ino > 0 && node.links.length > 0 && !this.#byIno.has(ino)) this.#byIno.set(ino, node);
  }

  #same(node: InodeNode, id: InodeIdentity): boolean {
    if (node.type !== id.type) return false;
    return id.ino === 0 || node.ino === id.ino;
  }

  #addLink(node: InodeNode, parent: InodeNode, name: string): void {
    parent.entries.set(name, node);
    // The newest name goes first: the backend has just confirmed it, and a
    // node's path is built from its first link (an older one may have
    // been renamed away behind our back).
    node.links.unshift({ parent, name });
    parent.children++;
  }

  /**
   * Directory `dir` was changed through the mount (an entry created,
   * removed or renamed). A lookup in it that read the backend before the
   * change must read again before recording what it read: the kernel
   * revalidates names without locking their directory, so its result could
   * undo the change in this table.
   */
  changed(dir: InodeNode): void {
    dir.changes++;
  }

  /** Count one more kernel lookup of `node`. */
  ref(node: InodeNode): void {
    node.lookups++;
  }

  /** The kernel forgot `nlookup` lookups of node `id`. */
  forget(id: number, nlookup: number): void {
    const node = this.#byId.get(id);
    if (!node || node === this.root) return;
    node.lookups = Math.max(0, node.lookups - nlookup);
    this.#collect(node);
  }

  /** Remove `node` if nothing references it (after a lookup that was not handed out). */
  dropIfUnused(node: InodeNode): void {
    this.#collect(node);
  }

  /**
   * Entry `name` of `parent` is gone (unlink, rmdir, or replaced by a
   * rename). A node left without names keeps living while the kernel holds
   * it (an open, unlinked file) but no longer answers to its backend inode,
   * which the backend may reuse for a new file.
   */
  unlinkEntry(parent: InodeNode, name: string): void {
    const node = parent.entries.get(name);
    if (!node) return;
    parent.entries.delete(name);
    const i = node.links.findIndex((l) => l.parent === parent && l.name === name);
    if (i >= 0) node.links.splice(i, 1);
    parent.children--;
    if (node.links.length === 0) node.lastLink = { parent, name };
    if (node.links.length === 0 && node.ino > 0 && this.#byIno.get(node.ino) === node) {
      this.#byIno.delete(node.ino);
    }
    this.#collect(node);
    this.#collect(parent);
  }

  /** Entry `name` of `parent` was renamed to `newName` in `newParent`. */
  rename(parent: InodeNode, name: string, newParent: InodeNode, newName: string): void {
    const node = parent.entries.get(name);
    if (newParent.entries.get(newName) !== node) this.unlinkEntry(newParent, newName);
    if (!node) return;
    parent.entries.delete(name);
    const i = node.links.findIndex((l) => l.parent === parent && l.name === name);
    if (i >= 0) node.links.splice(i, 1);
    parent.children--;
    // The new name goes first: it is the one the kernel now uses, and the
    // preferred path of a node is built from its first link. A lookup that
    // read the backend after the rename may have recorded it already.
    const known = node.links.findIndex((l) => l.parent === newParent && l.name === newName);
    if (known >= 0) {
      node.links.splice(known, 1);
      newParent.children--;
    }
    newParent.entries.set(newName, node);
    node.links.unshift({ parent: newParent, name: newName });
    newParent.children++;
    this.#collect(parent);
  }

  #collect(node: InodeNode): void {
    const work = [node];
    while (work.length) {
      const at = work.pop()!;
      if (at === this.root || at.lookups > 0 || at.children > 0) continue;
      if (this.#byId.get(at.id) !== at) continue;
      this.#byId.delete(at.id);
      if (at.ino > 0 && this.#byIno.get(at.ino) === at) this.#byIno.delete(at.ino);
      for (const link of at.links.splice(0)) {
        if (link.parent.entries.get(link.name) === at) link.parent.entries.delete(link.name);
        link.parent.children--;
        work.push(link.parent);
      }
    }
  }
}
