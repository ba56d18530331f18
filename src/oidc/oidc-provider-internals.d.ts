/** node-oidc-provider's private state of a Provider (see replaceProviderSigningKeys); untyped by @types/oidc-provider. */
declare module 'oidc-provider/lib/helpers/weak_cache.js' {
  export default function instance(provider: object): unknown;
}
