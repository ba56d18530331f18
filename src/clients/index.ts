export * from './client-cache.ts';
export * from './client-registry.ts';
export * from './client-resources.ts';
export * from './client-secrets.ts';
export * from './client-uris.ts';
export * from './clients.ts';
export * from './resource-servers.ts';
export * from './token-lifetimes.ts';
