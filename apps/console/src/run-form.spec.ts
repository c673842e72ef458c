import { describe, expect, it } from 'vitest';
import { EMPTY, previewProblem, requestOf } from './run-form';

describe('the Run form', () => {
  it('asks the API for what was typed: patterns split as the CLI does, durations in ms, env lines', () => {
    expect(
      requestOf({
        ...EMPTY,
        command: 'uptime',
        hosts: 'web[01-03],db1  cache*',
        timeout: '30s',
        deliveryTimeout: '2m',
        concurrency: '25%',
        maxErrors: '1',
        env: 'A=1\nB=x=y\n',
        cwd: '/tmp',
      }),
    ).toEqual({
      command: 'uptime',
      hosts: ['web[01-03]', 'db1', 'cache*'],
      timeoutMs: 30_000,
      deliveryTimeoutMs: 120_000,
      concurrency: '25%',
      maxErrors: '1',
      env: { A: '1', B: 'x=y' },
      cwd: '/tmp',
    });
    expect(requestOf({ ...EMPTY, command: 'x', target: 'all', labels: 'zone=eu' })).toMatchObject({
      all: true,
      labels: ['zone=eu'],
    });
    expect(() => requestOf({ ...EMPTY, command: 'x', hosts: 'a', timeout: 'soon' })).toThrow(/Timeout/);
  });

  it('previews nothing the controller would refuse (each refusal is an audit record)', () => {
    expect(previewProblem({ ...EMPTY, hosts: 'web[01-' })).toMatch(/hosts/);
    expect(previewProblem({ ...EMPTY, target: 'labels', labels: 'zone' })).toMatch(/key=value/);
    expect(previewProblem({ ...EMPTY, hosts: 'a', maxErrors: '1' })).toMatch(/concurrency/);
    expect(previewProblem({ ...EMPTY, hosts: 'a', concurrency: '0' })).toMatch(/concurrency/);
    expect(previewProblem({ ...EMPTY, hosts: 'web[01-20] db*', concurrency: '5', maxErrors: '10%' })).toBeNull();
  });
});
