import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

import { settings } from '../../src/config.ts';

const directory = path.resolve(import.meta.dirname, '../../deploy/kubernetes');

/** The kinds the example uses, each with Kubernetes' own JSON schema (kubernetes-models, no download). */
const models = {
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

const one = (kind: string) => {
  const found = manifests().filter((manifest) => manifest.kind === kind);
  expect(found, kind).toHaveLength(1);
  // Read as plain data: the schema test above checks the shapes.
  return found[0]! as Record<string, any>;
};

describe('deploy/kubernetes', () => {
  it('holds only documents that Kubernetes\' schemas accept', () => {
    const all = manifests();
    expect(all.map((manifest) => manifest.kind).sort()).toEqual(['Deployment', 'Job', 'PodDisruptionBudget', 'Secret', 'Service']);
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

  it('takes every secret from the Secret, as files readable by the node user only, and names only real settings', () => {
    const secret = one('Secret');
    const keys = Object.keys(secret.stringData);
    for (const workload of [one('Deployment'), one('Job')]) {
      const pod = workload.spec.template.spec;
      for (const variable of pod.containers[0].env as { name: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[]) {
        expect(Object.keys(settings).concat('NODE_ENV'), variable.name).toContain(variable.name);
        if (variable.valueFrom) {
          expect(variable.valueFrom.secretKeyRef.name).toBe(secret.metadata.name);
          expect(keys).toContain(variable.valueFrom.secretKeyRef.key);
        }
      }
    }
    const pod = one('Deployment').spec.template.spec;
    const volume = pod.volumes.find((candidate: { secret?: unknown }) => candidate.secret);
    expect(volume.secret.secretName).toBe(secret.metadata.name);
    expect(volume.secret.defaultMode).toBe(0o440);
    const env = Object.fromEntries(pod.containers[0].env.map((variable: { name: string; value?: string }) => [variable.name, variable.value]));
    for (const setting of ['SECRETS_KEY', 'COOKIE_KEYS', 'DATABASE_URL']) expect(env, setting).toHaveProperty(setting);
    for (const file of ['JWKS_FILE', 'CLIENTS_FILE', 'ADMIN_PASSWORD_FILE']) {
      const mounted = pod.containers[0].volumeMounts.find((mount: { name: string }) => mount.name === volume.name).mountPath;
      expect(keys).toContain(path.posix.relative(mounted, env[file]));
    }
  });
});
