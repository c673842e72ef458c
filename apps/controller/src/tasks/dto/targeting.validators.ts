import { normalizeLabels } from '@warren/api';
import { registerDecorator, type ValidationArguments } from 'class-validator';

/** Validates a label selector: `{k: v}` or `["k=v", …]`, by the one label rule ({@link normalizeLabels}). */
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
