import { describe, expect, it } from 'vitest';
import { IS_PUBLIC, REQUIRED_ROLE } from '../auth/auth.decorators';
import { loadControllerConfig } from '../config/controller.config';
import { metricsController } from './metrics.controller';

/** What the global auth guard reads off the `/metrics` handler the configuration picks. */
function access(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const handler = metricsController(loadControllerConfig(argv, env)).prototype.scrape;
  return {
    public: Reflect.getMetadata(IS_PUBLIC, handler) === true,
    role: Reflect.getMetadata(REQUIRED_ROLE, handler) as string | undefined,
  };
}

describe('metricsController', () => {
  it('needs a viewer token by default', () => {
    expect(access([])).toEqual({ public: false, role: 'viewer' });
    expect(access([], { WARREN_METRICS_PUBLIC: '0' })).toEqual({ public: false, role: 'viewer' });
  });

  it('is public with --metrics-public or WARREN_METRICS_PUBLIC=1', () => {
    expect(access(['--metrics-public'])).toEqual({ public: true, role: undefined });
    expect(access([], { WARREN_METRICS_PUBLIC: '1' })).toEqual({ public: true, role: undefined });
  });
});
