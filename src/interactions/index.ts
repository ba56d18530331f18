export { interactionRoutes } from './routes.ts';
export { googleCallbackRoute } from './google-callback-route.ts';
export { signInCompletion, type SignInCompletion } from './second-factor-step.ts';
