/**
 * Every C struct layout and constant the libfuse3 bindings use, in one place.
 *
 * The numbers are those of Linux x86_64 / aarch64 with glibc and the libfuse
 * 3.x headers (`fuse_lowlevel.h`, `fuse_common.h`). Where libfuse 3.17 grew a
 * struct (`fuse_file_info` from 40 to 64 bytes, `fuse_conn_info` with
 * `want_ext`), only fields whose offsets did not move are touched, and
 * buffers this module hands to libfuse are sized for the larger layout.
 * `tests/ffi/layout_test.ts` compiles a C program against the installed
 * headers and checks every offset, size and constant below.
 *
 * @module
 */

/** Byte sizes of the structs the bindings read or write. */
export const SIZEOF = {
  /** `struct fuse_lowlevel_ops` up to and including `lseek` (the ops we lay out). */
  lowlevelOps: 352,
  /** `struct fuse_entry_param`. */
  entryParam: 176,
  /** glibc `struct stat` (x86_64 / aarch64 generic). */
  stat: 144,
  /**
   * What we allocate for a `fuse_file_info` we pass to libfuse: 64 bytes,
   * zeroed, the 3.17+ size (3.14 uses the first 40).
   */
  fileInfoAlloc: 64,
  /** `struct fuse_args`. */
  args: 24,
  /** `struct fuse_ctx`. */
  ctx: 16,
  /** `struct fuse_forget_data`. */
  forgetData: 16,
  /** glibc `struct statvfs`. */
  statvfs: 112,
  /** The leading, stable part of `struct fuse_conn_info` we read and write. */
  connInfoPrefix: 40,
  /** `struct libfuse_version` (3.17+). */
  libfuseVersion: 16,
} as const;

/**
 * Offsets of the function pointers in `struct fuse_lowlevel_ops`, in the
 * order of the header. Unset slots stay NULL and libfuse answers `ENOSYS`.
 */
export const OPS_OFFSET = {
  init: 0,
  destroy: 8,
  lookup: 16,
  forget: 24,
  getattr: 32,
  setattr: 40,
  readlink: 48,
  mknod: 56,
  mkdir: 64,
  unlink: 72,
  rmdir: 80,
  symlink: 88,
  rename: 96,
  link: 104,
  open: 112,
  read: 120,
  write: 128,
  flush: 136,
  release: 144,
  fsync: 152,
  opendir: 160,
  readdir: 168,
  releasedir: 176,
  fsyncdir: 184,
  statfs: 192,
  setxattr: 200,
  getxattr: 208,
  listxattr: 216,
  removexattr: 224,
  access: 232,
  create: 240,
  getlk: 248,
  setlk: 256,
  bmap: 264,
  ioctl: 272,
  poll: 280,
  write_buf: 288,
  retrieve_reply: 296,
  forget_multi: 304,
  flock: 312,
  fallocate: 320,
  readdirplus: 328,
  copy_file_range: 336,
  lseek: 344,
} as const;

/** The name of a slot of `struct fuse_lowlevel_ops`. */
export type LowLevelOpName = keyof typeof OPS_OFFSET;

/** Field offsets of glibc `struct stat`. */
export const STAT = {
  dev: 0,
  ino: 8,
  nlink: 16,
  mode: 24,
  uid: 28,
  gid: 32,
  rdev: 40,
  size: 48,
  blksize: 56,
  blocks: 64,
  atime: 72,
  mtime: 88,
  ctime: 104,
} as const;

/** Field offsets of `struct fuse_entry_param`. */
export const ENTRY = {
  ino: 0,
  generation: 8,
  attr: 16,
  attrTimeout: 160,
  entryTimeout: 168,
} as const;

/** Field offsets of `struct fuse_file_info` (the same in 3.14 and 3.17+). */
export const FILE_INFO = {
  flags: 0,
  /** The 32-bit word holding the bit fields below. */
  bits: 4,
  fh: 16,
  lockOwner: 24,
} as const;

/** Bits of the bit-field word at {@linkcode FILE_INFO}.bits. */
export const FI_BIT = {
  writepage: 1 << 0,
  directIo: 1 << 1,
  keepCache: 1 << 2,
  flush: 1 << 3,
  nonseekable: 1 << 4,
  flockRelease: 1 << 5,
  cacheReaddir: 1 << 6,
  noflush: 1 << 7,
} as const;

/** Field offsets of `struct fuse_conn_info` (the prefix common to all 3.x). */
export const CONN = {
  protoMajor: 0,
  protoMinor: 4,
  maxWrite: 8,
  maxRead: 12,
  maxReadahead: 16,
  capable: 20,
  want: 24,
  maxBackground: 28,
  congestionThreshold: 32,
  timeGran: 36,
} as const;

/** Field offsets of `struct fuse_ctx`. */
export const CTX = { uid: 0, gid: 4, pid: 8, umask: 12 } as const;

/** Field offsets of `struct fuse_args`. */
export const ARGS = { argc: 0, argv: 8, allocated: 16 } as const;

/** Field offsets of `struct fuse_forget_data`. */
export const FORGET = { ino: 0, nlookup: 8 } as const;

/** Field offsets of glibc `struct statvfs` (all 64-bit on LP64). */
export const STATVFS = {
  bsize: 0,
  frsize: 8,
  blocks: 16,
  bfree: 24,
  bavail: 32,
  files: 40,
  ffree: 48,
  favail: 56,
  fsid: 64,
  flag: 72,
  namemax: 80,
} as const;

/** `to_set` bits of the `setattr` operation. */
export const SET_ATTR = {
  mode: 1 << 0,
  uid: 1 << 1,
  gid: 1 << 2,
  size: 1 << 3,
  atime: 1 << 4,
  mtime: 1 << 5,
  atimeNow: 1 << 7,
  mtimeNow: 1 << 8,
  ctime: 1 << 10,
  /**
   * libfuse's `FUSE_SET_ATTR_KILL_SUID`, which carries the kernel's
   * `FATTR_KILL_SUIDGID`: with `FUSE_HANDLE_KILLPRIV_V2` the file system
   * must clear set-user-ID and set-group-ID (chown; truncate by a caller
   * without `CAP_FSETID`).
   */
  killSuidgid: 1 << 11,
} as const;

/** `FUSE_CAP_*` capability bits of `fuse_conn_info.capable` / `want`. */
export const CAP = {
  asyncRead: 1 << 0,
  posixLocks: 1 << 1,
  atomicOTrunc: 1 << 3,
  exportSupport: 1 << 4,
  dontMask: 1 << 6,
  spliceWrite: 1 << 7,
  spliceMove: 1 << 8,
  spliceRead: 1 << 9,
  flockLocks: 1 << 10,
  ioctlDir: 1 << 11,
  autoInvalData: 1 << 12,
  readdirplus: 1 << 13,
  readdirplusAuto: 1 << 14,
  asyncDio: 1 << 15,
  writebackCache: 1 << 16,
  parallelDirops: 1 << 18,
  posixAcl: 1 << 19,
  handleKillpriv: 1 << 20,
  cacheSymlinks: 1 << 23,
} as const;

/**
 * `FUSE_CAP_*` bits that only libfuse 3.17 and later define (and put into
 * `capable` when the kernel offers them).
 */
export const CAP_317 = {
  handleKillprivV2: 1 << 21,
  /** `FUSE_CAP_DIRECT_IO_ALLOW_MMAP`: shared mmap(2) of direct-I/O files. */
  directIoAllowMmap: 1 << 28,
} as const;

/**
 * Pieces of the kernel's FUSE protocol (`<linux/fuse.h>`) that the
 * INIT-reply patch for libfuse before 3.17 touches (see `init_reply.ts`).
 */
export const KERNEL = {
  /** `FUSE_HANDLE_KILLPRIV_V2`, a bit of `fuse_init_out.flags` (protocol 7.33+). */
  handleKillprivV2: 1 << 28,
  /** The protocol minor version that introduced `FUSE_HANDLE_KILLPRIV_V2`. */
  killprivV2Minor: 33,
  /** `FUSE_INIT_EXT`, a bit of `fuse_init_out.flags`: `flags2` is valid (protocol 7.36+). */
  initExt: 1 << 30,
  /**
   * `FUSE_DIRECT_IO_ALLOW_MMAP` (bit 36 of the 64 flag bits, so bit 4 of
   * `fuse_init_out.flags2`): the kernel then allows shared mmap(2) of files
   * opened with direct I/O (protocol 7.39+, Linux 6.6+).
   */
  directIoAllowMmap2: 1 << 4,
  /** The protocol minor version that introduced `FUSE_DIRECT_IO_ALLOW_MMAP`. */
  directIoAllowMmapMinor: 39,
  /** Offset of `major` in `struct fuse_init_out`. */
  initOutMajor: 0,
  /** Offset of `flags` in `struct fuse_init_out`. */
  initOutFlags: 12,
  /** Offset of `flags2` in `struct fuse_init_out` (protocol 7.36+). */
  initOutFlags2: 32,
  /** Size of `struct fuse_out_header`. */
  outHeaderSize: 16,
  /** Offset of `error` in `struct fuse_out_header`. */
  outHeaderError: 4,
} as const;

/** `struct iovec` (LP64). */
export const IOVEC = { base: 0, len: 8, size: 16 } as const;

/** `struct fuse_custom_io` (libfuse 3.14+): four function pointers. */
export const CUSTOM_IO = {
  writev: 0,
  read: 8,
  spliceReceive: 16,
  spliceSend: 24,
  size: 32,
} as const;

/** Linux open(2) flags the adapter inspects (generic values, x86_64 and aarch64). */
export const O = {
  accmode: 0o3,
  rdonly: 0o0,
  wronly: 0o1,
  rdwr: 0o2,
  creat: 0o100,
  excl: 0o200,
  trunc: 0o1000,
  append: 0o2000,
} as const;

/** Flags of renameat2(2). */
export const RENAME = { noreplace: 1, exchange: 2 } as const;

/** Flags of setxattr(2). */
export const XATTR = { create: 1, replace: 2 } as const;

/** Operations of flock(2). */
export const LOCK = { sh: 1, ex: 2, nb: 4, un: 8 } as const;

/** Modes of fallocate(2). */
export const FALLOC = { keepSize: 0x01, punchHole: 0x02, zeroRange: 0x10 } as const;

/** `whence` values of lseek(2) that reach the file system. */
export const SEEK = { data: 3, hole: 4 } as const;

/** Masks of access(2). */
export const ACCESS = { exists: 0, read: 4, write: 2, execute: 1 } as const;

/** Flags of umount2(2). */
export const UMOUNT = { force: 1, detach: 2 } as const;

/** The kernel's FUSE node id of the root directory. */
export const ROOT_NODE_ID = 1;

const ENCODER = new TextEncoder();

/** A NUL-terminated UTF-8 copy of `s`, for `const char*` arguments. */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  const bytes = ENCODER.encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** What the adapter puts into a `struct stat`. Times are ms since the epoch. */
export interface StatFields {
  /** Inode number shown to programs (`st_ino`). */
  ino: number;
  /** Full mode including type bits. */
  mode: number;
  /** Link count. */
  nlink: number;
  /** Owner. */
  uid: number;
  /** Group. */
  gid: number;
  /** Device number of a device node. */
  rdev: number;
  /** Size in bytes. */
  size: number;
  /** Number of 512-byte blocks. */
  blocks: number;
  /** Access time, ms. */
  atimeMs: number;
  /** Modification time, ms. */
  mtimeMs: number;
  /** Status change time, ms. */
  ctimeMs: number;
}

const TWO_32 = 2 ** 32;

/**
 * Store integer `n` (a safe integer, negative ones as two's complement) as
 * a little-endian 64-bit word. Two 32-bit stores instead of
 * `setBigInt64(BigInt(n))`: replies are written for every request, and a
 * BigInt per field is an allocation per field.
 */
function setU64(view: DataView, at: number, n: number): void {
  view.setUint32(at, n >>> 0, true);
  view.setUint32(at + 4, Math.floor(n / TWO_32) >>> 0, true);
}

/** Read a little-endian unsigned 64-bit word as a number (exact below 2^53). */
function getU64(view: Deno.UnsafePointerView, at: number): number {
  return view.getUint32(at) + view.getUint32(at + 4) * TWO_32;
}

function setTime(view: DataView, at: number, ms: number): void {
  const safe = Number.isFinite(ms) ? ms : 0;
  const sec = Math.floor(safe / 1000);
  let nsec = Math.round((safe - sec * 1000) * 1e6);
  if (nsec > 999_999_999) nsec = 999_999_999;
  setU64(view, at, sec);
  setU64(view, at + 8, nsec);
}

function getTimeMs(view: Deno.UnsafePointerView, at: number): number {
  return Number(view.getBigInt64(at)) * 1000 + Number(view.getBigInt64(at + 8)) / 1e6;
}

/** Write `s` as a `struct stat` at `offset` of `view` (every other byte zeroed). */
export function writeStat(view: DataView, offset: number, s: StatFields): void {
  for (let i = 0; i < SIZEOF.stat; i += 4) view.setUint32(offset + i, 0, true);
  setU64(view, offset + STAT.ino, s.ino);
  setU64(view, offset + STAT.nlink, s.nlink);
  view.setUint32(offset + STAT.mode, s.mode, true);
  view.setUint32(offset + STAT.uid, s.uid, true);
  view.setUint32(offset + STAT.gid, s.gid, true);
  setU64(view, offset + STAT.rdev, s.rdev);
  setU64(view, offset + STAT.size, s.size);
  setU64(view, offset + STAT.blksize, 4096);
  setU64(view, offset + STAT.blocks, s.blocks);
  setTime(view, offset + STAT.atime, s.atimeMs);
  setTime(view, offset + STAT.mtime, s.mtimeMs);
  setTime(view, offset + STAT.ctime, s.ctimeMs);
}

/** The fields of a `struct stat` that a `setattr` request may carry. */
export interface SetattrFields {
  /** New mode (permission bits are what matters). */
  mode: number;
  /** New owner. */
  uid: number;
  /** New group. */
  gid: number;
  /** New size. */
  size: number;
  /** New access time, ms. */
  atimeMs: number;
  /** New modification time, ms. */
  mtimeMs: number;
}

/** Read the fields of a `struct stat*` passed to `setattr`. */
export function readSetattr(ptr: Deno.PointerObject): SetattrFields {
  const v = new Deno.UnsafePointerView(ptr);
  return {
    mode: v.getUint32(STAT.mode),
    uid: v.getUint32(STAT.uid),
    gid: v.getUint32(STAT.gid),
    size: Number(v.getBigInt64(STAT.size)),
    atimeMs: getTimeMs(v, STAT.atime),
    mtimeMs: getTimeMs(v, STAT.mtime),
  };
}

/** Write a `struct fuse_entry_param` into `view` at 0. */
export function writeEntryParam(
  view: DataView,
  nodeId: number,
  attr: StatFields,
  attrTimeout: number,
  entryTimeout: number,
): void {
  setU64(view, ENTRY.ino, nodeId);
  setU64(view, ENTRY.generation, 0);
  writeStat(view, ENTRY.attr, attr);
  view.setFloat64(ENTRY.attrTimeout, attrTimeout, true);
  view.setFloat64(ENTRY.entryTimeout, entryTimeout, true);
}

/** Write a negative `struct fuse_entry_param` (node id 0): the kernel may cache the absence. */
export function writeNegativeEntry(view: DataView, entryTimeout: number): void {
  for (let i = 0; i < SIZEOF.entryParam; i += 4) view.setUint32(i, 0, true);
  view.setFloat64(ENTRY.entryTimeout, entryTimeout, true);
}

/** What a `struct fuse_file_info*` argument tells a handler. */
export interface FileInfoIn {
  /** open(2) flags (open, create, release). */
  flags: number;
  /** The handle id the file system chose at open. */
  fh: number;
  /** The lock owner (flush, release, locks). */
  lockOwner: bigint;
  /** The write came from the page cache (writeback). */
  writepage: boolean;
  /** flush: this is a flush. */
  flush: boolean;
  /** release: flock locks of this handle must go. */
  flockRelease: boolean;
}

/** Read a `struct fuse_file_info*`, or `undefined` for NULL. */
export function readFileInfo(ptr: Deno.PointerValue): FileInfoIn | undefined {
  if (ptr === null) return undefined;
  const v = new Deno.UnsafePointerView(ptr);
  const bits = v.getUint32(FILE_INFO.bits);
  return {
    flags: v.getInt32(FILE_INFO.flags),
    fh: getU64(v, FILE_INFO.fh),
    lockOwner: v.getBigUint64(FILE_INFO.lockOwner),
    writepage: (bits & FI_BIT.writepage) !== 0,
    flush: (bits & FI_BIT.flush) !== 0,
    flockRelease: (bits & FI_BIT.flockRelease) !== 0,
  };
}

/** What `open`/`create`/`opendir` reply in their `fuse_file_info`. */
export interface FileInfoOut {
  /** The handle id. */
  fh: number;
  /** Bypass the page cache for this file. */
  directIo?: boolean;
  /** Keep the page cache from an earlier open. */
  keepCache?: boolean;
  /** Let the kernel cache this directory's entries. */
  cacheReaddir?: boolean;
  /** The file is not seekable. */
  nonseekable?: boolean;
  /** Do not send `flush` on close(2) (ignored by the kernel with the writeback cache). */
  noflush?: boolean;
}

/** Write a reply `fuse_file_info` into `buf` (at least {@linkcode SIZEOF}.fileInfoAlloc bytes). */
export function writeFileInfo(view: DataView, fi: FileInfoOut): void {
  for (let i = 0; i < SIZEOF.fileInfoAlloc; i += 4) view.setUint32(i, 0, true);
  let bits = 0;
  if (fi.directIo) bits |= FI_BIT.directIo;
  if (fi.keepCache) bits |= FI_BIT.keepCache;
  if (fi.cacheReaddir) bits |= FI_BIT.cacheReaddir;
  if (fi.nonseekable) bits |= FI_BIT.nonseekable;
  if (fi.noflush) bits |= FI_BIT.noflush;
  view.setUint32(FILE_INFO.bits, bits, true);
  setU64(view, FILE_INFO.fh, fi.fh);
}

/** The calling process of a request (`struct fuse_ctx`). */
export interface RequestContext {
  /** User id of the caller. */
  uid: number;
  /** Group id of the caller. */
  gid: number;
  /** Thread id of the caller. */
  pid: number;
  /** The caller's umask (meaningful only with `FUSE_CAP_DONT_MASK`). */
  umask: number;
}

/** Read a `const struct fuse_ctx*`. */
export function readContext(ptr: Deno.PointerValue): RequestContext {
  if (ptr === null) return { uid: 0, gid: 0, pid: 0, umask: 0 };
  const v = new Deno.UnsafePointerView(ptr);
  return {
    uid: v.getUint32(CTX.uid),
    gid: v.getUint32(CTX.gid),
    pid: v.getInt32(CTX.pid),
    umask: v.getUint32(CTX.umask),
  };
}

/** One element of a `forget_multi` request. */
export interface Forget {
  /** The node id. */
  nodeId: number;
  /** How many lookups to forget. */
  nlookup: number;
}

/** Read the `count` elements of a `struct fuse_forget_data*` array. */
export function readForgets(ptr: Deno.PointerValue, count: number): Forget[] {
  const out: Forget[] = [];
  if (ptr === null) return out;
  const v = new Deno.UnsafePointerView(ptr);
  for (let i = 0; i < count; i++) {
    const at = i * SIZEOF.forgetData;
    out.push({
      nodeId: getU64(v, at + FORGET.ino),
      nlookup: getU64(v, at + FORGET.nlookup),
    });
  }
  return out;
}

/** What `statfs` replies. */
export interface StatvfsFields {
  /** Block size. */
  bsize: number;
  /** Total blocks. */
  blocks: number;
  /** Free blocks. */
  bfree: number;
  /** Blocks available to unprivileged users. */
  bavail: number;
  /** Total inodes. */
  files: number;
  /** Free inodes. */
  ffree: number;
  /** Longest name. */
  namemax: number;
}

/** Write a `struct statvfs` into `view` at 0. */
export function writeStatvfs(view: DataView, s: StatvfsFields): void {
  for (let i = 0; i < SIZEOF.statvfs; i += 8) view.setBigUint64(i, 0n, true);
  const u = (at: number, n: number) =>
    view.setBigUint64(at, BigInt(Math.max(0, Math.floor(n))), true);
  u(STATVFS.bsize, s.bsize);
  u(STATVFS.frsize, s.bsize);
  u(STATVFS.blocks, s.blocks);
  u(STATVFS.bfree, s.bfree);
  u(STATVFS.bavail, s.bavail);
  u(STATVFS.files, s.files);
  u(STATVFS.ffree, s.ffree);
  u(STATVFS.favail, s.ffree);
  u(STATVFS.namemax, s.namemax);
}

/** The readable fields of `struct fuse_conn_info` at `init`. */
export interface ConnInfo {
  /** Protocol major version. */
  protoMajor: number;
  /** Protocol minor version. */
  protoMinor: number;
  /** Largest write request. */
  maxWrite: number;
  /** Largest read request (0 = no limit). */
  maxRead: number;
  /** Largest readahead. */
  maxReadahead: number;
  /** What the kernel supports (`CAP` bits). */
  capable: number;
  /** What libfuse enables by default (`CAP` bits). */
  want: number;
  /** Most background requests. */
  maxBackground: number;
  /** When the kernel starts throttling background requests. */
  congestionThreshold: number;
  /** Timestamp granularity in ns. */
  timeGran: number;
}

/** A writable view of the stable prefix of a `struct fuse_conn_info*`. */
export function connInfoView(ptr: Deno.PointerObject): DataView {
  return new DataView(Deno.UnsafePointerView.getArrayBuffer(ptr, SIZEOF.connInfoPrefix));
}

/** Read the fields of a `struct fuse_conn_info`. */
export function readConnInfo(view: DataView): ConnInfo {
  const u = (at: number) => view.getUint32(at, true);
  return {
    protoMajor: u(CONN.protoMajor),
    protoMinor: u(CONN.protoMinor),
    maxWrite: u(CONN.maxWrite),
    maxRead: u(CONN.maxRead),
    maxReadahead: u(CONN.maxReadahead),
    capable: u(CONN.capable),
    want: u(CONN.want),
    maxBackground: u(CONN.maxBackground),
    congestionThreshold: u(CONN.congestionThreshold),
    timeGran: u(CONN.timeGran),
  };
}

/** A `struct fuse_args` and the memory its `argv` points into (keep it alive while used). */
export interface ArgsBuffer {
  /** The `struct fuse_args`. */
  args: Uint8Array<ArrayBuffer>;
  /** The `argv` array and strings, referenced so they are not collected. */
  keepAlive: unknown[];
}

/** Build a `struct fuse_args` for `argv` (`allocated` = 0: libfuse copies before changing it). */
export function buildArgs(argv: string[]): ArgsBuffer {
  const strings = argv.map(cString);
  const pointers = new BigUint64Array(strings.length + 1);
  strings.forEach((s, i) => {
    pointers[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(s)));
  });
  const args = new Uint8Array(SIZEOF.args);
  const v = new DataView(args.buffer);
  v.setInt32(ARGS.argc, strings.length, true);
  v.setBigUint64(
    ARGS.argv,
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(pointers))),
    true,
  );
  return { args, keepAlive: [strings, pointers] };
}

/** A `struct libfuse_version` for `fuse_session_new_versioned`. */
export function buildLibfuseVersion(major: number, minor: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(SIZEOF.libfuseVersion);
  const v = new DataView(out.buffer);
  v.setUint32(0, major, true);
  v.setUint32(4, minor, true);
  return out;
}

/** Size of one `fuse_dirent` record for a name of `nameBytes` bytes (8-byte aligned). */
export function direntSize(nameBytes: number): number {
  return (24 + nameBytes + 7) & ~7;
}

/** Size of one `fuse_direntplus` record for a name of `nameBytes` bytes (8-byte aligned). */
export function direntPlusSize(nameBytes: number): number {
  return (152 + nameBytes + 7) & ~7;
}
