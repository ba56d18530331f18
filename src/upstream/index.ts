export * from './upstream-provider.ts';
export * from './provider-settings.ts';
export * from './provider-registry.ts';
