// Test doubles for the kit's own tests: an FsApi that forwards to another
// (so one method can be broken on purpose) and one that does nothing.
import type { FsApi, FsFileLike } from "../../src/storage/api.ts";

/** Forwards every FsApi call to `inner`; override one method to plant a bug. */
export class Forwarding implements FsApi {
  constructor(readonly inner: FsApi) {}
  readFile(p: string | URL) {
    return this.inner.readFile(p);
  }
  readTextFile(p: string | URL) {
    return this.inner.readTextFile(p);
  }
  writeFile(
    p: string | URL,
    d: Uint8Array | ReadableStream<Uint8Array>,
    o?: Deno.WriteFileOptions,
  ) {
    return this.inner.writeFile(p, d, o);
  }
  writeTextFile(p: string | URL, d: string | ReadableStream<string>, o?: Deno.WriteFileOptions) {
    return this.inner.writeTextFile(p, d, o);
  }
  stat(p: string | URL) {
    return this.inner.stat(p);
  }
  lstat(p: string | URL) {
    return this.inner.lstat(p);
  }
  readDir(p: string | URL) {
    return this.inner.readDir(p);
  }
  mkdir(p: string | URL, o?: Deno.MkdirOptions) {
    return this.inner.mkdir(p, o);
  }
  remove(p: string | URL, o?: Deno.RemoveOptions) {
    return this.inner.remove(p, o);
  }
  rename(a: string | URL, b: string | URL) {
    return this.inner.rename(a, b);
  }
  copyFile(a: string | URL, b: string | URL) {
    return this.inner.copyFile(a, b);
  }
  symlink(a: string | URL, b: string | URL, o?: Deno.SymlinkOptions) {
    return this.inner.symlink(a, b, o);
  }
  link(a: string, b: string) {
    return this.inner.link(a, b);
  }
  readLink(p: string | URL) {
    return this.inner.readLink(p);
  }
  realPath(p: string | URL) {
    return this.inner.realPath(p);
  }
  chmod(p: string | URL, m: number) {
    return this.inner.chmod(p, m);
  }
  chown(p: string | URL, u: number | null, g: number | null) {
    return this.inner.chown(p, u, g);
  }
  utime(p: string | URL, a: number | Date, m: number | Date) {
    return this.inner.utime(p, a, m);
  }
  truncate(p: string, l?: number) {
    return this.inner.truncate(p, l);
  }
  open(p: string | URL, o?: Deno.OpenOptions): Promise<FsFileLike> {
    return this.inner.open(p, o);
  }
}

const EMPTY_INFO: Deno.FileInfo = {
  isFile: false,
  isDirectory: false,
  isSymlink: false,
  isBlockDevice: false,
  isCharDevice: false,
  isFifo: false,
  isSocket: false,
  size: 0,
  mtime: null,
  atime: null,
  birthtime: null,
  ctime: null,
  dev: 0,
  ino: 0,
  mode: 0,
  nlink: 0,
  uid: 0,
  gid: 0,
  rdev: 0,
  blksize: 0,
  blocks: 0,
};

class NothingFile implements FsFileLike {
  read() {
    return Promise.resolve(null);
  }
  write(p: Uint8Array) {
    return Promise.resolve(p.length);
  }
  seek() {
    return Promise.resolve(0);
  }
  truncate() {
    return Promise.resolve();
  }
  stat() {
    return Promise.resolve({ ...EMPTY_INFO });
  }
  sync() {
    return Promise.resolve();
  }
  syncData() {
    return Promise.resolve();
  }
  close() {}
  get readable() {
    return ReadableStream.from<Uint8Array<ArrayBuffer>>([]);
  }
  get writable() {
    return new WritableStream<Uint8Array>();
  }
  [Symbol.asyncDispose]() {
    return Promise.resolve();
  }
}

/**
 * Accepts every call and remembers nothing: a case that passes on it
 * asserts nothing a real file system must do.
 */
export class DoesNothing implements FsApi {
  readFile() {
    return Promise.resolve(new Uint8Array(0));
  }
  readTextFile() {
    return Promise.resolve("");
  }
  async writeFile(_p: string | URL, d: Uint8Array | ReadableStream<Uint8Array>) {
    if (d instanceof ReadableStream) { for await (const _ of d); }
  }
  async writeTextFile(_p: string | URL, d: string | ReadableStream<string>) {
    if (d instanceof ReadableStream) { for await (const _ of d); }
  }
  stat() {
    return Promise.resolve({ ...EMPTY_INFO });
  }
  lstat() {
    return Promise.resolve({ ...EMPTY_INFO });
  }
  async *readDir(): AsyncIterable<Deno.DirEntry> {}
  mkdir() {
    return Promise.resolve();
  }
  remove() {
    return Promise.resolve();
  }
  rename() {
    return Promise.resolve();
  }
  copyFile() {
    return Promise.resolve();
  }
  symlink() {
    return Promise.resolve();
  }
  link() {
    return Promise.resolve();
  }
  readLink() {
    return Promise.resolve("");
  }
  realPath() {
    return Promise.resolve("");
  }
  chmod() {
    return Promise.resolve();
  }
  chown() {
    return Promise.resolve();
  }
  utime() {
    return Promise.resolve();
  }
  truncate() {
    return Promise.resolve();
  }
  open(): Promise<FsFileLike> {
    return Promise.resolve(new NothingFile());
  }
}
