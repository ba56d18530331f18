export {
  createAccountService,
  emailSchema,
  DEFAULT_ROLE,
  type Account,
  type AccountService,
  type LoginContext,
  type PasswordSignInOptions,
  type NewAccount,
} from './account.service.ts';
export { accountVersions, changedAccount, type AccountVersions } from './account-versions.ts';
export { createPasswordHasher, type PasswordHasher, type Argon2Parameters } from './password-hasher.ts';
export { createVerificationFloor, keepVerificationFloorCurrent, type FloorRefresh, type VerificationFloor } from './verification-floor.ts';
export { passwordHashFormat, type PasswordHashFormat } from './password-hash-formats.ts';
export { checkPassword, PASSWORD_MAX_LENGTH, type PasswordPolicy } from './password-policy.ts';
export * from './errors.ts';
export {
  createAccountLifecycle,
  type AccountLifecycle,
  type KeptSignInMethods,
  type LifecycleLinks,
  type Registration,
  type SignInMethodsToReview,
} from './account-lifecycle.service.ts';
export type { LoginObserver, LoginThrottle } from './account.service.ts';
export { createFederation, type Federation, type FederatedProfile, type FederatedSignIn } from './federation.service.ts';
export { createAccountAdministration, type AccountAdministration, type ProfileChanges } from './admin.service.ts';
export type { AccountListQuery } from './account-query.repository.ts';
export {
  createSecondFactors,
  hasUsableSecondFactor,
  resealTotpSecrets,
  policyRequiresSecondFactor,
  type MfaPolicy,
  type SecondFactors,
  type SecondFactorMethod,
  type SecondFactorStatus,
  type TotpEnrollment,
} from './second-factor.service.ts';
export { PROFILE_FIELDS, profileFieldsSchema, singleLine, TIME_ZONES, type ProfileFields } from './profile-schema.ts';
export { createSelfService, type SelfService, type Self } from './self-service.service.ts';
export {
  createPasskeys,
  relyingPartyOf,
  CHALLENGE_TTL_MS,
  NAME_MAX_LENGTH as PASSKEY_NAME_MAX_LENGTH,
  type Ceremony,
  type PasskeyRelyingParty,
  type Passkeys,
  type PasskeySummary,
} from './passkey.service.ts';
export {
  createReauthentication,
  type FederatedReauthentication,
  type Reauthentication,
  type ReauthenticationMethods,
  type SessionProof,
} from './reauthentication.service.ts';
export { createSecurityNotices, type ChangeOrigin, type NoticeOptions, type SecurityNotices } from './security-notice.ts';
export { ROLE_NAME, type RowError } from './imported-user.ts';
export { userRecords, UnreadableFileError, type UserFileFormat, type UserRecord } from './user-records.ts';
export { importUsers, InvalidRoleMapError, roleMapOf, type ConflictMode, type ImportOptions, type ImportReport } from './user-import.service.ts';
export { exportUsers, type ExportedUser } from './user-export.service.ts';
