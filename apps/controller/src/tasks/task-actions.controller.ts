import type { CancelTaskRequest, TaskCancelled } from '@warren/api';
import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ArrayMaxSize, IsArray, IsOptional, IsString, Matches } from 'class-validator';
import { HOST_ID_PATTERN, LIMITS } from '@warren/protocol';
import { AuditAs, Roles } from '../auth/auth.decorators';
import { ClientIp, CurrentPrincipal, type Principal } from '../auth/principal';
import { CancelService } from './cancel.service';

/** Body of `POST /v1/tasks/:id/cancel`. */
export class CancelTaskDto implements CancelTaskRequest {
  /** cancel on these hosts only; default: every host of the task */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(LIMITS.hostsPerTask)
  @IsString({ each: true })
  @Matches(HOST_ID_PATTERN, { each: true, message: 'hosts must be host ids' })
  hosts?: string[];
}

/** Actions on an existing task. */
@Controller('v1/tasks')
export class TaskActionsController {
  constructor(private readonly cancels: CancelService) {}

  /** 200 `{id, cancelled, killing, state}`; 404 unknown task; 403 hosts outside the token's patterns. */
  @Post(':id/cancel')
  @HttpCode(200)
  @Roles('operator')
  @AuditAs('task.cancel')
  cancel(
    @Param('id') id: string,
    @Body() dto: CancelTaskDto,
    @CurrentPrincipal() principal: Principal,
    @ClientIp() ip: string | null,
  ): Promise<TaskCancelled> {
    return this.cancels.cancel(id, dto.hosts, { principal, ip });
  }
}
