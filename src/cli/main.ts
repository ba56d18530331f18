import { parseArgs } from 'node:util';

import {
  createAccountService,
  createPasswordHasher,
  DuplicateEmailError,
  InvalidAccountInputError,
  UnknownRoleError,
  WeakPasswordError,
} from '../accounts/index.ts';
import { ConfigError, loadConfig, type Config } from '../config.ts';
import { DataDirLockedError, migrateToLatest, openDatabase, type Database } from '../db/index.ts';
// Not through ../oidc/index.ts: that loads node-oidc-provider, which the CLI does not need.
import { generateJwks } from '../oidc/secrets.ts';

const usage = `Usage: npm run admin -- <command> [options]

Commands:
  migrate                      apply pending database migrations
  create-user --email E --password-stdin [--name N] [--role R]... [--verified]
                               create an account; the password is read from standard input
  generate-jwks                print a new private JWK set (RS256 and ES256) for JWKS_FILE

The database is the one the server uses (DATABASE_URL, or the embedded one in DATA_DIR).`;

/** A mistake in how the command was called or what it was given: printed, exit code 2. */
class UsageError extends Error {}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError('--password-stdin reads the password from a pipe, e.g. `printf %s "$PASSWORD" | ...`');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function withDatabase<T>(config: Config, work: (database: Database) => Promise<T>): Promise<T> {
  const database = await openDatabase(config);
  try {
    await migrateToLatest(database.db);
    return await work(database);
  } finally {
    await database.close();
  }
}

async function migrate(config: Config): Promise<string> {
  const database = await openDatabase(config);
  try {
    const applied = await migrateToLatest(database.db);
    return applied.length ? `Applied migrations: ${applied.join(', ')}` : 'The database is up to date.';
  } finally {
    await database.close();
  }
}

async function createUser(config: Config, args: string[]): Promise<string> {
  const { values } = parseArgs({
    args,
    options: {
      email: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      name: { type: 'string' },
      role: { type: 'string', multiple: true },
      verified: { type: 'boolean' },
    },
    strict: true,
  });
  if (!values.email) throw new UsageError('create-user needs --email');
  if (!values['password-stdin']) throw new UsageError('create-user needs --password-stdin (passwords are never taken as arguments)');
  const password = await readStdin();

  return withDatabase(config, async ({ db }) => {
    const accounts = createAccountService({
      db,
      hasher: createPasswordHasher(config.argon2),
      passwordPolicy: { minLength: config.passwordMinLength },
    });
    const account = await accounts.createAccount({
      email: values.email!,
      password,
      name: values.name,
      roles: values.role,
      emailVerified: values.verified ?? false,
    });
    const roles = await accounts.rolesOf(account.id);
    return `Created ${account.email} (id ${account.id}, roles: ${roles.join(', ')})`;
  });
}

async function run(argv: string[]): Promise<string> {
  const [command, ...args] = argv;
  switch (command) {
    case 'migrate':
      return migrate(loadConfig());
    case 'create-user':
      return createUser(loadConfig(), args);
    case 'generate-jwks':
      return JSON.stringify(await generateJwks(), null, 2);
    case undefined:
    case 'help':
    case '--help':
      return usage;
    default:
      throw new UsageError(`Unknown command "${command}".\n\n${usage}`);
  }
}

const expected = [UsageError, ConfigError, DataDirLockedError, DuplicateEmailError, UnknownRoleError, WeakPasswordError, InvalidAccountInputError];

run(process.argv.slice(2)).then(
  (output) => {
    console.log(output);
  },
  (error: Error) => {
    const known = expected.some((type) => error instanceof type) || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    console.error(known ? `Error: ${error.message}` : error);
    process.exitCode = known ? 2 : 1;
  },
);
