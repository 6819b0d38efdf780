/**
 * A portable drive in one file: a SQLite database holds a whole file
 * system. Mount it, let `git` work in it, unmount, then reopen the file and
 * find everything still there — copy the `.anyfs` file anywhere and it
 * travels with its files, modes, links and history.
 *
 *     deno run -A examples/sqlite_drive.ts [drive.anyfs]
 *
 * Permissions: `--allow-read`/`--allow-write` on the database file (no more
 * for in-process use); mounting adds `--allow-ffi` and `--allow-run`.
 *
 * @module
 */

import { FileStorage, SqliteBackend } from "../mod.ts";
import { isAvailable, mount } from "../mount.ts";

const work = await Deno.makeTempDir({ prefix: "anyfs-drive-" });
const drivePath = Deno.args[0] ?? `${work}/project.anyfs`;

async function sh(dir: string, script: string): Promise<string> {
  const out = await new Deno.Command("sh", {
    args: ["-c", `cd '${dir}' && ${script}`],
    env: {
      GIT_AUTHOR_NAME: "drive",
      GIT_AUTHOR_EMAIL: "drive@anyfs.invalid",
      GIT_COMMITTER_NAME: "drive",
      GIT_COMMITTER_EMAIL: "drive@anyfs.invalid",
    },
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (out.code !== 0) throw new Error(`'${script}' failed: ${text}`);
  return text.trim();
}

// 1. Create the drive and mount it.
{
  using drive = SqliteBackend.open(drivePath);
  const availability = isAvailable();
  if (!availability.available) {
    console.error(`Cannot mount: ${availability.reason}. Fix: ${availability.fix}`);
    Deno.exit(1);
  }
  const mountPoint = `${work}/mnt`;
  await Deno.mkdir(mountPoint);
  await using _mounted = await mount(drive, mountPoint);
  console.log(`Drive ${drivePath} mounted at ${mountPoint}`);
  console.log(
    await sh(
      mountPoint,
      "mkdir app && cd app && printf 'export const v = 1;\\n' > mod.ts && chmod 640 mod.ts && " +
        "git init -q -b main && git add -A && git commit -qm 'first version' && git log --oneline",
    ),
  );
}
console.log("Unmounted and closed.");

// 2. Reopen the same file without mounting: the files, modes and git history are there.
{
  using drive = SqliteBackend.open(drivePath);
  const fs = new FileStorage(drive);
  console.log("mod.ts:", JSON.stringify(await fs.readTextFile("/app/mod.ts")));
  console.log("mode:", ((await fs.stat("/app/mod.ts")).mode! & 0o777).toString(8));
  const head = await fs.readTextFile("/app/.git/HEAD");
  console.log("git HEAD:", head.trim());
  console.log("database integrity:", drive.integrityCheck());
  const size = (await Deno.stat(drivePath)).size;
  console.log(`the whole drive is one ${(size / 1024).toFixed(0)} KiB file: ${drivePath}`);
}

if (Deno.args[0] === undefined) await Deno.remove(work, { recursive: true });
