import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ttyConfirmer } from './confirm.prompt';

function terminal(isTTY: boolean) {
  const input = Object.assign(new PassThrough(), { isTTY }) as unknown as NodeJS.ReadStream & PassThrough;
  const output = new PassThrough();
  let shown = '';
  output.on('data', (b: Buffer) => (shown += b.toString()));
  return { input, output, shown: () => shown };
}

describe('ttyConfirmer', () => {
  it('is interactive only when stdin is a terminal', () => {
    expect(ttyConfirmer(terminal(true).input).interactive).toBe(true);
    expect(ttyConfirmer(terminal(false).input).interactive).toBe(false);
  });

  it.each([
    ['y\n', true],
    ['YES\n', true],
    ['\n', false],
    ['n\n', false],
    ['yes please\n', false],
  ])('takes %j as %s', async (typed, expected) => {
    const t = terminal(true);
    const answer = ttyConfirmer(t.input, t.output).ask('Run it? [y/N] ');
    t.input.write(typed);
    expect(await answer).toBe(expected);
    expect(t.shown()).toContain('Run it? [y/N] ');
  });

  it('takes the end of input (Ctrl-D) as no', async () => {
    const t = terminal(true);
    const answer = ttyConfirmer(t.input, t.output).ask('Run it? [y/N] ');
    t.input.end();
    expect(await answer).toBe(false);
  });
});
