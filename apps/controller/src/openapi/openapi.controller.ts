import { Controller, Get } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { Type } from '@nestjs/common';
import { Public } from '../auth/auth.decorators';
import { buildOpenApiDocument, type OpenApiDocument } from './openapi.document';

/**
 * `GET /v1/openapi.json`, public: the OpenAPI 3.1 document of the routes this controller has
 * registered (found through Nest's discovery, so `--metrics-public` shows as it is), built at the
 * first request and kept. The same document is committed as docs/openapi.json (`npm run openapi`).
 */
@Controller('v1')
export class OpenApiController {
  private document: OpenApiDocument | null = null;

  constructor(private readonly discovery: DiscoveryService) {}

  @Get('openapi.json')
  @Public()
  get(): OpenApiDocument {
    this.document ??= buildOpenApiDocument(this.discovery.getControllers().map((w) => w.metatype as Type));
    return this.document;
  }
}
