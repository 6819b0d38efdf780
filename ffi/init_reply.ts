/**
 * Adds kernel feature flags to the INIT reply of libfuse releases that
 * cannot ask for them (before 3.17).
 *
 * The first that mattered is `FUSE_HANDLE_KILLPRIV_V2`: without it, the kernel
 * asks the file system for the `security.capability` attribute (a GETXATTR
 * round trip) before every write(2) through the page cache, to learn whether
 * the write must drop it. With it, the kernel leaves clearing set-user-ID and
 * set-group-ID bits to the file system (flags on WRITE, SETATTR and OPEN
 * requests) and checks each file only once until its attributes change.
 * libfuse 3.14–3.16 build the reply's flags from the capabilities they know,
 * and this one is not among them; 3.17 and later negotiate it themselves
 * (`CAP_317.handleKillprivV2`) and need none of this. The second is
 * `FUSE_DIRECT_IO_ALLOW_MMAP` (a bit of the reply's `flags2`): without it
 * the kernel refuses shared mmap(2) of a file opened with direct I/O
 * (`ENODEV`), which breaks SQLite's WAL mode and every other program that
 * maps a file it writes.
 *
 * How: before the session loop starts, the channel's writev(2) is replaced
 * (`fuse_session_custom_io`) by a callback. The first message libfuse sends
 * is always the INIT reply (the kernel sends nothing else before it is
 * answered): the callback ORs the wanted flags into it, writes it with
 * libc's writev, and hands the channel back to libc's own read/writev, so
 * no later request pays for any of this.
 *
 * @module
 */

import { CUSTOM_IO, IOVEC, KERNEL } from "./layout.ts";
import type { LibFuseSymbols } from "./libfuse.ts";

/** A patch of the INIT reply, set up before the session loop starts. */
export interface InitReplyPatch {
  /**
   * Flags to OR into `fuse_init_out.flags`. The `init` handler sets them:
   * it runs before libfuse writes the reply.
   */
  addFlags: number;
  /**
   * Flags to OR into `fuse_init_out.flags2` (the kernel's flag bits 32–63);
   * `FUSE_INIT_EXT` is then set in `flags` too, which tells the kernel to
   * read them.
   */
  addFlags2: number;
  /** Whether the reply went out with `addFlags` added. */
  readonly applied: boolean;
  /**
   * Settles when the INIT reply has been handed to the kernel (or the
   * attempt failed): the kernel has connected once it does.
   */
  readonly sent: Promise<void>;
  /** Release the callback; only after `fuse_session_destroy`. */
  close(): void;
}

const LIBC_SYMBOLS = {
  dlsym: { parameters: ["pointer", "buffer"], result: "pointer" },
  writev: { parameters: ["i32", "pointer", "i32"], result: "isize" },
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

const LIBC_SONAMES = ["libc.so.6", "libc.so"];

/** The connection is gone (unmounted, aborted): the reply has nobody to reach. */
const ENOENT = 2;
const ENODEV = 19;

let libc: Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"] | null | undefined;

function loadLibc(): Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"] | null {
  if (libc !== undefined) return libc;
  libc = null;
  for (const soname of LIBC_SONAMES) {
    try {
      libc = Deno.dlopen(soname, LIBC_SYMBOLS).symbols;
      break;
    } catch {
      // try the next name
    }
  }
  return libc;
}

function cName(name: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(name + "\0");
  return bytes as Uint8Array<ArrayBuffer>;
}

/** A `struct fuse_custom_io` with the given writev and read functions. */
function customIo(writev: Deno.PointerValue, read: Deno.PointerValue): Uint8Array<ArrayBuffer> {
  const io = new Uint8Array(CUSTOM_IO.size);
  const v = new DataView(io.buffer);
  v.setBigUint64(CUSTOM_IO.writev, BigInt(Deno.UnsafePointer.value(writev)), true);
  v.setBigUint64(CUSTOM_IO.read, BigInt(Deno.UnsafePointer.value(read)), true);
  return io;
}

/** Total bytes of the `count` entries of `iov`. */
function iovLength(iov: Deno.PointerObject, count: number): number {
  const vec = new Deno.UnsafePointerView(iov);
  let total = 0;
  for (let i = 0; i < count; i++) total += Number(vec.getBigUint64(i * IOVEC.size + IOVEC.len));
  return total;
}

/**
 * OR `flags` and `flags2` into the `fuse_init_out` of the reply in `iov`
 * (count entries), if it is one.
 */
function patchReply(
  iov: Deno.PointerObject,
  count: number,
  flags: number,
  flags2: number,
): boolean {
  // libfuse sends a reply as iov[0] = fuse_out_header, iov[1] = the argument.
  if (count < 2) return false;
  const vec = new Deno.UnsafePointerView(iov);
  const headerLen = Number(vec.getBigUint64(IOVEC.len));
  const header = Deno.UnsafePointer.create(vec.getBigUint64(IOVEC.base));
  const arg = Deno.UnsafePointer.create(vec.getBigUint64(IOVEC.size + IOVEC.base));
  const argLen = Number(vec.getBigUint64(IOVEC.size + IOVEC.len));
  if (headerLen !== KERNEL.outHeaderSize || header === null) return false;
  if (arg === null || argLen < KERNEL.initOutFlags + 4) return false;
  // A reply shorter than protocol 7.36's has no flags2: those bits are
  // left out (the mount works as without them) and the others still apply.
  const high = argLen >= KERNEL.initOutFlags2 + 4 ? flags2 : 0;
  if (new Deno.UnsafePointerView(header).getInt32(KERNEL.outHeaderError) !== 0) return false;
  const out = new DataView(Deno.UnsafePointerView.getArrayBuffer(arg, argLen));
  if (out.getUint32(KERNEL.initOutMajor, true) !== 7) return false;
  const at = KERNEL.initOutFlags;
  const extended = high !== 0 ? KERNEL.initExt : 0;
  out.setUint32(at, (out.getUint32(at, true) | flags | extended) >>> 0, true);
  if (high !== 0) {
    const at2 = KERNEL.initOutFlags2;
    out.setUint32(at2, (out.getUint32(at2, true) | high) >>> 0, true);
  }
  return true;
}

/**
 * Route the INIT reply of `session` (mounted, its loop not yet started)
 * through a patch. Returns `undefined` when this libfuse or libc cannot do
 * it; the mount then works as before, only without the flags.
 */
export function installInitReplyPatch(
  lib: LibFuseSymbols,
  session: Deno.PointerObject,
): InitReplyPatch | undefined {
  const setIo = lib.fuse_session_custom_io;
  const c = loadLibc();
  if (!setIo || !c) return undefined;
  const read = c.dlsym(null, cName("read"));
  const writev = c.dlsym(null, cName("writev"));
  if (read === null || writev === null) return undefined;
  const fd = lib.fuse_session_fd(session);
  if (fd < 0) return undefined;
  // The channel's functions once the INIT reply is out: libc's, as libfuse
  // uses without custom io. libfuse copies the struct.
  const plain = customIo(writev, read);

  let first = true;
  let applied = false;
  let markSent!: () => void;
  const sent = new Promise<void>((resolve) => markSent = resolve);
  const patch: InitReplyPatch = {
    addFlags: 0,
    addFlags2: 0,
    get applied() {
      return applied;
    },
    sent,
    close() {
      callback.close();
    },
  };
  // Called on libfuse's loop thread (through the JavaScript thread), once.
  const callback = Deno.UnsafeCallback.threadSafe(
    { parameters: ["i32", "pointer", "i32", "pointer"], result: "isize" } as const,
    (channel: number, iov: Deno.PointerValue, count: number, _userdata: Deno.PointerValue) => {
      if (first) {
        first = false;
        try {
          if (iov !== null && (patch.addFlags !== 0 || patch.addFlags2 !== 0)) {
            applied = patchReply(iov, count, patch.addFlags, patch.addFlags2);
            if (!applied) console.error("anyfs mount: the first reply was not an INIT reply");
          }
        } catch (e) {
          console.error("anyfs mount: could not adjust the INIT reply:", e);
        }
        // From now on libfuse writes and reads through libc directly. The
        // loop thread is inside this very call, so nothing races the swap.
        setIo(session, plain, channel);
      }
      const written = c.writev(channel, iov, count);
      markSent();
      if (Number(written) !== -1 || iov === null) return written;
      // errno is per thread: libfuse, on its loop thread, would read its
      // own (0, or a stale one) and print "fuse: writing device: Success".
      // Read it here, where writev ran, and report it ourselves. A
      // connection that is already gone (an unmount racing the handshake)
      // is what libfuse itself passes over in silence (ENOENT).
      const errno = new Deno.UnsafePointerView(c.__errno_location()!).getInt32();
      if (errno !== ENOENT && errno !== ENODEV) {
        console.error(`anyfs mount: the INIT reply could not be written (errno ${errno})`);
      }
      // Nothing is lost by calling it written: libfuse ignores the result
      // of the INIT reply, and the kernel ends the session on its side.
      return BigInt(iovLength(iov, count));
    },
  );
  if (setIo(session, customIo(callback.pointer, read), fd) !== 0) {
    callback.close();
    return undefined;
  }
  return patch;
}
