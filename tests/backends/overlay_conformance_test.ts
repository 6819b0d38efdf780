// The conformance kit and the differential test on Overlay over every pair
// of {MemoryBackend, SqliteBackend} (lower × upper), each case on a fresh,
// empty overlay. Then the kit again on overlays whose lower layer had
// entries at the names the kit uses, all deleted through the overlay first:
// every file the kit makes lands on a whiteout, every directory becomes
// opaque — the same cases, now through the overlay's own machinery. And a
// differential run of an overlay over a prefilled lower layer against a
// MemoryBackend holding the same tree.
import { MemoryBackend } from "../../src/backends/memory.ts";
import { Overlay } from "../../src/backends/overlay.ts";
import { SqliteBackend } from "../../src/backends/sqlite.ts";
import type { Backend } from "../../src/core/backend.ts";
import { FileStorage } from "../../src/storage/file_storage.ts";
import { conformanceSuite } from "../../src/testing/conformance.ts";
import { runDifferential } from "../../src/testing/differential.ts";
import { differentialTest } from "../../src/testing/differential_suite.ts";

type Kind = "Memory" | "Sqlite";

function layer(kind: Kind): Backend & { close?: () => void } {
  return kind === "Memory" ? new MemoryBackend() : SqliteBackend.memory();
}

/** An overlay whose `close` closes its layers (the kit closes backends after each case). */
function overlayOf(
  lower: Backend & { close?: () => void },
  upper: Backend & { close?: () => void },
) {
  const overlay = new Overlay(lower, upper) as Overlay & { close?: () => void };
  overlay.close = () => {
    lower.close?.();
    upper.close?.();
  };
  return overlay;
}

const pairs: [Kind, Kind][] = [
  ["Memory", "Memory"],
  ["Memory", "Sqlite"],
  ["Sqlite", "Memory"],
  ["Sqlite", "Sqlite"],
];

for (const [lower, upper] of pairs) {
  const name = `Overlay(${lower}, ${upper})`;
  conformanceSuite(name, () => overlayOf(layer(lower), layer(upper)));
}

// The names the kit's cases use most, at the root and one level down.
const KIT_NAMES = [
  "f",
  "d",
  "a",
  "b",
  "l",
  "missing",
  "src",
  "dst",
  "t",
  "target",
  "x",
  "link",
  "loop",
  "dir",
  "real",
  "new",
  "keep",
  "alias",
  "p",
  "from",
  "to",
  "old",
  "file",
  "copy",
  "tree",
  "empty",
  "big",
];

/**
 * A lower layer with a file or a directory (with content) at every kit
 * name, all deleted through the overlay: the union starts empty, with a
 * whiteout in the upper layer at each name.
 */
async function whitedOut(lowerKind: Kind, upperKind: Kind) {
  const lower = layer(lowerKind);
  for (const [i, name] of KIT_NAMES.entries()) {
    if (i % 2 === 0) {
      await lower.mkdir(`/${name}`);
      await lower.writeFile(`/${name}/f`, new TextEncoder().encode("lower"));
      await lower.mkdir(`/${name}/d`);
    } else {
      await lower.writeFile(`/${name}`, new TextEncoder().encode(`lower ${name}`));
    }
  }
  const overlay = overlayOf(lower, layer(upperKind));
  const fs = new FileStorage(overlay);
  for (const name of KIT_NAMES) await fs.remove(`/${name}`, { recursive: true });
  return overlay;
}

conformanceSuite(
  "Overlay(Memory, Memory) over deleted lower entries",
  () => whitedOut("Memory", "Memory"),
);
conformanceSuite(
  "Overlay(Sqlite, Sqlite) over deleted lower entries",
  () => whitedOut("Sqlite", "Sqlite"),
);

for (const [i, [lower, upper]] of pairs.entries()) {
  differentialTest(`Overlay(${lower}, ${upper})`, () => overlayOf(layer(lower), layer(upper)), {
    seed: 40 + i,
    ops: 1500,
  });
}

/** The same small tree, over the differential's three-name alphabet, in `backend`. */
async function prefill(backend: Backend): Promise<void> {
  const fs = new FileStorage(backend);
  await fs.mkdir("/a/b", { recursive: true });
  await fs.mkdir("/a/c/a", { recursive: true });
  await fs.mkdir("/b/c/a", { recursive: true });
  await fs.writeTextFile("/c", "lower c");
  await fs.writeTextFile("/a/a", "lower a/a");
  await fs.writeTextFile("/a/b/c", "lower a/b/c ".repeat(50));
  await fs.writeTextFile("/a/c/a/b", "lower a/c/a/b");
  await fs.writeTextFile("/a/c/b", "lower a/c/b");
  await fs.writeTextFile("/b/a", "");
  await fs.writeTextFile("/b/c/b", "lower b/c/b");
  await fs.symlink("a/b", "/b/b");
  await fs.symlink("a", "/a/b/b");
  await fs.chmod("/a/a", 0o600);
  await fs.chmod("/b/c", 0o750);
}

// Against a MemoryBackend holding the same tree: every copy-up, whiteout,
// opaque directory and merged listing must look exactly like a plain file
// system that had the tree all along. And with the whole tree deleted
// through the overlay first, against an empty MemoryBackend: every name
// the run makes lands on a whiteout.
for (const [i, [lowerKind, upperKind]] of pairs.entries()) {
  for (const [seed, deleted] of [[101 + i, false], [201 + i, false], [301 + i, true]] as const) {
    const what = deleted ? "deleted" : "prefilled";
    Deno.test(
      `differential › Overlay(${lowerKind} ${what}, ${upperKind}) against MemoryBackend (seed ${seed})`,
      async () => {
        const lower = layer(lowerKind);
        const upper = layer(upperKind);
        const reference = new MemoryBackend();
        await prefill(lower);
        if (deleted) {
          const fs = new FileStorage(new Overlay(lower, upper));
          for (const name of ["a", "b", "c"]) await fs.remove(`/${name}`, { recursive: true });
        } else {
          await prefill(reference);
        }
        try {
          await runDifferential(
            new FileStorage(new Overlay(lower, upper)),
            new FileStorage(reference),
            { seed, ops: 2500, capabilities: ["symlinks", "hardlinks", "permissions"] },
          );
        } finally {
          lower.close?.();
          upper.close?.();
        }
      },
    );
  }
}
