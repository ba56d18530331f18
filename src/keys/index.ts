export * from './secrets.ts';
export * from './signing-keys.ts';
