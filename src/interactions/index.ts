export { interactionRoutes } from './routes.ts';
export * from './forms.ts';
export { createGoogleClient, GoogleSignInError, GoogleUnavailableError, type GoogleClient } from './google-client.ts';
export { googleCallbackRoute, keepFlow, takeFlow } from './google-flow.ts';
export { codeRefusal, passkeyRefusal, signInCompletion, type SignInCompletion } from './second-factor-step.ts';
export { passkeyAnswer, startCeremony, takeCeremonyKey } from './passkey-ceremony.ts';
