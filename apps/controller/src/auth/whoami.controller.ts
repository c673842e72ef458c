import { Controller, Get } from '@nestjs/common';
import type { Whoami } from '@warren/api';
import { Roles } from './auth.decorators';
import { CurrentPrincipal, type Principal } from './principal';

/** `GET /v1/whoami`: the calling token, so a client shows only what it may do (the guard still decides). */
@Controller('v1/whoami')
export class WhoamiController {
  @Get()
  @Roles('viewer')
  whoami(@CurrentPrincipal() principal: Principal): Whoami {
    return { name: principal.name, role: principal.role, hostPatterns: principal.hostPatterns };
  }
}
