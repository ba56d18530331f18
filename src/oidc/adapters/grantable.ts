/**
 * The models node-oidc-provider ties to a grant, as its reference (memory) adapter does: only these are removed by
 * `revokeByGrantId`. An Interaction or Session may carry a grantId too, but revoking a grant must not end a sign-in
 * in progress or a browser session.
 */
export const grantableModels: readonly string[] = [
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
];

export const isGrantable = (model: string) => grantableModels.includes(model);
