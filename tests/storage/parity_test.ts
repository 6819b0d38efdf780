/**
 * FileStorage over MemoryBackend must agree with Deno's own API on a real
 * temporary directory: every case in parity_cases.ts is run on both, and
 * results and error codes (and the Deno error class, where Deno uses a
 * specific one) must be equal.
 */

import { deepStrictEqual } from "node:assert/strict";
import { MemoryBackend } from "../../src/backends/memory.ts";
import type { FsApi } from "../../src/storage/api.ts";
import { FileStorage } from "../../src/storage/file_storage.ts";
import { cases, type ParityEnv, setup } from "./parity_cases.ts";

const CLASSES: [string, unknown][] = [
  ["NotFound", Deno.errors.NotFound],
  ["AlreadyExists", Deno.errors.AlreadyExists],
  ["NotADirectory", Deno.errors.NotADirectory],
  ["IsADirectory", Deno.errors.IsADirectory],
  ["PermissionDenied", Deno.errors.PermissionDenied],
  ["FilesystemLoop", Deno.errors.FilesystemLoop],
  ["Busy", Deno.errors.Busy],
  ["TypeError", TypeError],
];

function classOf(e: unknown): string {
  for (const [name, cls] of CLASSES) {
    if (e instanceof (cls as new () => Error)) return name;
  }
  return "Error";
}

interface Outcome {
  value?: unknown;
  code?: unknown;
  cls?: string;
  message?: string;
}

function plain(v: unknown, root: string): unknown {
  if (v instanceof Uint8Array) return { bytes: Array.from(v) };
  if (typeof v === "string") return v.replaceAll(root, "<root>");
  if (Array.isArray(v)) return v.map((x) => plain(x, root));
  if (v && typeof v === "object" && !(v instanceof Date)) {
    // Handles and infos are compared through what cases extract from them.
    if (typeof (v as { read?: unknown }).read === "function") return "<file>";
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x, root)]));
  }
  return v;
}

async function run(env: ParityEnv, root: string, body: (e: ParityEnv) => Promise<unknown>) {
  try {
    const value = await body(env);
    if (value && typeof (value as { close?: unknown }).close === "function") {
      await (value as { close(): unknown }).close();
    }
    return { value: plain(value, root) } as Outcome;
  } catch (e) {
    return {
      code: (e as { code?: unknown }).code,
      cls: classOf(e),
      message: String((e as Error).message).replaceAll(root, "<root>"),
    } as Outcome;
  }
}

const isRoot = Deno.uid() === 0;

for (const [label, body] of cases) {
  Deno.test({
    name: `parity: ${label}`,
    ignore: label.startsWith("chown") && !isRoot,
    async fn() {
      const tmp = await Deno.realPath(await Deno.makeTempDir({ prefix: "anyfs-parity-" }));
      try {
        const real: ParityEnv = { fs: Deno as unknown as FsApi, p: (s) => tmp + s };
        await setup(real);
        const expected = await run(real, tmp, body);

        const storage = new FileStorage(new MemoryBackend(), { umask: Deno.umask() });
        await storage.mkdir("/root");
        const mem: ParityEnv = { fs: storage, p: (s) => "/root" + s };
        await setup(mem);
        const actual = await run(mem, "/root", body);

        const compare = (o: Outcome) => ({
          value: o.value,
          code: o.code,
          // Deno reports some errors as a plain Error with a code: no class to match.
          cls: expected.cls === "Error" ? undefined : o.cls,
        });
        deepStrictEqual(
          compare(actual),
          compare(expected),
          `${label}\n  deno:  ${JSON.stringify(expected)}\n  anyfs: ${JSON.stringify(actual)}`,
        );
      } finally {
        await Deno.remove(tmp, { recursive: true });
      }
    },
  });
}
