import assert from "node:assert/strict";
import {
  formatBackendSpec,
  looksLikeBackendSpec,
  parseBackendSpec,
} from "../../src/cli/backend_spec.ts";
import { UsageError } from "../../src/cli/errors.ts";

Deno.test("parseBackendSpec: the four kinds, and a bare .db path as sqlite:", () => {
  assert.deepEqual(parseBackendSpec("mem:"), { kind: "mem" });
  assert.deepEqual(parseBackendSpec("sqlite:./a.db"), { kind: "sqlite", path: "./a.db" });
  assert.deepEqual(parseBackendSpec("dir:/srv/data"), { kind: "dir", path: "/srv/data" });
  assert.deepEqual(parseBackendSpec("./drive.anyfs"), { kind: "sqlite", path: "./drive.anyfs" });
  assert.deepEqual(parseBackendSpec("overlay:dir:./template,mem:"), {
    kind: "overlay",
    lower: { kind: "dir", path: "./template" },
    upper: { kind: "mem" },
  });
  assert.deepEqual(parseBackendSpec("overlay:sqlite:base.db,changes.db"), {
    kind: "overlay",
    lower: { kind: "sqlite", path: "base.db" },
    upper: { kind: "sqlite", path: "changes.db" },
  });
});

Deno.test("parseBackendSpec: a comma inside the lower path survives", () => {
  assert.deepEqual(parseBackendSpec("overlay:dir:/a,b,sqlite:/c.db"), {
    kind: "overlay",
    lower: { kind: "dir", path: "/a,b" },
    upper: { kind: "sqlite", path: "/c.db" },
  });
});

Deno.test("parseBackendSpec: bad specs are usage errors that say what is wrong", () => {
  const bad: [string, RegExp][] = [
    ["", /empty backend spec/],
    ["s3:bucket", /unknown backend scheme 's3:'/],
    ["sqlite:", /sqlite: needs a path/],
    ["dir:", /dir: needs a path/],
    ["mem:x", /mem: takes nothing after the colon/],
    ["overlay:mem:", /needs two backends/],
    ["overlay:,mem:", /needs two backends/],
    ["overlay:mem:,s3:bucket", /unknown backend scheme 's3:' in 'overlay:mem:,s3:bucket'/],
    ["overlay:dir:./a,b:c,s3:", /unknown backend scheme 's3:'/],
    ["overlay:overlay:mem:,mem:,mem:", /cannot be overlays/],
    ["./data", /not a backend spec .*dir:\.\/data, .*sqlite:\.\/data/],
  ];
  for (const [text, message] of bad) {
    assert.throws(() => parseBackendSpec(text, "ls"), (e: unknown) => {
      assert.ok(e instanceof UsageError, text);
      assert.equal(e.command, "ls");
      assert.match(e.message, message, text);
      return true;
    });
  }
});

Deno.test("looksLikeBackendSpec and formatBackendSpec", () => {
  assert.ok(looksLikeBackendSpec("mem:"));
  assert.ok(looksLikeBackendSpec("./x.db"));
  assert.ok(!looksLikeBackendSpec("/mnt/x"));
  assert.equal(
    formatBackendSpec(parseBackendSpec("overlay:dir:./t/,x.db"), "/home/me"),
    "overlay:dir:/home/me/t,sqlite:/home/me/x.db",
  );
  assert.equal(formatBackendSpec(parseBackendSpec("mem:")), "mem:");
});
