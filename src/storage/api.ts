/**
 * The Deno-shaped file API that {@linkcode FileStorage} implements.
 *
 * It is the subset of Deno's own namespace that works on paths, with Deno's
 * own option and result types, so that code written against `Deno.*` ports
 * by renaming the receiver — and so that the conformance kit can drive the
 * very same operations against a storage, a mounted directory or a real
 * directory on the host (see `@anyfs/anyfs/testing`).
 *
 * @module
 */

/** An open file as {@linkcode FsApi.open} returns it: the path-independent part of `Deno.FsFile`. */
export interface FsFileLike extends AsyncDisposable {
  /** Read into `p` at the cursor; the number of bytes read, or `null` at end of file. */
  read(p: Uint8Array): Promise<number | null>;
  /** Write `p` at the cursor (at the end in append mode); the number of bytes written. */
  write(p: Uint8Array): Promise<number>;
  /** Move the cursor; returns the new position. */
  seek(offset: number | bigint, whence: Deno.SeekMode): Promise<number>;
  /** Set the file's length (default 0). */
  truncate(len?: number): Promise<void>;
  /** The file's metadata. */
  stat(): Promise<Deno.FileInfo>;
  /** Flush data and metadata to durable storage. */
  sync(): Promise<void>;
  /** Flush data to durable storage. */
  syncData(): Promise<void>;
  /** Release the file. */
  close(): void | Promise<void>;
  /** The file's content as a Web stream, from the cursor; closes the file at the end. */
  readonly readable: ReadableStream<Uint8Array<ArrayBuffer>>;
  /** A Web stream writing at the cursor; closes the file when the stream closes. */
  readonly writable: WritableStream<Uint8Array<ArrayBufferLike>>;
}

/** A directory entry as {@linkcode FsApi.readDir} yields it (Deno's shape). */
export type FsDirEntry = Deno.DirEntry;

/**
 * The path-based file operations of Deno's namespace. `Deno` itself has this
 * shape (apart from `open`'s richer result), and so does every
 * {@linkcode FileStorage}.
 */
export interface FsApi {
  /** The whole content of a file. */
  readFile(path: string | URL): Promise<Uint8Array>;
  /** The whole content of a file, decoded as UTF-8. */
  readTextFile(path: string | URL): Promise<string>;
  /** Write a file (options as `Deno.writeFile`: `append`, `create`, `createNew`, `mode`). */
  writeFile(
    path: string | URL,
    data: Uint8Array | ReadableStream<Uint8Array>,
    options?: Deno.WriteFileOptions,
  ): Promise<void>;
  /** Write a file from text, encoded as UTF-8. */
  writeTextFile(
    path: string | URL,
    data: string | ReadableStream<string>,
    options?: Deno.WriteFileOptions,
  ): Promise<void>;
  /** Metadata, following symlinks. */
  stat(path: string | URL): Promise<Deno.FileInfo>;
  /** Metadata of the entry itself. */
  lstat(path: string | URL): Promise<Deno.FileInfo>;
  /** The entries of a directory. */
  readDir(path: string | URL): AsyncIterable<Deno.DirEntry>;
  /** Create a directory (`recursive`, `mode`). */
  mkdir(path: string | URL, options?: Deno.MkdirOptions): Promise<void>;
  /** Remove a file, symlink or empty directory (`recursive` for trees). */
  remove(path: string | URL, options?: Deno.RemoveOptions): Promise<void>;
  /** Rename with `rename(2)` semantics. */
  rename(oldpath: string | URL, newpath: string | URL): Promise<void>;
  /** Copy a file's content and permissions. */
  copyFile(fromPath: string | URL, toPath: string | URL): Promise<void>;
  /** Create a symlink at `newpath` whose target is `oldpath`. */
  symlink(
    oldpath: string | URL,
    newpath: string | URL,
    options?: Deno.SymlinkOptions,
  ): Promise<void>;
  /** Create a hard link `newpath` to `oldpath`. */
  link(oldpath: string, newpath: string): Promise<void>;
  /** The target of a symlink. */
  readLink(path: string | URL): Promise<string>;
  /** The canonical absolute path, all symlinks resolved. */
  realPath(path: string | URL): Promise<string>;
  /** Set permission bits. */
  chmod(path: string | URL, mode: number): Promise<void>;
  /** Set owner and/or group (`null` leaves one unchanged). */
  chown(path: string | URL, uid: number | null, gid: number | null): Promise<void>;
  /** Set access and modification time (numbers are seconds, as in Deno). */
  utime(
    path: string | URL,
    atime: number | Date,
    mtime: number | Date,
  ): Promise<void>;
  /** Set a file's length (default 0). */
  truncate(name: string, len?: number): Promise<void>;
  /** Open a file (options as `Deno.open`). */
  open(path: string | URL, options?: Deno.OpenOptions): Promise<FsFileLike>;
}
