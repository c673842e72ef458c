import { ENV_NAME_PATTERN, HOST_ID_PATTERN, LIMITS } from '@warren/protocol';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  IsArray,
  IsBoolean,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  registerDecorator,
  type ValidationArguments,
} from 'class-validator';

/** Validates an object of env variables: names `[A-Za-z_][A-Za-z0-9_]*`, string values, bounded. */
function IsEnvMap(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isEnvMap',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate(value: unknown) {
          if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
          const entries = Object.entries(value);
          return (
            entries.length <= LIMITS.envCount &&
            entries.every(([k, v]) => ENV_NAME_PATTERN.test(k) && typeof v === 'string' && v.length <= LIMITS.envValueLength)
          );
        },
        defaultMessage(args: ValidationArguments) {
          return `${args.property} must be an object of at most ${LIMITS.envCount} NAME: "string" pairs, names matching ${ENV_NAME_PATTERN.source}`;
        },
      },
    });
}

/** Body of `POST /v1/tasks`. Unknown fields are refused by the global ValidationPipe. */
export class CreateTaskDto {
  /** run on each host as `/bin/sh -c <command>` */
  @IsString()
  @IsNotEmpty()
  @MaxLength(LIMITS.commandLength)
  command: string;

  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(LIMITS.hostsPerTask)
  @IsString({ each: true })
  @Matches(HOST_ID_PATTERN, { each: true, message: 'each value in hosts must be a host id (letters, digits, . _ -, at most 63 characters)' })
  hosts: string[];

  /** ms; execution timeout, enforced by the agent */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(LIMITS.maxTimeoutMs)
  timeoutMs?: number;

  /** ms; how long a command may wait for its agent */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(LIMITS.maxDeliveryTimeoutMs)
  deliveryTimeoutMs?: number;

  /** ms; SIGTERM → SIGKILL grace */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(LIMITS.maxKillGraceMs)
  killGraceMs?: number;

  @IsOptional()
  @IsEnvMap()
  env?: Record<string, string>;

  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(LIMITS.cwdLength)
  cwd?: string;

  /** hold the request until the task completes */
  @IsOptional()
  @IsBoolean()
  wait?: boolean;
}

/** Defaults applied when a body leaves a field out. */
export const TASK_DEFAULTS = {
  /** ms; like pssh's default, long enough for most ad-hoc commands */
  timeoutMs: 60_000,
  /** ms */
  deliveryTimeoutMs: 60_000,
  /** ms */
  killGraceMs: 5_000,
} as const;
