import { type LimitKind, normalizeLabels, parseLimit } from '@warren/api';
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
          problem(() => normalizeLabels(args.value, args.property)) ?? `${args.property}: invalid`,
      },
    });
}

/** What is wrong with a concurrency / maxErrors value (`5`, `"5"`, `"25%"`), naming the field, or null. */
function limitSpecProblem(value: unknown, kind: LimitKind): string | null {
  return problem(() => parseLimit(value, kind));
}

/** Validates a count or a percentage of the task's hosts. */
export function IsLimitSpec(kind: LimitKind): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isLimitSpec',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate: (value: unknown) => limitSpecProblem(value, kind) === null,
        defaultMessage: (args: ValidationArguments) =>
          limitSpecProblem(args.value, kind) ?? `${args.property} is invalid`,
      },
    });
}

/**
 * Validates a field by one of `@warren/api`'s rules (`commandProblem`, `cwdProblem`, `envProblem`):
 * the rule returns what is wrong, naming the field, or null; the 400 says it as it is.
 */
export function FollowsRule(rule: (value: unknown, field: string) => string | null): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'followsRule',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate: (value: unknown, args?: ValidationArguments) => rule(value, args?.property ?? '') === null,
        defaultMessage: (args: ValidationArguments) => rule(args.value, args.property) ?? `${args.property} is invalid`,
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
