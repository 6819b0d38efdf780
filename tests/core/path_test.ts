import assert from "node:assert/strict";
import {
  baseName,
  checkName,
  checkPath,
  childPath,
  isNormalized,
  isWithin,
  normalize,
  parentPath,
  splitPath,
  utf8Length,
} from "../../src/core/path.ts";

function codeOf(fn: () => void): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

Deno.test("normalize: lexical, clamped at the root, relative to cwd", () => {
  assert.equal(normalize("//a/./b/../c/"), "/a/c");
  assert.equal(normalize("/../../x"), "/x");
  assert.equal(normalize(""), "/");
  assert.equal(normalize("x/y", "/home"), "/home/x/y");
  assert.equal(normalize("../y", "/home/u"), "/home/y");
  assert.equal(normalize("/ünï/cödé"), "/ünï/cödé");
});

Deno.test("split, parent, base, child, within", () => {
  assert.deepEqual(splitPath("/"), []);
  assert.deepEqual(splitPath("/a/b"), ["a", "b"]);
  assert.equal(parentPath("/a/b"), "/a");
  assert.equal(parentPath("/a"), "/");
  assert.equal(parentPath("/"), "/");
  assert.equal(baseName("/a/b"), "b");
  assert.equal(baseName("/"), "");
  assert.equal(childPath("/", "a"), "/a");
  assert.equal(childPath("/a", "b"), "/a/b");
  assert.ok(isWithin("/a/b", "/a"));
  assert.ok(isWithin("/a", "/a"));
  assert.ok(!isWithin("/ab", "/a"));
  assert.ok(isWithin("/anything", "/"));
  assert.ok(isNormalized("/"));
  assert.ok(isNormalized("/a/b"));
  for (const bad of ["a", "/a/", "//a", "/a/./b", "/a/../b"]) assert.ok(!isNormalized(bad), bad);
});

Deno.test("checkPath: NUL is EINVAL, over-long component or path is ENAMETOOLONG", () => {
  assert.equal(codeOf(() => checkPath("/ok/name", "open")), undefined);
  assert.equal(codeOf(() => checkPath("/a\0b", "open")), "EINVAL");
  assert.equal(codeOf(() => checkPath("/" + "n".repeat(255), "open")), undefined);
  assert.equal(codeOf(() => checkPath("/" + "n".repeat(256), "open")), "ENAMETOOLONG");
  // 128 two-byte characters are 256 bytes: too long although 128 characters.
  assert.equal(codeOf(() => checkPath("/" + "é".repeat(128), "open")), "ENAMETOOLONG");
  assert.equal(codeOf(() => checkPath("/" + "é".repeat(127), "open")), undefined);
  assert.equal(codeOf(() => checkPath(("/" + "d".repeat(200)).repeat(21), "open")), "ENAMETOOLONG");
  assert.equal(utf8Length("é"), 2);
  assert.equal(utf8Length("abc"), 3);
});

Deno.test("checkName: rejects what no directory entry may be called", () => {
  assert.equal(codeOf(() => checkName("fine.txt", "create", "/fine.txt")), undefined);
  assert.equal(codeOf(() => checkName("", "create", "/")), "ENOENT");
  assert.equal(codeOf(() => checkName(".", "mkdir", "/.")), "EEXIST");
  assert.equal(codeOf(() => checkName("..", "mkdir", "/..")), "EEXIST");
  assert.equal(codeOf(() => checkName("a/b", "create", "/a/b")), "EINVAL");
  assert.equal(codeOf(() => checkName("a\0", "create", "/a")), "EINVAL");
  assert.equal(codeOf(() => checkName("x".repeat(256), "create", "/x")), "ENAMETOOLONG");
});
