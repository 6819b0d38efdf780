import assert from "node:assert/strict";
import { InodeTable } from "../../src/mount/inodes.ts";

Deno.test("paths follow renames of a node and of its ancestors", () => {
  const t = new InodeTable(1);
  const a = t.resolve(t.root, "a", { ino: 10, type: "dir" });
  t.ref(a);
  const f = t.resolve(a, "f", { ino: 11, type: "file" });
  t.ref(f);
  assert.equal(t.pathOf(f), "/a/f");
  t.rename(t.root, "a", t.root, "b");
  assert.equal(t.pathOf(f), "/b/f");
  t.rename(a, "f", t.root, "g");
  assert.equal(t.pathOf(f), "/g");
});

Deno.test("hard links share one node; unlinking one name keeps the other", () => {
  const t = new InodeTable(1);
  const x = t.resolve(t.root, "x", { ino: 5, type: "file" });
  t.ref(x);
  const y = t.resolve(t.root, "y", { ino: 5, type: "file" });
  t.ref(y);
  assert.equal(x, y);
  t.unlinkEntry(t.root, "x");
  assert.equal(t.pathOf(x), "/y");
  t.unlinkEntry(t.root, "y");
  assert.equal(t.pathOf(x), undefined);
  // The backend may reuse inode 5 now: a new file gets a new node id.
  const z = t.resolve(t.root, "z", { ino: 5, type: "file" });
  assert.notEqual(z.id, x.id);
});

Deno.test("forget removes nodes, so the table does not grow without bound", () => {
  const t = new InodeTable(1);
  const d = t.resolve(t.root, "d", { ino: 2, type: "dir" });
  t.ref(d);
  for (let i = 0; i < 1000; i++) {
    const n = t.resolve(d, `f${i}`, { ino: 100 + i, type: "file" });
    t.ref(n);
    t.ref(n);
  }
  assert.equal(t.size, 1002);
  // The directory stays while children name it as their parent.
  t.forget(d.id, 1);
  assert.ok(t.get(d.id));
  for (let i = 0; i < 1000; i++) t.forget(i + 3, 2);
  assert.equal(t.size, 1, "only the root is left");
  t.forget(1, 5);
  assert.ok(t.get(1), "the root is never forgotten");
});

Deno.test("a name that now refers to another inode gets a new node", () => {
  const t = new InodeTable(1);
  const old = t.resolve(t.root, "n", { ino: 7, type: "file" });
  t.ref(old);
  const fresh = t.resolve(t.root, "n", { ino: 8, type: "dir" });
  assert.notEqual(fresh, old);
  assert.equal(t.pathOf(old), undefined);
  assert.equal(t.pathOf(fresh), "/n");
  t.dropIfUnused(fresh);
  assert.equal(t.get(fresh.id), undefined);
});

Deno.test("changes made in the backend directly: a moved directory, a renamed file", () => {
  const t = new InodeTable(1);
  const d = t.resolve(t.root, "d", { ino: 2, type: "dir" });
  t.ref(d);
  const f = t.resolve(d, "f", { ino: 3, type: "file" });
  t.ref(f);
  // The backend renamed /d to /e: the kernel looks up "e" and finds inode 2.
  const e = t.resolve(t.root, "e", { ino: 2, type: "dir" });
  assert.equal(e, d, "the same node, under its new name");
  assert.equal(t.pathOf(f), "/e/f", "paths below the directory follow");
  assert.equal(t.root.entries.get("d"), undefined, "a directory has one name");
  // A file found under a second name may be a hard link or a rename: the
  // name the backend just confirmed builds its path.
  const g = t.resolve(t.root, "g", { ino: 3, type: "file" });
  assert.equal(g, f);
  assert.equal(t.pathOf(f), "/g");
  assert.equal(e.entries.get("f"), f, "the older name stays known (it may be a hard link)");
});

Deno.test("a rename onto a name a lookup already recorded for the same node keeps one link", () => {
  const table = new InodeTable(1);
  const file = table.resolve(table.root, "t2", { ino: 7, type: "file" });
  table.ref(file);
  // A lookup read the backend after the rename but recorded it first.
  table.resolve(table.root, "target", { ino: 7, type: "file" });
  table.rename(table.root, "t2", table.root, "target");
  assert.deepEqual(file.links.map((l) => l.name), ["target"]);
  assert.equal(table.root.children, 1);
  assert.equal(table.pathOf(file), "/target");
});

Deno.test("a renumbered node answers to its new number, not its old one", () => {
  const t = new InodeTable(1);
  const p = t.resolve(t.root, "p", { ino: 5, type: "file" });
  t.ref(p);
  assert.equal(t.joinedBy(t.root, "q", { ino: 5, type: "file" }), p);
  assert.equal(t.joinedBy(t.root, "p", { ino: 5, type: "file" }), undefined);
  t.renumber(p, 6);
  assert.equal(p.ino, 6);
  // Another file still shows the old number: it gets a node of its own.
  assert.equal(t.joinedBy(t.root, "q", { ino: 5, type: "file" }), undefined);
  const q = t.resolve(t.root, "q", { ino: 5, type: "file" });
  assert.notEqual(q, p);
  // A new hard link of p's file (under its new number) joins p.
  assert.equal(t.resolve(t.root, "r", { ino: 6, type: "file" }), p);
  // A number another node holds is not taken from it.
  t.ref(q);
  t.renumber(q, 6);
  assert.equal(t.joinedBy(t.root, "s", { ino: 6, type: "file" }), p);
  assert.equal(t.joinedBy(t.root, "s", { ino: 5, type: "file" }), undefined);
});
