/**
 * How the command line renders numbers, modes and times for people.
 *
 * @module
 */

import { Permissions } from "../core/types.ts";
import { typeOfInfo } from "../backends/host_common.ts";

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/**
 * Bytes in the largest unit that keeps the number ≥ 1, with one decimal
 * (`1.5 MiB`, `512 B`).
 */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

/** Seconds with the precision a person cares about (`0.42 s`, `12.3 s`, `3 min 05 s`). */
export function formatSeconds(ms: number): string {
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 60) return `${s.toFixed(1)} s`;
  const min = Math.floor(s / 60);
  return `${min} min ${String(Math.floor(s % 60)).padStart(2, "0")} s`;
}

const TYPE_CHARS: Readonly<Record<string, string>> = {
  file: "-",
  dir: "d",
  symlink: "l",
  fifo: "p",
  socket: "s",
  chardev: "c",
  blockdev: "b",
};

/** The `ls -l` mode column, e.g. `drwxr-xr-x`. */
export function formatModeString(info: Deno.FileInfo): string {
  return (TYPE_CHARS[typeOfInfo(info)] ?? "?") + new Permissions(info.mode ?? 0).toString();
}

/** Permission bits in octal, 4 digits (`0644`). */
export function formatOctalMode(mode: number | null): string {
  return ((mode ?? 0) & 0o7777).toString(8).padStart(4, "0");
}

/** A time as `YYYY-MM-DD HH:MM:SS.mmm` in UTC, or `-` when unknown. */
export function formatTime(date: Date | null): string {
  if (!date) return "-";
  return date.toISOString().replace("T", " ").replace("Z", " UTC");
}

/** A time as `ls -l` shows it: `YYYY-MM-DD HH:MM` (UTC). */
export function formatShortTime(date: Date | null): string {
  if (!date) return "-";
  return date.toISOString().slice(0, 16).replace("T", " ");
}

/** Right-align `text` in `width` columns. */
export function padLeft(text: string | number, width: number): string {
  return String(text).padStart(width);
}
