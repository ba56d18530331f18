const descriptions: Record<string, string> = {
  openid: 'Know who you are',
  profile: 'See your name, picture, language and time zone',
  email: 'See your email address',
  roles: 'See your roles',
  offline_access: 'Stay connected when you are not using it',
};

/** Human words for the scopes on the consent page; unknown scopes are shown by name. */
export function describeScopes(scopes: string[]): string[] {
  return scopes.map((scope) => descriptions[scope] ?? `Access “${scope}”`);
}
