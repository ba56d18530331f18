import { startFakeOidc, type FakeOidc, type OidcAccount } from './fake-oidc.ts';

export type GoogleAccount = OidcAccount & { hd?: string };
export type FakeGoogle = FakeOidc;

/** Google, played by a second node-oidc-provider on loopback (fake-oidc.ts). */
export const startFakeGoogle = () => startFakeOidc({ clientId: 'idp.apps.googleusercontent.test', clientSecret: 'fake-google-client-secret', cookiePrefix: 'g' });
