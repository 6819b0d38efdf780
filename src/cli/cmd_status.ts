/**
 * `anyfs status`: what AnyFS has mounted — every `fuse.anyfs` file system
 * in the mount table, with the backend and the serving process (when it
 * was started by `anyfs mount`); with `--check`, whether it answers.
 *
 * Without `--check` no mount is touched: a mount whose server is stuck
 * would make any access hang.
 *
 * @module
 */

import { readMountTable } from "../mount/system.ts";
import { parseCommandArgs } from "./args.ts";
import { type Command, help } from "./command.ts";
import { EXIT_OK } from "./errors.ts";
import { STATUS_HELP } from "./help.ts";
import { requireHostAccess } from "./host_paths.ts";
import { probeMount } from "./mount_probe.ts";
import { readMountRecords } from "./mount_registry.ts";
import type { CliContext } from "./output.ts";

async function stateOf(mountPoint: string, served: boolean, check: boolean): Promise<string> {
  if (!check) return served ? "serving" : "-";
  const answer = await probeMount(mountPoint);
  return answer === "dead" ? `dead (run: anyfs unmount ${mountPoint})` : answer;
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
      check: { type: "boolean" },
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
        state: await stateOf(m.mountPoint, record !== undefined, values.check === true),
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
