import { Controller, Get } from '@nestjs/common';
import { type HostView, HostsRegistry } from './hosts.registry';

@Controller('v1/hosts')
export class HostsController {
  constructor(private readonly registry: HostsRegistry) {}

  @Get()
  list(): { hosts: HostView[] } {
    return { hosts: this.registry.list() };
  }
}
