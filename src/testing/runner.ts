/**
 * Running conformance cases against a subject: as `Deno.test` registrations
 * ({@linkcode registerConformance}) or programmatically
 * ({@linkcode runConformance}).
 *
 * @module
 */

import type { Capability } from "../core/backend.ts";
import { CONFORMANCE_CASES } from "./cases/mod.ts";
import {
  type CaseContext,
  type ConformanceCase,
  type ConformanceSubject,
  skipReason,
  type SubjectFactory,
} from "./kit.ts";

/** Options shared by every way of running the kit. */
export interface RunOptions {
  /**
   * Which cases to run; the others are reported as skipped. Default: all.
   * Use it to leave out what a subject cannot do for reasons the capability
   * set cannot express — and say why in a comment.
   */
  filter?: (c: ConformanceCase) => boolean;
  /** The cases to run instead of the kit's own (e.g. the kit's plus yours). */
  cases?: readonly ConformanceCase[];
}

/** Options of {@linkcode registerConformance}. */
export interface RegisterOptions extends RunOptions {
  /** Passed to `Deno.test` (default `true`): check that no async op outlives a case. */
  sanitizeOps?: boolean;
  /** Passed to `Deno.test` (default `true`): check that no resource (open file) outlives a case. */
  sanitizeResources?: boolean;
}

/** A case's name as tests report it: `group › name`. */
export function caseId(c: ConformanceCase): string {
  return `${c.group} › ${c.name}`;
}

function groupsOf(cases: readonly ConformanceCase[]): Map<string, ConformanceCase[]> {
  const groups = new Map<string, ConformanceCase[]>();
  for (const c of cases) {
    let list = groups.get(c.group);
    if (!list) groups.set(c.group, list = []);
    list.push(c);
  }
  return groups;
}

async function disposeOf(subject: ConformanceSubject): Promise<void> {
  await subject.dispose?.();
}

/** The capabilities a factory's subjects claim, learned from one throwaway subject. */
async function probe(factory: SubjectFactory): Promise<{
  capabilities: ReadonlySet<Capability>;
  hasBackend: boolean;
}> {
  const subject = await factory();
  try {
    return { capabilities: new Set(subject.capabilities), hasBackend: !!subject.backend };
  } finally {
    await disposeOf(subject);
  }
}

/** Why a case will not run, or `undefined` when it will. */
function whySkipped(
  c: ConformanceCase,
  options: RunOptions,
  capabilities: ReadonlySet<Capability>,
  hasBackend: boolean,
): string | undefined {
  if (options.filter && !options.filter(c)) return "filtered out";
  return skipReason(c, capabilities, hasBackend);
}

/** Run one case on a fresh subject from `factory`, disposing of it afterwards. */
export async function runCase(c: ConformanceCase, factory: SubjectFactory): Promise<void> {
  const subject = await factory();
  try {
    const ctx: CaseContext = {
      fs: subject.fs,
      capabilities: new Set(subject.capabilities),
      backend: subject.backend,
    };
    await c.run(ctx);
  } finally {
    await disposeOf(subject);
  }
}

/**
 * Register the kit as `Deno.test`s: one test per group (`<suite> › rename`)
 * with one step per case, each on a fresh subject. Cases the subject cannot
 * run are registered as ignored steps whose name says why.
 */
export function registerConformance(
  suite: string,
  factory: SubjectFactory,
  options: RegisterOptions = {},
): void {
  const cases = options.cases ?? CONFORMANCE_CASES;
  for (const [group, list] of groupsOf(cases)) {
    Deno.test({
      name: `${suite} › ${group}`,
      sanitizeOps: options.sanitizeOps ?? true,
      sanitizeResources: options.sanitizeResources ?? true,
      async fn(t) {
        const { capabilities, hasBackend } = await probe(factory);
        for (const c of list) {
          const reason = whySkipped(c, options, capabilities, hasBackend);
          await t.step({
            name: reason ? `${c.name} (skipped: ${reason})` : c.name,
            ignore: reason !== undefined,
            sanitizeOps: options.sanitizeOps ?? true,
            sanitizeResources: options.sanitizeResources ?? true,
            fn: () => runCase(c, factory),
          });
        }
      },
    });
  }
}

/** The outcome of {@linkcode runConformance}. */
export interface ConformanceReport {
  /** Cases that ran and passed. */
  passed: ConformanceCase[];
  /** Cases that ran and failed, with what they threw. */
  failed: { case: ConformanceCase; error: unknown }[];
  /** Cases that did not run, with the reason. */
  skipped: { case: ConformanceCase; reason: string }[];
}

/**
 * Run the kit without registering tests, e.g. from a script or inside one
 * test of your own, and get every case's outcome.
 */
export async function runConformance(
  factory: SubjectFactory,
  options: RunOptions = {},
): Promise<ConformanceReport> {
  const cases = options.cases ?? CONFORMANCE_CASES;
  const { capabilities, hasBackend } = await probe(factory);
  const report: ConformanceReport = { passed: [], failed: [], skipped: [] };
  for (const c of cases) {
    const reason = whySkipped(c, options, capabilities, hasBackend);
    if (reason !== undefined) {
      report.skipped.push({ case: c, reason });
      continue;
    }
    try {
      await runCase(c, factory);
      report.passed.push(c);
    } catch (error) {
      report.failed.push({ case: c, error });
    }
  }
  return report;
}
