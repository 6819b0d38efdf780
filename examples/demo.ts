/**
 * `deno task demo` — AnyFS's main job in one run: build a backend with a
 * middleware stack, mount it as a real directory, let ordinary programs
 * (`sh`, `ls`, `cp`, `find`, `tar`, `git`, `df`) work in it, show what they
 * did and what the storage saw, and unmount.
 *
 *     npx -y deno@2.9.6 task demo       # needs root or fuse3's fusermount3
 *
 * Without FUSE (or without `--allow-ffi`) it says why and what to install,
 * then shows the same storage through the in-process API instead.
 *
 * @module
 */

import { FileStorage, MemoryBackend, Quota } from "../mod.ts";

const enc = new TextEncoder();

/** Run one shell command (in `dir` via `cd`, never via `cwd:`; see mount.ts) and print it. */
async function sh(dir: string, command: string): Promise<void> {
  const out = await new Deno.Command("sh", {
    args: ["-c", `cd '${dir}' && ${command}`],
    env: {
      GIT_AUTHOR_NAME: "AnyFS demo",
      GIT_AUTHOR_EMAIL: "demo@anyfs.invalid",
      GIT_COMMITTER_NAME: "AnyFS demo",
      GIT_COMMITTER_EMAIL: "demo@anyfs.invalid",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  console.log(`$ ${command}`);
  if (text.trim()) console.log(text.trimEnd().replace(/^/gm, "  "));
  if (out.code !== 0) throw new Error(`'${command}' exited with ${out.code}`);
}

async function main(): Promise<number> {
  // The default backend: in memory, with a 64 MiB quota so `df` has a size.
  const backend = new Quota(new MemoryBackend(), { maxTotalSize: 64 * 1024 * 1024 });
  const fs = new FileStorage(backend);
  await fs.mkdir("/project/src", { recursive: true });
  await fs.writeTextFile("/project/src/hello.ts", 'console.log("hello from AnyFS");\n');

  const ffi = await Deno.permissions.query({ name: "ffi" });
  const mountModule = ffi.state === "granted" ? await import("../mount.ts") : undefined;
  const availability = mountModule?.isAvailable() ??
    { available: false as const, reason: "--allow-ffi was not granted", fix: "run with -A" };
  if (!mountModule || !availability.available) {
    const why = availability.available ? undefined : availability;
    console.log(`Not mounting: ${why?.reason}. Fix: ${why?.fix}`);
    console.log("The same storage, in-process:");
    for await (const entry of fs.walk("/")) console.log(`  ${entry.path}`);
    return 0;
  }

  const dir = await Deno.makeTempDir({ prefix: "anyfs-demo-" });
  try {
    await using mounted = await mountModule.mount(backend, dir, { fsName: "anyfs-demo" });
    console.log(`Mounted an in-memory AnyFS drive (64 MiB quota) at ${dir}\n`);
    await sh(dir, "ls -la project/src && cat project/src/hello.ts");
    await sh(
      dir,
      "echo 'notes written by sh' > notes.txt && cp notes.txt project/ && ln -s notes.txt latest",
    );
    await sh(
      dir,
      "mkdir -p data && dd if=/dev/urandom of=data/blob bs=64k count=16 status=none && ls -l data",
    );
    await sh(
      dir,
      "tar cf project.tar project && mkdir restore && tar xf project.tar -C restore && find restore",
    );
    await sh(
      dir,
      "cd project && git init -q -b main && git add -A && git commit -qm 'first commit' && git log --oneline",
    );
    await sh(dir, `df -h . | tail -1`);
    await sh(dir, "dd if=/dev/zero of=too-big bs=1M count=100 status=none || true");

    // The mounting process itself uses the mount through Deno's async API.
    await Deno.writeFile(`${dir}/from-deno.txt`, enc.encode("written by the mounting process\n"));
    console.log(`\nThe storage saw (in-process view, no mount involved):`);
    console.log(`  /notes.txt: ${JSON.stringify(await fs.readTextFile("/notes.txt"))}`);
    console.log(`  /latest -> ${await fs.readLink("/latest")}`);
    console.log(`  /from-deno.txt: ${JSON.stringify(await fs.readTextFile("/from-deno.txt"))}`);
    const usage = backend.usage();
    console.log(
      `  quota usage: ${usage.bytes} bytes in ${usage.nodes} nodes (a partial too-big file included)`,
    );
    const stats = mounted.stats;
    console.log(
      `  mount served ${stats.operations} requests (${stats.errors} errors), ` +
        `${stats.bytesWritten} bytes written, ${stats.bytesRead} bytes read`,
    );
  } finally {
    await Deno.remove(dir).catch(() => {});
  }
  console.log(`\nUnmounted; ${dir} is gone.`);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
