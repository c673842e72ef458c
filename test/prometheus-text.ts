/** One sample line of the Prometheus text exposition format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A parsed `/metrics` body: metric families' TYPE and HELP, and every sample. */
export class Exposition {
  readonly types = new Map<string, string>();
  readonly help = new Map<string, string>();
  readonly samples: Sample[] = [];

  /** Parses text format 0.0.4; throws on a line it cannot read, so a malformed body fails the test. */
  constructor(text: string) {
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$/.exec(line);
      if (meta) {
        (meta[1] === 'TYPE' ? this.types : this.help).set(meta[2], meta[3]);
        continue;
      }
      if (line.startsWith('#')) continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/.exec(line);
      if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
      const labels: Record<string, string> = {};
      const rest = (m[2] ?? '').replace(
        /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g,
        (_all, k: string, v: string) => {
          labels[k] = v.replace(/\\(.)/g, (_e, c: string) => (c === 'n' ? '\n' : c));
          return '';
        },
      );
      if (rest !== '') throw new Error(`bad labels in ${JSON.stringify(line)}`);
      this.samples.push({ name: m[1], labels, value: parseValue(m[3], line) });
    }
  }

  /** The value of the one sample named `name` whose labels include `labels`; undefined if none. */
  value(name: string, labels: Record<string, string> = {}): number | undefined {
    const found = this.samples.filter(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
    if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
    return found[0]?.value;
  }
}

/** As Prometheus reads values (Go's ParseFloat): NaN and Inf in any case; prom-client writes `Nan`. */
function parseValue(v: string, line: string): number {
  if (/^nan$/i.test(v)) return Number.NaN;
  if (/^\+?inf$/i.test(v)) return Number.POSITIVE_INFINITY;
  if (/^-inf$/i.test(v)) return Number.NEGATIVE_INFINITY;
  const n = Number(v);
  if (v === '' || Number.isNaN(n)) throw new Error(`bad value in ${JSON.stringify(line)}`);
  return n;
}
