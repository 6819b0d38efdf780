/**
 * Rows as arrays for {@linkcode SqliteBackend}'s hot statements.
 *
 * @module
 */

import type { SQLInputValue, StatementSync } from "node:sqlite";

/** A prepared query whose rows are arrays of its columns, in select order. */
export interface ArrayRows {
  /** The first row, or `undefined` when there is none. */
  get(...params: SQLInputValue[]): unknown[] | undefined;
  /** Every row. */
  all(...params: SQLInputValue[]): unknown[][];
}

/** A prepared statement, with the row-format switch of newer runtimes. */
type ArraysSwitch = StatementSync & { setReturnArrays?: (enabled: boolean) => void };

/**
 * `statement`, made to return each row as an array of its columns in select
 * order instead of an object: building an object with a property per column
 * cost about 0.5 µs for four columns and several µs for a whole inode row
 * (measured), against 5 to 8 µs for the whole read of a small file.
 *
 * Deno's `node:sqlite` has `setReturnArrays` (a Node 24 API); on a runtime
 * without it, rows are converted from objects — correct, just not faster —
 * which is why every query run this way must give each column a distinct
 * name (`SELECT a.ino AS dir, b.ino AS ino`, not `a.ino, b.ino`).
 */
export function returningArrays(statement: StatementSync): ArrayRows {
  const switchable = statement as ArraysSwitch;
  if (typeof switchable.setReturnArrays === "function") {
    switchable.setReturnArrays(true);
    return statement as unknown as ArrayRows;
  }
  return {
    get: (...params) => {
      const row = statement.get(...params);
      return row === undefined ? undefined : Object.values(row);
    },
    all: (...params) => statement.all(...params).map((row) => Object.values(row)),
  };
}
