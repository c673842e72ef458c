import { Controller, Get, Headers, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Roles } from '../auth/auth.decorators';
import { BadQueryError } from '../errors/errors';
import { ClientIp, CurrentPrincipal, type Principal } from '../auth/principal';
import { TaskReader } from '../tasks/task-reader.service';
import { TokenService } from '../auth/token.service';
import { HEARTBEAT_MS, SseSession } from './sse.session';
import { TaskEventLog } from './task-event.log';
import { parseEventId } from './task-log';

/** `GET /v1/tasks/:id/events`: a task's progress as Server-Sent Events (docs/streaming.md). */
@Controller('v1/tasks')
export class TaskEventsController {
  constructor(
    private readonly tasks: TaskReader,
    private readonly log: TaskEventLog,
    private readonly tokens: TokenService,
  ) {}

  /**
   * `started`, `output`, `result`, then `completed`, after which the response ends; resumable with
   * `Last-Event-ID`. 404 unknown task; 403 (audited) when a host is outside the token's patterns;
   * 400 for a `Last-Event-ID` that is not an id this API sends (`<epoch>.<seq>`). The stream ends
   * within `TOKEN_RECHECK_MS` (2 s) of the token being revoked.
   */
  @Get(':id/events')
  @Roles('viewer')
  async events(
    @Param('id') id: string,
    @Headers('last-event-id') lastEventId: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @ClientIp() source: string | null,
    @Res() res: Response,
  ): Promise<void> {
    if (lastEventId !== undefined && lastEventId.trim() !== '' && parseEventId(lastEventId) === null)
      throw new BadQueryError(
        `Last-Event-ID must be the id of an event of this stream (<epoch>.<seq>, e.g. 1a2b3c4d.17), got ${JSON.stringify(lastEventId).slice(0, 60)}`,
      );
    // The same existence and host-scope rules as GET /v1/tasks/:id, refused before any byte is sent.
    await this.tasks.get(id, { principal, source });
    // A token revoked while the stream is open ends it (revocation is written by another process, so it is polled).
    const stillAllowed = () => this.tokens.isActive(principal.tokenId);
    await new SseSession(res, this.log, id, HEARTBEAT_MS, stillAllowed).start(lastEventId);
  }
}
