export { interactionRoutes } from './routes.ts';
export * from './forms.ts';
