import { defineConfig } from 'vitest/config';

/**
 * Test files that time known against unknown accounts (anti-enumeration): they compare medians of
 * paired requests, and other files running beside them on 2 cores add noise, so they run last, alone.
 */
const timingFiles = ['tests/integration/account-lifecycle.test.ts', 'tests/integration/brute-force.test.ts', 'tests/unit/legacy-password-timing.test.ts', 'tests/integration/verification-floor.test.ts'];

/**
 * Every other file gets its own IdP, database, Redis key prefix and ports, so files run two at a
 * time: most of a file's time is waiting (child processes starting, browsers, SMTP), not CPU.
 */
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: { name: 'parallel', include: ['tests/**/*.test.ts'], exclude: timingFiles, maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'timing', include: timingFiles, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
