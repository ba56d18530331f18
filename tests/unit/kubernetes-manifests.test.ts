import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

import { settings } from '../../src/config.ts';

const root = path.resolve(import.meta.dirname, '../..');
const directory = path.resolve(import.meta.dirname, '../../deploy/kubernetes');

/** The kinds the example uses, each with Kubernetes' own JSON schema (kubernetes-models, no download). */
const models = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
} as const;

interface Manifest {
  file: string;
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  [field: string]: unknown;
}

function manifests(): Manifest[] {
  return readdirSync(directory)
    .filter((file) => file.endsWith('.yaml'))
    .flatMap((file) =>
      // YAML 1.1, as kubectl reads it (an unquoted 0400 is octal there, decimal in YAML 1.2).
      parseAllDocuments(readFileSync(path.join(directory, file), 'utf8'), { version: '1.1' }).map((document) => {
        expect(document.errors, file).toEqual([]);
        return { file, ...(document.toJS() as Omit<Manifest, 'file'>) } as Manifest;
      }),
    );
}

const one = (kind: string, name?: string) => {
  const found = manifests().filter((manifest) => manifest.kind === kind && (!name || manifest.metadata.name === name));
  expect(found, `${kind} ${name ?? ''}`).toHaveLength(1);
  // Read as plain data: the schema test above checks the shapes.
  return found[0]! as Record<string, any>;
};

describe('deploy/kubernetes', () => {
  it('holds only documents that Kubernetes\' schemas accept', () => {
    const all = manifests();
    expect(all.map((manifest) => manifest.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'Job', 'PodDisruptionBudget', 'Secret', 'Secret', 'Service']);
    for (const { file, ...manifest } of all) {
      const Model = models[`${manifest.apiVersion}/${manifest.kind}` as keyof typeof models];
      expect(Model, `${file}: ${manifest.apiVersion} ${manifest.kind}`).toBeDefined();
      expect(() => new Model(manifest as never).validate(), file).not.toThrow();
    }
  });

  it('gates traffic on /readyz, restarts on /healthz, and rolls one node at a time', () => {
    const deployment = one('Deployment');
    const [container] = deployment.spec.template.spec.containers;
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'http' });
    expect(container.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'http' });
    expect(container.ports).toContainEqual({ name: 'http', containerPort: 3000 });
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    expect(deployment.spec.template.spec.securityContext.runAsNonRoot).toBe(true);

    const labels = deployment.spec.template.metadata.labels;
    expect(deployment.spec.selector.matchLabels).toEqual(labels);
    expect(one('Service').spec.selector).toEqual(labels);
    expect(one('PodDisruptionBudget').spec.selector.matchLabels).toEqual(labels);
  });

  it('migrates in a job with the compiled CLI, before the nodes', () => {
    const job = one('Job');
    const [container] = job.spec.template.spec.containers;
    expect(container.command).toEqual(['node', 'dist/src/cli/main.js', 'migrate']);
    expect(container.image).toBe(one('Deployment').spec.template.spec.containers[0].image);
  });

  it('gives the nodes and the migration job the whole production configuration: the checklist\'s settings, secrets from Secrets, files readable by the node user only', () => {
    const settingsMap = one('ConfigMap');
    const variables = one('Secret', 'idp-env');
    const files = one('Secret', 'idp-files');
    const names = [...Object.keys(settingsMap.data), ...Object.keys(variables.stringData)];
    for (const name of names) expect(Object.keys(settings).concat('NODE_ENV'), name).toContain(name);
    expect(settingsMap.data.NODE_ENV).toBe('production');
    for (const secret of ['DATABASE_URL', 'COOKIE_KEYS', 'SECRETS_KEY', 'SMTP_URL']) expect(Object.keys(variables.stringData), secret).toContain(secret);

    // Every setting the README's production checklist names (the production test follows the same list).
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const checklist = readme.split('## Production checklist')[1]!.split('\n## ')[0]!;
    const items = checklist.split('\n').filter((line) => /^\d+\. /.test(line) || /^ {3}\S/.test(line));
    const required = [...new Set(items.join('\n').match(/`[A-Z][A-Z0-9_]+`/g)!.map((name) => name.slice(1, -1)))];
    const alternatives = new Set(['JWKS', 'ADMIN_PASSWORD']);
    expect(required.filter((name) => !names.includes(name) && !alternatives.has(name))).toEqual([]);

    for (const workload of [one('Deployment'), one('Job')]) {
      const pod = workload.spec.template.spec;
      const [container] = pod.containers;
      expect(container.env).toBeUndefined();
      expect(container.envFrom).toEqual([{ configMapRef: { name: settingsMap.metadata.name } }, { secretRef: { name: variables.metadata.name } }]);
      const volume = pod.volumes.find((candidate: { secret?: { secretName: string } }) => candidate.secret?.secretName === files.metadata.name);
      expect(volume.secret.defaultMode, workload.kind).toBe(0o440);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, fsGroup: 1000 });
      const mounted = container.volumeMounts.find((mount: { name: string }) => mount.name === volume.name).mountPath;
      for (const file of ['JWKS_FILE', 'CLIENTS_FILE', 'ADMIN_PASSWORD_FILE']) {
        expect(Object.keys(files.stringData), file).toContain(path.posix.relative(mounted, settingsMap.data[file]));
      }
    }
  });
});
