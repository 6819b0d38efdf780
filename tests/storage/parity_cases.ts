/**
 * Edge cases run both through FileStorage and through Deno's own API on a
 * real temporary directory; the results must agree. Shared by the parity
 * test; each case returns a plain value or throws.
 */

import type { FsApi } from "../../src/storage/api.ts";

/** What a parity case gets: the file API and a function making its paths. */
export interface ParityEnv {
  fs: FsApi;
  /** The path of `rel` (which starts with "/") inside the case's root. */
  p(rel: string): string;
}

/** One case: a label and a body whose result (or error) is compared. */
export type ParityCase = [string, (env: ParityEnv) => Promise<unknown>];

const enc = new TextEncoder();

/** The tree every case starts from. */
export async function setup({ fs, p }: ParityEnv): Promise<void> {
  await fs.mkdir(p("/dir"));
  await fs.writeTextFile(p("/file"), "hello");
  await fs.mkdir(p("/full"));
  await fs.writeTextFile(p("/full/x"), "x");
  await fs.symlink("file", p("/lnk"));
  await fs.symlink("dir", p("/dlnk"));
  await fs.symlink("nowhere", p("/dangling"));
  await fs.symlink("loop2", p("/loop1"));
  await fs.symlink("loop1", p("/loop2"));
  await fs.mkdir(p("/a/b/c"), { recursive: true });
  await fs.symlink("a/b/c", p("/deep"));
  await fs.writeTextFile(p("/a/b/target"), "T");
}

function info(i: Deno.FileInfo) {
  return {
    isFile: i.isFile,
    isDirectory: i.isDirectory,
    isSymlink: i.isSymlink,
    size: i.isDirectory ? "dir" : i.size,
    mode: i.mode,
    nlink: i.nlink,
  };
}

async function list(fs: FsApi, path: string) {
  const out = [];
  for await (const e of fs.readDir(path)) out.push(e);
  return out.sort((a, b) => a.name < b.name ? -1 : 1);
}

async function text(fs: FsApi, path: string) {
  return new TextDecoder().decode(await fs.readFile(path));
}

export const cases: ParityCase[] = [
  ["readFile dir", ({ fs, p }) => fs.readFile(p("/dir"))],
  ["readFile missing", ({ fs, p }) => fs.readFile(p("/missing"))],
  ["readFile via link", ({ fs, p }) => text(fs, p("/lnk"))],
  ["readFile file/", ({ fs, p }) => fs.readFile(p("/file/"))],
  ["readFile file/x", ({ fs, p }) => fs.readFile(p("/file/x"))],
  ["readFile loop", ({ fs, p }) => fs.readFile(p("/loop1"))],
  ["readFile dangling", ({ fs, p }) => fs.readFile(p("/dangling"))],
  ["readFile deep/../target", ({ fs, p }) => text(fs, p("/deep/../target"))],
  ["readFile dlnk/../file", ({ fs, p }) => text(fs, p("/dlnk/../file"))],
  ["writeFile dir", ({ fs, p }) => fs.writeFile(p("/dir"), enc.encode("x"))],
  ["writeFile missing/x", ({ fs, p }) => fs.writeFile(p("/missing/x"), enc.encode("x"))],
  [
    "writeFile createNew exists",
    ({ fs, p }) => fs.writeFile(p("/file"), enc.encode("x"), { createNew: true }),
  ],
  [
    "writeFile createNew dangling",
    ({ fs, p }) => fs.writeFile(p("/dangling"), enc.encode("x"), { createNew: true }),
  ],
  [
    "writeFile create false",
    ({ fs, p }) => fs.writeFile(p("/nofile"), enc.encode("x"), { create: false }),
  ],
  ["writeFile new/", ({ fs, p }) => fs.writeFile(p("/new/"), enc.encode("x"))],
  ["writeFile dlnk", ({ fs, p }) => fs.writeFile(p("/dlnk"), enc.encode("x"))],
  ["writeFile through dangling", async ({ fs, p }) => {
    await fs.writeFile(p("/dangling"), enc.encode("x"));
    return [info(await fs.lstat(p("/dangling"))).isSymlink, await text(fs, p("/nowhere"))];
  }],
  ["writeFile through link", async ({ fs, p }) => {
    await fs.writeTextFile(p("/lnk"), "new");
    return [await text(fs, p("/file")), (await fs.lstat(p("/lnk"))).isSymlink];
  }],
  ["writeFile mode existing", async ({ fs, p }) => {
    await fs.writeTextFile(p("/file"), "m", { mode: 0o600 });
    return info(await fs.stat(p("/file")));
  }],
  ["writeFile mode new", async ({ fs, p }) => {
    await fs.writeTextFile(p("/n1"), "m", { mode: 0o4777 });
    return info(await fs.stat(p("/n1")));
  }],
  ["writeFile default mode", async ({ fs, p }) => {
    await fs.writeTextFile(p("/n2"), "m");
    return info(await fs.stat(p("/n2")));
  }],
  ["writeFile append", async ({ fs, p }) => {
    await fs.writeTextFile(p("/file"), "++", { append: true });
    await fs.writeTextFile(p("/fresh"), "a", { append: true });
    return [await text(fs, p("/file")), await text(fs, p("/fresh"))];
  }],
  ["writeFile stream", async ({ fs, p }) => {
    await fs.writeFile(p("/st"), ReadableStream.from([enc.encode("ab"), enc.encode("c")]));
    return text(fs, p("/st"));
  }],
  ["stat missing", ({ fs, p }) => fs.stat(p("/missing"))],
  ["stat loop", ({ fs, p }) => fs.stat(p("/loop1"))],
  ["lstat loop", async ({ fs, p }) => info(await fs.lstat(p("/loop1")))],
  ["stat file/", ({ fs, p }) => fs.stat(p("/file/"))],
  ["stat file/.", ({ fs, p }) => fs.stat(p("/file/."))],
  ["stat dir/.", async ({ fs, p }) => info(await fs.stat(p("/dir/.")))],
  ["stat dir/..", async ({ fs, p }) => info(await fs.stat(p("/dir/../file")))],
  ["stat file/..", ({ fs, p }) => fs.stat(p("/file/../dir"))],
  ["lstat lnk/", ({ fs, p }) => fs.lstat(p("/lnk/"))],
  ["lstat dlnk/", async ({ fs, p }) => info(await fs.lstat(p("/dlnk/")))],
  ["lstat dlnk", async ({ fs, p }) => info(await fs.lstat(p("/dlnk")))],
  ["stat dangling", ({ fs, p }) => fs.stat(p("/dangling"))],
  ["stat dangling/", ({ fs, p }) => fs.stat(p("/dangling/"))],
  ["stat missing/x", ({ fs, p }) => fs.stat(p("/missing/x"))],
  ["stat deep/..", async ({ fs, p }) => info(await fs.stat(p("/deep/..")))],
  ["readDir file", ({ fs, p }) => list(fs, p("/file"))],
  ["readDir missing", ({ fs, p }) => list(fs, p("/missing"))],
  ["readDir dlnk", ({ fs, p }) => list(fs, p("/dlnk"))],
  ["readDir root", ({ fs, p }) => list(fs, p("/"))],
  ["mkdir existing", ({ fs, p }) => fs.mkdir(p("/dir"))],
  ["mkdir file recursive", ({ fs, p }) => fs.mkdir(p("/file"), { recursive: true })],
  ["mkdir dir recursive", ({ fs, p }) => fs.mkdir(p("/dir"), { recursive: true })],
  ["mkdir under file recursive", ({ fs, p }) => fs.mkdir(p("/file/a/b"), { recursive: true })],
  ["mkdir missing parent", ({ fs, p }) => fs.mkdir(p("/m1/m2"))],
  ["mkdir dangling", ({ fs, p }) => fs.mkdir(p("/dangling"))],
  ["mkdir dangling recursive", ({ fs, p }) => fs.mkdir(p("/dangling"), { recursive: true })],
  ["mkdir dangling/x recursive", ({ fs, p }) => fs.mkdir(p("/dangling/x"), { recursive: true })],
  ["mkdir lnk/x recursive", ({ fs, p }) => fs.mkdir(p("/lnk/x"), { recursive: true })],
  ["mkdir dlnk recursive", ({ fs, p }) => fs.mkdir(p("/dlnk"), { recursive: true })],
  ["mkdir dlnk", ({ fs, p }) => fs.mkdir(p("/dlnk"))],
  ["mkdir dlnk/", ({ fs, p }) => fs.mkdir(p("/dlnk/"))],
  ["mkdir lnk recursive", ({ fs, p }) => fs.mkdir(p("/lnk"), { recursive: true })],
  ["mkdir dir/.", ({ fs, p }) => fs.mkdir(p("/dir/."))],
  ["mkdir dir/..", ({ fs, p }) => fs.mkdir(p("/dir/.."))],
  ["mkdir missing/.", ({ fs, p }) => fs.mkdir(p("/nothere/."))],
  ["mkdir trailing slash", async ({ fs, p }) => {
    await fs.mkdir(p("/mt/"));
    return info(await fs.stat(p("/mt")));
  }],
  ["mkdir through dlnk", async ({ fs, p }) => {
    await fs.mkdir(p("/dlnk/sub"));
    return list(fs, p("/dir"));
  }],
  ["mkdir recursive dots", async ({ fs, p }) => {
    await fs.mkdir(p("/m/./n/../o"), { recursive: true });
    return list(fs, p("/m"));
  }],
  ["mkdir recursive through link", async ({ fs, p }) => {
    await fs.mkdir(p("/deep/x/y"), { recursive: true });
    return list(fs, p("/a/b/c/x"));
  }],
  ["mkdir recursive mode", async ({ fs, p }) => {
    await fs.mkdir(p("/r1/r2"), { recursive: true, mode: 0o700 });
    return [info(await fs.stat(p("/r1"))), info(await fs.stat(p("/r1/r2")))];
  }],
  ["mkdir mode masked", async ({ fs, p }) => {
    await fs.mkdir(p("/d777"), { mode: 0o777 });
    return info(await fs.stat(p("/d777")));
  }],
  ["remove nonempty", ({ fs, p }) => fs.remove(p("/full"))],
  ["remove missing", ({ fs, p }) => fs.remove(p("/missing"))],
  ["remove missing recursive", ({ fs, p }) => fs.remove(p("/missing"), { recursive: true })],
  ["remove dlnk/", ({ fs, p }) => fs.remove(p("/dlnk/"))],
  ["remove lnk/", ({ fs, p }) => fs.remove(p("/lnk/"))],
  ["remove file/", ({ fs, p }) => fs.remove(p("/file/"))],
  ["remove dir/.", ({ fs, p }) => fs.remove(p("/dir/."))],
  ["remove full/..", ({ fs, p }) => fs.remove(p("/full/.."))],
  ["remove dir/", async ({ fs, p }) => {
    await fs.remove(p("/dir/"));
    return list(fs, p("/"));
  }],
  ["remove link keeps target", async ({ fs, p }) => {
    await fs.remove(p("/dlnk"));
    return [info(await fs.stat(p("/dir"))).isDirectory, (await list(fs, p("/"))).length];
  }],
  ["remove recursive keeps link targets", async ({ fs, p }) => {
    await fs.symlink("../file", p("/full/l"));
    await fs.remove(p("/full"), { recursive: true });
    return [await text(fs, p("/file")), await list(fs, p("/"))];
  }],
  ["rename missing", ({ fs, p }) => fs.rename(p("/missing"), p("/x"))],
  ["rename dir over file", ({ fs, p }) => fs.rename(p("/dir"), p("/file"))],
  ["rename file over dir", ({ fs, p }) => fs.rename(p("/file"), p("/dir"))],
  ["rename dir into itself", ({ fs, p }) => fs.rename(p("/full"), p("/full/sub"))],
  ["rename over nonempty", ({ fs, p }) => fs.rename(p("/dir"), p("/full"))],
  ["rename file/", ({ fs, p }) => fs.rename(p("/file/"), p("/x"))],
  ["rename to x/", ({ fs, p }) => fs.rename(p("/file"), p("/x/"))],
  ["rename dlnk/", ({ fs, p }) => fs.rename(p("/dlnk/"), p("/x"))],
  ["rename dir/ to y/", async ({ fs, p }) => {
    await fs.rename(p("/dir/"), p("/y/"));
    return info(await fs.stat(p("/y")));
  }],
  ["rename to dir/..", ({ fs, p }) => fs.rename(p("/full"), p("/dir/.."))],
  ["rename link moves link", async ({ fs, p }) => {
    await fs.rename(p("/lnk"), p("/lnk2"));
    return fs.readLink(p("/lnk2"));
  }],
  ["rename through dir link", async ({ fs, p }) => {
    await fs.rename(p("/file"), p("/dlnk/moved"));
    return list(fs, p("/dir"));
  }],
  ["rename onto own hard link", async ({ fs, p }) => {
    await fs.link(p("/file"), p("/hard"));
    await fs.rename(p("/file"), p("/hard"));
    return [info(await fs.stat(p("/file"))).nlink, info(await fs.stat(p("/hard"))).nlink];
  }],
  ["copyFile missing", ({ fs, p }) => fs.copyFile(p("/missing"), p("/x"))],
  ["copyFile dir", ({ fs, p }) => fs.copyFile(p("/dir"), p("/x"))],
  ["copyFile to dir", ({ fs, p }) => fs.copyFile(p("/file"), p("/dir"))],
  ["copyFile onto itself", ({ fs, p }) => fs.copyFile(p("/file"), p("/file"))],
  ["copyFile onto link to itself", ({ fs, p }) => fs.copyFile(p("/file"), p("/lnk"))],
  ["copyFile perms", async ({ fs, p }) => {
    await fs.chmod(p("/file"), 0o751);
    await fs.copyFile(p("/file"), p("/copy"));
    return [info(await fs.stat(p("/copy"))), await text(fs, p("/copy"))];
  }],
  ["copyFile over existing", async ({ fs, p }) => {
    await fs.writeTextFile(p("/c2"), "zzzzzzzzzz", { mode: 0o600 });
    await fs.copyFile(p("/file"), p("/c2"));
    return [info(await fs.stat(p("/c2"))), await text(fs, p("/c2"))];
  }],
  ["copyFile via link source", async ({ fs, p }) => {
    await fs.copyFile(p("/lnk"), p("/c3"));
    return info(await fs.lstat(p("/c3")));
  }],
  ["copyFile onto dangling", async ({ fs, p }) => {
    await fs.copyFile(p("/file"), p("/dangling"));
    return [info(await fs.lstat(p("/dangling"))).isSymlink, await text(fs, p("/nowhere"))];
  }],
  ["symlink exists", ({ fs, p }) => fs.symlink("x", p("/file"))],
  ["symlink over dangling", ({ fs, p }) => fs.symlink("x", p("/dangling"))],
  ["symlink trailing slash", ({ fs, p }) => fs.symlink("x", p("/sl/"))],
  ["symlink empty target", ({ fs, p }) => fs.symlink("", p("/sl"))],
  ["symlink missing dir", ({ fs, p }) => fs.symlink("x", p("/missing/sl"))],
  ["symlink via dlnk", async ({ fs, p }) => {
    await fs.symlink("x", p("/dlnk/sl"));
    return [await fs.readLink(p("/dir/sl")), info(await fs.lstat(p("/dir/sl")))];
  }],
  ["link exists", ({ fs, p }) => fs.link(p("/file"), p("/dir"))],
  ["link dir", ({ fs, p }) => fs.link(p("/dir"), p("/dirlink"))],
  ["link missing", ({ fs, p }) => fs.link(p("/missing"), p("/x2"))],
  ["link to dangling dest", ({ fs, p }) => fs.link(p("/file"), p("/dangling"))],
  ["link symlink", async ({ fs, p }) => {
    await fs.link(p("/lnk"), p("/hl"));
    return [info(await fs.lstat(p("/hl"))), await fs.readLink(p("/hl"))];
  }],
  ["link counts", async ({ fs, p }) => {
    await fs.link(p("/file"), p("/h1"));
    await fs.link(p("/h1"), p("/dir/h2"));
    return [info(await fs.stat(p("/file"))).nlink, info(await fs.stat(p("/dir/h2"))).nlink];
  }],
  ["readLink file", ({ fs, p }) => fs.readLink(p("/file"))],
  ["readLink missing", ({ fs, p }) => fs.readLink(p("/missing"))],
  ["readLink lnk/", ({ fs, p }) => fs.readLink(p("/lnk/"))],
  ["readLink dlnk/", ({ fs, p }) => fs.readLink(p("/dlnk/"))],
  ["readLink dangling", ({ fs, p }) => fs.readLink(p("/dangling"))],
  ["realPath missing", ({ fs, p }) => fs.realPath(p("/missing"))],
  ["realPath dangling", ({ fs, p }) => fs.realPath(p("/dangling"))],
  ["realPath loop", ({ fs, p }) => fs.realPath(p("/loop1"))],
  ["realPath deep/..", async ({ fs, p }) => (await fs.realPath(p("/deep/.."))).slice(p("").length)],
  [
    "realPath dlnk/../lnk",
    async ({ fs, p }) => (await fs.realPath(p("/dlnk/../lnk"))).slice(p("").length),
  ],
  ["chmod missing", ({ fs, p }) => fs.chmod(p("/missing"), 0o644)],
  ["chmod dangling", ({ fs, p }) => fs.chmod(p("/dangling"), 0o644)],
  ["chmod via link", async ({ fs, p }) => {
    await fs.chmod(p("/lnk"), 0o640);
    return [info(await fs.stat(p("/file"))), info(await fs.lstat(p("/lnk"))).mode];
  }],
  ["chmod special bits", async ({ fs, p }) => {
    await fs.chmod(p("/dir"), 0o1777);
    return info(await fs.stat(p("/dir")));
  }],
  ["chown missing", ({ fs, p }) => fs.chown(p("/missing"), null, null)],
  ["chown via link", async ({ fs, p }) => {
    await fs.chown(p("/lnk"), 1, 2);
    const f = await fs.stat(p("/file"));
    const l = await fs.lstat(p("/lnk"));
    return [f.uid, f.gid, l.uid === f.uid];
  }],
  ["utime missing", ({ fs, p }) => fs.utime(p("/missing"), 1, 1)],
  ["utime dangling", ({ fs, p }) => fs.utime(p("/dangling"), 1, 1)],
  ["utime seconds and dates", async ({ fs, p }) => {
    await fs.utime(p("/lnk"), 1.5, new Date(2000));
    const s = await fs.stat(p("/file"));
    return [s.atime?.getTime(), s.mtime?.getTime()];
  }],
  ["truncate missing", ({ fs, p }) => fs.truncate(p("/missing"), 1)],
  ["truncate dir", ({ fs, p }) => fs.truncate(p("/dir"), 1)],
  ["truncate link", ({ fs, p }) => fs.truncate(p("/lnk"), 1)],
  ["truncate negative", async ({ fs, p }) => {
    await fs.truncate(p("/file"), -1);
    return info(await fs.stat(p("/file")));
  }],
  ["truncate grow and shrink", async ({ fs, p }) => {
    await fs.truncate(p("/file"), 8);
    const grown = await fs.readFile(p("/file"));
    await fs.truncate(p("/file"), 2);
    return [Array.from(grown), await text(fs, p("/file"))];
  }],
  ["truncate default", async ({ fs, p }) => {
    await fs.truncate(p("/file"));
    return info(await fs.stat(p("/file")));
  }],
  ["truncate through dir link", async ({ fs, p }) => {
    await fs.truncate(p("/dlnk/../file"), 1);
    return text(fs, p("/file"));
  }],
  ["open missing", ({ fs, p }) => fs.open(p("/missing"))],
  ["open missing write", ({ fs, p }) => fs.open(p("/missing"), { write: true })],
  ["open dir write", ({ fs, p }) => fs.open(p("/dir"), { write: true })],
  ["open dlnk write", ({ fs, p }) => fs.open(p("/dlnk"), { write: true })],
  ["open createNew on link", ({ fs, p }) => fs.open(p("/lnk"), { write: true, createNew: true })],
  ["open loop", ({ fs, p }) => fs.open(p("/loop1"))],
  ["open create through dangling", async ({ fs, p }) => {
    const f = await fs.open(p("/dangling"), { write: true, create: true });
    await f.write(enc.encode("via"));
    await f.close();
    return text(fs, p("/nowhere"));
  }],
  ["open create mode", async ({ fs, p }) => {
    const f = await fs.open(p("/om"), { write: true, create: true, mode: 0o666 });
    await f.close();
    const g = await fs.open(p("/file"), { write: true, create: true, mode: 0o600 });
    await g.close();
    return [info(await fs.stat(p("/om"))), info(await fs.stat(p("/file")))];
  }],
  ["open dir read then read", async ({ fs, p }) => {
    const f = await fs.open(p("/dir"));
    try {
      return await f.read(new Uint8Array(4));
    } finally {
      await f.close();
    }
  }],
  ["file cursor semantics", async ({ fs, p }) => {
    const f = await fs.open(p("/file"), { read: true, write: true });
    const out: unknown[] = [];
    const buf = new Uint8Array(100);
    out.push(await f.read(buf), await f.read(buf), await f.read(new Uint8Array(0)));
    out.push(await f.seek(-3, Deno.SeekMode.End));
    out.push(await f.seek(1, Deno.SeekMode.Current));
    out.push(await f.seek(10, Deno.SeekMode.Start));
    out.push(await f.write(enc.encode("!")));
    await f.truncate(7);
    out.push(await f.seek(0, Deno.SeekMode.Current));
    out.push((await f.stat()).size);
    await f.close();
    out.push(Array.from(await fs.readFile(p("/file"))));
    return out;
  }],
  ["file append cursor", async ({ fs, p }) => {
    const f = await fs.open(p("/file"), { append: true });
    await f.seek(0, Deno.SeekMode.Start);
    await f.write(enc.encode("Q"));
    const pos = await f.seek(0, Deno.SeekMode.Current);
    await f.close();
    return [pos, await text(fs, p("/file"))];
  }],
  ["file seek negative", async ({ fs, p }) => {
    const f = await fs.open(p("/file"));
    try {
      return await f.seek(-1, Deno.SeekMode.Start);
    } finally {
      await f.close();
    }
  }],
  ["file truncate read-only", async ({ fs, p }) => {
    const f = await fs.open(p("/file"));
    try {
      return await f.truncate(1);
    } finally {
      await f.close();
    }
  }],
  ["file write read-only", async ({ fs, p }) => {
    const f = await fs.open(p("/file"));
    try {
      return await f.write(enc.encode("x"));
    } finally {
      await f.close();
    }
  }],
  ["file read write-only", async ({ fs, p }) => {
    const f = await fs.open(p("/file"), { write: true });
    try {
      return await f.read(new Uint8Array(1));
    } finally {
      await f.close();
    }
  }],
  ["two handles share writes", async ({ fs, p }) => {
    const a = await fs.open(p("/file"), { read: true, write: true });
    const b = await fs.open(p("/file"));
    await a.write(enc.encode("abc"));
    const buf = new Uint8Array(10);
    const n = await b.read(buf);
    await a.close();
    await b.close();
    return [n, new TextDecoder().decode(buf.subarray(0, n!))];
  }],
  ["open truncate", async ({ fs, p }) => {
    const f = await fs.open(p("/file"), { write: true, truncate: true });
    await f.close();
    return info(await fs.stat(p("/file")));
  }],
  ["readable from cursor", async ({ fs, p }) => {
    const f = await fs.open(p("/file"));
    await f.seek(1, Deno.SeekMode.Start);
    return await new Response(f.readable).text();
  }],
  ["writable", async ({ fs, p }) => {
    const f = await fs.open(p("/w"), { write: true, create: true });
    await ReadableStream.from([enc.encode("AB"), enc.encode("C")]).pipeTo(f.writable);
    return text(fs, p("/w"));
  }],
  ["readTextFile keeps BOM", async ({ fs, p }) => {
    await fs.writeFile(p("/bom"), new Uint8Array([0xef, 0xbb, 0xbf, 0x41, 0xff]));
    return fs.readTextFile(p("/bom"));
  }],
  ["relative symlink chain", async ({ fs, p }) => {
    await fs.symlink("../file", p("/dir/up"));
    await fs.symlink("dir/up", p("/chain"));
    return [await text(fs, p("/chain")), (await fs.realPath(p("/chain"))).slice(p("").length)];
  }],
  ["absolute symlink", async ({ fs, p }) => {
    await fs.symlink(p("/a/b"), p("/abs"));
    return [await text(fs, p("/abs/target")), await text(fs, p("/abs/c/../target"))];
  }],
  ["link to link to dir trailing", async ({ fs, p }) => {
    await fs.symlink("dlnk", p("/dl2"));
    return [info(await fs.lstat(p("/dl2/"))), info(await fs.lstat(p("/dl2")))];
  }],
  ["dot-dot above root of chain", async ({ fs, p }) => {
    await fs.symlink("c/..", p("/a/b/up"));
    return list(fs, p("/a/b/up"));
  }],
  ["symlink chain of 40 resolves", async ({ fs, p }) => {
    await fs.symlink("file", p("/c0"));
    for (let i = 1; i < 40; i++) await fs.symlink(`c${i - 1}`, p(`/c${i}`));
    return [await text(fs, p("/c39")), (await fs.realPath(p("/c39"))).slice(p("").length)];
  }],
  ["symlink chain of 41 is ELOOP", async ({ fs, p }) => {
    await fs.symlink("file", p("/c0"));
    for (let i = 1; i < 41; i++) await fs.symlink(`c${i - 1}`, p(`/c${i}`));
    return await fs.stat(p("/c40"));
  }],
  ["40 links across directory positions", async ({ fs, p }) => {
    await fs.symlink("dir", p("/d0"));
    for (let i = 1; i < 40; i++) await fs.symlink(`d${i - 1}`, p(`/d${i}`));
    await fs.writeTextFile(p("/dir/in"), "in");
    return [await text(fs, p("/d39/in")), await fs.stat(p("/d39/../file")).then((i) => i.size)];
  }],
  [
    "writeFile file/ (O_CREAT with a trailing slash)",
    ({ fs, p }) => fs.writeFile(p("/file/"), enc.encode("x")),
  ],
  ["writeFile lnk/ create", ({ fs, p }) => fs.writeFile(p("/lnk/"), enc.encode("x"))],
  [
    "writeFile file/ create false",
    ({ fs, p }) => fs.writeFile(p("/file/"), enc.encode("x"), { create: false }),
  ],
  ["writeFile missing/x/", ({ fs, p }) => fs.writeFile(p("/missing/x/"), enc.encode("x"))],
  ["writeFile file/x/", ({ fs, p }) => fs.writeFile(p("/file/x/"), enc.encode("x"))],
  ["open dir/ createNew", ({ fs, p }) => fs.open(p("/dir/"), { write: true, createNew: true })],
  ["open file/ create", ({ fs, p }) => fs.open(p("/file/"), { write: true, create: true })],
  ["open file/ no create", ({ fs, p }) => fs.open(p("/file/"), { write: true })],
  ["copyFile to new/", ({ fs, p }) => fs.copyFile(p("/file"), p("/new/"))],
  ["mkdir -p through link to missing parent", async ({ fs, p }) => {
    await fs.symlink("gone/b", p("/lg"));
    return await fs.mkdir(p("/lg/b"), { recursive: true });
  }],
  ["mkdir -p through link to a file's child", async ({ fs, p }) => {
    await fs.symlink("file/b", p("/lf"));
    return await fs.mkdir(p("/lf/b"), { recursive: true });
  }],
  ["mkdir -p through looping link", ({ fs, p }) => fs.mkdir(p("/loop1/b"), { recursive: true })],
  ["mkdir -p of a looping link", ({ fs, p }) => fs.mkdir(p("/loop1"), { recursive: true })],
  ["mkdir file/", ({ fs, p }) => fs.mkdir(p("/file/"))],
  ["mkdir lnk/", ({ fs, p }) => fs.mkdir(p("/lnk/"))],
  ["mkdir dangling/", ({ fs, p }) => fs.mkdir(p("/dangling/"))],
  ["symlink onto file/", ({ fs, p }) => fs.symlink("x", p("/file/"))],
  ["link onto file/", ({ fs, p }) => fs.link(p("/file"), p("/file/"))],
  ["link to new/", ({ fs, p }) => fs.link(p("/file"), p("/new/"))],
  ["link from file/", ({ fs, p }) => fs.link(p("/file/"), p("/new"))],
  ["copyFile dir onto loop", ({ fs, p }) => fs.copyFile(p("/dir"), p("/loop1"))],
  ["copyFile dir into missing", ({ fs, p }) => fs.copyFile(p("/dir"), p("/missing/x"))],
  ["copyFile onto loop", ({ fs, p }) => fs.copyFile(p("/file"), p("/loop1"))],
  ["rename missing into a file's child", ({ fs, p }) => fs.rename(p("/missing"), p("/file/x"))],
  ["rename missing into a missing dir", ({ fs, p }) => fs.rename(p("/missing"), p("/nope/x"))],
  [
    "rename from a missing dir into a file's child",
    ({ fs, p }) => fs.rename(p("/nope/a"), p("/file/x")),
  ],
  ["remove loop/", ({ fs, p }) => fs.remove(p("/loop1/"))],
  ["remove dangling/", ({ fs, p }) => fs.remove(p("/dangling/"))],
  ["rename dangling/", ({ fs, p }) => fs.rename(p("/dangling/"), p("/x"))],
  ["rename loop/", ({ fs, p }) => fs.rename(p("/loop1/"), p("/x"))],
  ["append cursor survives truncate", async ({ fs, p }) => {
    const f = await fs.open(p("/file"), { append: true });
    await f.write(enc.encode("123456789"));
    await f.truncate(0);
    const at = await f.seek(2, Deno.SeekMode.Current);
    await f.close();
    return at;
  }],
];
