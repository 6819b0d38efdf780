// Checks every struct offset, size and constant of ffi/layout.ts against the
// installed libfuse3 and glibc headers, by compiling a small C program that
// prints the real values. A wrong offset here would corrupt memory at run
// time, so every number the bindings use is listed.
import assert from "node:assert/strict";
import {
  ACCESS,
  ARGS,
  CAP,
  CAP_317,
  CONN,
  CTX,
  CUSTOM_IO,
  direntPlusSize,
  direntSize,
  ENTRY,
  FALLOC,
  FI_BIT,
  FILE_INFO,
  FORGET,
  IOVEC,
  KERNEL,
  LOCK,
  O,
  OPS_OFFSET,
  RENAME,
  SEEK,
  SET_ATTR,
  SIZEOF,
  STAT,
  STATVFS,
  UMOUNT,
  writeEntryParam,
  writeStat,
  XATTR,
} from "../../ffi/layout.ts";
import { fuseTest } from "../_fuse.ts";

const C_SOURCE = String.raw`
#define FUSE_USE_VERSION 35
#define _GNU_SOURCE
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <sys/uio.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/xattr.h>
#include <linux/fs.h>
#include <linux/falloc.h>

static int first = 1;
static void kv(const char *k, long long v) {
  printf("%s\"%s\":%lld", first ? "{" : ",", k, v);
  first = 0;
}
#define OFF(T, f, name) kv(name, (long long)offsetof(T, f))
#define SZ(T, name) kv(name, (long long)sizeof(T))
#define OP(f) OFF(struct fuse_lowlevel_ops, f, "ops." #f)

static long long fi_bit(const char *which) {
  struct fuse_file_info fi;
  memset(&fi, 0, sizeof fi);
  if (!strcmp(which, "writepage")) fi.writepage = 1;
  if (!strcmp(which, "direct_io")) fi.direct_io = 1;
  if (!strcmp(which, "keep_cache")) fi.keep_cache = 1;
  if (!strcmp(which, "flush")) fi.flush = 1;
  if (!strcmp(which, "nonseekable")) fi.nonseekable = 1;
  if (!strcmp(which, "flock_release")) fi.flock_release = 1;
  if (!strcmp(which, "cache_readdir")) fi.cache_readdir = 1;
  if (!strcmp(which, "noflush")) fi.noflush = 1;
  unsigned int word;
  memcpy(&word, ((char *)&fi) + 4, 4);
  return word;
}

// The offset of the 32-bit word holding the bit fields: where setting one
// bit changes memory, rounded down to the word.
static long long fi_bits_offset(void) {
  struct fuse_file_info fi;
  memset(&fi, 0, sizeof fi);
  fi.writepage = 1;
  for (size_t i = 0; i < sizeof fi; i++)
    if (((unsigned char *)&fi)[i]) return (long long)(i & ~3u);
  return -1;
}

int main(void) {
  SZ(struct fuse_lowlevel_ops, "sizeof.ops");
  OP(init); OP(destroy); OP(lookup); OP(forget); OP(getattr); OP(setattr);
  OP(readlink); OP(mknod); OP(mkdir); OP(unlink); OP(rmdir); OP(symlink);
  OP(rename); OP(link); OP(open); OP(read); OP(write); OP(flush); OP(release);
  OP(fsync); OP(opendir); OP(readdir); OP(releasedir); OP(fsyncdir); OP(statfs);
  OP(setxattr); OP(getxattr); OP(listxattr); OP(removexattr); OP(access);
  OP(create); OP(getlk); OP(setlk); OP(bmap); OP(ioctl); OP(poll); OP(write_buf);
  OP(retrieve_reply); OP(forget_multi); OP(flock); OP(fallocate); OP(readdirplus);
  OP(copy_file_range); OP(lseek);

  SZ(struct fuse_entry_param, "sizeof.entry");
  OFF(struct fuse_entry_param, ino, "entry.ino");
  OFF(struct fuse_entry_param, generation, "entry.generation");
  OFF(struct fuse_entry_param, attr, "entry.attr");
  OFF(struct fuse_entry_param, attr_timeout, "entry.attrTimeout");
  OFF(struct fuse_entry_param, entry_timeout, "entry.entryTimeout");

  SZ(struct stat, "sizeof.stat");
  OFF(struct stat, st_dev, "stat.dev"); OFF(struct stat, st_ino, "stat.ino");
  OFF(struct stat, st_nlink, "stat.nlink"); OFF(struct stat, st_mode, "stat.mode");
  OFF(struct stat, st_uid, "stat.uid"); OFF(struct stat, st_gid, "stat.gid");
  OFF(struct stat, st_rdev, "stat.rdev"); OFF(struct stat, st_size, "stat.size");
  OFF(struct stat, st_blksize, "stat.blksize"); OFF(struct stat, st_blocks, "stat.blocks");
  OFF(struct stat, st_atim, "stat.atime"); OFF(struct stat, st_mtim, "stat.mtime");
  OFF(struct stat, st_ctim, "stat.ctime");
  kv("sizeof.stat.ino", sizeof(((struct stat *)0)->st_ino));
  kv("sizeof.stat.nlink", sizeof(((struct stat *)0)->st_nlink));
  kv("sizeof.stat.mode", sizeof(((struct stat *)0)->st_mode));
  kv("sizeof.stat.size", sizeof(((struct stat *)0)->st_size));
  kv("sizeof.stat.blocks", sizeof(((struct stat *)0)->st_blocks));
  kv("sizeof.stat.rdev", sizeof(((struct stat *)0)->st_rdev));
  kv("sizeof.timespec", sizeof(struct timespec));

  SZ(struct fuse_file_info, "sizeof.fi");
  OFF(struct fuse_file_info, flags, "fi.flags");
  OFF(struct fuse_file_info, fh, "fi.fh");
  OFF(struct fuse_file_info, lock_owner, "fi.lockOwner");
  kv("fi.bits", fi_bits_offset());
  kv("fi.bit.writepage", fi_bit("writepage"));
  kv("fi.bit.directIo", fi_bit("direct_io"));
  kv("fi.bit.keepCache", fi_bit("keep_cache"));
  kv("fi.bit.flush", fi_bit("flush"));
  kv("fi.bit.nonseekable", fi_bit("nonseekable"));
  kv("fi.bit.flockRelease", fi_bit("flock_release"));
  kv("fi.bit.cacheReaddir", fi_bit("cache_readdir"));
  kv("fi.bit.noflush", fi_bit("noflush"));

  SZ(struct fuse_conn_info, "sizeof.conn");
  OFF(struct fuse_conn_info, proto_major, "conn.protoMajor");
  OFF(struct fuse_conn_info, proto_minor, "conn.protoMinor");
  OFF(struct fuse_conn_info, max_write, "conn.maxWrite");
  OFF(struct fuse_conn_info, max_read, "conn.maxRead");
  OFF(struct fuse_conn_info, max_readahead, "conn.maxReadahead");
  OFF(struct fuse_conn_info, capable, "conn.capable");
  OFF(struct fuse_conn_info, want, "conn.want");
  OFF(struct fuse_conn_info, max_background, "conn.maxBackground");
  OFF(struct fuse_conn_info, congestion_threshold, "conn.congestionThreshold");
  OFF(struct fuse_conn_info, time_gran, "conn.timeGran");

  SZ(struct fuse_ctx, "sizeof.ctx");
  OFF(struct fuse_ctx, uid, "ctx.uid"); OFF(struct fuse_ctx, gid, "ctx.gid");
  OFF(struct fuse_ctx, pid, "ctx.pid"); OFF(struct fuse_ctx, umask, "ctx.umask");

  SZ(struct fuse_args, "sizeof.args");
  OFF(struct fuse_args, argc, "args.argc"); OFF(struct fuse_args, argv, "args.argv");
  OFF(struct fuse_args, allocated, "args.allocated");

  SZ(struct fuse_forget_data, "sizeof.forget");
  OFF(struct fuse_forget_data, ino, "forget.ino");
  OFF(struct fuse_forget_data, nlookup, "forget.nlookup");

  SZ(struct statvfs, "sizeof.statvfs");
  OFF(struct statvfs, f_bsize, "statvfs.bsize"); OFF(struct statvfs, f_frsize, "statvfs.frsize");
  OFF(struct statvfs, f_blocks, "statvfs.blocks"); OFF(struct statvfs, f_bfree, "statvfs.bfree");
  OFF(struct statvfs, f_bavail, "statvfs.bavail"); OFF(struct statvfs, f_files, "statvfs.files");
  OFF(struct statvfs, f_ffree, "statvfs.ffree"); OFF(struct statvfs, f_favail, "statvfs.favail");
  OFF(struct statvfs, f_fsid, "statvfs.fsid"); OFF(struct statvfs, f_flag, "statvfs.flag");
  OFF(struct statvfs, f_namemax, "statvfs.namemax");
  kv("sizeof.statvfs.blocks", sizeof(((struct statvfs *)0)->f_blocks));

  kv("set.mode", FUSE_SET_ATTR_MODE); kv("set.uid", FUSE_SET_ATTR_UID);
  kv("set.gid", FUSE_SET_ATTR_GID); kv("set.size", FUSE_SET_ATTR_SIZE);
  kv("set.atime", FUSE_SET_ATTR_ATIME); kv("set.mtime", FUSE_SET_ATTR_MTIME);
  kv("set.atimeNow", FUSE_SET_ATTR_ATIME_NOW); kv("set.mtimeNow", FUSE_SET_ATTR_MTIME_NOW);
  kv("set.ctime", FUSE_SET_ATTR_CTIME);
  kv("set.killSuidgid", FUSE_SET_ATTR_KILL_SUID);
  kv("kernel.fattrKillSuidgid", FATTR_KILL_SUIDGID);
#ifdef FUSE_CAP_HANDLE_KILLPRIV_V2
  kv("cap317.handleKillprivV2", FUSE_CAP_HANDLE_KILLPRIV_V2);
#endif

  kv("kernel.handleKillprivV2", FUSE_HANDLE_KILLPRIV_V2);
  OFF(struct fuse_init_out, major, "kernel.initOutMajor");
  OFF(struct fuse_init_out, flags, "kernel.initOutFlags");
  OFF(struct fuse_init_out, flags2, "kernel.initOutFlags2");
  kv("kernel.initExt", FUSE_INIT_EXT);
#ifdef FUSE_DIRECT_IO_ALLOW_MMAP
  kv("kernel.directIoAllowMmap2", (long long)(FUSE_DIRECT_IO_ALLOW_MMAP >> 32));
#endif
#ifdef FUSE_CAP_DIRECT_IO_ALLOW_MMAP
  kv("cap317.directIoAllowMmap", FUSE_CAP_DIRECT_IO_ALLOW_MMAP);
#endif
  SZ(struct fuse_out_header, "kernel.outHeaderSize");
  OFF(struct fuse_out_header, error, "kernel.outHeaderError");
  OFF(struct iovec, iov_base, "iovec.base"); OFF(struct iovec, iov_len, "iovec.len");
  SZ(struct iovec, "iovec.size");
  OFF(struct fuse_custom_io, writev, "customIo.writev");
  OFF(struct fuse_custom_io, read, "customIo.read");
  OFF(struct fuse_custom_io, splice_receive, "customIo.spliceReceive");
  OFF(struct fuse_custom_io, splice_send, "customIo.spliceSend");
  SZ(struct fuse_custom_io, "customIo.size");

  kv("cap.asyncRead", FUSE_CAP_ASYNC_READ); kv("cap.posixLocks", FUSE_CAP_POSIX_LOCKS);
  kv("cap.atomicOTrunc", FUSE_CAP_ATOMIC_O_TRUNC); kv("cap.exportSupport", FUSE_CAP_EXPORT_SUPPORT);
  kv("cap.dontMask", FUSE_CAP_DONT_MASK); kv("cap.spliceWrite", FUSE_CAP_SPLICE_WRITE);
  kv("cap.spliceMove", FUSE_CAP_SPLICE_MOVE); kv("cap.spliceRead", FUSE_CAP_SPLICE_READ);
  kv("cap.flockLocks", FUSE_CAP_FLOCK_LOCKS); kv("cap.ioctlDir", FUSE_CAP_IOCTL_DIR);
  kv("cap.autoInvalData", FUSE_CAP_AUTO_INVAL_DATA); kv("cap.readdirplus", FUSE_CAP_READDIRPLUS);
  kv("cap.readdirplusAuto", FUSE_CAP_READDIRPLUS_AUTO); kv("cap.asyncDio", FUSE_CAP_ASYNC_DIO);
  kv("cap.writebackCache", FUSE_CAP_WRITEBACK_CACHE);
  kv("cap.parallelDirops", FUSE_CAP_PARALLEL_DIROPS); kv("cap.posixAcl", FUSE_CAP_POSIX_ACL);
  kv("cap.handleKillpriv", FUSE_CAP_HANDLE_KILLPRIV);
  kv("cap.cacheSymlinks", FUSE_CAP_CACHE_SYMLINKS);

  kv("o.accmode", O_ACCMODE); kv("o.rdonly", O_RDONLY); kv("o.wronly", O_WRONLY);
  kv("o.rdwr", O_RDWR); kv("o.creat", O_CREAT); kv("o.excl", O_EXCL);
  kv("o.trunc", O_TRUNC); kv("o.append", O_APPEND);
  kv("rename.noreplace", RENAME_NOREPLACE); kv("rename.exchange", RENAME_EXCHANGE);
  kv("xattr.create", XATTR_CREATE); kv("xattr.replace", XATTR_REPLACE);
  kv("lock.sh", LOCK_SH); kv("lock.ex", LOCK_EX); kv("lock.nb", LOCK_NB); kv("lock.un", LOCK_UN);
  kv("falloc.keepSize", FALLOC_FL_KEEP_SIZE); kv("falloc.punchHole", FALLOC_FL_PUNCH_HOLE);
  kv("falloc.zeroRange", FALLOC_FL_ZERO_RANGE);
  kv("seek.data", SEEK_DATA); kv("seek.hole", SEEK_HOLE);
  kv("access.exists", F_OK); kv("access.read", R_OK); kv("access.write", W_OK);
  kv("access.execute", X_OK);
  kv("umount.force", MNT_FORCE); kv("umount.detach", MNT_DETACH);

  kv("dirent.1", fuse_add_direntry(NULL, NULL, 0, "a", NULL, 0));
  kv("dirent.8", fuse_add_direntry(NULL, NULL, 0, "abcdefgh", NULL, 0));
  kv("dirent.13", fuse_add_direntry(NULL, NULL, 0, "abcdefghijklm", NULL, 0));
  kv("direntplus.1", fuse_add_direntry_plus(NULL, NULL, 0, "a", NULL, 0));
  kv("direntplus.8", fuse_add_direntry_plus(NULL, NULL, 0, "abcdefgh", NULL, 0));
  kv("direntplus.13", fuse_add_direntry_plus(NULL, NULL, 0, "abcdefghijklm", NULL, 0));
  printf("}\n");
  return 0;
}
`;

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}${text}`,
    );
  }
  return text;
}

async function realLayout(): Promise<Record<string, number>> {
  const dir = await Deno.makeTempDir({ prefix: "anyfs-layout-" });
  try {
    await Deno.writeTextFile(`${dir}/layout.c`, C_SOURCE);
    const flags = (await run("pkg-config", ["--cflags", "--libs", "fuse3"])).trim().split(/\s+/);
    await run("cc", ["-o", `${dir}/layout`, `${dir}/layout.c`, ...flags], dir);
    return JSON.parse(await run(`${dir}/layout`, []));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const real = await realLayout();

function check(prefix: string, table: Record<string, number>): void {
  for (const [key, value] of Object.entries(table)) {
    const name = `${prefix}.${key}`;
    assert.ok(name in real, `the C program does not report ${name}`);
    assert.equal(value, real[name], `${name}: bindings say ${value}, headers say ${real[name]}`);
  }
}

fuseTest("fuse_lowlevel_ops: every slot offset matches the header", () => {
  check("ops", OPS_OFFSET);
  // Ops we do not lay out may follow (3.17+ adds some); ours must be a prefix.
  assert.ok(real["sizeof.ops"] >= SIZEOF.lowlevelOps);
  assert.equal(OPS_OFFSET.lseek + 8, SIZEOF.lowlevelOps);
});

fuseTest("struct stat, fuse_entry_param, statvfs: offsets and sizes match", () => {
  check("stat", STAT);
  check("entry", ENTRY);
  check("statvfs", STATVFS);
  assert.equal(real["sizeof.stat"], SIZEOF.stat);
  assert.equal(real["sizeof.entry"], SIZEOF.entryParam);
  assert.equal(real["sizeof.statvfs"], SIZEOF.statvfs);
  // writeStat writes these fields as 64-bit (ino, nlink, size, blocks, rdev)
  // and 32-bit (mode); timespec is two 64-bit words.
  for (const f of ["ino", "nlink", "size", "blocks", "rdev"]) {
    assert.equal(real[`sizeof.stat.${f}`], 8, `st_${f} is 64-bit`);
  }
  assert.equal(real["sizeof.stat.mode"], 4);
  assert.equal(real["sizeof.timespec"], 16);
  assert.equal(real["sizeof.statvfs.blocks"], 8);
});

fuseTest("fuse_file_info: offsets, bit fields and allocation size", () => {
  check("fi", FILE_INFO);
  const bitNames = {
    writepage: FI_BIT.writepage,
    directIo: FI_BIT.directIo,
    keepCache: FI_BIT.keepCache,
    flush: FI_BIT.flush,
    nonseekable: FI_BIT.nonseekable,
    flockRelease: FI_BIT.flockRelease,
    cacheReaddir: FI_BIT.cacheReaddir,
    noflush: FI_BIT.noflush,
  };
  check("fi.bit", bitNames);
  assert.ok(real["sizeof.fi"] <= SIZEOF.fileInfoAlloc, "reply buffers must cover the struct");
});

fuseTest("fuse_conn_info, fuse_ctx, fuse_args, fuse_forget_data match", () => {
  check("conn", CONN);
  assert.ok(real["sizeof.conn"] >= SIZEOF.connInfoPrefix);
  check("ctx", CTX);
  assert.equal(real["sizeof.ctx"], SIZEOF.ctx);
  check("args", ARGS);
  assert.equal(real["sizeof.args"], SIZEOF.args);
  check("forget", FORGET);
  assert.equal(real["sizeof.forget"], SIZEOF.forgetData);
});

fuseTest("flag constants match the C headers", () => {
  check("set", SET_ATTR);
  // libfuse passes the kernel's FATTR_KILL_SUIDGID on under its own name.
  assert.equal(SET_ATTR.killSuidgid, real["kernel.fattrKillSuidgid"]);
  // Only libfuse 3.17+ defines these; older headers have nothing to check.
  if ("cap317.handleKillprivV2" in real) check("cap317", CAP_317);
  check("cap", CAP);
  check("o", O);
  check("rename", RENAME);
  check("xattr", XATTR);
  check("lock", LOCK);
  check("falloc", FALLOC);
  check("seek", SEEK);
  check("access", ACCESS);
  check("umount", UMOUNT);
});

fuseTest("directory record sizes agree with libfuse's encoders", () => {
  for (const n of [1, 8, 13]) {
    assert.equal(direntSize(n), real[`dirent.${n}`]);
    assert.equal(direntPlusSize(n), real[`direntplus.${n}`]);
  }
});

fuseTest("kernel protocol, iovec and fuse_custom_io layouts match (INIT-reply patch)", () => {
  const {
    killprivV2Minor: _minor,
    directIoAllowMmapMinor: _mmapMinor,
    directIoAllowMmap2,
    ...layout
  } = KERNEL;
  check("kernel", layout);
  // <linux/fuse.h> before protocol 7.39 lacks it; the bit is 36 in the kernel's numbering.
  if ("kernel.directIoAllowMmap2" in real) {
    assert.equal(directIoAllowMmap2, real["kernel.directIoAllowMmap2"]);
  } else {
    assert.equal(directIoAllowMmap2 * 2 ** 32, 2 ** 36);
  }
  check("iovec", IOVEC);
  check("customIo", CUSTOM_IO);
});

fuseTest("writeStat and writeEntryParam encode 64-bit fields exactly, negative times too", () => {
  const view = new DataView(new ArrayBuffer(SIZEOF.entryParam));
  new Uint8Array(view.buffer).fill(0xee); // every byte must be written
  const attr = {
    ino: 2 ** 40 + 7,
    mode: 0o100644,
    nlink: 3,
    uid: 4_000_000_000,
    gid: 5,
    rdev: 2 ** 33 + 1,
    size: 2 ** 52 + 3,
    blocks: 2 ** 44,
    atimeMs: -1500.25, // 1.50025 s before the epoch: -2 s + 0.49975 s
    mtimeMs: 1_700_000_000_123.5,
    ctimeMs: 0,
  };
  writeEntryParam(view, 2 ** 35 + 9, attr, 1.5, 2.5);
  const u64 = (at: number) => view.getBigUint64(at, true);
  const i64 = (at: number) => view.getBigInt64(at, true);
  const st = ENTRY.attr;
  assert.equal(u64(ENTRY.ino), 2n ** 35n + 9n);
  assert.equal(u64(ENTRY.generation), 0n);
  assert.equal(u64(st + STAT.ino), 2n ** 40n + 7n);
  assert.equal(u64(st + STAT.nlink), 3n);
  assert.equal(view.getUint32(st + STAT.mode, true), 0o100644);
  assert.equal(view.getUint32(st + STAT.uid, true), 4_000_000_000);
  assert.equal(u64(st + STAT.rdev), 2n ** 33n + 1n);
  assert.equal(i64(st + STAT.size), 2n ** 52n + 3n);
  assert.equal(i64(st + STAT.blocks), 2n ** 44n);
  assert.equal(i64(st + STAT.blksize), 4096n);
  assert.equal(i64(st + STAT.atime), -2n);
  assert.equal(i64(st + STAT.atime + 8), 499_750_000n);
  assert.equal(i64(st + STAT.mtime), 1_700_000_000n);
  assert.equal(i64(st + STAT.mtime + 8), 123_500_000n);
  assert.equal(i64(st + STAT.ctime), 0n);
  assert.equal(view.getFloat64(ENTRY.attrTimeout, true), 1.5);
  assert.equal(view.getFloat64(ENTRY.entryTimeout, true), 2.5);
  // Padding and unused fields are zero, not left over from the last reply.
  assert.equal(u64(st + STAT.dev), 0n);
  const stat = new DataView(new ArrayBuffer(SIZEOF.stat));
  new Uint8Array(stat.buffer).fill(0xee);
  writeStat(stat, 0, { ...attr, ino: 1, nlink: 1, rdev: 0, size: 0, blocks: 0 });
  assert.equal(stat.getBigUint64(STAT.dev, true), 0n);
  assert.equal(stat.getBigUint64(STAT.ino, true), 1n);
});
