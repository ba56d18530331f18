export { adminApiRoutes } from './api-routes.ts';
export { adminBearerAuth, type AdminCaller } from './bearer-auth.ts';
export { authorize, ForbiddenError, RANK, type AdminAction } from './permissions.ts';
export { createAdminActions, type AdminActions, type Actor } from './admin-actions.ts';
export { adminConsoleRoutes } from './console-routes.ts';
export { consoleClient, createConsoleSession } from './console-session.ts';
export { deleteConsoleSessionsOf } from './console-session.repository.ts';
