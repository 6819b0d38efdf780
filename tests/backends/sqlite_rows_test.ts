import assert from "node:assert/strict";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { returningArrays } from "../../src/backends/sqlite_rows.ts";

Deno.test("returningArrays: rows come back as arrays of the selected columns, in order", () => {
  const db = new DatabaseSync(":memory:");
  try {
    db.exec("CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x'), (2, 'y')");
    const one = returningArrays(db.prepare("SELECT b AS second, a AS first FROM t WHERE a = ?"));
    assert.deepEqual(one.get(1), ["x", 1]);
    assert.equal(one.get(3), undefined);
    const all = returningArrays(db.prepare("SELECT a AS a, b AS b FROM t ORDER BY a"));
    assert.deepEqual(all.all(), [[1, "x"], [2, "y"]]);
  } finally {
    db.close();
  }
});

Deno.test("returningArrays: on a runtime without setReturnArrays, rows are converted", () => {
  const db = new DatabaseSync(":memory:");
  try {
    db.exec("CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x'), (2, 'y')");
    /** A statement as older runtimes have it: objects only. */
    const objectsOnly = (sql: string) => {
      const real = db.prepare(sql);
      return {
        get: (...params: []) => real.get(...params),
        all: (...params: []) => real.all(...params),
      } as unknown as StatementSync;
    };
    const one = returningArrays(objectsOnly("SELECT b AS second, a AS first FROM t WHERE a = ?"));
    assert.deepEqual(one.get(2), ["y", 2]);
    assert.equal(one.get(3), undefined);
    const all = returningArrays(objectsOnly("SELECT a AS a, b AS b FROM t ORDER BY a"));
    assert.deepEqual(all.all(), [[1, "x"], [2, "y"]]);
  } finally {
    db.close();
  }
});
