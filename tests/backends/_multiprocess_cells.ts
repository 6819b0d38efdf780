/**
 * Self-checking file content for the multi-process SqliteBackend test.
 *
 * Every write in that test is a whole number of 64-byte cells at a
 * cell-aligned offset (and every truncate is cell-aligned), so a file is
 * always a sequence of cells. Each cell names the process and operation
 * that wrote it, its index in that write, the write's cell count, the byte
 * offset it was meant for (or "wherever the end was", for appends) and a
 * checksum, and whether the write replaced the whole file (`writeFile`).
 * So content read back at any moment can be checked without knowing how
 * the writers interleaved: a torn cell, bytes of one write mixed into
 * another's cell, a chunk stored at the wrong index or a size that is not
 * a whole number of cells all show up. So does a read that pairs parts of
 * two versions: a whole-file write replaces every cell, so one consistent
 * state never holds cells of two whole-file writes. Zero cells are holes
 * (a truncate that grew the file, a write past the end) and are allowed.
 *
 * @module
 */

/** Bytes per cell. */
export const CELL = 64;

const MAGIC = 0xce11ce11;
/** The offset field of a cell written by an append: its position is wherever the end was. */
export const ANYWHERE = 0xffffffff;

function fnv1a(bytes: Uint8Array, end: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < end; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * `count` cells of write `seq` by process `writer`, meant for byte `offset`
 * of the file (or {@linkcode ANYWHERE} for an append); `whole` when the
 * write replaces the whole file.
 */
export function cells(
  writer: number,
  seq: number,
  count: number,
  offset: number,
  whole = false,
): Uint8Array {
  const out = new Uint8Array(count * CELL);
  const view = new DataView(out.buffer);
  for (let k = 0; k < count; k++) {
    const at = k * CELL;
    view.setUint32(at, MAGIC);
    view.setUint32(at + 4, writer);
    view.setUint32(at + 8, seq);
    view.setUint32(at + 12, k);
    view.setUint32(at + 16, count);
    view.setUint32(at + 20, offset === ANYWHERE ? ANYWHERE : offset / CELL + k);
    view.setUint32(at + 24, whole ? 1 : 0);
    // Filler that differs per cell, so a cell copied to the wrong place fails.
    let x = (writer * 2654435761 + seq * 40503 + k * 97 + 1) >>> 0;
    for (let i = 28; i < CELL - 4; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[at + i] = x & 0xff;
    }
    view.setUint32(at + CELL - 4, fnv1a(out.subarray(at, at + CELL), CELL - 4));
  }
  return out;
}

/**
 * What is wrong with `data`, file content from cell `firstCell` on, or
 * `undefined` when it is sound.
 */
export function checkContent(data: Uint8Array, firstCell = 0): string | undefined {
  if (data.length % CELL !== 0) return `length ${data.length} is not a whole number of cells`;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  /** Write "writer:seq" → where its cell 0 is (all its visible cells must agree). */
  const bases = new Map<string, number>();
  let wholeWrite: string | undefined;
  const cellCount = data.length / CELL;
  for (let i = 0; i < cellCount; i++) {
    const at = i * CELL;
    const c = firstCell + i;
    const cell = data.subarray(at, at + CELL);
    if (cell.every((b) => b === 0)) continue;
    if (view.getUint32(at) !== MAGIC) return `cell ${c} has no magic (torn or foreign bytes)`;
    if (view.getUint32(at + CELL - 4) !== fnv1a(cell, CELL - 4)) {
      return `cell ${c} fails its checksum (torn or mixed bytes)`;
    }
    const writer = view.getUint32(at + 4);
    const seq = view.getUint32(at + 8);
    const k = view.getUint32(at + 12);
    const count = view.getUint32(at + 16);
    const meant = view.getUint32(at + 20);
    if (k >= count) return `cell ${c} says it is cell ${k} of ${count}`;
    if (meant !== ANYWHERE && meant !== c) {
      return `cell ${c} (write ${writer}:${seq}, cell ${k}) belongs at cell ${meant}`;
    }
    const key = `${writer}:${seq}`;
    if (view.getUint32(at + 24) === 1) {
      wholeWrite ??= key;
      if (wholeWrite !== key) {
        return `cells of two whole-file writes, ${wholeWrite} and ${key} (a torn read or write)`;
      }
    }
    const base = c - k;
    const seen = bases.get(key);
    if (seen === undefined) bases.set(key, base);
    else if (seen !== base) {
      return `cells of write ${key} are not where one write put them (bases ${seen} and ${base})`;
    }
  }
  return undefined;
}

/** The writes (`"writer:seq"`) whose cells `data` holds. */
export function writesIn(data: Uint8Array): Set<string> {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const keys = new Set<string>();
  for (let at = 0; at + CELL <= data.length; at += CELL) {
    if (view.getUint32(at) !== MAGIC) continue;
    keys.add(`${view.getUint32(at + 4)}:${view.getUint32(at + 8)}`);
  }
  return keys;
}
