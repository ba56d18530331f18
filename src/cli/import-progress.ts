import { performance } from 'node:perf_hooks';

/**
 * On a terminal, one line rewritten in place: lines read, lines per second, and the time left
 * judged by how much of the file is read. Elsewhere (a log, a pipe) nothing: the summary says it all.
 */
export function importProgress(out: NodeJS.WriteStream, fractionRead: () => number) {
  const started = performance.now();
  let shown = false;
  let lastDrawn = 0;
  return {
    update(lines: number) {
      const now = performance.now();
      if (!out.isTTY || now - lastDrawn < 250) return;
      lastDrawn = now;
      const seconds = (now - started) / 1000;
      const fraction = Math.min(fractionRead(), 1);
      const eta = fraction > 0 ? Math.round((seconds / fraction) * (1 - fraction)) : undefined;
      const width = 24;
      const bar = '#'.repeat(Math.round(fraction * width)).padEnd(width, '.');
      out.write(`\r[${bar}] ${lines} lines, ${Math.round(lines / Math.max(seconds, 0.001))}/s${eta === undefined ? '' : `, ${eta} s left`}   `);
      shown = true;
    },
    done() {
      if (shown) out.write('\n');
    },
  };
}
