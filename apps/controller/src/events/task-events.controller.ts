import { Controller, Get, Headers, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Roles } from '../auth/auth.decorators';
import { BadQueryError } from '../errors/errors';
import { ClientIp, CurrentPrincipal, type Principal } from '../auth/principal';
import { TaskReader } from '../tasks/task-reader.service';
import { TokenService } from '../auth/token.service';
import { parseLastEventId } from './event-id';
import { EventStreamSlots } from './event-stream.slots';
import { HEARTBEAT_MS, SseSession } from './sse.session';
import { TaskEvents } from './task-events.service';

/** `GET /v1/tasks/:id/events`: a task's progress as Server-Sent Events (docs/streaming.md). */
@Controller('v1/tasks')
export class TaskEventsController {
  constructor(
    private readonly tasks: TaskReader,
    private readonly feeds: TaskEvents,
    private readonly tokens: TokenService,
    private readonly slots: EventStreamSlots,
  ) {}

  /**
   * `started`, `output`, `result`, then `completed`, after which the response ends; resumable on
   * any controller with `Last-Event-ID` (`<offset>-<k>`; an id of the per-controller logs before the
   * events stream, `<8 hex>.<seq>`, starts from the beginning). 404 unknown task; 403 (audited) when
   * a host is outside the token's patterns; 400 for any other `Last-Event-ID`; 503 with
   * `Retry-After` when this controller already serves `--max-event-streams` streams
   * ({@link EventStreamSlots}). The stream ends within `TOKEN_RECHECK_MS` (2 s) of the token being
   * revoked.
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
    const last = parseLastEventId(lastEventId);
    if (last.kind === 'invalid')
      throw new BadQueryError(
        `Last-Event-ID must be the id of an event of this stream (<offset>-<k>, e.g. 1042-0), got ${JSON.stringify(lastEventId).slice(0, 60)}`,
      );
    // The same existence and host-scope rules as GET /v1/tasks/:id, refused before any byte is sent.
    const task = await this.tasks.get(id, { principal, source });
    // A token revoked while the stream is open ends it (revocation is written by another process, so it is polled).
    const stillAllowed = () => this.tokens.isActive(principal.tokenId);
    // Taken after every await, so no refusal above can leak a slot; given back when the response closes, however it ends.
    const release = this.slots.take();
    // A client gone during the awaits above closed `res` already: a 'close' listener added now would never run.
    if (res.destroyed || res.closed) return release();
    res.once('close', release);
    const session = new SseSession(
      res,
      this.feeds,
      { id, createdAt: Date.parse(task.createdAt) },
      HEARTBEAT_MS,
      stillAllowed,
    );
    session.start(last.kind === 'position' ? last.at : null);
  }
}
