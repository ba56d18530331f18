export { createProvider, type ProviderOptions } from './provider.ts';
export { createSqlAdapter, purgeExpiredSqlModels } from './adapters/sql.ts';
export { guardedAdapter } from './adapters/guarded.ts';
export { connectRedis, waitUntilReady, isRedisUnavailable, type RedisConnection } from './redis-connection.ts';
export { readClientsFile, ClientsFileError } from './clients.ts';
export { readResourceServersFile, ResourceServersFileError, type ResourceServer } from './resource-servers.ts';
export { loadSecrets, generateJwks, SecretsError, type Secrets } from './secrets.ts';
export { createRedisAdapter } from './adapters/redis.ts';
export { indexedByAccount, endEverythingOf, purgeExpiredAccountIndex } from './adapters/account-index.ts';
