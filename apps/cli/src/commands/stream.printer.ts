import type { OutputEventData, ResultEventData } from '@warren/api';
import type { OutStream } from '../cli.io';
import { painter } from '../render/colors';
import { escapeControls } from '../render/terminal.safe';

type StreamName = OutputEventData['stream'];

/** The part of an `output` event's data the printer reads. */
export type OutputEvent = Pick<OutputEventData, 'host' | 'stream' | 'offset' | 'data'>;

/** The part of a `result` event's data the printer reads: the whole stored output. */
export type ResultEvent = Pick<ResultEventData, 'host' | 'stdout' | 'stderr'>;

interface StreamState {
  /** bytes of the stream's text printed (or held as a partial line) */
  printed: number;
  /** text after the last newline, printed when the line completes or the host ends */
  partial: string;
  /** a chunk was missed: print nothing more live, the result fills in the rest */
  gap: boolean;
}

/**
 * Prints live output as `host | line` (stdout) and `host ! line` (stderr), whole lines only, and
 * each byte once: chunks are placed by their offset, so a chunk seen twice (a replay after a
 * reconnect) prints nothing twice, and when a chunk was missed (dropped by a bounded log, or lost
 * in a broker outage) the stream waits for the host's result, which holds the whole output, and
 * prints from there whatever was not printed yet. A host's unfinished last line is printed when
 * its result arrives.
 */
export class StreamPrinter {
  private readonly hosts = new Map<string, Record<StreamName, StreamState>>();
  private readonly mark: Record<StreamName, string>;

  /**
   * @param color paint the stderr mark
   * @param raw `--raw`: print the output as it came; otherwise each line is escaped ({@link escapeControls})
   */
  constructor(
    private readonly out: OutStream,
    color: boolean,
    private readonly raw = false,
  ) {
    const paint = painter(color);
    this.mark = { stdout: '|', stderr: paint('!', 'failed') };
  }

  output(e: OutputEvent): void {
    const s = this.state(e.host)[e.stream];
    if (s.gap) return;
    if (e.offset > s.printed) {
      s.gap = true;
      return;
    }
    const bytes = Buffer.from(e.data, 'utf8');
    const end = e.offset + bytes.length;
    if (end <= s.printed) return;
    const fresh = e.offset === s.printed ? e.data : bytes.subarray(s.printed - e.offset).toString('utf8');
    s.printed = end;
    this.emit(e.host, e.stream, fresh);
  }

  result(e: ResultEvent): void {
    const streams = this.state(e.host);
    for (const name of ['stdout', 'stderr'] as const) {
      const s = streams[name];
      const whole = Buffer.from(e[name], 'utf8');
      if (whole.length > s.printed) {
        this.emit(e.host, name, whole.subarray(s.printed).toString('utf8'));
        s.printed = whole.length;
      }
      s.gap = false;
      if (s.partial !== '') this.line(e.host, name, s.partial);
      s.partial = '';
    }
  }

  private state(host: string): Record<StreamName, StreamState> {
    let st = this.hosts.get(host);
    if (!st)
      this.hosts.set(
        host,
        (st = { stdout: { printed: 0, partial: '', gap: false }, stderr: { printed: 0, partial: '', gap: false } }),
      );
    return st;
  }

  private emit(host: string, stream: StreamName, text: string): void {
    const s = this.state(host)[stream];
    const lines = (s.partial + text).split('\n');
    s.partial = lines.pop()!;
    for (const l of lines) this.line(host, stream, l);
  }

  private line(host: string, stream: StreamName, text: string): void {
    this.out.write(`${escapeControls(host)} ${this.mark[stream]} ${this.raw ? text : escapeControls(text)}\n`);
  }
}
