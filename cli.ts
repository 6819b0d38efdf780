/**
 * The `anyfs` command line.
 *
 * @module
 */

export {};
