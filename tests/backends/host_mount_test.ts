// VRootFsBackend (and StdFsBackend) mounted as real file systems: shell
// tools work on them and what they write lands in the host directory; the
// conformance kit passes through a mounted VRootFsBackend.
//
// A note on symbolic links through a mount: the kernel resolves a link's
// target itself, in the namespace of the process following it, so an
// absolute target planted in the root leads that process to the host path —
// as on any file system. The backend never reads or writes outside the root
// for it (vroot_escape_test.ts); what the process can reach there is up to
// its own permissions.
import assert from "node:assert/strict";
import { StdFsBackend } from "../../src/backends/std_fs.ts";
import { VRootFsBackend } from "../../src/backends/vroot_fs.ts";
import { DENO_FS_CAPABILITIES, hostDirSubject } from "../../src/testing/host_subject.ts";
import { caseId, runConformance } from "../../src/testing/runner.ts";
import { shOk, withMount } from "../mount/helpers.ts";
import { fuseTest } from "../_fuse.ts";

async function withRoot(body: (root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "anyfs_host_mount_" });
  try {
    await body(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

const WORKLOAD = `set -e
mkdir -p src/lib docs
printf 'hello\\n' > docs/hello.txt
echo more >> docs/hello.txt
cp docs/hello.txt docs/copy.txt
mv docs/copy.txt src/moved.txt
ln -s ../docs/hello.txt src/link.txt
ln docs/hello.txt docs/hard.txt
chmod 600 docs/hard.txt
head -c 3000000 /dev/urandom > big.bin
dd if=/dev/zero of=sparse.bin bs=1 count=1 seek=5000000 2>/dev/null
touch -d '2001-02-03 04:05:06 UTC' docs/hello.txt
tar -cf ../snap-$$.tar docs src && mkdir restored && tar -xf ../snap-$$.tar -C restored
rm ../snap-$$.tar
rm -f nothing-here`;

async function checkWorkload(mnt: string, root: string): Promise<void> {
  assert.equal(await shOk("cat src/link.txt", mnt), "hello\nmore\n");
  assert.equal(await shOk("cat restored/src/moved.txt", mnt), "hello\nmore\n");
  assert.equal((await shOk("stat -c '%h %a' docs/hard.txt", mnt)).trim(), "2 600");
  assert.equal((await shOk("stat -c %s sparse.bin", mnt)).trim(), "5000001");
  assert.equal((await shOk("wc -c < big.bin", mnt)).trim(), "3000000");
  const inMount = (await shOk("sha256sum big.bin | cut -d' ' -f1", mnt)).trim();
  // The same bytes are in the host directory, under the same names.
  const onHost = (await shOk("sha256sum big.bin | cut -d' ' -f1", root)).trim();
  assert.equal(inMount, onHost);
  assert.equal(await Deno.readTextFile(`${root}/docs/hello.txt`), "hello\nmore\n");
  assert.equal(await Deno.readLink(`${root}/src/link.txt`), "../docs/hello.txt");
  assert.equal((await Deno.lstat(`${root}/docs/hard.txt`)).nlink, 2);
  assert.equal(
    (await Deno.lstat(`${root}/docs/hello.txt`)).mtime?.getTime(),
    Date.UTC(2001, 1, 3, 4, 5, 6),
  );
  assert.deepEqual(
    (await shOk("find . -type f | sort", mnt)).trim().split("\n"),
    (await shOk("find . -type f | sort", root)).trim().split("\n"),
  );
}

for (const containment of ["anchored", "checked"] as const) {
  fuseTest(
    `a mounted VRootFsBackend (${containment}) works with shell tools and writes into its root`,
    async () => {
      await withRoot(async (root) => {
        await using backend = await VRootFsBackend.open(root, { containment });
        await withMount(backend, { cache: "auto" }, async (mnt) => {
          await shOk(WORKLOAD, mnt);
          await checkWorkload(mnt, root);
        });
      });
    },
  );
}

fuseTest(
  "a mounted VRootFsBackend with virtual ownership shows chown and chmod without changing the host",
  async () => {
    await withRoot(async (root) => {
      await using backend = await VRootFsBackend.open(root, { virtualOwnership: true });
      await withMount(backend, { cache: "auto" }, async (mnt) => {
        await shOk("echo x > f && chown 4242:4343 f && chmod 640 f", mnt);
        assert.equal((await shOk("stat -c '%u %g %a' f", mnt)).trim(), "4242 4343 640");
        assert.equal((await shOk("ls -A", mnt)).trim(), "f", "the store directory is hidden");
      });
      const host = await Deno.lstat(`${root}/f`);
      assert.notEqual(host.uid, 4242);
      assert.equal(host.mode! & 0o777, 0o644);
    });
  },
);

fuseTest("a mounted StdFsBackend works with shell tools", async () => {
  await withRoot(async (root) => {
    const backend = new StdFsBackend({ root });
    await withMount(backend, { cache: "auto" }, async (mnt) => {
      await shOk(WORKLOAD, mnt);
      await checkWorkload(mnt, root);
    });
  });
});

/**
 * Mount a host backend in a child process, run `body` on the mount point,
 * then stop the child (it unmounts on SIGTERM).
 */
async function withChildMount(
  kind: "vroot" | "stdfs",
  root: string,
  body: (mnt: string) => Promise<void>,
): Promise<void> {
  const mnt = await Deno.makeTempDir({ prefix: "anyfs-mnt-test-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./fixtures/host_mount_child.ts", import.meta.url).pathname,
      root,
      mnt,
      kind,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const output = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let seen = "";
    while (!seen.includes("ready")) {
      const { value, done } = await output.read();
      if (done) throw new Error(`the mounting child exited before it was ready: ${seen}`);
      seen += value;
    }
    await body(mnt);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await output.cancel();
    await Deno.remove(mnt, { recursive: true }).catch(() => {});
  }
}

// The kit drives the mount from this process with hundreds of calls in
// flight, so the backend serves from a child (see host_mount_child.ts).
for (const kind of ["vroot", "stdfs"] as const) {
  fuseTest(
    `the conformance kit passes through a mounted ${
      kind === "vroot" ? "VRootFsBackend" : "StdFsBackend"
    }`,
    async () => {
      await withRoot(async (root) => {
        await withChildMount(kind, root, async (mnt) => {
          const report = await runConformance(
            hostDirSubject({ parent: mnt, capabilities: [...DENO_FS_CAPABILITIES, "ownership"] }),
          );
          const failures = report.failed.map((f) =>
            `${caseId(f.case)}: ${(f.error as Error).message}`
          );
          assert.deepEqual(failures, [], failures.join("\n"));
          assert.ok(report.passed.length >= 150, `only ${report.passed.length} cases ran`);
        });
      });
    },
  );
}
