import assert from "node:assert/strict";
import { FsError } from "../../src/core/errors.ts";
import { denoFsAt } from "../../src/testing/deno_fs_at.ts";

async function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "anyfs-denofsat-" });
  try {
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("denoFsAt maps absolute virtual paths below the root", async () => {
  await withRoot(async (root) => {
    const fs = denoFsAt(root);
    await fs.mkdir("/a/b", { recursive: true });
    await fs.writeTextFile("/a/b/f.txt", "hi");
    assert.equal(await Deno.readTextFile(`${root}/a/b/f.txt`), "hi");
    assert.equal(await fs.readTextFile("/a/b/f.txt"), "hi");
    // A relative path is taken from the root too.
    assert.equal(await fs.readTextFile("a/b/f.txt"), "hi");
    // A root given with a trailing slash behaves the same.
    assert.equal(await denoFsAt(`${root}/`).readTextFile("/a/b/f.txt"), "hi");
  });
});

Deno.test("denoFsAt accepts file: URLs as virtual paths", async () => {
  await withRoot(async (root) => {
    const fs = denoFsAt(root);
    await fs.writeTextFile(new URL("file:///with%20space.txt"), "url");
    assert.equal(await fs.readTextFile("/with space.txt"), "url");
  });
});

Deno.test("denoFsAt realPath strips the root, also through symlinks", async () => {
  await withRoot(async (root) => {
    const fs = denoFsAt(root);
    await fs.mkdir("/x/y", { recursive: true });
    await fs.symlink("x/y", "/l");
    assert.equal(await fs.realPath("/"), "/");
    assert.equal(await fs.realPath("/l"), "/x/y");
    assert.equal(await fs.realPath("/x/./y/.."), "/x");
  });
});

Deno.test("denoFsAt errors keep the host's code and name the virtual path", async () => {
  await withRoot(async (root) => {
    const fs = denoFsAt(root);
    await fs.mkdir("/d");
    await fs.writeTextFile("/d/f", "x");
    const e = await fs.remove("/d").catch((e) => e);
    assert.ok(e instanceof FsError);
    assert.equal(e.code, "ENOTEMPTY");
    assert.equal(e.path, "/d");
    assert.ok(!e.message.includes(root), e.message);
    const missing = await fs.stat("/nope").catch((e) => e);
    assert.ok(missing instanceof Deno.errors.NotFound);
    assert.equal((missing as FsError).code, "ENOENT");
    const renamed = await fs.rename("/d", "/d/inside").catch((e) => e);
    assert.equal(renamed.code, "EINVAL");
    assert.equal(renamed.dest, "/d/inside");
  });
});

Deno.test("denoFsAt reports NUL bytes as EINVAL", async () => {
  await withRoot(async (root) => {
    const e = await denoFsAt(root).stat("/a\0b").catch((e) => e);
    assert.equal(e.code, "EINVAL");
  });
});

Deno.test("denoFsAt refuses to remove or rename its root (EBUSY) and leaves it intact", async () => {
  await withRoot(async (root) => {
    const fs = denoFsAt(root);
    for (const p of ["/", "//", "/.", "/a/.."]) {
      assert.equal((await fs.remove(p, { recursive: true }).catch((e) => e)).code, "EBUSY", p);
    }
    assert.equal((await fs.rename("/", "/x").catch((e) => e)).code, "EBUSY");
    assert.equal((await fs.rename("/x", "/").catch((e) => e)).code, "EBUSY");
    assert.ok((await Deno.stat(root)).isDirectory);
  });
});

Deno.test("denoFsAt open files report EBADF after close and are async-disposable", async () => {
  await withRoot(async (root) => {
    const fs = denoFsAt(root);
    await fs.writeTextFile("/f", "abc");
    const f = await fs.open("/f");
    f.close();
    const e = await f.read(new Uint8Array(1)).catch((e) => e);
    assert.ok(e instanceof Deno.errors.BadResource);
    assert.equal((e as FsError).code, "EBADF");
    {
      await using g = await fs.open("/f", { write: true });
      await g.write(new TextEncoder().encode("X"));
    }
    assert.equal(await fs.readTextFile("/f"), "Xbc");
    // Disposing a file its stream already closed is fine.
    const h = await fs.open("/f");
    await Array.fromAsync(h.readable);
    await h[Symbol.asyncDispose]();
  });
});

Deno.test("denoFsAt readDir errors name the virtual path", async () => {
  await withRoot(async (root) => {
    const fs = denoFsAt(root);
    const e = await Array.fromAsync(fs.readDir("/missing")).catch((e) => e);
    assert.equal(e.code, "ENOENT");
    assert.equal(e.path, "/missing");
  });
});
