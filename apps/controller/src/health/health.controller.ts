import { Controller, Get, Res } from '@nestjs/common';
import type { Health } from '@warren/api';
import type { Response } from 'express';
import { Public } from '../auth/auth.decorators';
import { BrokerService } from '../broker/broker.service';

@Controller('healthz')
export class HealthController {
  constructor(private readonly broker: BrokerService) {}

  /** 200 when the broker connection is up, 503 otherwise (the API still answers reads). */
  /** Public: load balancers and the quick start probe it without a token; it reveals nothing but liveness. */
  @Get()
  @Public()
  health(@Res() res: Response): void {
    const connected = this.broker.connected;
    const body: Health = { status: connected ? 'ok' : 'degraded', broker: connected ? 'connected' : 'disconnected' };
    res.status(connected ? 200 : 503).json(body);
  }
}
