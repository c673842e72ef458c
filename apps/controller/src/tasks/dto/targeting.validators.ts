import { registerDecorator, type ValidationArguments } from 'class-validator';

/** Label keys, as agents accept them (`--labels`): like host ids, plus `/` (`k8s.io/zone`). */
export const LABEL_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/;
/** Most label pairs one selector may AND together. */
export const MAX_LABEL_PAIRS = 64;
/** chars of one label value, as agents accept them */
const LABEL_VALUE_LENGTH = 256;

/**
 * A label selector as `{k: v}` or `["k=v", …]`, as a plain object; throws a message naming
 * the bad pair. Every pair must hold (AND); a key given twice with different values is an error,
 * since no host can have both.
 */
export function normalizeLabels(value: unknown): Record<string, string> {
  let pairs: [string, unknown][];
  if (Array.isArray(value)) {
    pairs = value.map((item) => {
      if (typeof item !== 'string') throw new Error('each label must be a "key=value" string');
      const eq = item.indexOf('=');
      if (eq <= 0) throw new Error(`label ${JSON.stringify(item.slice(0, 80))} must be key=value`);
      return [item.slice(0, eq), item.slice(eq + 1)];
    });
  } else if (typeof value === 'object' && value !== null) {
    pairs = Object.entries(value);
  } else {
    throw new Error('must be an object of key: "value" pairs or an array of "key=value" strings');
  }
  if (pairs.length > MAX_LABEL_PAIRS) throw new Error(`has ${pairs.length} pairs; at most ${MAX_LABEL_PAIRS}`);
  const out: Record<string, string> = {};
  for (const [k, v] of pairs) {
    if (!LABEL_KEY_PATTERN.test(k))
      throw new Error(`key ${JSON.stringify(k.slice(0, 80))} must match ${LABEL_KEY_PATTERN.source}`);
    if (typeof v !== 'string') throw new Error(`value of ${k} must be a string`);
    if (v.length > LABEL_VALUE_LENGTH) throw new Error(`value of ${k} is longer than ${LABEL_VALUE_LENGTH} characters`);
    if (k in out && out[k] !== v) throw new Error(`${k} is given twice (${out[k]}, ${v}); no host can have both`);
    out[k] = v;
  }
  return out;
}

/** Validates a label selector (see {@link normalizeLabels}). */
export function IsLabelSelector(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isLabelSelector',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate: (value: unknown) => problem(() => normalizeLabels(value)) === null,
        defaultMessage: (args: ValidationArguments) =>
          `${args.property}: ${problem(() => normalizeLabels(args.value)) ?? 'invalid'}`,
      },
    });
}

const PERCENT = /^\d+(?:\.\d+)?%$/;

/** What is wrong with a concurrency / maxErrors value (`5`, `"25%"`), or null. */
export function limitSpecProblem(value: unknown, kind: 'concurrency' | 'maxErrors'): string | null {
  const min = kind === 'concurrency' ? 1 : 0;
  if (typeof value === 'number')
    return Number.isInteger(value) && value >= min && value <= 1_000_000
      ? null
      : `must be a whole number of at least ${min}, or a percentage like "25%"`;
  if (typeof value !== 'string' || !PERCENT.test(value))
    return `must be a whole number of at least ${min}, or a percentage like "25%"`;
  const pct = Number(value.slice(0, -1));
  if (pct > 100) return 'a percentage must be at most 100%';
  if (kind === 'concurrency' && pct <= 0) return 'a percentage must be above 0%';
  return null;
}

/** Validates a count or a percentage of the task's hosts. */
export function IsLimitSpec(kind: 'concurrency' | 'maxErrors'): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isLimitSpec',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate: (value: unknown) => limitSpecProblem(value, kind) === null,
        defaultMessage: (args: ValidationArguments) =>
          `${args.property} ${limitSpecProblem(args.value, kind) ?? 'is invalid'}`,
      },
    });
}

function problem(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}
