import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Resident memory (RSS) of a process, from its /proc entry: what `ps -o rss=` shows, and the kernel's own
 * high-water mark, reset on demand, so that a peak costs no sampling. Linux only: elsewhere every figure is
 * undefined and the report shows a dash.
 */
export function residentMemory(pid: number) {
  const kilobytes = (field: 'VmRSS' | 'VmHWM') => {
    try {
      const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return match ? Number(match[1]) : undefined;
    } catch {
      return undefined;
    }
  };
  const megabytes = (kB: number | undefined) => (kB === undefined ? undefined : kB / 1024);
  return {
    currentMb: () => megabytes(kilobytes('VmRSS')),
    /** The most the process held since it started or since the last `resetPeak`. */
    peakMb: () => megabytes(kilobytes('VmHWM')),
    resetPeak() {
      try {
        // "5" resets the peak resident set size (proc(5), clear_refs).
        writeFileSync(`/proc/${pid}/clear_refs`, '5');
      } catch {
        // Not Linux, or not allowed: the peak then counts from the start.
      }
    },
  };
}

export type ResidentMemory = ReturnType<typeof residentMemory>;

/** A drop this large after the last request is V8's memory reducer at work, not noise. */
const REDUCER_DROP_MB = 5;
/** The reducer runs a few collections half a second apart: time for the last of them. */
const AFTER_DROP_MS = 3000;
const POLL_MS = 1000;

/**
 * Resident memory just after the last request, and once the process is at rest. V8 gives back its young generation
 * and compacts its old one (its memory reducer) only after some seconds without allocation (20-30 s on the bench's
 * machine), so the first figure still holds what those collections return. Waits for that drop, or `maxWaitMs`.
 */
export async function settledMemory(memory: ResidentMemory, { maxWaitMs = 90_000 } = {}) {
  const afterMb = memory.currentMb();
  if (afterMb === undefined) return { afterMb, idleMb: undefined };
  const deadline = Date.now() + maxWaitMs;
  while (Date.now() < deadline) {
    await sleep(POLL_MS);
    if ((memory.currentMb() ?? afterMb) <= afterMb - REDUCER_DROP_MB) {
      await sleep(AFTER_DROP_MS);
      break;
    }
  }
  return { afterMb, idleMb: memory.currentMb() };
}
