import { describe, expect, it } from 'vitest';
import { ConfigError, loadControllerConfig } from './controller.config';

describe('loadControllerConfig', () => {
  it('takes defaults, then the environment, then flags', () => {
    expect(loadControllerConfig([], {})).toMatchObject({
      port: 7070,
      namespace: 'warren',
      bind: '127.0.0.1',
      resultGraceMs: 5000,
    });
    expect(
      loadControllerConfig([], { WARREN_PORT: '8080', WARREN_NAMESPACE: 'prod', WARREN_RESULT_GRACE: '2s' }),
    ).toMatchObject({ port: 8080, namespace: 'prod', resultGraceMs: 2000 });
    expect(loadControllerConfig(['--port', '9090'], { WARREN_PORT: '8080' }).port).toBe(9090);
  });

  it('refuses bad settings with one line naming the setting', () => {
    expect(() => loadControllerConfig(['--port', 'x'], {})).toThrow(ConfigError);
    expect(() => loadControllerConfig([], { WARREN_NAMESPACE: 'bad ns' })).toThrow(/--namespace/);
    expect(() => loadControllerConfig(['--broker', 'http://x'], {})).toThrow(/amqp/);
    expect(() => loadControllerConfig(['--bogus'], {})).toThrow(/unknown option/);
  });
});
