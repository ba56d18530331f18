import { randomBytes } from 'node:crypto';
import {
  AndNode,
  BinaryOperationNode,
  ColumnNode,
  DeleteQueryNode,
  type KyselyPlugin,
  type OperationNode,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  ReferenceNode,
  TableNode,
  UpdateQueryNode,
  ValueNode,
} from 'kysely';

import { BoundedMap } from '../bounded-map.ts';
import type { RedisConnection } from '../redis/index.ts';

/** A version key nobody reads for this long expires; its account is then read from SQL once, as on first use. */
const VERSION_TTL_MS = 24 * 60 * 60 * 1000;
/** Stands for "any account": a write whose rows the plugin cannot name moves every account's version. */
const ANY = '*';

/** The one account a write's WHERE pins down with `id = <value>`, or ANY. */
function accountIdOf(where: OperationNode | undefined): string {
  if (!where) return ANY;
  if (AndNode.is(where)) {
    const left = accountIdOf(where.left);
    return left === ANY ? accountIdOf(where.right) : left;
  }
  if (!BinaryOperationNode.is(where) || !ValueNode.is(where.rightOperand)) return ANY;
  const column = ReferenceNode.is(where.leftOperand) ? where.leftOperand.column : where.leftOperand;
  const operator = (where.operator as { operator?: string }).operator;
  const value = where.rightOperand.value;
  return ColumnNode.is(column) && column.column.name === 'id' && operator === '=' && typeof value === 'string' ? value : ANY;
}

/** The account a write changes (ANY: possibly several), or undefined when it writes no account row. */
export function changedAccount(node: OperationNode): string | undefined {
  const table = UpdateQueryNode.is(node) ? node.table : DeleteQueryNode.is(node) ? node.from.froms[0] : undefined;
  if (!table || !TableNode.is(table) || table.table.identifier.name !== 'accounts') return undefined;
  return accountIdOf((node as UpdateQueryNode | DeleteQueryNode).where?.where);
}

/** Where the versions live: Redis, shared by every node, or this process's memory. */
interface VersionStore {
  mget(keys: [string, string]): Promise<(string | null)[]>;
  set(key: string, value: string, onlyIfMissing: boolean): Promise<unknown>;
}

function redisStore(redis: RedisConnection): VersionStore {
  return {
    mget: (keys) => redis.mget(...keys),
    set: (key, value, onlyIfMissing) =>
      onlyIfMissing ? redis.set(key, value, 'PX', VERSION_TTL_MS, 'NX') : redis.set(key, value, 'PX', VERSION_TTL_MS),
  };
}

/** Past this many, the least recently set version is dropped: its account is read from SQL once more. */
const VERSIONS_IN_MEMORY = 20_000;

function memoryStore(): VersionStore {
  const versions = new BoundedMap<string, string>(VERSIONS_IN_MEMORY);
  return {
    mget: async (keys) => keys.map((key) => versions.get(key) ?? null),
    async set(key, value, onlyIfMissing) {
      if (onlyIfMissing && versions.has(key)) return;
      versions.set(key, value);
    },
  };
}

/**
 * A version of each account, so that a node may keep accounts in memory and still see every change at once:
 * the version is a random value, replaced on every change. With Redis the versions are there, shared by every
 * node; on the embedded database they are in this process, the only one that can open DATA_DIR (its lock), so
 * no other process writes accounts meanwhile.
 *
 * `plugin`, on the Kysely instance every service writes through, replaces the version of each account an
 * UPDATE or DELETE of `accounts` touches, right after the statement and before its transaction commits (the
 * repository runs such writes in one), while the database still holds the row lock: if Redis cannot be told,
 * the write fails and rolls back. A reader that reads the row while a change is uncommitted must not keep it
 * (account.repository.ts `findAccountUnlessChanging`); one that read it before keeps it under a version
 * that is already gone. New rows (INSERT) have no cached copy to replace.
 */
export function accountVersions(where: { redis: RedisConnection; prefix: string } | 'in-process') {
  const store = where === 'in-process' ? memoryStore() : redisStore(where.redis);
  const prefix = where === 'in-process' ? '' : where.prefix;
  // One hash tag for all: in a Cluster they share a slot, so one MGET reads an account's and ANY's.
  const key = (accountId: string) => `${prefix}{account-version}:${accountId}`;
  const pending = new WeakMap<object, string>();
  const fresh = () => randomBytes(12).toString('base64url');

  const plugin: KyselyPlugin = {
    transformQuery({ node, queryId }: PluginTransformQueryArgs) {
      const accountId = changedAccount(node);
      if (accountId) pending.set(queryId, accountId);
      return node;
    },
    async transformResult({ result, queryId }: PluginTransformResultArgs) {
      const accountId = pending.get(queryId);
      if (accountId) await store.set(key(accountId), fresh(), false);
      return result;
    },
  };

  return {
    plugin,
    /**
     * The account's version as of now (its own and the all-accounts one), or undefined when either is not set
     * yet: it is set then, and the account is read without being kept this once.
     */
    async current(accountId: string): Promise<string | undefined> {
      const [any, own] = await store.mget([key(ANY), key(accountId)]);
      if (any && own) return `${any}.${own}`;
      await Promise.all([any ? undefined : store.set(key(ANY), fresh(), true), own ? undefined : store.set(key(accountId), fresh(), true)]);
      return undefined;
    },
  };
}

export type AccountVersions = ReturnType<typeof accountVersions>;
