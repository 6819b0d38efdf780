import assert from "node:assert/strict";
import { fuseTest } from "./_fuse.ts";

async function runExample(name: string, flags: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--quiet",
      ...flags,
      new URL(`../examples/${name}`, import.meta.url).href,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `${name} exited ${out.code}\n${stdout}\n${stderr}`);
  return stdout;
}

Deno.test("examples/quickstart.ts runs with no permission flags and shows the API working", async () => {
  const out = await runExample("quickstart.ts", []);
  assert.match(out, /through the link: console\.log\("hello"\);/);
  assert.match(out, /README nlink: 2/);
  assert.match(out, /glob: \/project\/src\/main\.ts/);
  assert.match(out, /error: ENOENT readfile \/nope\.txt/);
  assert.match(out, /quota: ENOSPC/);
  assert.match(out, /read-only: EROFS/);
  assert.match(out, /snapshot keeps: before/);
});

Deno.test("examples/ai_sandbox.ts enforces its policy in-process without flags", async () => {
  const out = await runExample("ai_sandbox.ts", []);
  assert.match(out, /write\s+\/workspace\/app\/main\.ts\s+ok/);
  assert.match(out, /write\s+\/workspace\/\.env\s+EACCES/);
  assert.match(out, /write\s+\/etc\/passwd\s+EACCES/);
  assert.match(out, /write 6 MiB\s+\/workspace\/huge\.bin\s+EFBIG/);
  assert.match(out, /link\s+\/workspace\/app\/alias\.ts\s+EPERM/);
  // The tracing layer's audit trail records the refusals with their codes.
  assert.match(out, /Audit trail: \d+ backend operations, \d+ refused/);
  assert.match(out, /\{"op":"writeFile","path":"\/workspace\/\.env","error":"EACCES"\}/);
  assert.match(out, /\{"op":"link","path":"\/workspace\/app\/main\.ts","error":"EPERM"\}/);
});

fuseTest("examples/ai_sandbox.ts mounts the sandbox and git commits in it", async () => {
  const out = await runExample("ai_sandbox.ts", ["-A"]);
  assert.match(out, /Mounted at /);
  assert.match(out, /[0-9a-f]{7} agent work/);
  assert.match(out, /cat: \.env: Permission denied/);
  assert.doesNotMatch(out, /^\s+\.env$/m, ".env must not be listed");
  assert.match(out, /the audit trail grew by \d+ operations \(.*open/);
});

fuseTest(
  "examples/demo.ts (deno task demo) mounts, runs ordinary programs and unmounts",
  async () => {
    const out = await runExample("demo.ts", ["-A"]);
    assert.match(out, /Mounted an in-memory AnyFS drive/);
    assert.match(out, /console\.log\("hello from AnyFS"\);/);
    assert.match(out, /restore\/project\/src\/hello\.ts/);
    assert.match(out, /[0-9a-f]{7} first commit/);
    assert.match(out, /anyfs-demo\s+64M/);
    assert.match(out, /No space left on device/);
    assert.match(out, /\/from-deno\.txt: "written by the mounting process\\n"/);
    const dir = out.match(/Unmounted; (\S+) is gone/)?.[1];
    assert.ok(dir, "demo reports its mount point");
    await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
    const mounts = await Deno.readTextFile("/proc/mounts");
    assert.ok(!mounts.includes(dir), "no mount left behind");
  },
);

Deno.test("examples/test_isolation.ts: every test gets its own snapshot, no flags needed", async () => {
  const out = await runExample("test_isolation.ts", []);
  assert.doesNotMatch(out, /FAIL/);
  assert.equal(out.match(/^ok /gm)?.length, 5);
  assert.match(out, /fixture untouched: \{"name":"demo","version":1\}/);
});

fuseTest(
  "examples/mount_memory.ts mounts a RAM disk, the shell and Deno use it, it unmounts",
  async () => {
    const out = await runExample("mount_memory.ts", ["-A"]);
    assert.match(out, /hello from the shell/);
    assert.match(out, /link -> a\/b\/c\/hello\.txt/);
    assert.match(out, /256M/);
    assert.match(out, /read back by Deno: "hello from the shell\\n"/);
    assert.match(out, /Unmounted\./);
  },
);

fuseTest(
  "examples/sqlite_drive.ts: git works on a mounted drive file, which reopens intact",
  async () => {
    const out = await runExample("sqlite_drive.ts", ["-A"]);
    assert.match(out, /[0-9a-f]{7} first version/);
    assert.match(out, /mod\.ts: "export const v = 1;\\n"/);
    assert.match(out, /mode: 640/);
    assert.match(out, /git HEAD: ref: refs\/heads\/main/);
    assert.match(out, /database integrity: \[ "ok" \]/);
  },
);

fuseTest(
  "examples/overlay_workspace.ts: workspaces over one template never touch it or each other",
  async () => {
    const out = await runExample("overlay_workspace.ts", ["-A"]);
    assert.match(
      out,
      /alice sees: \[ "NOTES\.md", "README\.md", "src" \] "export const greeting = 'hi from alice';\\n"/,
    );
    assert.match(
      out,
      /bob sees: +\[ "README\.txt", "delete-me\.txt", "src" \] "export const greeting = 'hello';\\n"/,
    );
    assert.match(
      out,
      /template: +\[ "README\.md", "delete-me\.txt", "src" \] "export const greeting = 'hello';\\n"/,
    );
    assert.match(out, /# Template\n\s+carol/);
    assert.match(out, /template README still: "# Template\\n"/);
  },
);
