import { readFileSync } from 'node:fs';

/** Linux's clock tick (sysconf(_SC_CLK_TCK)), 100 on every architecture Node.js runs on there. */
const TICKS_PER_SECOND = 100;

/**
 * CPU time a process has used so far (user and system, every thread), in ms, from its /proc entry; read from
 * outside, so that reading it costs the process nothing. Linux only: elsewhere undefined, and the report shows a dash.
 */
export function processCpuMs(pid: number): number | undefined {
  try {
    // The fields after the command name, which is in parentheses and may hold spaces: utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}
