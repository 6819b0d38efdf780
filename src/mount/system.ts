/**
 * The operating-system side of mounting that libfuse does not cover:
 * reading the mount table, unmounting without blocking the JavaScript
 * thread, cleaning up dead mounts and aborting a FUSE connection.
 *
 * Unmounting is never done with a synchronous call from the JavaScript
 * thread: when the kernel tears a FUSE super block down it may first flush
 * cached writes to the file system — that is, to this very thread. So it
 * runs in a `fusermount3` child process, or in `umount2(2)` declared
 * `nonblocking`.
 *
 * @module
 */

import { UMOUNT } from "../../ffi/layout.ts";
import { MountError } from "./errors.ts";

/** One line of `/proc/self/mountinfo`. */
export interface MountInfoEntry {
  /** Where it is mounted (octal escapes decoded). */
  mountPoint: string;
  /** The file system type, e.g. `fuse.anyfs`. */
  fsType: string;
  /** The mount source, e.g. `anyfs`. */
  source: string;
  /** The device's major number. */
  major: number;
  /** The device's minor number (a FUSE connection's id in fusectl). */
  minor: number;
}

function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parse the text of `/proc/self/mountinfo`. */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    const fields = line.split(" ");
    const sep = fields.indexOf("-");
    if (sep < 0 || fields.length < sep + 3) continue;
    const [major, minor] = fields[2].split(":").map(Number);
    out.push({
      mountPoint: unescapeMountPath(fields[4]),
      fsType: fields[sep + 1],
      source: unescapeMountPath(fields[sep + 2]),
      major,
      minor,
    });
  }
  return out;
}

/** The current mount table of this process's mount namespace. */
export async function readMountTable(): Promise<MountInfoEntry[]> {
  return parseMountInfo(await readProcFile("/proc/self/mountinfo"));
}

/**
 * A small file under `/proc`. Deno lets a program read `/proc` only with
 * `--allow-all`; through the C library (FFI, which mounting needs anyway)
 * `--allow-ffi` is enough, so that is the fallback.
 */
export async function readProcFile(path: string): Promise<string> {
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return await Deno.readTextFile(path);
  }
  const c = Deno.dlopen("libc.so.6", {
    open: { parameters: ["buffer", "i32"], result: "i32" },
    read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
    close: { parameters: ["i32"], result: "i32" },
  });
  try {
    const fd = c.symbols.open(new TextEncoder().encode(path + "\0"), 0 /* O_RDONLY */);
    if (fd < 0) throw new Deno.errors.NotFound(`cannot open ${path}`);
    try {
      const chunks: Uint8Array[] = [];
      for (;;) {
        const chunk = new Uint8Array(64 * 1024);
        const n = Number(c.symbols.read(fd, chunk, BigInt(chunk.length)));
        if (n < 0) throw new Error(`cannot read ${path}`);
        if (n === 0) break;
        chunks.push(chunk.subarray(0, n));
      }
      const decoder = new TextDecoder();
      return chunks.map((chunk, i) => decoder.decode(chunk, { stream: i < chunks.length - 1 }))
        .join("");
    } finally {
      c.symbols.close(fd);
    }
  } finally {
    c.close();
  }
}

/** The topmost mount at exactly `path`, if any. */
export async function mountAt(path: string): Promise<MountInfoEntry | undefined> {
  const table = await readMountTable();
  for (let i = table.length - 1; i >= 0; i--) {
    if (table[i].mountPoint === path) return table[i];
  }
  return undefined;
}

/** Where fuse3 installs `fusermount3`. */
export const FUSERMOUNT_PATHS: readonly string[] = [
  "/usr/bin/fusermount3",
  "/bin/fusermount3",
  "/usr/local/bin/fusermount3",
];

/** Where `fusermount3` is, or `"fusermount3"` (found on PATH) when not in the usual places. */
export function fusermountPath(): string {
  for (const p of FUSERMOUNT_PATHS) {
    try {
      if (Deno.permissions.querySync({ name: "read", path: p }).state !== "granted") break;
      if (Deno.statSync(p).isFile) return p;
    } catch {
      // not there; try the next place
    }
  }
  return "fusermount3";
}

function canRun(command: string): boolean {
  return Deno.permissions.querySync({ name: "run", command }).state === "granted";
}

/** Whether this process may run `fusermount3`, which unmounts for users who are not root. */
export function canRunFusermount(): boolean {
  return canRun(fusermountPath());
}

let libc:
  | Deno.DynamicLibrary<{
    umount2: { parameters: ["buffer", "i32"]; result: "i32"; nonblocking: true };
  }>
  | undefined;

function umount2(path: string, flags: number): Promise<number> {
  libc ??= Deno.dlopen("libc.so.6", {
    umount2: { parameters: ["buffer", "i32"], result: "i32", nonblocking: true },
  });
  const bytes = new TextEncoder().encode(path + "\0");
  return libc.symbols.umount2(bytes, flags);
}

/**
 * Whether this process runs as root, asked without prompting (see
 * {@linkcode processIds}); with neither `--allow-sys=uid` nor
 * `--allow-ffi`, `false`.
 */
export function isRoot(): boolean {
  if (Deno.permissions.querySync({ name: "sys", kind: "uid" }).state === "granted") {
    return Deno.uid() === 0;
  }
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return false;
  return processIds().uid === 0;
}

/**
 * The effective user and group ids of this process. Needs `--allow-ffi`
 * (the C library answers) unless `--allow-sys=uid,gid` lets Deno answer.
 */
export function processIds(): { uid: number; gid: number } {
  const sys = (kind: "uid" | "gid") =>
    Deno.permissions.querySync({ name: "sys", kind }).state === "granted";
  if (sys("uid") && sys("gid")) {
    const uid = Deno.uid();
    const gid = Deno.gid();
    if (uid !== null && gid !== null) return { uid, gid };
  }
  const c = Deno.dlopen("libc.so.6", {
    geteuid: { parameters: [], result: "u32" },
    getegid: { parameters: [], result: "u32" },
  });
  try {
    return { uid: c.symbols.geteuid(), gid: c.symbols.getegid() };
  } finally {
    c.close();
  }
}

/**
 * Unmount the FUSE file system at `path`. `lazy` detaches it at once even
 * while in use (it goes away when the last user leaves). A busy mount
 * without `lazy` gives `MountError` `MountPointBusy`.
 *
 * Uses `fusermount3 -u` when `--allow-run` permits it (works for any
 * user), else `umount2(2)` through FFI (root only).
 */
export async function unmountPath(path: string, lazy: boolean): Promise<void> {
  const fusermount = fusermountPath();
  if (canRun(fusermount)) {
    const args = lazy ? ["-u", "-z", path] : ["-u", path];
    const out = await new Deno.Command(fusermount, { args, stdout: "null", stderr: "piped" })
      .output();
    if (out.success) return;
    const message = new TextDecoder().decode(out.stderr).trim();
    if (!(await mountAt(path))) return; // gone meanwhile (e.g. auto_unmount)
    if (/busy/i.test(message)) {
      throw new MountError("MountPointBusy", `cannot unmount ${path}: it is in use`, {
        path,
        fix: "close files and leave directories under it, or unmount with { lazy: true }",
      });
    }
    throw new MountError("Platform", `cannot unmount ${path}: ${message}`, { path });
  }
  const r = await umount2(path, lazy ? UMOUNT.detach : 0);
  if (r === 0 || !(await mountAt(path))) return;
  if (!isRoot()) {
    throw new MountError("PermissionDenied", `cannot unmount ${path}`, {
      path,
      fix: `allow running fusermount3: --allow-run=${fusermount}`,
    });
  }
  throw new MountError("MountPointBusy", `cannot unmount ${path}: it is in use`, {
    path,
    fix: "close files and leave directories under it, or unmount with { lazy: true }",
  });
}

const FUSECTL = "/sys/fs/fuse/connections";

/**
 * Abort FUSE connection `minor` through the fusectl file system (mounting
 * fusectl first when this process may). Every pending and future request
 * of the connection fails with `ENOTCONN`; the server's loop ends. Returns
 * whether it could be done.
 *
 * `stillOurs` is asked right before each attempt: a connection's number is
 * reused by the next FUSE mount as soon as the connection ends, so the
 * caller must know that its connection is still alive.
 */
export async function abortConnection(
  minor: number,
  stillOurs: () => boolean = () => true,
): Promise<boolean> {
  const abortFile = `${FUSECTL}/${minor}/abort`;
  const tryAbort = async () => {
    if (!stillOurs()) return false;
    try {
      await Deno.writeTextFile(abortFile, "1");
      return true;
    } catch {
      return false;
    }
  };
  if (await tryAbort()) return true;
  // fusectl is often not mounted inside containers; root can mount it.
  if (canRun("mount")) {
    const out = await new Deno.Command("mount", {
      args: ["-t", "fusectl", "none", FUSECTL],
      stdout: "null",
      stderr: "null",
    }).output();
    if (out.success) return await tryAbort();
  }
  return false;
}

/**
 * If `path` is a dead FUSE mount ("Transport endpoint is not connected":
 * its server died without unmounting), unmount it and return `true`.
 */
export async function cleanStaleMount(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return false;
  } catch (e) {
    if (!isNotConnected(e)) return false;
  }
  await unmountPath(path, true);
  return true;
}

/** Whether `e` is the `ENOTCONN` of a dead FUSE mount. */
export function isNotConnected(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown } | null;
  return err?.code === "ENOTCONN" ||
    (typeof err?.message === "string" && err.message.includes("os error 107"));
}
