import { Controller, Get, Res, type Type } from '@nestjs/common';
import type { Response } from 'express';
import { Public, Roles } from '../auth/auth.decorators';
import type { ControllerConfig } from '../config/controller.config';
import { MetricsService } from './metrics.service';

async function send(metrics: MetricsService, res: Response): Promise<void> {
  const { contentType, body } = await metrics.expose();
  res.status(200).type(contentType).send(body);
}

/** `GET /metrics`, Prometheus text format, for a `viewer` token or above (the default). */
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Roles('viewer')
  scrape(@Res() res: Response): Promise<void> {
    return send(this.metrics, res);
  }
}

/**
 * `GET /metrics` without a token (`--metrics-public`), for operators who firewall the port
 * instead. The metrics name no command, output or host; they do show fleet size and activity.
 */
@Controller('metrics')
export class PublicMetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Public()
  scrape(@Res() res: Response): Promise<void> {
    return send(this.metrics, res);
  }
}

/** The `/metrics` controller the configuration asks for. */
export function metricsController(config: Pick<ControllerConfig, 'metricsPublic'>): Type {
  return config.metricsPublic ? PublicMetricsController : MetricsController;
}
