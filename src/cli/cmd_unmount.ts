/**
 * `anyfs unmount`: take a FUSE mount down, including a dead one left by a
 * killed server ("Transport endpoint is not connected").
 *
 * @module
 */

import { MountError } from "../mount/errors.ts";
import { readMountTable, unmountPath } from "../mount/system.ts";
import { parseCommandArgs } from "./args.ts";
import { type Command, help } from "./command.ts";
import { CliError, EXIT_OK } from "./errors.ts";
import { UNMOUNT_HELP } from "./help.ts";
import { absoluteHostPath, lstatOrUndefined, requireHostAccess } from "./host_paths.ts";
import { probeMount } from "./mount_probe.ts";
import type { CliContext } from "./output.ts";

/** `anyfs unmount` (alias `umount`). */
export const unmountCommand: Command = {
  name: "unmount",
  aliases: ["umount"],
  summary: "Unmount a mount point",
  help: UNMOUNT_HELP,
  async run(args: string[], ctx: CliContext): Promise<number> {
    const { values, positionals } = parseCommandArgs("unmount", args, {
      help: { type: "boolean", short: "h" },
      lazy: { type: "boolean" },
    }, { min: 1, max: 1, names: ["mount point"] });
    if (values.help) return await help(ctx, UNMOUNT_HELP);
    const mountPoint = absoluteHostPath(positionals[0]);
    requireHostAccess("/proc/self/mountinfo", "read");
    const table = await readMountTable();
    const entry = table.findLast((e) => e.mountPoint === mountPoint);
    if (!entry) {
      let exists = true;
      try {
        exists = (await lstatOrUndefined(mountPoint)) !== undefined;
      } catch {
        // cannot look: say "not a mount point", which is true either way
      }
      if (!exists) throw new CliError(`${mountPoint} does not exist`);
      throw new CliError(
        `${mountPoint} is not a mount point`,
        "'anyfs status' lists what AnyFS has mounted",
      );
    }
    if (entry.fsType !== "fuse" && !entry.fsType.startsWith("fuse.")) {
      throw new CliError(
        `${mountPoint} is not a FUSE mount (it is ${entry.fsType})`,
        "anyfs unmounts only FUSE file systems; use umount for others",
      );
    }
    const lazy = values.lazy === true;
    try {
      await unmountPath(mountPoint, lazy);
    } catch (e) {
      if (lazy) throw e;
      // A dead mount: the server is gone, so detaching loses nothing.
      if (await probeMount(mountPoint) === "dead") {
        await unmountPath(mountPoint, true);
        return EXIT_OK;
      }
      if (e instanceof MountError && e.kind === "MountPointBusy") {
        throw new CliError(
          `${mountPoint} is in use (open files, or a shell or program inside it)`,
          `close them and try again, or detach it now: anyfs unmount --lazy ${mountPoint}`,
        );
      }
      throw e;
    }
    return EXIT_OK;
  },
};
