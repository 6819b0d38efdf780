/**
 * Asking a FUSE mount whether it answers, without risking this process.
 *
 * A `stat` of a mount whose server is alive but stuck never returns, and a
 * thread waiting on it keeps the whole process from exiting (the kernel
 * waits uninterruptibly once the server has read the request). So the
 * probe runs in a child `stat(1)` that is abandoned after a timeout; only
 * the child can get stuck. A dead mount (its server gone) answers at once
 * with "Transport endpoint is not connected".
 *
 * Needs `--allow-run=stat` (or `-A`).
 *
 * @module
 */

/** What {@linkcode probeMount} found. */
export type ProbeResult =
  /** The mount answered. */
  | "ok"
  /** Its server is gone: "Transport endpoint is not connected". */
  | "dead"
  /** No answer within the timeout: the server is busy or stuck. */
  | "not responding"
  /** Some other failure (permission, the path vanished), or `stat` could not run. */
  | "unknown";

/** `stat` the mount point `path` in a child process; give up after `timeoutMs`. */
export async function probeMount(path: string, timeoutMs = 1000): Promise<ProbeResult> {
  if (Deno.permissions.querySync({ name: "run", command: "stat" }).state !== "granted") {
    return "unknown";
  }
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("stat", {
      args: ["-c", "%i", "--", path],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      env: { LC_ALL: "C" },
    }).spawn();
  } catch {
    return "unknown";
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  const output = child.output();
  const first = await Promise.race([output, timedOut]);
  clearTimeout(timer);
  if (first === "timeout") {
    try {
      child.kill("SIGKILL");
    } catch {
      // it just finished
    }
    // Do not wait for it: a child stuck in the kernel must not hold this process.
    child.unref();
    output.catch(() => {});
    return "not responding";
  }
  if (first.success) return "ok";
  const message = new TextDecoder().decode(first.stderr);
  return /Transport endpoint is not connected/.test(message) ? "dead" : "unknown";
}
