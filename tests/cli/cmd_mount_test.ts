// `anyfs mount|unmount|status` as a user runs them: a background
// `anyfs mount`, its "mounted" line, shell tools in the mount (always via
// `sh -c "cd …"`, never `cwd:`), then Ctrl+C (SIGINT) or SIGTERM or
// `anyfs unmount`, and the mount gone with exit status 0.
import assert from "node:assert/strict";
import {
  anyfs,
  anyfsOk,
  assertNoStackTrace,
  type BackgroundMount,
  isMounted,
  sh,
  shOk,
  startMount,
  tempDir,
} from "./helpers.ts";
import { fuseTest } from "../_fuse.ts";

/** Stop a background mount with `signal`; it must unmount and exit 0. */
async function stop(m: BackgroundMount, mountPoint: string, signal: Deno.Signal = "SIGINT") {
  m.child.kill(signal);
  const status = await m.status;
  assert.equal(status.code, 0, `exit ${status.code} after ${signal}:\n${m.stderr()}`);
  assert.equal(await isMounted(mountPoint), false, "the mount is gone");
}

/** Make sure nothing stays mounted if a test fails halfway. */
async function cleanup(m: BackgroundMount | undefined, mountPoint: string) {
  if (m) {
    try {
      m.child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await m.status;
  }
  if (await isMounted(mountPoint)) await sh(`fusermount3 -u -z '${mountPoint}'`);
}

const SHELL_WORK = "mkdir -p docs && echo hello > docs/a.txt && ln -s docs/a.txt link && " +
  "cat link && ls";

fuseTest(
  "mount mem: (the default): one line, shell tools work, Ctrl+C unmounts and exits 0",
  async () => {
    await using dir = await tempDir();
    const mp = `${dir.path}/mnt`;
    await Deno.mkdir(mp);
    let m: BackgroundMount | undefined;
    try {
      m = await startMount([mp]);
      assert.equal(
        m.line,
        `anyfs: mounted mem: at ${mp}; stop with Ctrl+C or 'anyfs unmount ${mp}'`,
      );
      assert.ok(await isMounted(mp));
      assert.equal(await shOk(`cd '${mp}' && ${SHELL_WORK}`), "hello\ndocs\nlink\n");
      await stop(m, mp);
      assert.equal(m.stdout(), m.line + "\n", "exactly one line on stdout");
      assert.deepEqual(await Array.fromAsync(Deno.readDir(mp)), [], "memory is gone");
    } finally {
      await cleanup(m, mp);
    }
  },
);

fuseTest("mount ./drive.db (backend first): the data outlives the mount", async () => {
  await using dir = await tempDir();
  const mp = `${dir.path}/mnt`;
  await Deno.mkdir(mp);
  let m: BackgroundMount | undefined;
  try {
    m = await startMount(["./drive.db", "mnt", "--cache", "always"], { cwd: dir.path });
    assert.match(m.line, new RegExp(`^anyfs: mounted sqlite:${dir.path}/drive\\.db at ${mp};`));
    await shOk(`cd '${mp}' && ${SHELL_WORK} && chmod 600 docs/a.txt && mv docs/a.txt docs/b.txt`);
    await stop(m, mp);
    const drive = `sqlite:${dir.path}/drive.db`;
    assert.equal(await anyfsOk(["cat", drive, "/docs/b.txt"]), "hello\n");
    assert.match(await anyfsOk(["stat", drive, "/docs/b.txt"]), /Mode: 0600/);
    assert.match(await anyfsOk(["ls", "-l", drive]), /link -> docs\/a\.txt/);
  } finally {
    await cleanup(m, mp);
  }
});

fuseTest("mount dir: serves the host directory; SIGTERM unmounts and exits 0", async () => {
  await using dir = await tempDir();
  const mp = `${dir.path}/mnt`;
  const data = `${dir.path}/data`;
  await Deno.mkdir(mp);
  await Deno.mkdir(data);
  await Deno.writeTextFile(`${data}/existing.txt`, "was here\n");
  let m: BackgroundMount | undefined;
  try {
    m = await startMount([mp, `dir:${data}`]);
    assert.match(m.line, new RegExp(`^anyfs: mounted dir:${data} at ${mp};`));
    assert.equal(
      await shOk(`cd '${mp}' && cat existing.txt && ${SHELL_WORK}`),
      "was here\nhello\ndocs\nexisting.txt\nlink\n",
    );
    assert.equal(await Deno.readTextFile(`${data}/docs/a.txt`), "hello\n");
    // Links are stored verbatim (through a mount the kernel resolves them, as on any file system).
    await Deno.symlink("/etc/hostname", `${data}/abs`);
    assert.equal(await shOk(`cd '${mp}' && readlink abs`), "/etc/hostname\n");
    await stop(m, mp, "SIGTERM");
  } finally {
    await cleanup(m, mp);
  }
});

fuseTest("mount overlay:dir:TEMPLATE,mem: changes never reach the template", async () => {
  await using dir = await tempDir();
  const mp = `${dir.path}/mnt`;
  const template = `${dir.path}/template`;
  await Deno.mkdir(mp);
  await Deno.mkdir(template);
  await Deno.writeTextFile(`${template}/config.txt`, "original\n");
  let m: BackgroundMount | undefined;
  try {
    m = await startMount([mp, `overlay:dir:${template},mem:`]);
    assert.match(m.line, new RegExp(`^anyfs: mounted overlay:dir:${template},mem: at ${mp};`));
    const out = await shOk(
      `cd '${mp}' && cat config.txt && echo changed > config.txt && cat config.txt && ` +
        `${SHELL_WORK} && rm config.txt && ls`,
    );
    assert.equal(out, "original\nchanged\nhello\nconfig.txt\ndocs\nlink\ndocs\nlink\n");
    assert.equal(await Deno.readTextFile(`${template}/config.txt`), "original\n");
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(template))).map((e) => e.name),
      ["config.txt"],
    );
    await stop(m, mp);
  } finally {
    await cleanup(m, mp);
  }
});

fuseTest(
  "status lists the mount with backend, middleware and pid; --stats counts; anyfs unmount ends it",
  async () => {
    await using dir = await tempDir();
    const mp = `${dir.path}/mnt`;
    await Deno.mkdir(mp);
    const env = { ANYFS_STATE_DIR: `${dir.path}/state` };
    let m: BackgroundMount | undefined;
    try {
      m = await startMount([mp, "mem:", "--stats", "--quota-size", "1M", "--deny", "*.secret"], {
        env,
      });
      assert.match(m.line, /^anyfs: mounted mem: \(quota 1\.0 MiB, filter -\*\.secret\) at /);
      const full = await sh(`cd '${mp}' && head -c 2000000 /dev/zero > big`);
      assert.notEqual(full.code, 0);
      assert.match(full.stderr, /No space left on device/);
      const denied = await sh(`cd '${mp}' && echo x > key.secret`);
      assert.match(denied.stderr, /Permission denied/);

      const table = await anyfsOk(["status"], { env });
      const row = table.split("\n").find((l) => l.startsWith(mp + " "));
      assert.ok(row, table);
      assert.match(
        row,
        new RegExp(
          `mem: \\(quota 1\\.0 MiB, filter -\\*\\.secret\\)\\s+${m.child.pid}\\s+serving$`,
        ),
      );
      const json = (await anyfsOk(["status", "--json"], { env })).trim().split("\n").map((l) =>
        JSON.parse(l)
      ).find((r) => r.mountPoint === mp);
      assert.deepEqual(json, {
        mountPoint: mp,
        backend: "mem:",
        layers: ["quota 1.0 MiB", "filter -*.secret"],
        pid: m.child.pid,
        state: "serving",
      });

      // Counters arrive on stderr once a second.
      const deadline = Date.now() + 10_000;
      while (!/^ops\/s \d+ .*errors \d+/m.test(m.stderr()) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(m.stderr(), /^ops\/s \d+ +read .+\/s +written .+\/s +errors \d+/m);

      await anyfsOk(["unmount", mp]);
      const status = await m.status;
      assert.equal(status.code, 0, m.stderr());
      assert.equal(await isMounted(mp), false);
      assert.ok(!(await anyfsOk(["status"], { env })).includes(mp));
      assert.deepEqual(
        await Array.fromAsync(Deno.readDir(`${dir.path}/state`)),
        [],
        "record removed",
      );
    } finally {
      await cleanup(m, mp);
    }
  },
);

fuseTest(
  "mount options reach the kernel: --uid/--gid, --fs-name, --allow-other, --cache, timeouts, writeback; --rate and --trace-file apply",
  async () => {
    await using dir = await tempDir();
    const mp = `${dir.path}/mnt`;
    const trace = `${dir.path}/audit.jsonl`;
    await Deno.mkdir(mp);
    let m: BackgroundMount | undefined;
    try {
      m = await startMount([
        mp,
        "--uid",
        "1234",
        "--gid",
        "5678",
        "--fs-name",
        "my-drive",
        "--allow-other",
        "--cache",
        "never",
        "--entry-timeout",
        "0.5",
        "--attr-timeout",
        "0",
        "--writeback-cache",
        "--rate",
        "100000/s",
        "--trace-file",
        trace,
      ]);
      assert.match(m.line, /\(rate 100000\/s, trace to .*audit\.jsonl\)/);
      assert.equal(await shOk(`cd '${mp}' && echo hi > f && stat -c %u:%g f`), "1234:5678\n");
      const line = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")
        .find((l) => l.split(" ")[4] === mp) ?? "";
      assert.match(line, / - fuse\.anyfs my-drive /);
      assert.match(line, /allow_other/);
      await stop(m, mp);
      const ops = (await Deno.readTextFile(trace)).trim().split("\n").map((l) => JSON.parse(l).op);
      assert.ok(ops.includes("open") || ops.includes("writeFile"), ops.join(","));
    } finally {
      await cleanup(m, mp);
    }
  },
);

fuseTest(
  "SIGHUP (the terminal closed) unmounts cleanly like Ctrl+C, instead of killing the server",
  async () => {
    await using dir = await tempDir();
    const mp = `${dir.path}/mnt`;
    await Deno.mkdir(mp);
    let m: BackgroundMount | undefined;
    try {
      m = await startMount([mp, `sqlite:${dir.path}/drive.db`]);
      await shOk(`echo kept > '${mp}/note.txt'`);
      await stop(m, mp, "SIGHUP");
      m = undefined;
      assert.equal(await anyfsOk(["cat", `sqlite:${dir.path}/drive.db`, "/note.txt"]), "kept\n");
    } finally {
      await cleanup(m, mp);
    }
  },
);

fuseTest(
  "--no-auto-unmount: after kill -9 writes fail instead of landing in the directory underneath",
  async () => {
    await using dir = await tempDir();
    const mp = `${dir.path}/mnt`;
    await Deno.mkdir(mp);
    let m: BackgroundMount | undefined;
    try {
      m = await startMount([mp, "--no-auto-unmount"]);
      await shOk(`echo before > '${mp}/a.txt'`);
      m.child.kill("SIGKILL");
      await m.status;
      m = undefined;
      const after = await sh(`echo after > '${mp}/b.txt'`);
      assert.notEqual(after.code, 0);
      assert.match(after.stderr, /Transport endpoint is not connected/);
      const status = await anyfsOk(["status", "--check"]);
      assert.match(status, new RegExp(`${mp}.*dead \\(run: anyfs unmount ${mp}\\)`));
      await anyfsOk(["unmount", mp]);
      assert.equal(await isMounted(mp), false);
      assert.deepEqual(await Array.fromAsync(Deno.readDir(mp)), [], "nothing leaked to the host");
    } finally {
      await cleanup(m, mp);
    }
  },
);

fuseTest(
  "mount --dry-run: programs see their own changes while mounted; none reach the drive",
  async () => {
    await using dir = await tempDir();
    const mp = `${dir.path}/mnt`;
    const drive = `sqlite:${dir.path}/drive.db`;
    await Deno.mkdir(mp);
    await anyfsOk(["mkdir", drive, "/kept"]);
    let m: BackgroundMount | undefined;
    try {
      m = await startMount([mp, drive, "--dry-run"]);
      assert.equal(
        await shOk(`cd '${mp}' && mkdir -p x/y && echo hi > x/y/f && cat x/y/f && rmdir kept`),
        "hi\n",
      );
      await stop(m, mp);
      assert.match(m.stderr(), /anyfs: mount: dry run: nothing was stored; \d+ changes/);
      m = undefined;
      assert.equal(await anyfsOk(["ls", drive]), "kept\n");
    } finally {
      await cleanup(m, mp);
    }
  },
);

fuseTest(
  "a non-empty mount point is refused (its files would vanish from view); --nonempty mounts over it",
  async () => {
    await using dir = await tempDir();
    const mp = `${dir.path}/project`;
    await Deno.mkdir(mp);
    await Deno.writeTextFile(`${mp}/package.json`, "{}");
    let m: BackgroundMount | undefined;
    try {
      const refused = await anyfs(["mount", mp]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /is not empty \(package\.json is in it\)/);
      assert.match(refused.stderr, /--nonempty/);
      assertNoStackTrace(refused.stderr);
      assert.equal(await isMounted(mp), false);

      m = await startMount([mp, "--nonempty"]);
      assert.equal(await shOk(`ls -A '${mp}'`), "", "the new mount is empty");
      await stop(m, mp);
      assert.equal(await Deno.readTextFile(`${mp}/package.json`), "{}", "visible again");
    } finally {
      await cleanup(m, mp);
    }
  },
);

fuseTest(
  "a drive file inside its own mount point is refused before the file is created",
  async () => {
    await using dir = await tempDir();
    const mp = `${dir.path}/mnt`;
    await Deno.mkdir(mp);
    const r = await anyfs(["mount", mp, `sqlite:${mp}/drive.db`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /drive\.db and the mount point .* overlap/);
    assertNoStackTrace(r.stderr);
    assert.equal(await isMounted(mp), false);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(mp)), [], "no drive file was created");
  },
);

fuseTest(
  "a busy mount point: mounting again and unmounting while in use say what to do",
  async () => {
    await using dir = await tempDir();
    const mp = `${dir.path}/mnt`;
    await Deno.mkdir(mp);
    let m: BackgroundMount | undefined;
    let shell: Deno.ChildProcess | undefined;
    try {
      m = await startMount([mp, "--read-only"]);
      assert.match(m.line, /mounted mem: \(read-only\) at/);
      const ro = await sh(`cd '${mp}' && touch x`);
      assert.match(ro.stderr, /Read-only file system/);

      const again = await anyfs(["mount", mp]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /already a mount point/);
      assertNoStackTrace(again.stderr);

      shell = new Deno.Command("sh", { args: ["-c", `cd '${mp}' && exec sleep 60`], stdin: "null" })
        .spawn();
      await new Promise((r) => setTimeout(r, 200));
      const busy = await anyfs(["unmount", mp]);
      assert.equal(busy.code, 1);
      assert.match(busy.stderr, /is in use .*anyfs unmount --lazy /);
      assert.ok(await isMounted(mp));

      await anyfsOk(["unmount", "--lazy", mp]);
      assert.equal(await isMounted(mp), false, "detached at once");
      shell.kill("SIGKILL");
      await shell.status;
      shell = undefined;
      assert.equal((await m.status).code, 0, m.stderr());
    } finally {
      if (shell) {
        shell.kill("SIGKILL");
        await shell.status;
      }
      await cleanup(m, mp);
    }
  },
);

/** Wait (up to 10 s, a bound against hanging) until `m` has written `pattern` to stderr. */
async function stderrMatching(m: BackgroundMount, pattern: RegExp): Promise<string> {
  for (let i = 0; i < 200 && !pattern.test(m.stderr()); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.match(m.stderr(), pattern);
  return m.stderr();
}

fuseTest(
  "Ctrl+C while a program works inside waits for it, still mounted; a second Ctrl+C cuts it off",
  async () => {
    await using dir = await tempDir();
    const mp = `${dir.path}/mnt`;
    await Deno.mkdir(mp);
    let m: BackgroundMount | undefined;
    let inside: Deno.ChildProcess | undefined;
    try {
      // 1. One Ctrl+C: the program finishes its work in the mount (by
      // absolute path, as npm writes), then anyfs exits 0. Had the mount been
      // detached, those paths would have led to the directory underneath.
      m = await startMount([mp]);
      inside = new Deno.Command("sh", {
        args: [
          "-c",
          `cd '${mp}' && for i in 1 2 3 4 5 6; do echo $i > '${mp}'/f$i; sleep 0.5; done; cat f*`,
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      await shOk(`while [ ! -e '${mp}/f1' ]; do sleep 0.05; done`);
      m.child.kill("SIGINT");
      assert.match(
        await stderrMatching(m, /is in use/),
        /stays mounted until those programs are done\. Press Ctrl\+C again/,
      );
      const work = await inside.output();
      inside = undefined;
      const dec = new TextDecoder();
      assert.equal(dec.decode(work.stderr), "", "nothing failed inside");
      assert.equal(dec.decode(work.stdout), "1\n2\n3\n4\n5\n6\n");
      assert.equal((await m.status).code, 0, m.stderr());
      assert.equal(await isMounted(mp), false);
      assert.deepEqual(await Array.fromAsync(Deno.readDir(mp)), [], "nothing reached the host");

      // 2. A second Ctrl+C does not wait for a program that never leaves.
      m = await startMount([mp]);
      inside = new Deno.Command("sh", {
        args: ["-c", `cd '${mp}' && exec sleep 60`],
        stdin: "null",
      }).spawn();
      await new Promise((r) => setTimeout(r, 200));
      m.child.kill("SIGINT");
      await stderrMatching(m, /is in use/);
      m.child.kill("SIGINT");
      assert.equal((await m.status).code, 0, m.stderr());
      assert.equal(await isMounted(mp), false);
      m = undefined;
    } finally {
      if (inside) {
        inside.kill("SIGKILL");
        await inside.status;
      }
      await cleanup(m, mp);
    }
  },
);

fuseTest("anyfs unmount cleans up a dead mount (Transport endpoint is not connected)", async () => {
  await using dir = await tempDir();
  const mp = `${dir.path}/mnt`;
  await Deno.mkdir(mp);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./fixtures/mount_then_wait.ts", import.meta.url).pathname, mp],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = child.stdout.getReader();
    const { value } = await reader.read();
    assert.match(new TextDecoder().decode(value), /ready/);
    reader.releaseLock();
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel().catch(() => {});
    assert.match((await sh(`ls '${mp}'`)).stderr, /Transport endpoint is not connected/);
    const status = await anyfsOk(["status", "--check"]);
    assert.match(
      status.split("\n").find((l) => l.startsWith(mp + " ")) ?? "",
      /-\s+dead \(run: anyfs unmount /,
    );
    await anyfsOk(["unmount", mp]);
    assert.equal(await isMounted(mp), false);
    await shOk(`touch '${mp}/usable'`);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already dead
    }
    await child.status;
    if (await isMounted(mp)) await sh(`fusermount3 -u -z '${mp}'`);
  }
});

fuseTest(
  "mount without --allow-ffi says which flag to add and creates nothing; with it, least privilege mounts",
  async () => {
    await using dir = await tempDir();
    const mp = `${dir.path}/mnt`;
    await Deno.mkdir(mp);
    const r = await anyfs(["mount", mp, `sqlite:${dir.path}/drive.db`], {
      permissions: ["--allow-read", "--allow-write", "--allow-env", "--allow-run", "--allow-sys"],
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^anyfs: mount: cannot mount: .*--allow-ffi/);
    assertNoStackTrace(r.stderr);
    assert.equal(await isMounted(mp), false);
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(dir.path))).map((e) => e.name),
      ["mnt"],
      "no drive file was created",
    );
    // --allow-ffi plus access to the mount point and the drive is enough.
    let m: BackgroundMount | undefined;
    try {
      m = await startMount([mp, `sqlite:${dir.path}/drive.db`], {
        permissions: ["--allow-ffi", "--allow-read", "--allow-write", "--allow-env"],
      });
      assert.match(m.line, /mounted/);
      await shOk(`cd '${mp}' && echo least > privilege.txt && cat privilege.txt`);
      await stop(m, mp);
      m = undefined;
    } finally {
      await cleanup(m, mp);
    }
  },
);

fuseTest(
  "file watchers on the mount see changes other processes make through it (what 'mount --help' promises)",
  async () => {
    await using dir = await tempDir();
    const mp = `${dir.path}/mnt`;
    await Deno.mkdir(mp);
    let m: BackgroundMount | undefined;
    let watcher: Deno.FsWatcher | undefined;
    try {
      m = await startMount([mp]);
      watcher = Deno.watchFs(mp);
      const seen = (async () => {
        for await (const event of watcher!) {
          if (event.paths.some((p) => p.endsWith("/made-by-sh.txt"))) return event.kind;
        }
        return "watcher closed";
      })();
      await shOk(`echo x > '${mp}/made-by-sh.txt'`);
      // A bound so a broken watcher fails the test instead of hanging it.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const kind = await Promise.race([
        seen,
        new Promise<string>((r) => timer = setTimeout(() => r("no event within 10 s"), 10_000)),
      ]);
      clearTimeout(timer);
      assert.match(kind, /^(create|modify)$/);
      watcher.close();
      watcher = undefined;
      await stop(m, mp);
      m = undefined;
    } finally {
      watcher?.close();
      await cleanup(m, mp);
    }
  },
);
