import { commandProblem, type CreateTaskRequest, cwdProblem, envProblem } from '@warren/api';
import { LIMITS, SHA256_HEX_PATTERN } from '@warren/protocol';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  IsArray,
  IsBoolean,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { FollowsRule, IsLabelSelector, IsLimitSpec } from './targeting.validators';
import { GetDto, IsOneTaskKind, PutDto } from './transfer.dto';

/** chars; one host pattern (a name is at most 63; ranges and globs a little more) */
export const HOST_PATTERN_LENGTH = 255;

/** What a host pattern may be made of; its syntax is checked when the target is resolved (400 naming it). */
const HOST_PATTERN_CHARS = /^[A-Za-z0-9._*?,[\]-]+$/;

/** User names `runAs` may hold: the portable POSIX-ish shape useradd accepts. */
export const RUN_AS_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/;

/** What is wrong with `command` (absent is fine: a put or get has none), naming it, or null. */
function optionalCommandProblem(value: unknown, field: string): string | null {
  if (value === undefined) return null;
  if (typeof value !== 'string') return `${field} must be a string`;
  if (value === '') return `${field} should not be empty`;
  return commandProblem(value, field);
}

/** Body of `POST /v1/tasks`. Unknown fields are refused by the global ValidationPipe. */
export class CreateTaskDto implements CreateTaskRequest {
  /**
   * run on each host as `/bin/sh -c <command>`. Exactly one of command, put or get: checked here for
   * the whole body ({@link IsOneTaskKind}), since this field is validated even when absent.
   */
  @IsOneTaskKind()
  @FollowsRule(optionalCommandProblem)
  command?: string;

  /** write an uploaded file on each host instead of running a command (`warren cp`) */
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => PutDto)
  put?: PutDto;

  /** read a file from each host instead of running a command (`warren fetch`) */
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => GetDto)
  get?: GetDto;

  /** SHA-256 of an uploaded file fed to `command`'s standard input on every host; only with command */
  @IsOptional()
  @IsString()
  @Matches(SHA256_HEX_PATTERN, { message: 'stdin must be the lowercase hex SHA-256 of an uploaded file' })
  stdin?: string;

  /**
   * host names, ranges (`web[01-20]`) and globs (`web*`, matched among online hosts); with
   * `labels`, only those of them that also have the labels. One of hosts, labels or all is required.
   * The glob count (at most 100) and the names' running total (at most 10000) are checked by
   * `planTarget` before anything is matched or expanded.
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

  /** `{"zone": "eu"}` or `["zone=eu"]`: hosts (online, accepted) whose accepted labels have every pair */
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

  /** variables set for the command; see {@link envProblem} */
  @IsOptional()
  @FollowsRule(envProblem)
  env?: Record<string, string>;

  /** absolute working directory on each host; default: the agent's own */
  @IsOptional()
  @FollowsRule(cwdProblem)
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
