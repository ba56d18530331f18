/** Built-in role ranks (the roles table holds the same numbers). Custom roles carry no power here. */
export const RANK = { super_admin: 500, admin: 400, moderator: 300, user: 200, guest: 100 } as const;

export type AdminAction =
  | 'users.read'
  | 'users.create'
  | 'users.import'
  | 'users.update'
  | 'users.email'
  | 'users.disable'
  | 'users.enable'
  | 'users.delete'
  | 'users.restore'
  | 'users.roles'
  | 'users.password-reset'
  | 'users.second-factors.reset'
  | 'roles.read'
  | 'roles.write'
  | 'clients.read'
  | 'clients.write'
  | 'clients.privileged'
  | 'audit.read'
  | 'webhooks.manage'
  | 'identity-providers.manage';

const minimumRank: Record<AdminAction, number> = {
  'users.read': RANK.moderator,
  'users.disable': RANK.moderator,
  'users.enable': RANK.moderator,
  'roles.read': RANK.moderator,
  'users.create': RANK.admin,
  'users.update': RANK.admin,
  'users.email': RANK.admin,
  'users.delete': RANK.admin,
  'users.restore': RANK.admin,
  'users.roles': RANK.admin,
  'users.password-reset': RANK.admin,
  'users.second-factors.reset': RANK.admin,
  'roles.write': RANK.admin,
  'clients.read': RANK.admin,
  'clients.write': RANK.admin,
  /** first_party, or access to the admin API, in a client registration. */
  'clients.privileged': RANK.super_admin,
  'audit.read': RANK.admin,
  /** Sets anyone's roles, super_admin included, and their password hashes. */
  'users.import': RANK.super_admin,
  /** Webhooks send every account change to a URL of the admin's choice. */
  'webhooks.manage': RANK.super_admin,
  /** Who may sign in, and which accounts an upstream's verified emails link to. */
  'identity-providers.manage': RANK.super_admin,
};

const selfForbidden = new Set<AdminAction>(['users.disable', 'users.enable', 'users.delete', 'users.roles', 'users.second-factors.reset']);
const privilegedRoles = new Set<string>(['admin', 'super_admin']);
/** What would hand over another admin's account (the way in, the address its reset links go to): super admins only. */
const signInMethodActions = new Set<AdminAction>(['users.email', 'users.password-reset', 'users.second-factors.reset']);

export class ForbiddenError extends Error {}

export interface Attempt {
  actorId: string;
  actorRank: number;
  action: AdminAction;
  targetId?: string | undefined;
  targetRank?: number | undefined;
  /** For users.roles: the role granted or removed. */
  role?: string | undefined;
}

/**
 * Moderators view users and disable ordinary ones; admins do everything but grant or remove
 * admin roles, touch super admins, or change another admin's email, password or second factors;
 * super admins do everything; nobody changes their own roles or disables themselves.
 * Throws ForbiddenError with the reason.
 */
export function authorize(attempt: Attempt): void {
  const { actorRank, action } = attempt;
  if (actorRank < minimumRank[action]) throw new ForbiddenError(`${action} needs a higher role`);
  if (attempt.targetId === attempt.actorId && selfForbidden.has(action)) {
    throw new ForbiddenError('You cannot change your own roles or disable or delete yourself');
  }
  const targetRank = attempt.targetRank ?? 0;
  if (action !== 'users.read' && targetRank >= RANK.super_admin && actorRank < RANK.super_admin) {
    throw new ForbiddenError('Only a super admin may change a super admin');
  }
  if ((action === 'users.disable' || action === 'users.enable') && actorRank < RANK.admin && targetRank > RANK.user) {
    throw new ForbiddenError('Moderators may disable only user and guest accounts');
  }
  if (signInMethodActions.has(action) && attempt.targetId !== attempt.actorId && targetRank >= RANK.admin && actorRank < RANK.super_admin) {
    throw new ForbiddenError("Only a super admin may change another admin's email, password or second factors");
  }
  if (action === 'users.roles' && attempt.role && privilegedRoles.has(attempt.role) && actorRank < RANK.super_admin) {
    throw new ForbiddenError('Only a super admin may grant or remove admin roles');
  }
}
