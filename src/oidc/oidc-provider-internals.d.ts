/** node-oidc-provider's private state of a Provider (see replaceProviderSigningKeys); untyped by @types/oidc-provider. */
declare module 'oidc-provider/lib/helpers/weak_cache.js' {
  export default function instance(provider: object): unknown;
}

/** The request context behind `Provider.ctx`: a test enters it as node-oidc-provider does for each request. */
declare module 'oidc-provider/lib/helpers/als.js' {
  const als: import('node:async_hooks').AsyncLocalStorage<object>;
  export default als;
}
