/**
 * The actions the audit log records, for the audit page's filter: administrators' actions, then
 * each person's security events. Refused admin attempts are recorded under the permission
 * they lacked (users.roles, clients.privileged, ...), which the filter does not list.
 */
export const AUDITED_ACTIONS = [
  'users.create',
  'users.import',
  'users.export',
  'users.update',
  'users.disable',
  'users.enable',
  'users.delete',
  'users.restore',
  'users.roles.grant',
  'users.roles.revoke',
  'users.password-reset',
  'users.second-factors.reset',
  'roles.create',
  'roles.delete',
  'clients.create',
  'clients.update',
  'clients.delete',
  'clients.rotate-secret',
  'account.lockout',
  'account.password-reset',
  'account.password.change',
  'account.profile.update',
  'account.email.change-requested',
  'account.email.change',
  'account.identity.linked',
  'account.identity.unlinked',
  'account.identity.removed',
  'account.reauthenticate',
  'account.delete',
  'mfa.verify',
  'mfa.totp.enabled',
  'mfa.totp.confirm',
  'mfa.totp.removed',
  'mfa.recovery_codes.regenerated',
  'mfa.recovery_code.used',
  'mfa.passkey.added',
  'mfa.passkey.renamed',
  'mfa.passkey.removed',
  'mfa.passkey.challenge',
  'mfa.passkey.verify',
] as const;

/** The message catalogue's key for an action's name (admin.audit.actions.<action, dots as _>). */
export const actionLabelKey = (action: string) => `admin.audit.actions.${action.replaceAll('.', '_')}`;
