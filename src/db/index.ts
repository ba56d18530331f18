export { openDatabase, type Database, type DatabaseOptions } from './database.ts';
export type { NoticeHandlers } from './notice-listener.ts';
export { DataDirLockedError } from './data-dir-lock.ts';
export { migrateToLatest, migrateDatabase, underStartupLock, hasPendingMigrations, MigrationError } from './migrator.ts';
export type * from './schema.ts';
export { missingDatabaseAdvice } from './missing-database.ts';
export { StoreUnavailableError, isPostgresUnavailable, guardStore } from './store-unavailable.ts';
export { listPage, type PageCursor, type PagePosition, type PageRead, type RowCount } from './listing.ts';
