export {
  createRetentionJob,
  RETENTION_INTERVAL_MS,
  type PurgeCounts,
  type PurgedTable,
  type PurgeResult,
  type RetentionJob,
  type RetentionObserver,
  type RetentionPolicy,
} from './retention-job.ts';
