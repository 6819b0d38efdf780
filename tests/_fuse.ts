/**
 * Tests that need a real FUSE mount (or libfuse3's headers) register with
 * `fuseTest` instead of `Deno.test`. Where FUSE is missing they are
 * reported as ignored, with the reason printed once, so `deno task test`
 * succeeds on a machine with nothing but Node and Deno. In CI (`CI=true`)
 * the machine is set up for them, so a missing piece fails the run loudly
 * instead of skipping a third of the suite.
 */
import { isAvailable } from "../src/mount/availability.ts";

function missingPieces(): string[] {
  const missing: string[] = [];
  const availability = isAvailable();
  if (!availability.available) missing.push(`${availability.reason} (fix: ${availability.fix})`);
  try {
    Deno.statSync("/usr/include/fuse3/fuse_lowlevel.h");
  } catch {
    missing.push("libfuse3's headers are not installed (fix: apt install libfuse3-dev pkg-config)");
  }
  return missing;
}

const missing = missingPieces();
if (missing.length) {
  const message = `FUSE tests cannot run here: ${missing.join("; ")}`;
  if (Deno.env.get("CI") === "true") throw new Error(`${message}. CI must run them.`);
  console.error(`${message}; they are ignored (.ci/run installs what they need).`);
}

/** Whether the FUSE tests run on this machine. */
export const FUSE_READY: boolean = missing.length === 0;

/** `Deno.test`, ignored (with the reason printed once) where FUSE is unavailable. */
export const fuseTest: typeof Deno.test = ((...args: unknown[]) => {
  const register = Deno.test as (...a: unknown[]) => void;
  if (FUSE_READY) return register(...args);
  let definition: Deno.TestDefinition;
  if (typeof args[0] === "string") {
    definition = typeof args[1] === "function"
      ? { name: args[0], fn: args[1] as Deno.TestDefinition["fn"] }
      : { ...(args[1] as object), name: args[0], fn: args[2] as Deno.TestDefinition["fn"] };
  } else if (typeof args[0] === "function") {
    const fn = args[0] as Deno.TestDefinition["fn"];
    definition = { name: fn.name, fn };
  } else if (typeof args[1] === "function") {
    definition = { ...(args[0] as object), fn: args[1] } as Deno.TestDefinition;
  } else {
    definition = args[0] as Deno.TestDefinition;
  }
  return register({ ...definition, ignore: true });
}) as typeof Deno.test;
