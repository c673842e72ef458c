import {
  Body,
  Controller,
  DefaultValuePipe,
  Get,
  HttpCode,
  Param,
  ParseIntPipe,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import type { DryRunAnswer, TaskAccepted, TaskList, TaskView } from '@warren/api';
import type { Response } from 'express';
import { AuditAs, Roles } from '../auth/auth.decorators';
import { ClientIp, CurrentPrincipal, type Principal } from '../auth/principal';
import { CreateTaskDto } from './dto/create-task.dto';
import { RerunTaskDto } from './dto/rerun-task.dto';
import { parseTaskListParams } from './task-list.query';
import { MAX_WAIT_MS, TaskReader } from './task-reader.service';
import { TasksService } from './tasks.service';

/** An AbortSignal that fires when the HTTP client goes away, so waits end with it. */
function clientGone(res: Response): AbortSignal {
  // The response's 'close' (not the request's, which fires once the body is read) means the
  // connection went away before we answered.
  const ac = new AbortController();
  res.on('close', () => ac.abort());
  return ac.signal;
}

@Controller('v1/tasks')
export class TasksController {
  constructor(
    private readonly tasks: TasksService,
    private readonly reader: TaskReader,
  ) {}

  /**
   * 202 with `{id, hosts, state, …}` once the broker has the commands; with `wait`, 200 and the
   * finished task; with `dryRun`, 200 and what the target resolved to (nothing stored or sent).
   */
  @Post()
  @HttpCode(202)
  @Roles('operator')
  @AuditAs('task.create')
  async create(
    @Body() dto: CreateTaskDto,
    @CurrentPrincipal() principal: Principal,
    @ClientIp() source: string | null,
    @Res({ passthrough: true }) res: Response,
  ): Promise<TaskAccepted | DryRunAnswer | TaskView> {
    const caller = { principal, source };
    if (dto.dryRun) {
      res.status(200);
      return this.tasks.dryRun(dto, caller);
    }
    const created = await this.tasks.create(dto, caller);
    if (!dto.wait) return created;
    res.status(200);
    return this.reader.waitForCompletion(created.id, caller, clientGone(res));
  }

  /** A new task: the same command on the hosts of `:id` in the states `only` names; 202, or 200 and the finished task with `wait`. */
  @Post(':id/rerun')
  @HttpCode(202)
  @Roles('operator')
  @AuditAs('task.rerun')
  async rerun(
    @Param('id') id: string,
    @Body() dto: RerunTaskDto,
    @CurrentPrincipal() principal: Principal,
    @ClientIp() source: string | null,
    @Res({ passthrough: true }) res: Response,
  ): Promise<TaskAccepted | TaskView> {
    const caller = { principal, source };
    const created = await this.tasks.rerun(id, dto, caller);
    if (!dto.wait) return created;
    res.status(200);
    return this.reader.waitForCompletion(created.id, caller, clientGone(res));
  }

  /** `GET /v1/tasks?limit=&state=&q=&createdBy=&since=&until=&before=`: newest first, filtered, one page. */
  @Get()
  @Roles('viewer')
  list(
    @Query('limit', new DefaultValuePipe(20), new ParseIntPipe()) limit: number,
    @Query('state') state: string | undefined,
    @Query('q') q: string | undefined,
    @Query('createdBy') createdBy: string | undefined,
    @Query('since') since: string | undefined,
    @Query('until') until: string | undefined,
    @Query('before') before: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @ClientIp() source: string | null,
  ): Promise<TaskList> {
    const filter = parseTaskListParams({ state, q, createdBy, since, until, before });
    return this.reader.list(Math.max(1, Math.min(1000, limit)), { principal, source }, filter);
  }

  @Get(':id')
  @Roles('viewer')
  get(
    @Param('id') id: string,
    @Query('waitMs', new DefaultValuePipe(0), new ParseIntPipe()) waitMs: number,
    @CurrentPrincipal() principal: Principal,
    @ClientIp() source: string | null,
    @Res({ passthrough: true }) res: Response,
  ): Promise<TaskView> {
    return this.reader.get(id, { principal, source }, Math.max(0, Math.min(MAX_WAIT_MS, waitMs)), clientGone(res));
  }
}
