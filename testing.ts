/**
 * The AnyFS conformance kit: one call runs the whole suite against your
 * backend.
 *
 * @module
 */

export {};
