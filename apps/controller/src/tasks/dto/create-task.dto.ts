import type { CreateTaskRequest } from '@warren/api';
import { ENV_NAME_PATTERN, LIMITS } from '@warren/protocol';
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
  MinLength,
  registerDecorator,
  type ValidationArguments,
} from 'class-validator';
import { IsLabelSelector, IsLimitSpec } from './targeting.validators';

/**
 * chars; names plus values of one task's env together. Without it 128 × 32 KiB values would make
 * a command message far over the agent's LIMITS.maxCommandMessageBytes, refused on every host.
 */
export const ENV_TOTAL_LENGTH = 128 * 1024;

/** chars; one host pattern (a name is at most 63; ranges and globs a little more) */
export const HOST_PATTERN_LENGTH = 255;

/** What a host pattern may be made of; its syntax is checked when the target is resolved (400 naming it). */
const HOST_PATTERN_CHARS = /^[A-Za-z0-9._*?,[\]-]+$/;

/** User names `runAs` may hold: the portable POSIX-ish shape useradd accepts. */
export const RUN_AS_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/;

/** Validates an object of env variables: names `[A-Za-z_][A-Za-z0-9_]*`, string values, bounded in count, each value and in total. */
function IsEnvMap(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isEnvMap',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate(value: unknown) {
          if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
          return envProblem(value) === null;
        },
        defaultMessage(args: ValidationArguments) {
          return `${args.property}: ${envProblem(args.value) ?? 'invalid'}`;
        },
      },
    });
}

/** What is wrong with an env object, in words, or null when nothing is. */
function envProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return 'must be an object of NAME: "value" pairs';
  const entries = Object.entries(value);
  if (entries.length > LIMITS.envCount) return `has ${entries.length} variables; at most ${LIMITS.envCount}`;
  let total = 0;
  for (const [k, v] of entries) {
    if (!ENV_NAME_PATTERN.test(k))
      return `name ${JSON.stringify(k.slice(0, 64))} must match ${ENV_NAME_PATTERN.source}`;
    if (typeof v !== 'string') return `value of ${k} must be a string`;
    if (v.length > LIMITS.envValueLength)
      return `value of ${k} is ${v.length} characters; at most ${LIMITS.envValueLength}`;
    total += k.length + v.length;
  }
  if (total > ENV_TOTAL_LENGTH) return `names and values add up to ${total} characters; at most ${ENV_TOTAL_LENGTH}`;
  return null;
}

/** Body of `POST /v1/tasks`. Unknown fields are refused by the global ValidationPipe. */
export class CreateTaskDto implements CreateTaskRequest {
  /** run on each host as `/bin/sh -c <command>` */
  @IsString()
  @IsNotEmpty()
  @MaxLength(LIMITS.commandLength)
  command: string;

  /**
   * host names, ranges (`web[01-20]`) and globs (`web*`, matched among online hosts); with
   * `labels`, only those of them that also have the labels. One of hosts, labels or all is required.
   */
  @IsOptional()
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(LIMITS.hostsPerTask)
  @IsString({ each: true })
  @MinLength(1, { each: true, message: 'each value in hosts must be a host id, a range or a glob; found an empty one' })
  @MaxLength(HOST_PATTERN_LENGTH, { each: true })
  @Matches(HOST_PATTERN_CHARS, {
    each: true,
    message: 'each value in hosts must be a host id (letters, digits, . _ -), a range (web[01-20]) or a glob (web*)',
  })
  hosts?: string[];

  /** `{"zone": "eu"}` or `["zone=eu"]`: hosts (online, accepted) whose labels have every pair */
  @IsOptional()
  @IsLabelSelector()
  labels?: Record<string, string> | string[];

  /** every online host with an accepted key (narrowed by labels); not with hosts */
  @IsOptional()
  @IsBoolean()
  all?: boolean;

  /** resolve the target and answer 200 `{hosts, count, …}`; nothing is stored or sent */
  @IsOptional()
  @IsBoolean()
  dryRun?: boolean;

  /** rolling run: at most this many hosts (`5`) or this share of them (`"25%"`) at once */
  @IsOptional()
  @IsLimitSpec('concurrency')
  concurrency?: number | string;

  /** rolling run: once more than this many hosts (`1`, `"10%"`) did not succeed, the hosts not started yet are `skipped`; needs concurrency */
  @IsOptional()
  @IsLimitSpec('maxErrors')
  maxErrors?: number | string;

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

  /** user the agents run the command as (their policy decides which are allowed); default: the agent's policy default */
  @IsOptional()
  @IsString()
  @Matches(RUN_AS_PATTERN, {
    message: 'runAs must be a user name: a lowercase letter or _, then up to 31 of a-z 0-9 _ -',
  })
  runAs?: string;

  /** false: agents send no live output (no `output` events), only each host's result; default true */
  @IsOptional()
  @IsBoolean()
  live?: boolean;

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
