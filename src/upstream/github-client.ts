import type { GithubSettings } from './provider-settings.ts';
import { authorizationCode, upstreamJson } from './upstream-http.ts';
import { descriptionOf, newChecks, textOf, type UpstreamChecks, type UpstreamProfile, type UpstreamProvider, UpstreamSignInError } from './upstream-provider.ts';

interface GithubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}

/**
 * GitHub's OAuth app flow (GitHub is no OpenID provider): authorization code with state and PKCE, then
 * the person from `/user` and the address from `/user/emails`, the primary one and only when GitHub
 * verified it. The subject is the numeric user id: the login name can be changed.
 */
export function createGithubClient(settings: GithubSettings, redirectUri: string): UpstreamProvider {
  const name = settings.name;
  const web = settings.github_url.replace(/\/$/, '');
  const api = settings.api_url.replace(/\/$/, '');

  const apiGet = (path: string, token: string) =>
    upstreamJson(name, path, `${api}${path}`, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.github+json', 'user-agent': 'idp', 'x-github-api-version': '2022-11-28' },
    });

  return {
    ...descriptionOf(settings, false),

    // Nothing is published to fetch ahead: GitHub's endpoints are fixed.
    async ready() {},

    async start(options = {}) {
      const { checks, codeChallenge } = await newChecks({ nonce: false });
      const url = new URL(`${web}/login/oauth/authorize`);
      url.search = new URLSearchParams({
        client_id: settings.client_id,
        redirect_uri: redirectUri,
        scope: 'read:user user:email',
        state: checks.state,
        code_challenge: codeChallenge,
        code_challenge_method: 'S256',
        ...(options.reauthenticate ? { prompt: 'select_account' } : {}),
        ...(options.loginHint ? { login: options.loginHint } : {}),
      }).toString();
      return { url, checks };
    },

    async finish(search: string, checks: UpstreamChecks): Promise<UpstreamProfile> {
      const code = authorizationCode(name, search, checks.state);

      const token = await upstreamJson(name, 'token request', `${web}/login/oauth/access_token`, {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: settings.client_id, client_secret: settings.client_secret, code, redirect_uri: redirectUri, code_verifier: checks.verifier }),
      });
      // GitHub answers a refused code with 200 and an `error`.
      const accessToken = textOf((token as Record<string, unknown>).access_token);
      if (!accessToken) throw new UpstreamSignInError(name, 'invalid', `${name} token request: ${textOf((token as Record<string, unknown>).error) ?? 'no access token'}`);

      const user = (await apiGet('/user', accessToken)) as Record<string, unknown>;
      if (typeof user.id !== 'number' && typeof user.id !== 'string') throw new UpstreamSignInError(name, 'invalid', `${name} /user has no id`);
      const emails = await apiGet('/user/emails', accessToken);
      if (!Array.isArray(emails)) throw new UpstreamSignInError(name, 'invalid', `${name} /user/emails is not a list`);
      const primary = (emails as GithubEmail[]).find((entry) => entry && entry.primary === true && typeof entry.email === 'string');
      if (!primary) throw new UpstreamSignInError(name, 'invalid', `${name} gave no primary email address`);
      return {
        provider: settings.id,
        subject: String(user.id),
        email: primary.email,
        emailVerified: primary.verified === true,
        name: textOf(user.name) ?? textOf(user.login),
        picture: textOf(user.avatar_url),
        authTime: undefined,
      };
    },
  };
}
