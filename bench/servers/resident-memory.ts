import { readFileSync, writeFileSync } from 'node:fs';

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
