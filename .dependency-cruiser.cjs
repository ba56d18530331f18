/**
 * The import rules of docs/ARCHITECTURE.md, checked by `npm run lint:imports` (and in CI):
 * no cycles, another folder only through its index.ts, and dependencies pointing one way:
 * entry points -> pages and APIs -> web plumbing and the provider -> domain -> storage.
 */
const pages = '^src/(interactions|self-service|admin)/';
const plumbing = '^src/(http|web|oidc)/';
const domain = '^src/(accounts|audit|email|views|clients|upstream|retention|webhooks)/';
const storage = '^src/(db|redis|keys|crypto)/';
const entryPoints = '^src/(main|idp|app)\\.ts$|^src/cli/';

module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'through-the-index',
      comment: 'Another folder is reached only through what its index.ts exports.',
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: { path: '^src/[^/]+/', pathNot: ['^src/$1/', '^src/[^/]+/index\\.ts$'] },
    },
    {
      name: 'entry-points-through-the-index',
      severity: 'error',
      from: { path: '^src/[^/]+\\.ts$' },
      to: { path: '^src/[^/]+/', pathNot: '^src/[^/]+/index\\.ts$' },
    },
    { name: 'nothing-imports-an-entry-point', severity: 'error', from: { pathNot: '^src/(main|idp)\\.ts$|^src/cli/' }, to: { path: entryPoints } },
    { name: 'pages-do-not-import-each-other', severity: 'error', from: { path: '^src/(interactions|self-service|admin)/' }, to: { path: pages, pathNot: '^src/$1/' } },
    { name: 'plumbing-serves-pages', severity: 'error', from: { path: plumbing }, to: { path: pages } },
    { name: 'domain-knows-no-web', severity: 'error', from: { path: domain }, to: { path: `${pages}|${plumbing}` } },
    { name: 'storage-is-the-bottom', severity: 'error', from: { path: storage }, to: { path: `${pages}|${plumbing}|${domain}` } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    includeOnly: '^src/',
  },
};
