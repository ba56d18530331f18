import { Eta } from 'eta';
import type { Context } from 'koa';

export interface Views {
  /** Renders views/<name>.eta into the response, escaping every value unless the template says otherwise. */
  render(ctx: Context, name: string, data?: Record<string, unknown>, status?: number): void;
  renderToString(ctx: Context, name: string, data?: Record<string, unknown>): string;
}

export function createViews(options: { dir: string; cache: boolean }): Views {
  const eta = new Eta({ views: options.dir, cache: options.cache, autoEscape: true });

  function renderToString(ctx: Context, name: string, data: Record<string, unknown> = {}) {
    return eta.render(name, {
      csrfToken: ctx.state.csrfToken,
      requestId: ctx.state.requestId,
      ...data,
    });
  }

  return {
    renderToString,
    render(ctx, name, data = {}, status = 200) {
      ctx.status = status;
      ctx.type = 'html';
      ctx.set('Cache-Control', 'no-store');
      ctx.body = renderToString(ctx, name, data);
    },
  };
}
