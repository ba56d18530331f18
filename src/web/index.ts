export * from './device.ts';
export * from './federation-cookies.ts';
export * from './forms.ts';
export * from './json-cookie.ts';
export * from './passkey-ceremony.ts';
export * from './refusals.ts';
export * from './registration-cookie.ts';
