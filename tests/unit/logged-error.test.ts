import { describe, expect, it } from 'vitest';

import { createLogger } from '../../src/logger.ts';
import { LogCapture } from '../support/idp.ts';

describe('errors in the log', () => {
  it('keep their kind, message, stack, code and cause, but not the objects libraries hang on them', () => {
    const capture = new LogCapture();
    const log = createLogger('info', capture);
    // As pg's pool reports an idle connection's failure: the client, with its connection settings, rides along.
    const failure = Object.assign(new Error('terminating connection due to administrator command', { cause: new Error('socket closed') }), {
      code: '57P01',
      client: { connectionParameters: { user: 'idp', password: 'hunter2-database-password' } },
      response: { headers: { authorization: 'Bearer secret-access-token' } },
    });
    log.warn({ err: failure }, 'an idle database connection failed');

    const [line] = capture.lines;
    expect(line!.err).toMatchObject({ type: 'Error', message: 'terminating connection due to administrator command', code: '57P01', cause: { message: 'socket closed' } });
    expect(line!.err.stack).toMatch(/^Error: terminating connection/);
    expect(capture.raw).not.toContain('hunter2');
    expect(capture.raw).not.toContain('secret-access-token');
  });
});
