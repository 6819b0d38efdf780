// A mount made by a user who is not root: the user must be able to work in
// it, although the nodes the process made in-process (without
// --allow-sys=uid) are stored as owned by 0. Runs the mounting process as
// `nobody` through setpriv, so it needs root to start (CI runs as root).
import assert from "node:assert/strict";
import { fuseTest } from "../_fuse.ts";

const NOBODY = 65534;
const ROOT = new URL("../../", import.meta.url).pathname;

function isRootHere(): boolean {
  return Deno.uid() === 0;
}

async function run(cmd: string, args: string[], env?: Record<string, string>) {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** The script the unprivileged process runs; prints one JSON object. */
const SCRIPT = `
import { MemoryBackend } from "./src/backends/memory.ts";
import { mount } from "./src/mount/handle.ts";

const mp = Deno.args[0];
const sh = async (script: string) => {
  // cd in the child: a cwd inside our own mount would hang Deno's spawn.
  const out = await new Deno.Command("sh", { args: ["-c", \`cd '\${mp}' && \${script}\`] }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b).trim();
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
};
const backend = new MemoryBackend();
await backend.writeFile("/seed.txt", new TextEncoder().encode("seed\\n"));

const result: Record<string, unknown> = {};
{
  await using _m = await mount(backend, mp);
  result.work = await sh("echo hi > a && echo more >> seed.txt && mkdir d && stat -c '%u:%g' . a seed.txt d");
}
result.storedOwnerOfNew = (await backend.lstat("/a")).uid;
result.seed = new TextDecoder().decode(await backend.readFile("/seed.txt"));
{
  // uid/gid null: the owners the backend stores, as a root mount shows them.
  await using _m = await mount(backend, mp, { uid: null, gid: null });
  result.stored = await sh("stat -c '%u' seed.txt a");
  result.denied = await sh("echo again >> seed.txt");
}
// Without fusermount3 no unmount could succeed: refused before mounting.
await Deno.permissions.revoke({ name: "run" });
try {
  await mount(backend, mp);
  result.withoutRun = "mounted";
} catch (e) {
  result.withoutRun = { kind: (e as { kind?: string }).kind, message: String(e) };
}
console.log(JSON.stringify(result));
`;

fuseTest({
  name: "a non-root user can work in a mount of their own (files shown as theirs)",
  ignore: !isRootHere(),
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "anyfs-nonroot-" });
    const fuseMode = Deno.statSync("/dev/fuse").mode! & 0o777;
    try {
      // The unprivileged process needs its own copy of deno and of the
      // sources: the originals may sit under root's 0700 home.
      await Deno.chmod(tmp, 0o755);
      await Deno.copyFile(Deno.execPath(), `${tmp}/deno`);
      await Deno.chmod(`${tmp}/deno`, 0o755);
      const cp = await run("cp", ["-r", `${ROOT}src`, `${ROOT}ffi`, tmp]);
      assert.equal(cp.code, 0, cp.stderr);
      await Deno.writeTextFile(`${tmp}/run.ts`, SCRIPT);
      await Deno.mkdir(`${tmp}/mp`);
      await Deno.mkdir(`${tmp}/cache`);
      assert.equal((await run("chown", ["-R", `${NOBODY}:${NOBODY}`, tmp])).code, 0);
      // fusermount3 opens /dev/fuse as the user; Debian's fuse3 makes it
      // 0666, a container's device node may be 0600.
      if ((fuseMode & 0o006) !== 0o006) await Deno.chmod("/dev/fuse", 0o666);

      const r = await run("setpriv", [
        `--reuid=${NOBODY}`,
        `--regid=${NOBODY}`,
        "--clear-groups",
        "--",
        `${tmp}/deno`,
        "run",
        "--no-prompt",
        "--allow-ffi",
        `--allow-read=${tmp}`,
        "--allow-run=fusermount3,sh",
        `${tmp}/run.ts`,
        `${tmp}/mp`,
      ], { DENO_DIR: `${tmp}/cache`, HOME: tmp, PATH: Deno.env.get("PATH") ?? "" });
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const result = JSON.parse(r.stdout.trim().split("\n").at(-1)!);

      assert.deepEqual(result.work, {
        code: 0,
        stdout: Array(4).fill(`${NOBODY}:${NOBODY}`).join("\n"),
        stderr: "",
      });
      assert.equal(result.storedOwnerOfNew, NOBODY, "new files are stored as the caller's");
      assert.equal(result.seed, "seed\nmore\n");
      assert.deepEqual(result.stored, { code: 0, stdout: `0\n${NOBODY}`, stderr: "" });
      assert.notEqual(result.denied.code, 0);
      assert.match(result.denied.stderr, /Permission denied/);
      assert.equal(result.withoutRun.kind, "PermissionDenied");
      assert.match(result.withoutRun.message, /--allow-run=\S*fusermount3/);
      const still = await run("mountpoint", ["-q", `${tmp}/mp`]);
      assert.notEqual(still.code, 0, "the mount is gone after unmount");
    } finally {
      if ((fuseMode & 0o006) !== 0o006) await Deno.chmod("/dev/fuse", fuseMode);
      await run("fusermount3", ["-u", "-z", `${tmp}/mp`]);
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
