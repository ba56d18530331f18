export { auditRecorder, listAuditEvents, diff, type AuditEvent, type AuditQuery, type RecordAudit } from './audit.ts';
