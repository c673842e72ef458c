import { Controller, Get, Res } from '@nestjs/common';
import type { Response } from 'express';
import { BrokerService } from '../broker/broker.service';

@Controller('healthz')
export class HealthController {
  constructor(private readonly broker: BrokerService) {}

  /** 200 when the broker connection is up, 503 otherwise (the API still answers reads). */
  @Get()
  health(@Res() res: Response): void {
    const connected = this.broker.connected;
    res.status(connected ? 200 : 503).json({ status: connected ? 'ok' : 'degraded', broker: connected ? 'connected' : 'disconnected' });
  }
}
