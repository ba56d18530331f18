import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

// Nothing here imports ../oidc/index.ts: it loads node-oidc-provider, which only create-client needs
// (client-metadata-check.ts, loaded quietly).
import {
  accountVersions,
  createAccountService,
  createPasswordHasher,
  DuplicateEmailError,
  FirstAdminEmailTakenError,
  InvalidAccountInputError,
  UnknownRoleError,
  WeakPasswordError,
} from '../accounts/index.ts';
import { auditRecorder } from '../audit/index.ts';
import { createClientRegistry, InvalidClientError } from '../clients/index.ts';
import { type Config, ConfigError, loadConfig } from '../config.ts';
import { type Database, DataDirLockedError, migrateDatabase, missingDatabaseAdvice, openDatabase } from '../db/index.ts';
import { generateJwks, SigningKeysError } from '../keys/index.ts';
import { connectRedis } from '../redis/index.ts';
import { clientMetadataCheck } from './client-metadata-check.ts';
import { keysCommand, KeysUsageError } from './keys-command.ts';
import { purgeCommand } from './purge-command.ts';
import { exportUsersCommand, importUsersCommand, TransferInputError } from './user-transfer-commands.ts';
import { webhookCommand, WebhookUsageError } from './webhook-commands.ts';

const usage = `Usage: npm run admin -- <command> [options]

Commands:
  migrate                      apply pending database migrations (safe while other nodes start or run)
  bootstrap                    create the first super admin from ADMIN_EMAIL and ADMIN_PASSWORD(_FILE) unless
                               a super admin exists; prints nothing when done (for a job run before the nodes)
  create-user --email E --password-stdin [--name N] [--role R]... [--verified]
                               create an account; the password is read from standard input
  create-client --name N --redirect-uri U... [--post-logout-redirect-uri U]... [--public] [--first-party]
                [--grant-type G]...
                               register a relying party; prints its client_id and (once) its secret
  generate-jwks [--out FILE [--force]]
                               a new private JWK set (RS256 and ES256) for JWKS_FILE, written to FILE
                               readable by its owner only (mode 0600), or printed
  import-users --file F [--format csv] [--dry-run] [--on-conflict skip|update|fail] [--role-map FROM=TO]...
               [--create-roles] [--skip-invalid]
                               import people from JSON Lines (or CSV with a header row), password hashes as they
                               are; with any invalid line nothing is written unless --skip-invalid (exit code 2)
  export-users [--file F]      every person as JSON Lines (hashes, roles, Google links), to F (mode 0600) or stdout
  purge                        remove sign-in history and audit events older than LOGIN_HISTORY_DAYS and AUDIT_DAYS,
                               and expired sessions, tokens and links, now (the server does it every ten minutes);
                               prints how many rows went from each table
  create-webhook --url U [--events a,b] [--description D] [--disabled] [--json]
                               send these events (default: every event) to U, signed; prints the secret once
  list-webhooks [--json]       the webhook subscriptions
  rotate-webhook-secret ID     a new signing secret (printed once); the old one signs too for
                               WEBHOOK_SECRET_OVERLAP_HOURS
  delete-webhook ID            delete a subscription and its deliveries
  keys list                    the signing keys of JWKS_FILE (or JWKS) and what each does now
  keys rotate [--activate-in 1h]
                               add a new key per algorithm, published at once and signing after the delay;
                               drop keys retired longer ago than the longest token lifetime

The database is the one the server uses (DATABASE_URL, or the embedded one in DATA_DIR).`;

/** A mistake in how the command was called or what it was given: printed, exit code 2. */
class UsageError extends Error {}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError('--password-stdin reads the password from a pipe, e.g. `printf %s "$PASSWORD" | ...`');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/**
 * With Redis, the command's account writes move each account's version there as the server's do, so no
 * node keeps answering for an account as it was before the command changed it (src/accounts/account-versions.ts).
 */
async function withDatabase<T>(config: Config, work: (database: Database) => Promise<T>): Promise<T> {
  const database = await openDatabase(config);
  const redis = config.redis && connectRedis(config.redis);
  try {
    await migrateDatabase(database);
    return await work(redis ? { ...database, db: database.db.withPlugin(accountVersions({ redis, prefix: config.redis!.keyPrefix }).plugin) } : database);
  } finally {
    redis?.disconnect();
    await database.close();
  }
}

async function migrate(config: Config): Promise<string> {
  const database = await openDatabase(config);
  try {
    const applied = await migrateDatabase(database);
    return applied.length ? `Applied migrations: ${applied.join(', ')}` : 'The database is up to date.';
  } finally {
    await database.close();
  }
}

async function bootstrap(config: Config): Promise<string> {
  const admin = config.bootstrapAdmin;
  if (!admin) throw new UsageError('bootstrap needs ADMIN_EMAIL and ADMIN_PASSWORD (or ADMIN_PASSWORD_FILE)');
  return withDatabase(config, async ({ db }) => {
    const accounts = createAccountService({
      db,
      hasher: createPasswordHasher(config.argon2),
      passwordPolicy: { minLength: config.passwordMinLength },
      audit: auditRecorder(db),
    });
    await accounts.ensureSuperAdmin(admin);
    return '';
  });
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
      actor: { type: 'cli' },
    });
    const roles = await accounts.rolesOf(account.id);
    await auditRecorder(db)({ actorId: null, actorKind: 'cli', action: 'users.create', targetType: 'account', targetId: account.id, changes: { email: account.email, roles } });
    return `Created ${account.email} (id ${account.id}, roles: ${roles.join(', ')})`;
  });
}

async function createClient(config: Config, args: string[]): Promise<string> {
  const { values } = parseArgs({
    args,
    options: {
      name: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      'post-logout-redirect-uri': { type: 'string', multiple: true },
      'grant-type': { type: 'string', multiple: true },
      public: { type: 'boolean' },
      'first-party': { type: 'boolean' },
    },
    strict: true,
  });
  if (!values.name) throw new UsageError('create-client needs --name');
  const grantTypes = values['grant-type'] ?? ['authorization_code', 'refresh_token'];
  const usesRedirects = grantTypes.includes('authorization_code');
  if (usesRedirects && !values['redirect-uri']?.length) throw new UsageError('create-client needs --redirect-uri for the authorization code flow');
  const validate = await clientMetadataCheck(config.issuer);
  return withDatabase(config, async ({ db }) => {
    const uriRules = {
      httpsOnly: config.env === 'production',
      allowPrivateNetwork: config.allowPrivateNetworkRequests,
      ownOrigin: new URL(config.issuer).origin,
    };
    const registry = createClientRegistry(db, validate, uriRules);
    try {
      const { client, clientSecret } = await registry.create({
        client_name: values.name,
        redirect_uris: values['redirect-uri'] ?? [],
        post_logout_redirect_uris: values['post-logout-redirect-uri'] ?? [],
        grant_types: grantTypes,
        response_types: usesRedirects ? ['code'] : [],
        token_endpoint_auth_method: values.public ? 'none' : 'client_secret_basic',
        ...(values['first-party'] ? { first_party: true } : {}),
      });
      await auditRecorder(db)({ actorId: null, actorKind: 'cli', action: 'clients.create', targetType: 'client', targetId: String(client.client_id), changes: { metadata: client } });
      return [`client_id: ${String(client.client_id)}`, ...(clientSecret ? [`client_secret: ${clientSecret}  (shown once)`] : [])].join('\n');
    } catch (error) {
      if (error instanceof InvalidClientError) throw new UsageError(`${error.field}: ${error.message}`);
      throw error;
    }
  });
}

/**
 * Writes a secret file readable by its owner only. Without `replace` an existing file is left alone
 * (EEXIST); with it the new file is written beside it and renamed over it, so the mode is 0600 even if
 * the old one was looser, and nobody reads a half-written file.
 */
async function writePrivateFile(file: string, content: string, replace: boolean): Promise<void> {
  if (!replace) {
    await writeFile(file, content, { mode: 0o600, flag: 'wx' });
    return;
  }
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, content, { mode: 0o600, flag: 'wx' });
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

async function generateJwksCommand(args: string[]): Promise<string> {
  const { values } = parseArgs({ args, options: { out: { type: 'string' }, force: { type: 'boolean' } }, strict: true });
  const json = JSON.stringify(await generateJwks(), null, 2);
  if (values.out === undefined) {
    if (values.force) throw new UsageError('--force only goes with --out FILE');
    return json;
  }
  if (!values.out) throw new UsageError('--out needs a file name');
  try {
    await writePrivateFile(values.out, `${json}\n`, values.force ?? false);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new UsageError(`${values.out} exists; it may hold the keys tokens are signed with. Add --force to replace it.`);
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'ENOTDIR') throw new UsageError(`cannot write ${values.out} (${code})`);
    throw error;
  }
  return `Wrote a private JWK set to ${values.out} (mode 0600); point JWKS_FILE at it.`;
}

async function run(argv: string[]): Promise<string> {
  const [command, ...args] = argv;
  switch (command) {
    case 'migrate':
      return migrate(loadConfig());
    case 'bootstrap':
      return bootstrap(loadConfig());
    case 'create-user':
      return createUser(loadConfig(), args);
    case 'create-client':
      return createClient(loadConfig(), args);
    case 'generate-jwks':
      return generateJwksCommand(args);
    case 'keys':
      return keysCommand(loadConfig(), args);
    case 'import-users': {
      const config = loadConfig();
      return importUsersCommand(args, (work) => withDatabase(config, work));
    }
    case 'export-users': {
      const config = loadConfig();
      return exportUsersCommand(args, (work) => withDatabase(config, work));
    }
    case 'purge': {
      if (args.length) throw new UsageError('purge takes no options');
      const config = loadConfig();
      return purgeCommand(config, (work) => withDatabase(config, work));
    }
    case 'create-webhook':
    case 'list-webhooks':
    case 'rotate-webhook-secret':
    case 'delete-webhook': {
      const config = loadConfig();
      return webhookCommand(command, args, config, (work) => withDatabase(config, work));
    }
    case undefined:
    case 'help':
    case '--help':
      return usage;
    default:
      throw new UsageError(`Unknown command "${command}".\n\n${usage}`);
  }
}

const expected = [UsageError, WebhookUsageError, KeysUsageError, TransferInputError, SigningKeysError, ConfigError, DataDirLockedError, DuplicateEmailError, FirstAdminEmailTakenError, UnknownRoleError, WeakPasswordError, InvalidAccountInputError];

run(process.argv.slice(2)).then(
  (output) => {
    if (output) console.log(output);
  },
  (error: Error) => {
    const advice = missingDatabaseAdvice(error, process.env.DATABASE_URL?.trim() || undefined);
    if (advice) {
      console.error(`Error: ${advice}`);
      process.exitCode = 1;
      return;
    }
    const known = expected.some((type) => error instanceof type) || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    console.error(known ? `Error: ${error.message}` : error);
    process.exitCode = known ? 2 : 1;
  },
);
