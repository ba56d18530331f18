export * from './secrets.ts';
export * from './signing-keys.ts';
export * from './live-jwks.ts';
