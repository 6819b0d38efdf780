/**
 * Every conformance case, in the order the kit registers them.
 *
 * @module
 */

import type { ConformanceCase } from "../kit.ts";
import { SPECIAL_CASES, XATTR_CASES } from "./backend_only.ts";
import { CONCURRENCY_CASES } from "./concurrency.ts";
import { COPY_CASES, TRUNCATE_CASES } from "./content.ts";
import { MKDIR_CASES, READDIR_CASES, REMOVE_CASES } from "./directories.ts";
import { FILE_CASES } from "./files.ts";
import { HANDLE_CASES } from "./handles.ts";
import { HARDLINK_CASES, REALPATH_CASES, SYMLINK_CASES } from "./links.ts";
import { CHMOD_CASES, CHOWN_CASES, TIME_CASES } from "./metadata.ts";
import { NAME_CASES } from "./names.ts";
import { RENAME_CASES } from "./rename.ts";
import { STAT_CASES } from "./stat.ts";

/** All cases of the conformance kit. */
export const CONFORMANCE_CASES: readonly ConformanceCase[] = [
  ...FILE_CASES,
  ...STAT_CASES,
  ...MKDIR_CASES,
  ...READDIR_CASES,
  ...REMOVE_CASES,
  ...RENAME_CASES,
  ...HARDLINK_CASES,
  ...SYMLINK_CASES,
  ...REALPATH_CASES,
  ...TRUNCATE_CASES,
  ...COPY_CASES,
  ...HANDLE_CASES,
  ...NAME_CASES,
  ...CHMOD_CASES,
  ...CHOWN_CASES,
  ...TIME_CASES,
  ...CONCURRENCY_CASES,
  ...XATTR_CASES,
  ...SPECIAL_CASES,
];
