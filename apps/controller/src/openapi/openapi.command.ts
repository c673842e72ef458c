import { writeFileSync } from 'node:fs';
import type { DynamicModule } from '@nestjs/common';
import type { CommandIo } from '../auth/token.commands';
import { buildOpenApiDocument, type OpenApiDocument } from './openapi.document';
import { controllersOf } from './routes.scan';

/** The document as written to a file or stdout: JSON, two-space indent, one final newline (docs/openapi.json). */
export function openApiText(doc: OpenApiDocument): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * `warren-controller openapi [--out <file>]`: the OpenAPI document of the controllers of `app`
 * (the application module as `serve` would build it: nothing is started, no broker or database is
 * touched), to `out` or stdout. Returns the exit status: 0 written; 1 refused (a route without
 * documentation, or the file cannot be written), saying why on stderr.
 */
export function runOpenApi(app: DynamicModule, out: string | null, io: CommandIo): number {
  try {
    const text = openApiText(buildOpenApiDocument(controllersOf(app)));
    if (out === null) io.stdout.write(text);
    else {
      writeFileSync(out, text);
      io.stderr.write(`wrote the OpenAPI document to ${out}\n`);
    }
    return 0;
  } catch (err) {
    io.stderr.write(`warren-controller: ${(err as Error).message}\n`);
    return 1;
  }
}
