export { accountLinkRoutes } from './routes.ts';
export { accountPageRoutes } from './page-routes.ts';
export { accountPage } from './account-page.ts';
