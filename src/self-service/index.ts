export { mailedLinkRoutes } from './mailed-link-routes.ts';
export { accountPageRoutes } from './page-routes.ts';
export { accountPage } from './account-page.ts';
export { accountApiRoutes } from './api-routes.ts';
export { homeRoutes } from './home-routes.ts';
export { accountClient, accountSignIn } from './account-sign-in.ts';
