export * from './upstream-provider.ts';
export * from './provider-settings.ts';
export * from './provider-registry.ts';
export {
  createManagedProviders,
  DuplicateProviderError,
  InvalidProviderError,
  ProviderNotFoundError,
  ReadOnlyProviderError,
  UnreachableIssuerError,
  type ManagedProviders,
  type ShownProvider,
} from './managed-providers.service.ts';
export { providersVersion, type ProvidersVersion } from './providers-version.ts';
