import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The repository's Dockerfile read as steps this machine can run without a Docker engine, so a test
 * runs exactly the image's build and start (tests/integration/compiled-start.test.ts). Each stage gets
 * its own directory standing for its WORKDIR; an instruction this reader does not know stops the test,
 * so a change to the Dockerfile is either mirrored here or noticed.
 */
export type Step =
  | { kind: 'copy'; from?: string; sources: string[]; destination: string }
  | { kind: 'run'; command: string };

export interface Stage {
  name: string;
  workdir: string;
  env: Record<string, string>;
  steps: Step[];
  /** CMD in exec form. */
  command?: string[];
  /** HEALTHCHECK's command, run by a shell. */
  healthcheck?: string;
}

/** Instructions that change nothing a process here sees (the user and the published port). */
const IGNORED = new Set(['USER', 'EXPOSE']);

export function readDockerfile(file: string): Stage[] {
  const lines = readFileSync(file, 'utf8').replace(/\\\n/g, ' ').split('\n').map((line) => line.trim());
  const stages: Stage[] = [];
  for (const line of lines) {
    if (!line || line.startsWith('#')) continue;
    const [, instruction, rest] = /^(\S+)\s+(.*)$/.exec(line) ?? [];
    if (!instruction || rest === undefined) throw new Error(`Dockerfile line not understood: ${line}`);
    if (instruction === 'FROM') {
      const name = /\sAS\s+(\S+)$/i.exec(rest)?.[1] ?? String(stages.length);
      stages.push({ name, workdir: '/', env: {}, steps: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`Dockerfile instruction before FROM: ${line}`);
    switch (instruction) {
      case 'WORKDIR':
        stage.workdir = rest;
        break;
      case 'ENV':
        for (const pair of rest.split(/\s+/)) {
          const [key, ...value] = pair.split('=');
          stage.env[key!] = value.join('=');
        }
        break;
      case 'COPY': {
        const words = rest.split(/\s+/);
        const from = words[0]!.startsWith('--from=') ? words.shift()!.slice('--from='.length) : undefined;
        if (words.some((word) => word.startsWith('--'))) throw new Error(`COPY option not understood: ${line}`);
        stage.steps.push({ kind: 'copy', from, sources: words.slice(0, -1), destination: words.at(-1)! });
        break;
      }
      case 'RUN':
        stage.steps.push({ kind: 'run', command: rest });
        break;
      case 'CMD':
        stage.command = JSON.parse(rest) as string[];
        break;
      case 'HEALTHCHECK':
        stage.healthcheck = /(?:^|\s)CMD\s+(.*)$/.exec(rest)?.[1];
        break;
      default:
        if (!IGNORED.has(instruction)) throw new Error(`Dockerfile instruction not understood: ${line}`);
    }
  }
  return stages;
}

/** A path inside a stage's image, as a path in that stage's directory. */
export function inStage(stage: Stage, directory: string, imagePath: string): string {
  const absolute = path.posix.resolve(stage.workdir, imagePath);
  const relative = path.posix.relative(stage.workdir, absolute);
  if (relative.startsWith('..')) throw new Error(`${imagePath} is outside ${stage.workdir}, which this test does not mirror`);
  return path.join(directory, relative);
}

/** Replaces the stage's WORKDIR in a command or setting by its directory here. */
export function withStagePaths(stage: Stage, directory: string, text: string): string {
  return stage.workdir === '/' ? text : text.split(stage.workdir).join(directory);
}

export function run(command: string, options: { cwd: string; env: Record<string, string | undefined> }): Promise<void> {
  return new Promise((resolve, reject) => {
    // No image user exists here: chown is the one command the image runs that this machine cannot.
    const child = spawn('sh', ['-c', `chown() { :; }\n${command}`], { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`\`${command}\` exited with ${code}:\n${output}`))));
  });
}

/**
 * Builds every stage in its directory under `root`, from the build context `context`. `adjust` may add
 * flags to a RUN command (e.g. npm's offline cache), never remove any.
 */
export async function buildStages(
  stages: Stage[],
  options: { context: string; root: string; env: Record<string, string | undefined>; adjust?: (command: string) => string },
): Promise<Map<string, string>> {
  const directories = new Map<string, string>();
  for (const stage of stages) {
    const directory = path.join(options.root, stage.name);
    mkdirSync(directory, { recursive: true });
    directories.set(stage.name, directory);
    for (const step of stage.steps) {
      if (step.kind === 'run') {
        const command = withStagePaths(stage, directory, options.adjust ? options.adjust(step.command) : step.command);
        await run(command, { cwd: directory, env: { ...options.env, ...stageEnv(stage, directory) } });
        continue;
      }
      const destination = inStage(stage, directory, step.destination);
      for (const source of step.sources) {
        const origin = step.from ? stages.find((other) => other.name === step.from) : undefined;
        if (step.from && !origin) throw new Error(`COPY --from=${step.from}: no such stage`);
        const from = origin ? inStage(origin, directories.get(origin.name)!, source) : path.join(options.context, source);
        const into = step.destination.endsWith('/') ? path.join(destination, path.basename(from)) : destination;
        cpSync(from, into, { recursive: true, verbatimSymlinks: true });
      }
    }
  }
  return directories;
}

/** The stage's ENV, its paths moved into its directory. */
export function stageEnv(stage: Stage, directory: string): Record<string, string> {
  return Object.fromEntries(Object.entries(stage.env).map(([key, value]) => [key, withStagePaths(stage, directory, value)]));
}
