import type { Kysely, Selectable } from 'kysely';

import type { SecretBox } from '../crypto/index.ts';
import type { DB, IdentityProvidersTable } from '../db/index.ts';
import { deleteProviderRow, findProviderRow, insertProviderRow, listProviderRows, resealProviderRow, updateProviderRow } from './identity-provider.repository.ts';
import { clientFor, type ProviderRegistry } from './provider-registry.ts';
import { plainHttpField, type ProviderSettings, providerSettingsSchema, SECRET_FIELDS, unknownProviderFields } from './provider-settings.ts';
import type { ProvidersVersion } from './providers-version.ts';

export class ProviderNotFoundError extends Error {
  constructor() {
    super('No such identity provider');
  }
}

/** An entry of IDENTITY_PROVIDERS_FILE (or GOOGLE_*): changed only there. */
export class ReadOnlyProviderError extends Error {
  constructor(id: string) {
    super(`identity provider "${id}" is set in IDENTITY_PROVIDERS_FILE or GOOGLE_*; change it there`);
  }
}

export class DuplicateProviderError extends Error {
  constructor(id: string) {
    super(`an identity provider "${id}" exists already`);
  }
}

/** What was asked is not an entry we can keep: which field, and why. */
export class InvalidProviderError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** The provider's issuer (or authority) did not answer its discovery: the entry would not work. */
export class UnreachableIssuerError extends Error {
  constructor(
    readonly field: string,
    address: string,
    detail: string,
  ) {
    super(`${field} ${address} does not answer its discovery: ${detail}`);
  }
}

type Row = Selectable<IdentityProvidersTable>;
type Secrets = Partial<Pick<Record<string, unknown>, (typeof SECRET_FIELDS)[number]>>;

/** An entry as the API and console show it: its settings, never its secrets, only whether it has them. */
export interface ShownProvider extends Record<string, unknown> {
  id: string;
  type: ProviderSettings['type'];
  name: string;
  enabled: boolean;
  source: 'file' | 'database';
  read_only: boolean;
  has_client_secret: boolean;
  has_private_key_jwt: boolean;
}

const sealContext = (id: string, field: string) => `identity_providers.${field}:${id}`;
/** Settings that decide whether the provider answers: a change of one is checked against the provider before it is kept. */
const CONNECTION_FIELDS = ['type', 'issuer', 'authority', 'tenant', 'client_id', ...SECRET_FIELDS];
/** How often a node asks whether the providers changed, at most. */
const CHECK_EVERY_MS = 1000;

/** Text a database or a page cannot hold as given: control characters, lone surrogates (the path to the first). */
function badTextIn(value: unknown, path: string[]): string | undefined {
  if (typeof value === 'string') return /[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(value) ? path.join('.') || 'body' : undefined;
  if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const found = badTextIn(item, [...path, key]);
      if (found) return found;
    }
  }
  return undefined;
}

function withoutSecrets(entry: Record<string, unknown>) {
  const { client_secret: _secret, private_key_jwt: _jwk, ...settings } = entry;
  return settings;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Identity providers managed from the admin API and console, kept in the database beside those of
 * IDENTITY_PROVIDERS_FILE (read-only here). Each entry is checked with the file's schema, its secrets sealed
 * with SECRETS_KEY.
 *
 * Every node offers the same list without a restart: a change moves the providers' version (providers-version.ts:
 * Redis, this process, or the rows themselves), and `keepCurrent`, before a request is routed, compares it at most
 * once a second with the version this node loaded, reloading the list into the registry when it moved. A node
 * thus sees another's change within a second; the node that made it, at once.
 */
export function createManagedProviders(deps: {
  db: Kysely<DB>;
  secretBox: SecretBox;
  registry: ProviderRegistry;
  /** The entries of IDENTITY_PROVIDERS_FILE and GOOGLE_*. */
  fileEntries: ProviderSettings[];
  version: ProvidersVersion;
  issuer: string;
  production: boolean;
  /** A stored entry that no longer opens or passes the schema (SECRETS_KEY changed, say): left out, and said why. */
  onUnusable(id: string, reason: string): void;
}) {
  const { db, secretBox, registry } = deps;
  const fileIds = new Set(deps.fileEntries.map((entry) => entry.id));

  function parse(raw: Record<string, unknown>): ProviderSettings {
    const unknown = unknownProviderFields(raw);
    if (unknown.length) throw new InvalidProviderError(unknown[0]!, `unknown field for type ${String(raw.type)}: ${unknown.join(', ')}`);
    const bad = badTextIn(withoutSecrets(raw), []);
    if (bad) throw new InvalidProviderError(bad, 'control characters and broken unicode are not allowed');
    const parsed = providerSettingsSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new InvalidProviderError(issue.path.join('.') || 'body', issue.message);
    }
    const insecure = deps.production ? plainHttpField(parsed.data) : undefined;
    if (insecure) throw new InvalidProviderError(insecure, 'must be https in production');
    return parsed.data;
  }

  /** The row's entry with its secrets opened, unchecked. */
  function rawEntryOf(row: Row): Record<string, unknown> {
    const secrets: Secrets = {};
    if (row.client_secret_sealed) secrets.client_secret = secretBox.open(row.client_secret_sealed, sealContext(row.id, 'client_secret'));
    if (row.private_key_jwt_sealed) secrets.private_key_jwt = JSON.parse(secretBox.open(row.private_key_jwt_sealed, sealContext(row.id, 'private_key_jwt')));
    return { ...row.settings, id: row.id, ...secrets };
  }

  function rowOf(entry: ProviderSettings) {
    const { client_secret, private_key_jwt } = entry as Secrets;
    return {
      settings: JSON.stringify(withoutSecrets(entry)),
      client_secret_sealed: typeof client_secret === 'string' ? secretBox.seal(client_secret, sealContext(entry.id, 'client_secret')) : null,
      private_key_jwt_sealed: private_key_jwt ? secretBox.seal(JSON.stringify(private_key_jwt), sealContext(entry.id, 'private_key_jwt')) : null,
    };
  }

  function shown(entry: Record<string, unknown>, source: ShownProvider['source'], row?: Row): ShownProvider {
    return {
      ...(withoutSecrets(entry) as Pick<ShownProvider, 'id' | 'type' | 'name' | 'enabled'>),
      source,
      read_only: source === 'file',
      has_client_secret: Boolean(row ? row.client_secret_sealed : entry.client_secret),
      has_private_key_jwt: Boolean(row ? row.private_key_jwt_sealed : entry.private_key_jwt),
      ...(row ? { created_at: row.created_at, updated_at: row.updated_at } : {}),
    };
  }

  /** The stored entries that can be used, checked as the file's are. */
  async function storedEntries(): Promise<ProviderSettings[]> {
    const entries: ProviderSettings[] = [];
    for (const row of await listProviderRows(db)) {
      if (fileIds.has(row.id)) {
        deps.onUnusable(row.id, 'IDENTITY_PROVIDERS_FILE or GOOGLE_* sets this id too; the file wins');
        continue;
      }
      try {
        const parsed = providerSettingsSchema.safeParse(rawEntryOf(row));
        if (parsed.success) entries.push(parsed.data);
        else deps.onUnusable(row.id, parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '));
      } catch (error) {
        deps.onUnusable(row.id, (error as Error).message);
      }
    }
    return entries;
  }

  /** The provider answers its discovery (GitHub publishes none: nothing to ask). */
  async function checkAnswers(entry: ProviderSettings) {
    try {
      await clientFor(entry, deps.issuer).ready();
    } catch (error) {
      const field = entry.type === 'oidc' ? 'issuer' : 'authority';
      const address = entry.type === 'oidc' ? entry.issuer : entry.type === 'microsoft' ? entry.authority : '';
      throw new UnreachableIssuerError(field, address, (error as Error).message);
    }
  }

  let loaded: string | undefined;
  let checkedAt = 0;
  let loading: Promise<void> | undefined;

  /** Reads the version, then the rows (so the rows are at least as new as the version kept), into the registry. */
  function reload(): Promise<void> {
    loading ??= (async () => {
      try {
        const version = await deps.version.read();
        if (version === loaded) return;
        registry.replace([...deps.fileEntries, ...(await storedEntries())]);
        loaded = version;
      } finally {
        loading = undefined;
      }
    })();
    return loading;
  }

  /** After a write: this node offers the change at once (a load begun before the write is let finish, then redone). */
  async function changed() {
    await deps.version.bump();
    await loading;
    checkedAt = Date.now();
    loaded = undefined;
    await reload();
  }

  async function storedRow(id: string): Promise<Row> {
    if (fileIds.has(id)) throw new ReadOnlyProviderError(id);
    const row = await findProviderRow(db, id);
    if (!row) throw new ProviderNotFoundError();
    return row;
  }

  return {
    /** Every entry, the file's first (read-only), as shown. */
    async list(): Promise<ShownProvider[]> {
      const rows = await listProviderRows(db);
      return [...deps.fileEntries.map((entry) => shown(entry, 'file')), ...rows.filter((row) => !fileIds.has(row.id)).map((row) => shown({ ...row.settings, id: row.id }, 'database', row))];
    },

    async get(id: string): Promise<ShownProvider> {
      const file = deps.fileEntries.find((entry) => entry.id === id);
      if (file) return shown(file, 'file');
      const row = await findProviderRow(db, id);
      if (!row) throw new ProviderNotFoundError();
      return shown({ ...row.settings, id: row.id }, 'database', row);
    },

    async create(input: unknown): Promise<ShownProvider> {
      if (!isObject(input)) throw new InvalidProviderError('body', 'a JSON object');
      const entry = parse(input);
      if (fileIds.has(entry.id)) throw new ReadOnlyProviderError(entry.id);
      if (await findProviderRow(db, entry.id)) throw new DuplicateProviderError(entry.id);
      await checkAnswers(entry);
      const row = await insertProviderRow(db, { id: entry.id, ...rowOf(entry) });
      if (!row) throw new DuplicateProviderError(entry.id);
      await changed();
      return shown(entry, 'database', row);
    },

    /**
     * Changes some fields; `null` removes an optional one. A secret not given is kept; giving client_secret
     * drops private_key_jwt and the other way round (an entry has one).
     */
    async update(id: string, changes: unknown): Promise<{ before: ShownProvider; after: ShownProvider }> {
      const row = await storedRow(id);
      if (!isObject(changes)) throw new InvalidProviderError('body', 'a JSON object');
      if ('id' in changes && changes.id !== id) throw new InvalidProviderError('id', 'cannot be changed (people linked their accounts under it); add another provider instead');
      const current = rawEntryOf(row);
      const merged: Record<string, unknown> = { ...current, ...changes };
      if (changes.client_secret != null && changes.private_key_jwt === undefined) delete merged.private_key_jwt;
      if (changes.private_key_jwt != null && changes.client_secret === undefined) delete merged.client_secret;
      for (const [key, value] of Object.entries(changes)) if (value === null) delete merged[key];
      const entry = parse(merged);
      const reconnects = CONNECTION_FIELDS.some((field) => JSON.stringify(current[field]) !== JSON.stringify((entry as Record<string, unknown>)[field]));
      if (entry.enabled && (reconnects || current.enabled === false)) await checkAnswers(entry);
      const updated = await updateProviderRow(db, id, rowOf(entry));
      if (!updated) throw new ProviderNotFoundError();
      await changed();
      return { before: shown({ ...row.settings, id }, 'database', row), after: shown(entry, 'database', updated) };
    },

    async remove(id: string): Promise<void> {
      await storedRow(id);
      if (!(await deleteProviderRow(db, id))) throw new ProviderNotFoundError();
      await changed();
    },

    /**
     * Before routing: the providers as every node has them now. Asks for the version at most once a second;
     * a failure to read it keeps the list this node has (and is thrown for the caller to log).
     */
    async keepCurrent(): Promise<void> {
      if (Date.now() - checkedAt < CHECK_EVERY_MS) return loading;
      checkedAt = Date.now();
      return reload();
    },

    /** At start: the stored entries join the file's. */
    load: reload,

    /** At start: secrets sealed with an older SECRETS_KEY entry are sealed again with the current one (how many). */
    async resealSecrets(): Promise<number> {
      let resealed = 0;
      for (const row of await listProviderRows(db)) {
        const stale = [row.client_secret_sealed, row.private_key_jwt_sealed].some((sealed) => sealed && !sealed.startsWith(secretBox.currentPrefix));
        if (!stale) continue;
        let entry: Record<string, unknown>;
        try {
          entry = rawEntryOf(row);
        } catch (error) {
          deps.onUnusable(row.id, (error as Error).message);
          continue;
        }
        const { client_secret_sealed, private_key_jwt_sealed } = rowOf(entry as ProviderSettings);
        // Written without moving updated_at: the entry itself did not change.
        await resealProviderRow(db, row.id, { client_secret_sealed, private_key_jwt_sealed });
        resealed += 1;
      }
      return resealed;
    },
  };
}

export type ManagedProviders = ReturnType<typeof createManagedProviders>;
