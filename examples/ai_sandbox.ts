/**
 * The agent sandbox of the AnyFS design: an in-memory drive that an AI agent
 * (or any untrusted tool) may use freely inside `/workspace`, with a quota,
 * secrets hidden, a rate limit against runaway loops, and an audit trail of
 * every operation. With mounting available it is mounted and `git` runs in
 * it like in any directory.
 *
 *     deno run -A examples/ai_sandbox.ts            # mounts when it can
 *     deno run examples/ai_sandbox.ts               # in-process only, no flags
 *
 * @module
 */

import { type AuditRecord, BackendStack, FileStorage, MemoryBackend } from "../mod.ts";

/** What the agent saw for one attempt. */
interface AuditLine {
  op: string;
  path: string;
  result: string;
}

/**
 * Build the sandbox: quota next to the storage, then the path filter, the
 * hard-link restriction, the rate limit (it charges every attempt, including
 * refused ones), and outermost the tracing layer, so the audit trail records
 * every attempt with its result. Spans also go to OpenTelemetry when Deno
 * exports them (`OTEL_DENO=true`).
 */
export function sandboxBackend(audit: (record: AuditRecord) => void) {
  return BackendStack.from(new MemoryBackend())
    .limited({ maxTotalSize: 50 * 1024 * 1024, maxFileSize: 5 * 1024 * 1024, maxNodeCount: 10_000 })
    .filtered({ allow: ["/workspace/**"], deny: ["**/.env", "**/secrets/**"] })
    .restricted({ denyPermissions: false, denyHardLinks: true })
    .rateLimited({ maxOps: 5_000, burst: 5_000, mode: "wait" })
    .traced({ audit })
    .build();
}

/** What the agent does, through the API: write code, try to read secrets. */
async function agentSession(fs: FileStorage, audit: AuditLine[]): Promise<void> {
  const attempt = async (op: string, path: string, run: () => Promise<unknown>) => {
    try {
      await run();
      audit.push({ op, path, result: "ok" });
    } catch (e) {
      audit.push({ op, path, result: (e as { code?: string }).code ?? String(e) });
    }
  };
  await attempt("mkdir", "/workspace/app", () => fs.mkdir("/workspace/app", { recursive: true }));
  await attempt(
    "write",
    "/workspace/app/main.ts",
    () => fs.writeTextFile("/workspace/app/main.ts", "export const answer = 42;\n"),
  );
  await attempt("write", "/workspace/.env", () => fs.writeTextFile("/workspace/.env", "KEY=1"));
  await attempt("write", "/etc/passwd", () => fs.writeTextFile("/etc/passwd", "root::0:0"));
  await attempt(
    "write 6 MiB",
    "/workspace/huge.bin",
    () => fs.writeFile("/workspace/huge.bin", new Uint8Array(6 * 1024 * 1024)),
  );
  await attempt(
    "link",
    "/workspace/app/alias.ts",
    () => fs.link("/workspace/app/main.ts", "/workspace/app/alias.ts"),
  );
}

async function tryMount(backend: ReturnType<typeof sandboxBackend>): Promise<void> {
  const ffi = await Deno.permissions.query({ name: "ffi" });
  if (ffi.state !== "granted") {
    console.log("\n(not mounting: run with -A to also mount the sandbox and use git in it)");
    return;
  }
  const { isAvailable, mount } = await import("../mount.ts");
  const availability = isAvailable();
  if (!availability.available) {
    console.log(`\n(not mounting: ${availability.reason}; fix: ${availability.fix})`);
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "anyfs-sandbox-" });
  try {
    await using mounted = await mount(backend, dir, { cache: "auto" });
    const run = async (cmd: string) => {
      // `cd` inside the child, never `cwd:` — Deno spawns with vfork, so the
      // serving thread would wait for a child that waits on the mount.
      const out = await new Deno.Command("sh", {
        args: ["-c", `cd '${dir}/workspace' && ${cmd}`],
        env: {
          GIT_AUTHOR_NAME: "agent",
          GIT_AUTHOR_EMAIL: "agent@sandbox",
          GIT_COMMITTER_NAME: "agent",
          GIT_COMMITTER_EMAIL: "agent@sandbox",
        },
      }).output();
      const text = new TextDecoder().decode(out.code === 0 ? out.stdout : out.stderr).trim();
      console.log(`  $ ${cmd}\n${text.replace(/^/gm, "    ")}`);
      return out.code;
    };
    console.log(`\nMounted at ${dir}; running programs in ${dir}/workspace:`);
    await run(
      "git init -q -b main . && git add -A && git commit -qm 'agent work' && git log --oneline",
    );
    await run("ls -a; cat .env 2>&1 || true");
    console.log(
      `  ${mounted.stats.operations} FUSE requests served, ${mounted.stats.errors} errors`,
    );
  } finally {
    await Deno.remove(dir).catch(() => {});
  }
}

if (import.meta.main) {
  const trail: AuditRecord[] = [];
  const backend = sandboxBackend((record) => trail.push(record));
  const fs = new FileStorage(backend);
  const audit: AuditLine[] = [];
  await agentSession(fs, audit);
  console.log("Agent session (operation, path, result):");
  for (const line of audit) {
    console.log(`  ${line.op.padEnd(12)} ${line.path.padEnd(26)} ${line.result}`);
  }
  const refused = trail.filter((r) => !r.ok && r.error !== "ENOENT");
  console.log(`Audit trail: ${trail.length} backend operations, ${refused.length} refused:`);
  for (const r of refused) {
    console.log(`  ${JSON.stringify({ op: r.op, path: r.path, error: r.error })}`);
  }
  const before = trail.length;
  await tryMount(backend);
  if (trail.length > before) {
    const byOp = new Map<string, number>();
    for (const r of trail.slice(before)) byOp.set(r.op, (byOp.get(r.op) ?? 0) + 1);
    const top = [...byOp].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([op, n]) => `${op} ${n}`);
    console.log(
      `  the audit trail grew by ${trail.length - before} operations (${top.join(", ")}, …)`,
    );
  }
}
