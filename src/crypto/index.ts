export { CookieSigner } from './cookie-signer.ts';
export { createSecretBox, newSecretsKey, parseSecretsKeys, SecretsKeyError, type SecretBox, type SecretsKey } from './secret-box.ts';
