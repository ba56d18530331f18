export { interactionRoutes } from './routes.ts';
export { upstreamCallbackRoute } from './upstream-callback-route.ts';
export { signInCompletion, type SignInCompletion } from './second-factor-step.ts';
