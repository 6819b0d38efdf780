/**
 * A small registry of the mounts `anyfs mount` serves, so `anyfs status` can
 * say which process serves which mount and what backend it is: one JSON
 * file per mount in `$XDG_RUNTIME_DIR/anyfs/` (or `/tmp/anyfs-<uid>/`),
 * removed when the mount ends.
 *
 * Best effort throughout: the kernel's mount table is the truth, and a
 * registry that cannot be written (no permission to read the environment
 * or the user id) only means `status` shows no process id.
 *
 * @module
 */

/** What `anyfs mount` records about a mount it serves. */
export interface MountRecord {
  /** The absolute mount point. */
  mountPoint: string;
  /** The backend spec with absolute paths, e.g. `sqlite:/home/me/drive.db`. */
  backend: string;
  /** The middleware, as the mount line shows it. */
  layers: string[];
  /** The serving process. */
  pid: number;
  /** When it was mounted (ISO 8601). */
  started: string;
}

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(descriptor).state === "granted";
}

/** The registry directory for this user, or `undefined` when it cannot be known without prompting. */
export function registryDir(): string | undefined {
  if (granted({ name: "env", variable: "ANYFS_STATE_DIR" })) {
    const override = Deno.env.get("ANYFS_STATE_DIR");
    if (override) return override;
  }
  if (granted({ name: "env", variable: "XDG_RUNTIME_DIR" })) {
    const runtime = Deno.env.get("XDG_RUNTIME_DIR");
    if (runtime) return `${runtime}/anyfs`;
  }
  if (!granted({ name: "sys", kind: "uid" })) return undefined;
  const uid = Deno.uid();
  return uid === null ? undefined : `/tmp/anyfs-${uid}`;
}

function recordPath(dir: string, mountPoint: string): string {
  return `${dir}/${encodeURIComponent(mountPoint)}.json`;
}

async function ownedDirectory(dir: string): Promise<boolean> {
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    // In a shared /tmp someone else could have made it (or a link) first.
    const info = await Deno.lstat(dir);
    const uid = granted({ name: "sys", kind: "uid" }) ? Deno.uid() : null;
    return info.isDirectory && (uid === null || info.uid === uid);
  } catch {
    return false;
  }
}

/**
 * Record `record`; returns the function that removes the record again
 * (also run at process exit). Never throws.
 */
export async function registerMount(record: MountRecord): Promise<() => Promise<void>> {
  const dir = registryDir();
  const nothing = () => Promise.resolve();
  if (!dir || !granted({ name: "write", path: dir }) || !granted({ name: "read", path: dir })) {
    return nothing;
  }
  if (!(await ownedDirectory(dir))) return nothing;
  const file = recordPath(dir, record.mountPoint);
  try {
    await Deno.writeTextFile(file, JSON.stringify(record) + "\n", { mode: 0o600 });
  } catch {
    return nothing;
  }
  const onUnload = () => {
    try {
      Deno.removeSync(file);
    } catch {
      // already gone
    }
  };
  globalThis.addEventListener("unload", onUnload);
  return async () => {
    globalThis.removeEventListener("unload", onUnload);
    await Deno.remove(file).catch(() => {});
  };
}

/** Whether process `pid` is alive (it has a `/proc` entry). */
export async function processAlive(pid: number): Promise<boolean> {
  try {
    await Deno.stat(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * The records of mounts whose process is still alive. Records of dead
 * processes (killed with `SIGKILL`) are removed on the way.
 */
export async function readMountRecords(): Promise<MountRecord[]> {
  const dir = registryDir();
  if (!dir || !granted({ name: "read", path: dir })) return [];
  const records: MountRecord[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile || !entry.name.endsWith(".json")) continue;
      const file = `${dir}/${entry.name}`;
      try {
        const record = JSON.parse(await Deno.readTextFile(file)) as MountRecord;
        if (typeof record.pid === "number" && await processAlive(record.pid)) {
          records.push(record);
        } else if (granted({ name: "write", path: dir })) {
          await Deno.remove(file).catch(() => {});
        }
      } catch {
        // a record being written or a stranger's file: ignore it
      }
    }
  } catch {
    // no registry yet
  }
  return records;
}
