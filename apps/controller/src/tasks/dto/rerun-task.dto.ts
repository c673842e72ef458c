import type { RerunRequest } from '@warren/api';
import { type InvocationState, TERMINAL_STATES } from '@warren/protocol';
import { ArrayMaxSize, ArrayNotEmpty, IsArray, IsBoolean, IsIn, IsOptional } from 'class-validator';
import { IsLimitSpec } from './targeting.validators';

/** States a re-run may pick hosts by: the terminal ones (a host still running is not re-run under it). */
export const RERUNNABLE_STATES = [...TERMINAL_STATES] as InvocationState[];

/** What `only` is when left out: every host that did not succeed. */
export const DEFAULT_RERUN_STATES = RERUNNABLE_STATES.filter((s) => s !== 'succeeded');

/** Body of `POST /v1/tasks/:id/rerun`. */
export class RerunTaskDto implements RerunRequest {
  /** re-run the hosts whose invocation ended in one of these states; default: every state but succeeded */
  @IsOptional()
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(RERUNNABLE_STATES.length)
  @IsIn(RERUNNABLE_STATES, {
    each: true,
    message: `each value in only must be a finished state: ${RERUNNABLE_STATES.join(', ')}`,
  })
  only?: InvocationState[];

  /** default: the original task's */
  @IsOptional()
  @IsLimitSpec('concurrency')
  concurrency?: number | string;

  /** default: the original task's */
  @IsOptional()
  @IsLimitSpec('maxErrors')
  maxErrors?: number | string;

  /** hold the request until the new task completes */
  @IsOptional()
  @IsBoolean()
  wait?: boolean;
}
