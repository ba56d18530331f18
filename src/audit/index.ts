export { actionLabelKey, AUDITED_ACTIONS } from './audit-actions.ts';
export { changeLines, type ChangeLine } from './audit-changes.ts';
export { auditRecorder, diff, type RecordAudit } from './audit.ts';
export { listAuditEvents, type ActorKind, type AuditEvent, type AuditQuery } from './audit-event.repository.ts';
