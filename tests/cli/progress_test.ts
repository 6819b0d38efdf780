import assert from "node:assert/strict";
import { ProgressBar, summaryLine } from "../../src/cli/progress.ts";
import type { OutputSink } from "../../src/cli/output.ts";

function sink(isTerminal: boolean): OutputSink & { text: string } {
  return {
    text: "",
    isTerminal,
    write(t: string) {
      this.text += t;
      return Promise.resolve();
    },
    writeBytes() {
      return Promise.resolve();
    },
  };
}

Deno.test("the progress bar redraws in place on a terminal and is erased when done", async () => {
  const tty = sink(true);
  const bar = new ProgressBar(tty, "import");
  bar.update({ entriesDone: 5, entriesTotal: 10, bytesDone: 512, bytesTotal: 1024 });
  await bar.done();
  const erase = "\r\x1b[2K";
  assert.ok(
    tty.text.startsWith(
      `${erase}import [${"#".repeat(12)}${"-".repeat(12)}]  50%  5/10 entries  512 B/1.0 KiB`,
    ),
    JSON.stringify(tty.text),
  );
  assert.ok(tty.text.endsWith(erase));
});

Deno.test("no progress bar when stderr is not a terminal", async () => {
  const pipe = sink(false);
  const bar = new ProgressBar(pipe, "export");
  bar.scanning(3);
  bar.update({ entriesDone: 1, entriesTotal: 2, bytesDone: 0, bytesTotal: 0 });
  await bar.done();
  assert.equal(pipe.text, "");
});

Deno.test("summaryLine counts with singulars and plurals, bytes and seconds", () => {
  const line = summaryLine("imported", {
    files: 1,
    dirs: 2,
    symlinks: 0,
    bytes: 3 * 1024 * 1024,
    skipped: [{ path: "/p", reason: "fifo" }],
    notKept: [],
  }, 1234);
  assert.equal(line, "imported 1 file, 2 directories, 0 symlinks, 3.0 MiB in 1.23 s; skipped 1");
});
