export { auditRecorder, diff, type RecordAudit } from './audit.ts';
export { listAuditEvents, type AuditEvent, type AuditQuery } from './audit-event.repository.ts';
