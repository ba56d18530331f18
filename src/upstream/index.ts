export * from './google-client.ts';
