import assert from "node:assert/strict";
import { FsError, fsError, isFsError, toFsError } from "../../src/core/errors.ts";
import { codeOfErrno, ERRNO, errnoOf, isErrorCode } from "../../src/core/errno.ts";

Deno.test("fsError: codes Deno has a class for are instances of that class and of FsError", () => {
  const cases: [Parameters<typeof fsError>[0], new (...a: never[]) => Error][] = [
    ["ENOENT", Deno.errors.NotFound],
    ["EEXIST", Deno.errors.AlreadyExists],
    ["ENOTDIR", Deno.errors.NotADirectory],
    ["EISDIR", Deno.errors.IsADirectory],
    ["EACCES", Deno.errors.PermissionDenied],
    ["EPERM", Deno.errors.PermissionDenied],
    ["ELOOP", Deno.errors.FilesystemLoop],
    ["EBUSY", Deno.errors.Busy],
    ["ENOTSUP", Deno.errors.NotSupported],
    ["EAGAIN", Deno.errors.WouldBlock],
    ["EINVAL", TypeError],
  ];
  for (const [code, cls] of cases) {
    const e = fsError(code, "stat", "/a");
    assert.ok(e instanceof cls, `${code} instanceof ${cls.name}`);
    assert.ok(e instanceof FsError, `${code} instanceof FsError`);
    assert.ok(e instanceof Error);
    assert.equal(e.code, code);
    assert.equal(e.errno, ERRNO[code].linux);
    assert.equal(e.operation, "stat");
    assert.equal(e.path, "/a");
  }
});

Deno.test("fsError: codes without a Deno class are plain FsError, still Errors", () => {
  for (const code of ["ENOTEMPTY", "EROFS", "ENOSPC", "EDQUOT", "EFBIG", "EXDEV", "EIO"] as const) {
    const e = fsError(code, "write", "/f");
    assert.ok(e instanceof FsError);
    assert.ok(!(e instanceof Deno.errors.NotFound));
    assert.equal(e.name, "FsError");
    assert.equal(e.code, code);
  }
});

Deno.test("fsError: message follows Deno's format, with dest and reason", () => {
  assert.equal(
    fsError("ENOENT", "stat", "/a").message,
    "No such file or directory (os error 2): stat '/a'",
  );
  assert.equal(
    fsError("EXDEV", "rename", "/a", { dest: "/b" }).message,
    "Invalid cross-device link (os error 18): rename '/a' -> '/b'",
  );
  const q = fsError("ENOSPC", "write", "/big", {
    reason: "quota of 100 bytes exceeded",
    limit: 100,
    requested: 120,
    usage: 40,
  });
  assert.equal(
    q.message,
    "No space left on device (os error 28): write '/big': quota of 100 bytes exceeded",
  );
  assert.deepEqual([q.limit, q.requested, q.usage], [100, 120, 40]);
  assert.equal(fsError("EIO", "statfs", "").message, "Input/output error (os error 5): statfs");
});

Deno.test("Deno's own errors carry the same code and message shape", async () => {
  const missing = `/nonexistent-${crypto.randomUUID()}`;
  const denoError = await Deno.stat(missing).catch((e) => e);
  const ours = fsError("ENOENT", "stat", missing);
  assert.equal(denoError.code, ours.code);
  assert.equal(denoError.message, ours.message);
});

Deno.test("toFsError: keeps family members, maps known codes, turns the rest into EIO", () => {
  const own = fsError("EEXIST", "mkdir", "/d");
  assert.equal(toFsError(own, "other", "/x"), own);

  const deno = new Deno.errors.NotFound("gone");
  (deno as unknown as { code: string }).code = "ENOENT";
  const mapped = toFsError(deno, "open", "/f");
  assert.equal(mapped.code, "ENOENT");
  assert.ok(mapped instanceof Deno.errors.NotFound);
  assert.equal(mapped.cause, deno);

  const odd = toFsError(new Error("disk on fire"), "read", "/f");
  assert.equal(odd.code, "EIO");
  assert.match(odd.message, /disk on fire/);
  assert.equal(toFsError("a string", "read", "/f").code, "EIO");
  assert.equal(
    toFsError(Object.assign(new Error(), { code: "EOPNOTSUPP" }), "x", "/").code,
    "ENOTSUP",
  );
  assert.equal(
    toFsError(new Deno.errors.NotCapable("Requires read access"), "x", "/").code,
    "EACCES",
  );
});

Deno.test("isFsError and the errno table helpers", () => {
  assert.ok(isFsError(fsError("EIO", "x", "/")));
  assert.ok(!isFsError(new Error("x")));
  assert.ok(!isFsError(null));
  assert.equal(errnoOf("ENOENT"), 2);
  assert.equal(errnoOf("ENOTEMPTY", "darwin"), 66);
  assert.equal(errnoOf("ENOTSUP"), 95);
  assert.equal(codeOfErrno(39), "ENOTEMPTY");
  assert.equal(codeOfErrno(9999), undefined);
  assert.ok(isErrorCode("EROFS"));
  assert.ok(!isErrorCode("ENOPE"));
  // Every code maps back to itself through its Linux number: no duplicates.
  for (const code of Object.keys(ERRNO)) {
    if (isErrorCode(code)) assert.equal(codeOfErrno(errnoOf(code)), code);
  }
});
