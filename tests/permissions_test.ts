import assert from "node:assert/strict";

Deno.test("importing mod.ts and using MemoryBackend through FileStorage needs no --allow-* flag", async () => {
  const script = new URL("./fixtures/no_permissions.ts", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    // --no-prompt: a permission request fails loudly instead of waiting for a TTY answer.
    args: ["run", "--no-prompt", "--quiet", script.href],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `exit ${out.code}: ${stderr}`);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), {
    text: "console.log('hi');\n",
    names: ["link.ts", "src"],
    quotaCode: "ENOSPC",
    statfs: [0, Number.MAX_SAFE_INTEGER],
  });
});
