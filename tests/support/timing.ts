import argon2 from 'argon2';

import { OWASP_ARGON2_MINIMUM } from '../../src/config.ts';

/**
 * Anti-enumeration timing: does answering for one kind of input (a known email) take measurably longer
 * than for another (an unknown one)? Each callback returns how long its timed part took (`timeOf`). The
 * two are timed in pairs, back to back, alternating which goes first, and the answer is the median of
 * the paired differences: load that comes and goes on a shared
 * machine slows both sides of a pair alike and cancels out, where medians of separate series do not.
 */
export async function pairedTimingGap(
  samples: number,
  first: (i: number) => Promise<number>,
  second: (i: number) => Promise<number>,
): Promise<number> {
  const gaps: number[] = [];
  for (let i = 0; i < samples; i += 1) {
    if (i % 2 === 0) {
      const a = await first(i);
      gaps.push(a - (await second(i)));
    } else {
      const b = await second(i);
      gaps.push((await first(i)) - b);
    }
  }
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)]!;
}

/** Milliseconds that `work` takes: the part of a sample that is timed. */
export async function timeOf(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/**
 * How long one password check takes here and now (median of a few, with the IdP's default argon2
 * parameters): an answer that skips the hash for unknown emails shows a gap of about this much, so a
 * gap under half of it means both answers did the same work, however loaded the machine is.
 */
export async function passwordCheckMs(): Promise<number> {
  const hash = await argon2.hash('timing reference', { type: argon2.argon2id, ...OWASP_ARGON2_MINIMUM });
  const taken: number[] = [];
  for (let i = 0; i < 5; i += 1) {
    const started = performance.now();
    await argon2.verify(hash, 'another password');
    taken.push(performance.now() - started);
  }
  taken.sort((a, b) => a - b);
  return taken[2]!;
}
