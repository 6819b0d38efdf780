/**
 * `anyfs status`: what AnyFS has mounted — every `fuse.anyfs` file system
 * in the mount table, with the backend, the serving process (when it was
 * started by `anyfs mount`) and whether it answers.
 *
 * @module
 */

import { isNotConnected, readMountTable } from "../mount/system.ts";
import { parseCommandArgs } from "./args.ts";
import { type Command, help } from "./command.ts";
import { EXIT_OK } from "./errors.ts";
import { STATUS_HELP } from "./help.ts";
import { requireHostAccess } from "./host_paths.ts";
import { readMountRecords } from "./mount_registry.ts";
import type { CliContext } from "./output.ts";

/** How long a mount may take to answer a `stat` before it is called unresponsive. */
const PROBE_MS = 1000;

async function probe(path: string): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      Deno.stat(path).then(() => "ok"),
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve("not responding"), PROBE_MS);
      }),
    ]);
  } catch (e) {
    return isNotConnected(e) ? "dead (run: anyfs unmount " + path + ")" : "unreachable";
  } finally {
    clearTimeout(timer);
  }
}

/** `anyfs status`. */
export const statusCommand: Command = {
  name: "status",
  summary: "Show what AnyFS has mounted",
  help: STATUS_HELP,
  async run(args: string[], ctx: CliContext): Promise<number> {
    const { values } = parseCommandArgs("status", args, {
      help: { type: "boolean", short: "h" },
      json: { type: "boolean" },
    }, { min: 0, max: 0, names: [] });
    if (values.help) return await help(ctx, STATUS_HELP);
    requireHostAccess("/proc/self/mountinfo", "read");
    const mounts = (await readMountTable()).filter((e) => e.fsType === "fuse.anyfs");
    const records = await readMountRecords();
    const rows = [];
    for (const m of mounts) {
      const record = records.find((r) => r.mountPoint === m.mountPoint);
      rows.push({
        mountPoint: m.mountPoint,
        backend: record?.backend ?? m.source,
        layers: record?.layers ?? [],
        pid: record?.pid ?? null,
        state: await probe(m.mountPoint),
      });
    }
    if (values.json) {
      for (const row of rows) await ctx.stdout.write(JSON.stringify(row) + "\n");
      return EXIT_OK;
    }
    if (rows.length === 0) {
      await ctx.stdout.write("no AnyFS mounts\n");
      return EXIT_OK;
    }
    const table = [["MOUNT POINT", "BACKEND", "PID", "STATE"]];
    for (const r of rows) {
      const backend = r.layers.length ? `${r.backend} (${r.layers.join(", ")})` : r.backend;
      table.push([r.mountPoint, backend, r.pid === null ? "-" : String(r.pid), r.state]);
    }
    const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
    const text = table.map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join("  ")
    ).join("\n");
    await ctx.stdout.write(text + "\n");
    return EXIT_OK;
  },
};
