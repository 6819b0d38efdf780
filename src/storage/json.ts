/**
 * `readJson` and `writeJson` over any Deno-shaped file API.
 *
 * @module
 */

import { fsError } from "../core/errors.ts";
import type { FsApi } from "./api.ts";
import { toPathString } from "./paths.ts";

/** Options of {@linkcode writeJson}: `writeFile`'s plus JSON formatting. */
export interface WriteJsonOptions extends Deno.WriteFileOptions {
  /** Indentation, as `JSON.stringify`'s third argument. */
  spaces?: number | string;
  /** A replacer, as `JSON.stringify`'s second argument. */
  replacer?: ((this: unknown, key: string, value: unknown) => unknown) | (number | string)[];
}

/**
 * Read `path` and parse it as JSON (a leading byte order mark is ignored).
 * Text that is not JSON is `EINVAL`, with the parser's message as reason.
 *
 * @example
 * ```ts
 * import { FileStorage, MemoryBackend, readJson } from "@anyfs/anyfs";
 * const fs = new FileStorage(new MemoryBackend());
 * await fs.writeTextFile("/config.json", '{"debug":true}');
 * const config = await readJson<{ debug: boolean }>(fs, "/config.json");
 * console.log(config.debug); // true
 * ```
 */
export async function readJson<T = unknown>(
  fs: Pick<FsApi, "readTextFile">,
  path: string | URL,
): Promise<T> {
  const p = toPathString(path, "readjson");
  let text = await fs.readTextFile(p);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw fsError("EINVAL", "readjson", p, {
      reason: `invalid JSON: ${(e as Error).message}`,
      cause: e,
    });
  }
}

/**
 * Write `value` as JSON followed by a newline. A value JSON cannot represent
 * (`undefined`, a function, a cycle, a BigInt) is `EINVAL` and nothing is
 * written.
 *
 * @example
 * ```ts
 * import { FileStorage, MemoryBackend, writeJson } from "@anyfs/anyfs";
 * const fs = new FileStorage(new MemoryBackend());
 * await writeJson(fs, "/state.json", { step: 3 }, { spaces: 2 });
 * console.log(await fs.readTextFile("/state.json")); // "{\n  \"step\": 3\n}\n"
 * ```
 */
export async function writeJson(
  fs: Pick<FsApi, "writeTextFile">,
  path: string | URL,
  value: unknown,
  options: WriteJsonOptions = {},
): Promise<void> {
  const p = toPathString(path, "writejson");
  const { spaces, replacer, ...writeOptions } = options;
  let text: string | undefined;
  try {
    text = JSON.stringify(value, replacer as Parameters<typeof JSON.stringify>[1], spaces);
  } catch (e) {
    throw fsError("EINVAL", "writejson", p, {
      reason: `cannot serialize: ${(e as Error).message}`,
      cause: e,
    });
  }
  if (text === undefined) {
    throw fsError("EINVAL", "writejson", p, { reason: "the value has no JSON representation" });
  }
  await fs.writeTextFile(p, text + "\n", writeOptions);
}
