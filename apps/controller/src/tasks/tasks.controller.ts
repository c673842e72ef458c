import { Body, Controller, DefaultValuePipe, Get, HttpCode, Param, ParseIntPipe, Post, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { CreateTaskDto } from './dto/create-task.dto';
import { MAX_WAIT_MS, TasksService } from './tasks.service';

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
  constructor(private readonly tasks: TasksService) {}

  /** 202 with `{id, hosts, state}` once the broker has the commands; with `wait`, 200 and the finished task. */
  @Post()
  @HttpCode(202)
  async create(@Body() dto: CreateTaskDto, @Res({ passthrough: true }) res: Response) {
    const created = await this.tasks.create(dto);
    if (!dto.wait) return created;
    res.status(200);
    return this.tasks.waitForCompletion(created.id, clientGone(res));
  }

  @Get()
  list(@Query('limit', new DefaultValuePipe(20), new ParseIntPipe()) limit: number) {
    return this.tasks.list(Math.max(1, Math.min(1000, limit)));
  }

  @Get(':id')
  get(@Param('id') id: string, @Query('waitMs', new DefaultValuePipe(0), new ParseIntPipe()) waitMs: number, @Res({ passthrough: true }) res: Response) {
    return this.tasks.get(id, Math.max(0, Math.min(MAX_WAIT_MS, waitMs)), clientGone(res));
  }
}
