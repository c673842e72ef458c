import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller, Get, Module } from '@nestjs/common';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AppModule } from '../app.module';
import { parseControllerArgs } from '../config/controller.config';
import { runOpenApi } from './openapi.command';

@Controller('v1/undocumented')
class UndocumentedController {
  @Get()
  list() {}
}

@Module({ controllers: [UndocumentedController] })
class UndocumentedModule {}

function io() {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) } },
  };
}

describe('warren-controller openapi', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warren-openapi-'));
  afterEach(() => rmSync(join(dir, 'doc.json'), { force: true }));

  it('parses `openapi --out <file>`, and writes the document there as JSON', () => {
    const { action, config } = parseControllerArgs(['openapi', '--out', join(dir, 'doc.json'), '--state-dir', dir], {});
    expect(action).toEqual({ command: 'openapi', out: join(dir, 'doc.json') });
    const { out, io: streams } = io();
    expect(runOpenApi(AppModule.forRoot(config, pino({ level: 'silent' })), join(dir, 'doc.json'), streams)).toBe(0);
    const doc = JSON.parse(readFileSync(join(dir, 'doc.json'), 'utf8'));
    expect(doc).toMatchObject({ openapi: '3.1.0', paths: { '/v1/tasks': { post: { operationId: 'createTask' } } } });
    expect(out.stderr).toMatch(/wrote the OpenAPI document to/);
  });

  it('prints to stdout without --out', () => {
    const { action, config } = parseControllerArgs(['openapi', '--state-dir', dir], {});
    expect(action).toEqual({ command: 'openapi', out: null });
    const { out, io: streams } = io();
    expect(runOpenApi(AppModule.forRoot(config, pino({ level: 'silent' })), null, streams)).toBe(0);
    expect(JSON.parse(out.stdout).openapi).toBe('3.1.0');
  });

  it('exits 1 naming a route nobody documented, and writes nothing', () => {
    const { out, io: streams } = io();
    const app = { module: UndocumentedModule, imports: [] };
    expect(runOpenApi(app, join(dir, 'doc.json'), streams)).toBe(1);
    expect(out.stderr).toMatch(/GET \/v1\/undocumented \(UndocumentedController\.list\) is not documented/);
    expect(() => readFileSync(join(dir, 'doc.json'))).toThrow(/ENOENT/);
  });
});
