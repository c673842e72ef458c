import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { Health } from '@warren/api';
import type { Response } from 'express';
import { Public } from '../auth/auth.decorators';
import { BrokerService } from '../broker/broker.service';
import { STORES } from '../store/store.module';
import type { Stores } from '../store/stores';

@Controller('healthz')
export class HealthController {
  constructor(
    private readonly broker: BrokerService,
    @Inject(STORES) private readonly stores: Stores,
  ) {}

  /**
   * 200 when the broker connection is up and the database answers, 503 otherwise (the API still
   * answers what it can). Public: load balancers and the quick start probe it without a token; it
   * reveals nothing but liveness.
   */
  @Get()
  @Public()
  async health(@Res() res: Response): Promise<void> {
    const connected = this.broker.connected;
    const database = await this.stores.ping().then(
      () => 'ok' as const,
      () => 'unavailable' as const,
    );
    const ok = connected && database === 'ok';
    const body: Health = {
      status: ok ? 'ok' : 'degraded',
      broker: connected ? 'connected' : 'disconnected',
      database,
    };
    res.status(ok ? 200 : 503).json(body);
  }
}
