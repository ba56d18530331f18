export { accountLinkRoutes } from './routes.ts';
