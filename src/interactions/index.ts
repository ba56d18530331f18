export { interactionRoutes } from './routes.ts';
