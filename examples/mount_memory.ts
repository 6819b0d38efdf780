/**
 * Mount an in-memory file system and use it from the shell.
 *
 *     deno run -A examples/mount_memory.ts            # mounts, runs a few commands, unmounts
 *     deno run -A examples/mount_memory.ts /mnt/ram   # stays mounted until Ctrl+C
 *
 * Permissions: `--allow-ffi` (libfuse3), `--allow-read`/`--allow-write` for
 * the mount point, `--allow-run` for the shell commands; `-A` covers them.
 *
 * @module
 */

import { MemoryBackend } from "../mod.ts";
import { isAvailable, mount } from "../mount.ts";

const availability = isAvailable();
if (!availability.available) {
  console.error(`Cannot mount: ${availability.reason}. Fix: ${availability.fix}`);
  Deno.exit(1);
}

const stayMounted = Deno.args[0] !== undefined;
const dir = Deno.args[0] ?? await Deno.makeTempDir({ prefix: "anyfs-ram-" });
await Deno.mkdir(dir, { recursive: true });

// 256 MiB of RAM at most; `df` shows it as the disk size.
const backend = new MemoryBackend({ capacity: 256 * 1024 * 1024 });
const mounted = await mount(backend, dir, { cache: "always" });
console.log(`Mounted a 256 MiB RAM disk at ${dir}`);

if (stayMounted) {
  console.log(`Use it from any program; press Ctrl+C (or run 'fusermount3 -u ${dir}') to unmount.`);
  const end = await mounted.finished;
  console.log(`Unmounted (${end.reason}).`);
} else {
  // Spawn with `cd` in the shell, never `cwd:` into our own mount (see mount.ts).
  const script = [
    "echo 'hello from the shell' > hello.txt",
    "mkdir -p a/b/c && cp hello.txt a/b/c/ && ln -s a/b/c/hello.txt link",
    "cat link",
    "ls -la",
    "df -h . | tail -1",
  ].join(" && ");
  const out = await new Deno.Command("sh", { args: ["-c", `cd '${dir}' && ${script}`] }).output();
  console.log(new TextDecoder().decode(out.stdout));
  // The process that serves the mount may use it itself, through Deno's async API.
  console.log(
    "read back by Deno:",
    JSON.stringify(await Deno.readTextFile(`${dir}/a/b/c/hello.txt`)),
  );
  await mounted.unmount();
  await Deno.remove(dir);
  console.log("Unmounted.");
}
