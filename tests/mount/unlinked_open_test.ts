// A descriptor names a file, not a path: fstat(2), fgetxattr(2) and
// readlinkat(2) through a descriptor whose file lost its name (unlinked, or
// replaced by `mv new old`, or rotated away) must describe THAT file, as on
// tmpfs, and never the one that has its old name now. `tail -F` compares
// fstat of its descriptor with stat of the name to detect rotation; editors
// compare fstat size and mtime. Each program runs on tmpfs (/dev/shm) first,
// and the mount must give the same output.
import assert from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { SqliteBackend } from "../../src/backends/sqlite.ts";
import { StdFsBackend } from "../../src/backends/std_fs.ts";
import type { Backend } from "../../src/core/backend.ts";
import type { MountOptions } from "../../src/mount/options.ts";
import { shOk, withMount } from "./helpers.ts";
import { fuseTest } from "../_fuse.ts";

// argv: the directory to work in, the directory through which "another
// process" changes names (the same one, or the host directory a backend
// serves), and the sections to run.
const PROGRAM = String.raw`
import ctypes, os, sys
work, other, sections = sys.argv[1], sys.argv[2], sys.argv[3].split(',')
os.chdir(work)
T0 = 1_000_000_000

def put(path, data):
    with open(path, 'wb') as f: f.write(data)

def same(a, b):
    return (a.st_ino == b.st_ino, a.st_size == b.st_size, a.st_mtime_ns == b.st_mtime_ns,
            oct(a.st_mode) == oct(b.st_mode))

if 'replace' in sections:
    # mv new old, and rm f; echo x > f, while a descriptor is open.
    for how in ('mv', 'rm'):
        put('old', b'original content')
        os.utime('old', ns=(T0, T0))
        fd = os.open('old', os.O_RDONLY)
        before = os.fstat(fd)
        if how == 'mv':
            put(other + '/new', b'xx')
            os.replace(other + '/new', other + '/old')
        else:
            os.unlink(other + '/old')
            put(other + '/old', b'y')
        after = os.fstat(fd)
        print(how, 'fstat', same(before, after), 'nlink', after.st_nlink)
        print(how, 'read', os.pread(fd, 100, 0))
        print(how, 'name', os.stat('old').st_ino != before.st_ino, os.stat('old').st_size)
        os.close(fd)
        os.unlink('old')

if 'rotate' in sections:
    # What tail -F checks: the descriptor still shows the rotated file.
    put('log', b'line 1\n')
    fd = os.open('log', os.O_RDONLY)
    before = os.fstat(fd)
    os.rename(other + '/log', other + '/log.1')
    put(other + '/log', b'new\n')
    after = os.fstat(fd)
    print('rotate fstat', same(before, after), 'nlink', after.st_nlink)
    print('rotate name', os.stat('log').st_ino != after.st_ino)
    os.close(fd)
    os.unlink('log'); os.unlink('log.1')

if 'opath' in sections:
    # A descriptor without an open file (O_PATH): no handle to ask.
    put('p', b'original content')
    os.utime('p', ns=(T0, T0))
    fd = os.open('p', os.O_PATH)
    before = os.fstat(fd)
    put('p2', b'xx')
    os.replace('p2', 'p')
    after = os.fstat(fd)
    print('O_PATH fstat', same(before, after), 'nlink', after.st_nlink)
    os.close(fd)
    os.unlink('p')

if 'dir' in sections:
    # A directory removed and made again under the same name, held open
    # (or as a working directory).
    os.mkdir('d')
    fd = os.open('d', os.O_RDONLY | os.O_DIRECTORY)
    before = os.fstat(fd)
    os.rmdir('d'); os.mkdir('d'); os.mkdir('d/sub')
    after = os.fstat(fd)
    print('dir fstat', after.st_ino == before.st_ino, 'nlink', after.st_nlink)
    os.close(fd)
    os.rmdir('d/sub'); os.rmdir('d')

if 'xattr' in sections:
    # Extended attributes through a descriptor of an unlinked or replaced
    # file: the file's own, kept and changeable; the successor's untouched.
    for how in ('rm', 'mv'):
        put('x', b'data')
        os.setxattr('x', 'user.before', b'1')
        fd = os.open('x', os.O_RDWR)
        if how == 'rm':
            os.unlink('x')
            put('x', b'other')
        else:
            put('x2', b'other')
            os.replace('x2', 'x')
        print(how, 'kept', os.getxattr(fd, 'user.before'))
        os.setxattr(fd, 'user.k', b'v1')
        os.setxattr(fd, 'user.k', b'v2')
        print(how, 'set', os.getxattr(fd, 'user.k'), sorted(os.listxattr(fd)))
        os.removexattr(fd, 'user.before')
        print(how, 'removed', sorted(os.listxattr(fd)))
        try:
            os.getxattr(fd, 'user.before')
        except OSError as e:
            print(how, 'missing', e.errno == 61)
        print(how, 'successor', os.listxattr('x'))
        os.close(fd)
        os.unlink('x')

if 'symlink' in sections:
    # readlinkat(fd, "") of a symlink replaced after it was opened with O_PATH.
    libc = ctypes.CDLL(None, use_errno=True)
    os.symlink('first-target', 'l')
    fd = os.open('l', os.O_PATH | os.O_NOFOLLOW)
    os.symlink('second-target', 'l2')
    os.replace('l2', 'l')
    buf = ctypes.create_string_buffer(256)
    n = libc.readlinkat(fd, b'', buf, 256)
    print('readlinkat', buf.raw[:n] if n >= 0 else os.strerror(ctypes.get_errno()))
    print('name', os.readlink('l'))
    os.close(fd)
    os.unlink('l')
`;

async function run(work: string, other: string, sections: string[]): Promise<string> {
  return await shOk(
    `python3 - '${work}' '${other}' '${sections.join(",")}' <<'PY'\n${PROGRAM}\nPY`,
  );
}

/** The program's output on tmpfs, the reference. */
async function onTmpfs(sections: string[]): Promise<string> {
  const dir = await Deno.makeTempDir({ dir: "/dev/shm", prefix: "anyfs-gone-" });
  try {
    return await run(dir, dir, sections);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const ALL = ["replace", "rotate", "opath", "dir", "xattr", "symlink"];
// Attribute caching would hide the mount's answers behind the kernel's
// copy; attrTimeout 0 makes every fstat(2) reach the mount.
const CONFIGS: MountOptions[] = [{ cache: "never", attrTimeout: 0 }, {
  cache: "auto",
  attrTimeout: 0,
}];
const BACKENDS: [string, () => Backend][] = [
  ["MemoryBackend", () => new MemoryBackend()],
  ["SqliteBackend", () => SqliteBackend.memory()],
];

for (const [name, make] of BACKENDS) {
  fuseTest(
    `a descriptor of a file that lost its name describes that file, as on tmpfs (${name})`,
    async () => {
      const expected = await onTmpfs(ALL);
      for (const options of CONFIGS) {
        await withMount(make(), options, async (mp) => {
          assert.equal(await run(mp, mp, ALL), expected, JSON.stringify(options));
        });
      }
    },
  );
}

// A host directory backend has no inode numbers of its own to look files up
// by, and another process may change names on the host side, which the
// mount learns nothing about. (A name the kernel still caches reaches the
// old file until its entry timeout runs out; 0 makes it look names up.)
fuseTest(
  "a descriptor keeps describing its file when the host side replaces its name (StdFsBackend)",
  async () => {
    const sections = ["replace", "rotate"];
    const expected = await onTmpfs(sections);
    for (const options of CONFIGS.map((o) => ({ ...o, entryTimeout: 0 }))) {
      const host = await Deno.makeTempDir({ prefix: "anyfs-gone-host-" });
      try {
        await withMount(new StdFsBackend({ root: host }), options, async (mp) => {
          assert.equal(await run(mp, host, sections), expected, JSON.stringify(options));
        });
      } finally {
        await Deno.remove(host, { recursive: true });
      }
    }
  },
);
