import { describe, expect, it } from 'vitest';
import { StreamPrinter } from './stream.printer';

function printer() {
  let text = '';
  const p = new StreamPrinter({ write: (s: string) => (text += s) }, false);
  return { p, out: () => text };
}
const out = (host: string, offset: number, data: string, stream: 'stdout' | 'stderr' = 'stdout') => ({
  host,
  stream,
  offset,
  data,
});

describe('StreamPrinter', () => {
  it('prints whole lines as they complete, host first, stderr marked with !', () => {
    const { p, out: text } = printer();
    p.output(out('web1', 0, 'one\ntw'));
    expect(text()).toBe('web1 | one\n');
    p.output(out('web1', 6, 'o\n'));
    p.output(out('web1', 0, 'oops\n', 'stderr'));
    expect(text()).toBe('web1 | one\nweb1 | two\nweb1 ! oops\n');
  });

  it('prints each byte once when a reconnect replays chunks it already had, even overlapping ones', () => {
    const { p, out: text } = printer();
    p.output(out('web1', 0, 'a\n'));
    p.output(out('web1', 2, 'b\n'));
    p.output(out('web1', 0, 'a\n')); // replayed
    p.output(out('web1', 2, 'b\nc\n')); // overlaps what was printed
    p.result({ host: 'web1', stdout: 'a\nb\nc\n', stderr: '' });
    expect(text()).toBe('web1 | a\nweb1 | b\nweb1 | c\n');
  });

  it('after a missed chunk, holds that stream and prints the rest from the result, in order and once', () => {
    const { p, out: text } = printer();
    p.output(out('web1', 0, 'a\n'));
    p.output(out('web1', 4, 'c\n')); // b\n was missed
    p.output(out('web2', 0, 'x\n'));
    expect(text()).toBe('web1 | a\nweb2 | x\n');
    p.result({ host: 'web1', stdout: 'a\nb\nc\nd\n', stderr: 'e\n' });
    expect(text()).toBe('web1 | a\nweb2 | x\nweb1 | b\nweb1 | c\nweb1 | d\nweb1 ! e\n');
  });

  it('prints an unfinished last line and a result-only host (nothing streamed) when the result comes', () => {
    const { p, out: text } = printer();
    p.output(out('web1', 0, 'no newline'));
    p.result({ host: 'web1', stdout: 'no newline', stderr: '' });
    p.result({ host: 'db1', stdout: 'é\n', stderr: '' });
    p.result({ host: 'db1', stdout: 'é\n', stderr: '' }); // a second result (state corrected) repeats nothing
    expect(text()).toBe('web1 | no newline\ndb1 | é\n');
  });
});
