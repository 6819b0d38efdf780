// Shared helpers of the CLI tests: run `cli.ts` in a subprocess as a user
// would (`deno run -A cli.ts …`), start a mount in the background and wait
// for its "mounted" line, and check the mount table.
import assert from "node:assert/strict";

/** The CLI entry point. */
export const CLI = new URL("../../cli.ts", import.meta.url).pathname;

/** The outcome of one CLI run. */
export interface CliResult {
  /** Exit status. */
  code: number;
  /** Standard output as text. */
  stdout: string;
  /** Standard error as text. */
  stderr: string;
}

/** Options of {@linkcode anyfs}. */
export interface RunOptions {
  /** Deno permission flags (default `["-A"]`). */
  permissions?: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Working directory (never a path inside a mount this process serves). */
  cwd?: string;
}

function environment(extra: Record<string, string> = {}): Record<string, string> {
  return { NO_COLOR: "1", TZ: "UTC", LC_ALL: "C", ...extra };
}

/** Run `anyfs <args>` and collect its output. */
export async function anyfs(args: string[], options: RunOptions = {}): Promise<CliResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--quiet", ...(options.permissions ?? ["-A"]), CLI, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    cwd: options.cwd,
    env: environment(options.env),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Run `anyfs <args>` and fail with its output unless it exits 0; returns stdout. */
export async function anyfsOk(args: string[], options: RunOptions = {}): Promise<string> {
  const r = await anyfs(args, options);
  assert.equal(r.code, 0, `anyfs ${args.join(" ")} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** A background `anyfs mount`. */
export interface BackgroundMount {
  /** The child process. */
  child: Deno.ChildProcess;
  /** The line it printed when mounted. */
  line: string;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** Everything it wrote to stdout so far. */
  stdout(): string;
  /** Its exit status, once it has exited. */
  status: Promise<Deno.CommandStatus>;
}

async function collect(stream: ReadableStream<Uint8Array>, sink: { text: string }) {
  const dec = new TextDecoder();
  for await (const chunk of stream) sink.text += dec.decode(chunk, { stream: true });
}

/**
 * Start `anyfs mount <args>` in the background and wait (up to 30 s) for its
 * "mounted" line. Fails with its stderr when it exits or times out first.
 */
export async function startMount(
  args: string[],
  options: RunOptions = {},
): Promise<BackgroundMount> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--quiet",
      ...(options.permissions ?? ["-A"]),
      CLI,
      "mount",
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    cwd: options.cwd,
    env: environment(options.env),
  }).spawn();
  const out = { text: "" };
  const err = { text: "" };
  const reading = Promise.all([collect(child.stdout, out), collect(child.stderr, err)]);
  const status = reading.then(() => child.status);
  const deadline = Date.now() + 30_000;
  let exited = false;
  status.then(() => (exited = true));
  while (!out.text.includes("\n")) {
    if (exited || Date.now() > deadline) {
      if (!exited) child.kill("SIGKILL");
      await status;
      throw new Error(`anyfs mount ${args.join(" ")} did not mount:\n${err.text}${out.text}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    child,
    line: out.text.split("\n")[0],
    stderr: () => err.text,
    stdout: () => out.text,
    status,
  };
}

/** Whether `path` is a mount point now (from /proc/self/mountinfo). */
export async function isMounted(path: string): Promise<boolean> {
  const text = await Deno.readTextFile("/proc/self/mountinfo");
  return text.split("\n").some((line) => line.split(" ")[4] === path);
}

/** Run `script` with `sh -c`; `cd` in the script, never `cwd:`, for paths in a mount. */
export async function sh(script: string): Promise<CliResult> {
  const out = await new Deno.Command("sh", {
    args: ["-c", script],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { LC_ALL: "C", TZ: "UTC" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** `sh -c script`, failing with its output unless it exits 0; returns stdout. */
export async function shOk(script: string): Promise<string> {
  const r = await sh(script);
  assert.equal(r.code, 0, `sh -c ${JSON.stringify(script)} exited ${r.code}:\n${r.stderr}`);
  return r.stdout;
}

/** Assert that `text` has no stack trace in it (no `    at …` lines, no "error: Uncaught"). */
export function assertNoStackTrace(text: string): void {
  assert.doesNotMatch(text, /^\s+at .+[:(]/m, `stack trace in:\n${text}`);
  assert.doesNotMatch(text, /Uncaught|Stack backtrace/, `uncaught error in:\n${text}`);
}

/** A fresh temporary directory, removed by the returned disposer. */
export async function tempDir(prefix = "anyfs-cli-test-"): Promise<
  { path: string } & AsyncDisposable
> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}
