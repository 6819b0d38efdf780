/**
 * `Deno.dlopen` bindings to libfuse3's low-level API.
 *
 * Two ABIs are in the field: libfuse 3.17 and later ship `libfuse3.so.4`,
 * where `fuse_session_new` is no longer a default symbol and
 * `fuse_session_new_versioned` must be called; older 3.x ship
 * `libfuse3.so.3` with plain `fuse_session_new`. {@linkcode loadLibfuse}
 * tries them in that order and hides the difference behind
 * {@linkcode LibFuse.sessionNew}.
 *
 * Calls that can wait on the kernel while the kernel waits on this process
 * (`fuse_session_loop`, `fuse_session_mount`, the notify calls) are declared
 * `nonblocking`, so they run on a Deno worker thread and the JavaScript
 * thread stays free to answer requests.
 *
 * @module
 */

import { buildLibfuseVersion, SIZEOF } from "./layout.ts";

const SYMBOLS = {
  fuse_session_new: {
    parameters: ["buffer", "buffer", "usize", "pointer"],
    result: "pointer",
    optional: true,
  },
  fuse_session_new_versioned: {
    parameters: ["buffer", "buffer", "usize", "buffer", "pointer"],
    result: "pointer",
    optional: true,
  },
  fuse_opt_free_args: { parameters: ["buffer"], result: "void" },
  fuse_session_mount: { parameters: ["pointer", "buffer"], result: "i32", nonblocking: true },
  fuse_session_unmount: { parameters: ["pointer"], result: "void" },
  fuse_session_destroy: { parameters: ["pointer"], result: "void" },
  fuse_session_exit: { parameters: ["pointer"], result: "void" },
  fuse_session_exited: { parameters: ["pointer"], result: "i32" },
  fuse_session_fd: { parameters: ["pointer"], result: "i32" },
  fuse_session_loop: { parameters: ["pointer"], result: "i32", nonblocking: true },
  // libfuse 3.14+ (3.17 renamed the real one and keeps this one for old
  // callers): replaces the read/writev functions of the session's channel.
  fuse_session_custom_io: {
    parameters: ["pointer", "buffer", "i32"],
    result: "i32",
    optional: true,
  },
  fuse_req_ctx: { parameters: ["pointer"], result: "pointer" },
  fuse_reply_err: { parameters: ["pointer", "i32"], result: "i32" },
  fuse_reply_none: { parameters: ["pointer"], result: "void" },
  fuse_reply_entry: { parameters: ["pointer", "buffer"], result: "i32" },
  fuse_reply_create: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  fuse_reply_attr: { parameters: ["pointer", "buffer", "f64"], result: "i32" },
  fuse_reply_readlink: { parameters: ["pointer", "buffer"], result: "i32" },
  fuse_reply_open: { parameters: ["pointer", "buffer"], result: "i32" },
  fuse_reply_write: { parameters: ["pointer", "usize"], result: "i32" },
  fuse_reply_buf: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  fuse_reply_statfs: { parameters: ["pointer", "buffer"], result: "i32" },
  fuse_reply_xattr: { parameters: ["pointer", "usize"], result: "i32" },
  fuse_reply_lseek: { parameters: ["pointer", "i64"], result: "i32" },
  fuse_add_direntry: {
    parameters: ["pointer", "buffer", "usize", "buffer", "buffer", "i64"],
    result: "usize",
  },
  fuse_add_direntry_plus: {
    parameters: ["pointer", "buffer", "usize", "buffer", "buffer", "i64"],
    result: "usize",
  },
  fuse_lowlevel_notify_inval_entry: {
    parameters: ["pointer", "u64", "buffer", "usize"],
    result: "i32",
    nonblocking: true,
  },
  fuse_lowlevel_notify_inval_inode: {
    parameters: ["pointer", "u64", "i64", "i64"],
    result: "i32",
    nonblocking: true,
  },
  fuse_pkgversion: { parameters: [], result: "pointer", optional: true },
} as const satisfies Deno.ForeignLibraryInterface;

/** The raw symbols of libfuse3 this package uses. */
export type LibFuseSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** A loaded libfuse3 with the session constructor of its ABI. */
export interface LibFuse {
  /** The symbols. */
  readonly symbols: LibFuseSymbols;
  /** The shared object that was opened, e.g. `libfuse3.so.3`. */
  readonly soname: string;
  /** The library's version string (`fuse_pkgversion`), e.g. `3.14.0`. */
  readonly version: string;
  /**
   * Whether libfuse negotiates `FUSE_HANDLE_KILLPRIV_V2` itself (3.17 and
   * later, the releases with `fuse_session_new_versioned`); older ones
   * need `installInitReplyPatch`.
   */
  readonly negotiatesKillPrivV2: boolean;
  /**
   * `fuse_session_new` or `fuse_session_new_versioned`, whichever this ABI
   * has. `ops` must be {@linkcode SIZEOF}.lowlevelOps bytes.
   */
  sessionNew(args: Uint8Array<ArrayBuffer>, ops: Uint8Array<ArrayBuffer>): Deno.PointerValue;
  /** Close the library (only when no session is left). */
  close(): void;
}

/** The sonames tried, newest ABI first. */
export const LIBFUSE_SONAMES: readonly string[] = ["libfuse3.so.4", "libfuse3.so.3"];

/** The libfuse API version whose struct layouts `layout.ts` follows. */
const API_VERSION = { major: 3, minor: 14 };

let loaded: LibFuse | undefined;

/**
 * Open libfuse3 (once per process). Throws the `dlopen` error of the last
 * soname tried when none loads; callers turn it into a `MountError`.
 * Needs `--allow-ffi`.
 */
export function loadLibfuse(): LibFuse {
  if (loaded) return loaded;
  const errors: string[] = [];
  for (const soname of LIBFUSE_SONAMES) {
    let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
    try {
      lib = Deno.dlopen(soname, SYMBOLS);
    } catch (e) {
      errors.push(`${soname}: ${(e as Error).message}`);
      continue;
    }
    const s = lib.symbols;
    let sessionNew: LibFuse["sessionNew"];
    if (s.fuse_session_new_versioned) {
      const version = buildLibfuseVersion(API_VERSION.major, API_VERSION.minor);
      const newVersioned = s.fuse_session_new_versioned;
      sessionNew = (args, ops) =>
        newVersioned(args, ops, BigInt(SIZEOF.lowlevelOps), version, null);
    } else if (s.fuse_session_new) {
      const newPlain = s.fuse_session_new;
      sessionNew = (args, ops) => newPlain(args, ops, BigInt(SIZEOF.lowlevelOps), null);
    } else {
      lib.close();
      errors.push(`${soname}: has neither fuse_session_new_versioned nor fuse_session_new`);
      continue;
    }
    const versionPtr = s.fuse_pkgversion?.() ?? null;
    const version = versionPtr ? Deno.UnsafePointerView.getCString(versionPtr) : "unknown";
    loaded = {
      symbols: s,
      soname,
      version,
      negotiatesKillPrivV2: s.fuse_session_new_versioned !== null &&
        s.fuse_session_new_versioned !== undefined,
      sessionNew,
      close() {
        lib.close();
        loaded = undefined;
      },
    };
    return loaded;
  }
  throw new Error(`libfuse3 could not be loaded (${errors.join("; ")})`);
}
