import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { isWithin } from "../../src/core/path.ts";
import { FileStorage } from "../../src/storage/file_storage.ts";
import {
  isCanonicalForm,
  IterativeResolver,
  type PathResolver,
  type Resolved,
  type ResolveOptions,
} from "../../src/storage/resolver.ts";
import { coreOnly, Counting, rejectsWith } from "./_helpers.ts";
import type { Backend } from "../../src/core/backend.ts";

const enc = new TextEncoder();
const FOLLOW = { follow: true, allowMissing: false };
const NOFOLLOW = { follow: false, allowMissing: false };
const CREATE = { follow: true, allowMissing: true };

/** /a/b/c (dirs), /a/b/file, links: /up -> a/b/c/.., /abs -> /a/b, /rel -> a/b/file */
async function tree(): Promise<MemoryBackend> {
  const b = new MemoryBackend();
  await b.mkdir("/a");
  await b.mkdir("/a/b");
  await b.mkdir("/a/b/c");
  await b.writeFile("/a/b/file", enc.encode("F"));
  await b.symlink("/a/b", "/abs");
  await b.symlink("a/b/file", "/rel");
  await b.symlink("c/..", "/a/b/self");
  await b.symlink("../../..", "/a/b/c/top");
  return b;
}

Deno.test("isCanonicalForm recognises canonical paths only", () => {
  for (const p of ["/", "/a", "/a/b", "/a/.b", "/a/..b", "/...", "/a/b.c"]) {
    ok(isCanonicalForm(p), p);
  }
  for (const p of ["", "a", "/a/", "//a", "/a//b", "/./a", "/a/.", "/a/..", "/../a", "/a/./b"]) {
    ok(!isCanonicalForm(p), p);
  }
});

Deno.test("resolve: a clean path costs one lstat and returns its metadata", async () => {
  const b = new Counting(await tree());
  const r = new IterativeResolver();
  const res = await r.resolve(b, "/a/b/file", FOLLOW);
  equal(res.path, "/a/b/file");
  equal(res.meta?.type, "file");
  equal(res.mustBeDir, false);
  deepStrictEqual([...b.calls], [["lstat", 1]]);
});

Deno.test("resolve: lexical clean-up without `..` needs no walk", async () => {
  const b = new Counting(await tree());
  const res = await new IterativeResolver().resolve(b, "//a/./b//c/", FOLLOW);
  equal(res.path, "/a/b/c");
  equal(res.mustBeDir, true);
  equal(b.count("lstat"), 1);
});

Deno.test("resolve: links in directory positions are always followed", async () => {
  const b = await tree();
  const r = new IterativeResolver();
  equal((await r.resolve(b, "/abs/file", NOFOLLOW)).path, "/a/b/file");
  equal((await r.resolve(b, "/abs/c", NOFOLLOW)).path, "/a/b/c");
});

Deno.test("resolve: a final link is followed only when asked (or with a trailing slash)", async () => {
  const b = await tree();
  const r = new IterativeResolver();
  const kept = await r.resolve(b, "/abs", NOFOLLOW);
  equal(kept.path, "/abs");
  equal(kept.meta?.type, "symlink");
  const followed = await r.resolve(b, "/abs", FOLLOW);
  equal(followed.path, "/a/b");
  equal(followed.meta?.type, "dir");
  const slash = await r.resolve(b, "/abs/", NOFOLLOW);
  equal(slash.path, "/a/b");
  equal((await r.resolve(b, "/rel", FOLLOW)).path, "/a/b/file");
});

Deno.test("resolve: `..` after a link resolves against the link's target", async () => {
  const b = await tree();
  const r = new IterativeResolver();
  // /abs -> /a/b, so /abs/.. is /a (physical), not / (lexical).
  equal((await r.resolve(b, "/abs/..", FOLLOW)).path, "/a");
  equal((await r.resolve(b, "/abs/../b/file", FOLLOW)).path, "/a/b/file");
  // A link whose own target contains `..`.
  equal((await r.resolve(b, "/a/b/self/file", FOLLOW)).path, "/a/b/file");
  // `..` never climbs above the root.
  equal((await r.resolve(b, "/a/b/c/top/../../a", FOLLOW)).path, "/a");
  equal((await r.resolve(b, "/../../a/..", FOLLOW)).path, "/");
});

Deno.test("resolve: more than 40 links is ELOOP; maxSymlinks changes the limit", async () => {
  const b = new MemoryBackend();
  await b.writeFile("/f", enc.encode("x"));
  await b.symlink("f", "/l0");
  for (let i = 1; i <= 40; i++) await b.symlink(`l${i - 1}`, `/l${i}`);
  const r = new IterativeResolver();
  equal((await r.resolve(b, "/l39", FOLLOW)).path, "/f"); // 40 links
  await rejectsWith(r.resolve(b, "/l40", FOLLOW), "ELOOP"); // 41 links
  const strict = new IterativeResolver({ maxSymlinks: 3 });
  equal((await strict.resolve(b, "/l2", FOLLOW)).path, "/f");
  await rejectsWith(strict.resolve(b, "/l3", FOLLOW), "ELOOP");
  await rejectsWith(() => Promise.resolve(new IterativeResolver({ maxSymlinks: -1 })), "EINVAL");
});

Deno.test("resolve: a self-referencing link is ELOOP, not a hang", async () => {
  const b = new MemoryBackend();
  await b.symlink("me", "/me");
  await b.symlink("/x/..", "/x");
  const r = new IterativeResolver();
  await rejectsWith(r.resolve(b, "/me", FOLLOW), "ELOOP");
  await rejectsWith(r.resolve(b, "/me/x", NOFOLLOW), "ELOOP");
  await rejectsWith(r.resolve(b, "/x", FOLLOW), "ELOOP");
  equal((await r.resolve(b, "/me", NOFOLLOW)).meta?.type, "symlink");
});

Deno.test("resolve: ENOTDIR for a file used as a directory, ENOENT for a missing one", async () => {
  const b = await tree();
  const r = new IterativeResolver();
  await rejectsWith(r.resolve(b, "/a/b/file/x", FOLLOW), "ENOTDIR");
  await rejectsWith(r.resolve(b, "/a/b/file/../c", FOLLOW), "ENOTDIR");
  await rejectsWith(r.resolve(b, "/rel/x", FOLLOW), "ENOTDIR");
  await rejectsWith(r.resolve(b, "/a/missing/x", CREATE), "ENOENT");
  await rejectsWith(r.resolve(b, "/a/missing/../b", FOLLOW), "ENOENT");
  await rejectsWith(r.resolve(b, "/abs/missing/x", CREATE), "ENOENT");
});

Deno.test("resolve: trailing slash needs a directory", async () => {
  const b = await tree();
  const r = new IterativeResolver();
  await rejectsWith(r.resolve(b, "/a/b/file/", NOFOLLOW), "ENOTDIR");
  await rejectsWith(r.resolve(b, "/rel/", NOFOLLOW), "ENOTDIR");
  await rejectsWith(r.resolve(b, "/a/b/file/.", FOLLOW), "ENOTDIR");
  equal((await r.resolve(b, "/a/b/c/", NOFOLLOW)).path, "/a/b/c");
});

Deno.test("resolve: a missing final component is allowed for creating operations only", async () => {
  const b = await tree();
  const r = new IterativeResolver();
  const res = await r.resolve(b, "/abs/new", CREATE);
  deepStrictEqual(res, { path: "/a/b/new", meta: null, mustBeDir: false });
  const dir = await r.resolve(b, "/a/new/", CREATE);
  deepStrictEqual(dir, { path: "/a/new", meta: null, mustBeDir: true });
  await rejectsWith(r.resolve(b, "/abs/new", FOLLOW), "ENOENT");
  // `x/.` names an existing directory: it cannot be created.
  await rejectsWith(r.resolve(b, "/a/new/.", CREATE), "ENOENT");
  // A dangling final link resolves to where its target would be.
  await b.symlink("c/made", "/a/b/dangling");
  const dangling = await r.resolve(b, "/a/b/dangling", CREATE);
  deepStrictEqual(dangling, { path: "/a/b/c/made", meta: null, mustBeDir: false });
});

Deno.test("canonicalize: every component must exist; links followed", async () => {
  const b = await tree();
  const r = new IterativeResolver();
  equal(await r.canonicalize(b, "/abs/c/top/rel"), "/a/b/file");
  equal(await r.canonicalize(b, "/"), "/");
  equal(await r.canonicalize(b, "/a/b/self"), "/a/b");
  await rejectsWith(r.canonicalize(b, "/abs/nope"), "ENOENT");
  await b.symlink("nowhere", "/dangling");
  await rejectsWith(r.canonicalize(b, "/dangling"), "ENOENT");
});

Deno.test("softCanonicalize: the existing prefix is resolved, the rest appended", async () => {
  const b = await tree();
  const r = new IterativeResolver();
  equal(await r.softCanonicalize(b, "/abs/new/deeper/x.txt"), "/a/b/new/deeper/x.txt");
  equal(await r.softCanonicalize(b, "/abs/new/../c"), "/a/b/c");
  equal(await r.softCanonicalize(b, "/missing/../abs"), "/a/b");
  equal(await r.softCanonicalize(b, "/missing/a/../.."), "/");
  await b.symlink("/gone/away", "/dangling");
  equal(await r.softCanonicalize(b, "/dangling/x"), "/gone/away/x");
  await rejectsWith(r.softCanonicalize(b, "/a/b/file/x"), "ENOTDIR");
});

Deno.test("anchoredCanonicalize: `..` and absolute links are clamped to the anchor", async () => {
  const b = await tree();
  await b.mkdir("/jail");
  await b.mkdir("/jail/etc");
  await b.symlink("/etc", "/jail/abs");
  await b.symlink("../../../../..", "/jail/etc/up");
  await b.symlink("/jail", "/jail-link");
  const r = new IterativeResolver();
  equal(await r.anchoredCanonicalize(b, "../../etc/passwd", "/jail"), "/jail/etc/passwd");
  equal(await r.anchoredCanonicalize(b, "/etc/passwd", "/jail"), "/jail/etc/passwd");
  equal(await r.anchoredCanonicalize(b, "abs/x", "/jail"), "/jail/etc/x");
  equal(await r.anchoredCanonicalize(b, "etc/up/a/b/file", "/jail"), "/jail/a/b/file");
  equal(await r.anchoredCanonicalize(b, "", "/jail"), "/jail");
  // The anchor itself is canonicalized first.
  equal(await r.anchoredCanonicalize(b, "abs", "/jail-link"), "/jail/etc");
  // A missing anchor: everything below is lexical, still inside.
  equal(await r.anchoredCanonicalize(b, "../x/../../y", "/nojail/sub"), "/nojail/sub/y");
});

/** A tiny deterministic PRNG (mulberry32) so failures replay. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("anchoredCanonicalize never escapes the anchor (seeded random trees)", async () => {
  const names = ["a", "b", "c", "..", ".", "x"];
  for (let seed = 1; seed <= 30; seed++) {
    const rand = rng(seed);
    const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
    const b = new MemoryBackend();
    const dirs = ["/", "/out", "/jail", "/jail/a", "/jail/a/b", "/jail/c"];
    for (const d of dirs.slice(1)) await b.mkdir(d);
    const randomPath = (abs: boolean) => {
      const n = 1 + Math.floor(rand() * 6);
      const parts = Array.from({ length: n }, () => pick(names));
      return (abs ? "/" : "") + parts.join("/");
    };
    for (let i = 0; i < 12; i++) {
      const at = `${pick(dirs.slice(2))}/l${i}`.replace("//", "/");
      const target = rand() < 0.3 ? pick(["/", "/out", "/jail", "/etc"]) : randomPath(rand() < 0.4);
      await b.symlink(target, at).catch(() => {});
    }
    const r = new IterativeResolver();
    for (let q = 0; q < 40; q++) {
      const query = randomPath(rand() < 0.5).replace(/x/g, `l${Math.floor(rand() * 12)}`);
      let result: string;
      try {
        result = await r.anchoredCanonicalize(b, query, "/jail");
      } catch (e) {
        // Loops and files used as directories are errors, not escapes.
        ok(["ELOOP", "ENOTDIR"].includes((e as { code: string }).code), (e as Error).message);
        continue;
      }
      ok(isWithin(result, "/jail"), `seed ${seed}: ${query} -> ${result}`);
    }
  }
});

Deno.test("canonicalize agrees with Deno.realPath, softCanonicalize with `realpath -m`", async () => {
  const tmp = await Deno.realPath(await Deno.makeTempDir({ prefix: "anyfs-resolver-" }));
  try {
    for (let seed = 100; seed < 110; seed++) {
      const rand = rng(seed);
      const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
      const root = `${tmp}/s${seed}`;
      const mem = new MemoryBackend();
      const fs = new FileStorage(mem);
      const dirs = ["/d", "/d/e", "/d/e/f", "/g"];
      await Deno.mkdir(root);
      await fs.mkdir("/r");
      for (const d of dirs) {
        await Deno.mkdir(root + d);
        await fs.mkdir("/r" + d);
      }
      for (const f of ["/d/file", "/g/file"]) {
        await Deno.writeTextFile(root + f, "x");
        await fs.writeTextFile("/r" + f, "x");
      }
      const comps = ["d", "e", "f", "g", "..", ".", "file", "l0", "l1", "l2", "l3", "nope"];
      const randomRel = () =>
        Array.from({ length: 1 + Math.floor(rand() * 5) }, () => pick(comps)).join("/");
      for (let i = 0; i < 4; i++) {
        const at = `${pick(["", ...dirs])}/l${i}`;
        const target = rand() < 0.25 ? `/r${pick(dirs)}` : randomRel();
        // Absolute targets point into the same tree on both sides.
        const realTarget = target.startsWith("/r/") ? root + target.slice(2) : target;
        await Deno.symlink(realTarget, root + at).catch(() => {});
        await fs.symlink(target, "/r" + at).catch(() => {});
      }
      const queries = Array.from({ length: 30 }, () => "/" + randomRel());
      // One `realpath -m` per query: GNU realpath can spin on some link
      // cycles, so each gets a time limit and is skipped when it runs out.
      const soft: (string | null)[] = [];
      for (const q of queries) {
        const out = await new Deno.Command("realpath", {
          args: ["-m", "--", root + q],
          stdout: "piped",
          stderr: "null",
          signal: AbortSignal.timeout(1000),
        }).output();
        soft.push(out.success ? new TextDecoder().decode(out.stdout).trim() : null);
      }
      for (const [i, q] of queries.entries()) {
        const outcome = async (f: () => Promise<string>, prefix: string) => {
          try {
            const v = await f();
            return v === prefix || v.startsWith(prefix + "/")
              ? v.slice(prefix.length) || "/"
              : "outside";
          } catch (e) {
            return `error:${(e as { code?: string }).code}`;
          }
        };
        const real = await outcome(() => Deno.realPath(root + q), root);
        const ours = await outcome(() => fs.realPath("/r" + q), "/r");
        equal(ours, real, `seed ${seed} realPath ${q}`);
        const oursSoft = await outcome(() => fs.softCanonicalize("/r" + q), "/r");
        // `realpath -m` passes loops and files used as directories through
        // lexically, where ours reports them: compare where both resolve.
        const theirsRaw = soft[i];
        if (!oursSoft.startsWith("error:") && theirsRaw !== null) {
          const theirs = theirsRaw === root || theirsRaw.startsWith(root + "/")
            ? theirsRaw.slice(root.length) || "/"
            : "outside";
          equal(oursSoft, theirs, `seed ${seed} soft ${q} (realPath: ${real})`);
        }
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a backend without symlinks resolves lexically (and still reports ENOTDIR)", async () => {
  const mem = await tree();
  const core = new Counting(coreOnly(mem) as unknown as MemoryBackend);
  const r = new IterativeResolver();
  equal((await r.resolve(core, "/a/./b/c/", FOLLOW)).path, "/a/b/c");
  equal(core.count("readLink"), 0);
  equal((await r.resolve(core, "/a/b/c/../file", FOLLOW)).path, "/a/b/file");
  await rejectsWith(r.resolve(core, "/a/b/file/../c", FOLLOW), "ENOTDIR");
});

Deno.test("FileStorage uses a plugged-in resolver", async () => {
  /** Resolves names case-insensitively by listing directories (an example custom resolver). */
  class CaseInsensitive implements PathResolver {
    #inner = new IterativeResolver();
    async #fold(backend: Backend, path: string): Promise<string> {
      let dir = "/";
      for (const part of path.split("/").filter((p) => p !== "")) {
        const entries = await backend.readDir(dir).catch(() => []);
        const hit = entries.find((e) => e.name.toLowerCase() === part.toLowerCase());
        dir = (dir === "/" ? "" : dir) + "/" + (hit ? hit.name : part);
      }
      return dir;
    }
    async resolve(backend: Backend, path: string, o: ResolveOptions): Promise<Resolved> {
      return this.#inner.resolve(backend, await this.#fold(backend, path), o);
    }
    async canonicalize(backend: Backend, path: string) {
      return this.#inner.canonicalize(backend, await this.#fold(backend, path));
    }
    async softCanonicalize(backend: Backend, path: string) {
      return this.#inner.softCanonicalize(backend, await this.#fold(backend, path));
    }
    anchoredCanonicalize(backend: Backend, path: string, anchor: string) {
      return this.#inner.anchoredCanonicalize(backend, path, anchor);
    }
  }
  const fs = new FileStorage(new MemoryBackend(), { resolver: new CaseInsensitive() });
  await fs.mkdir("/Docs");
  await fs.writeTextFile("/Docs/ReadMe.md", "hi");
  equal(await fs.readTextFile("/docs/README.MD"), "hi");
  equal(await fs.realPath("/DOCS/readme.md"), "/Docs/ReadMe.md");
});
