import assert from "node:assert/strict";
import { KeptXattrs } from "../../src/mount/kept_xattrs.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("kept xattrs: set, get, list in first-set order, remove; missing names are ENODATA", async () => {
  const kept = new KeptXattrs(new Map([["user.a", bytes("1")]]));
  await kept.setXattr("/f", "user.b", bytes("2"));
  await kept.setXattr("/f", "user.a", bytes("3"));
  assert.deepEqual(await kept.listXattr("/f"), ["user.a", "user.b"]);
  assert.deepEqual(await kept.getXattr("/f", "user.a"), bytes("3"));
  await kept.removeXattr("/f", "user.a");
  assert.deepEqual(await kept.listXattr("/f"), ["user.b"]);
  await assert.rejects(
    kept.getXattr("/f", "user.a"),
    (e: { code?: string }) => e.code === "ENODATA",
  );
  await assert.rejects(
    kept.removeXattr("/f", "user.a"),
    (e: { code?: string }) => e.code === "ENODATA",
  );
});

Deno.test("kept xattrs: create and replace flags as setxattr(2); values are copied", async () => {
  const kept = new KeptXattrs();
  await assert.rejects(
    kept.setXattr("/f", "user.a", bytes("1"), { replace: true }),
    (e: { code?: string }) => e.code === "ENODATA",
  );
  const value = bytes("1");
  await kept.setXattr("/f", "user.a", value, { create: true });
  value[0] = 0x39;
  assert.deepEqual(await kept.getXattr("/f", "user.a"), bytes("1"));
  await assert.rejects(
    kept.setXattr("/f", "user.a", bytes("2"), { create: true }),
    (e: { code?: string }) => e.code === "EEXIST",
  );
  await kept.setXattr("/f", "user.a", bytes("2"), { replace: true });
  assert.deepEqual(await kept.getXattr("/f", "user.a"), bytes("2"));
});
