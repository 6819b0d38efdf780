/**
 * Per-test (or per-agent) workspaces over one read-only template: the
 * template is a real host directory, contained by `VRootFsBackend` and used
 * as the read-only lower layer; each workspace is an `Overlay` with its own
 * writable in-memory upper layer. Workspaces see the template, change it
 * freely (copy-up on first write, whiteouts for deletions) and never touch
 * the template or each other — like container layers, without containers.
 *
 *     deno run -A examples/overlay_workspace.ts
 *
 * Permissions: `--allow-read` on the template (the overlay never writes
 * it), `--allow-write` only to create the demo template; mounting a
 * workspace adds `--allow-ffi` and `--allow-run`.
 *
 * @module
 */

import { FileStorage, MemoryBackend, Overlay, VRootFsBackend } from "../mod.ts";

// A template on the host, e.g. a project skeleton checked into a repository.
const template = await Deno.makeTempDir({ prefix: "anyfs-template-" });
await Deno.mkdir(`${template}/src`);
await Deno.writeTextFile(`${template}/src/main.ts`, "export const greeting = 'hello';\n");
await Deno.writeTextFile(`${template}/README.md`, "# Template\n");
await Deno.writeTextFile(`${template}/delete-me.txt`, "temporary\n");

const lower = await VRootFsBackend.open(template);
function workspace(): FileStorage {
  return new FileStorage(new Overlay(lower, new MemoryBackend()));
}

const alice = workspace();
const bob = workspace();

await alice.writeTextFile("/src/main.ts", "export const greeting = 'hi from alice';\n");
await alice.remove("/delete-me.txt");
await alice.writeTextFile("/NOTES.md", "alice was here\n");
await bob.rename("/README.md", "/README.txt");

const list = async (fs: FileStorage) =>
  (await Array.fromAsync(fs.readDir("/"))).map((e) => e.name).sort();
console.log(
  "alice sees:",
  await list(alice),
  JSON.stringify(await alice.readTextFile("/src/main.ts")),
);
console.log("bob sees:  ", await list(bob), JSON.stringify(await bob.readTextFile("/src/main.ts")));
console.log(
  "template:  ",
  (await Array.fromAsync(Deno.readDir(template))).map((e) => e.name).sort(),
  JSON.stringify(await Deno.readTextFile(`${template}/src/main.ts`)),
);

// A workspace mounts like any backend, so build tools and shells can use it.
if ((await Deno.permissions.query({ name: "ffi" })).state === "granted") {
  const { isAvailable, mount } = await import("../mount.ts");
  if (isAvailable().available) {
    const dir = await Deno.makeTempDir({ prefix: "anyfs-workspace-" });
    const carol = new Overlay(lower, new MemoryBackend());
    {
      await using _m = await mount(carol, dir);
      const out = await new Deno.Command("sh", {
        args: [
          "-c",
          `cd '${dir}' && echo 'carol' >> README.md && rm delete-me.txt && ls && cat README.md`,
        ],
      }).output();
      console.log(
        "carol's mounted workspace:\n" + new TextDecoder().decode(out.stdout).replace(/^/gm, "  "),
      );
    }
    await Deno.remove(dir);
    console.log(
      "template README still:",
      JSON.stringify(await Deno.readTextFile(`${template}/README.md`)),
    );
  }
}

await Deno.remove(template, { recursive: true });
