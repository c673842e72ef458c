import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/** The parts of an OpenAPI 3.1 document the validator reads. */
export interface OpenApiDoc {
  paths: Record<string, Record<string, Operation>>;
  components: { responses: Record<string, Response> };
}

interface Operation {
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, Response & { $ref?: string }>;
}

interface Response {
  content?: Record<string, unknown>;
  headers?: Record<string, { required?: boolean }>;
}

/** A response header the document describes: its name, whether every such answer has it, and its schema's validator. */
export interface DocumentedHeader {
  name: string;
  required: boolean;
  validate: ValidateFunction;
}

const BASE = 'https://warren.invalid/openapi.json';
/** A JSON pointer (RFC 6901) of `parts`, each escaped. */
const pointer = (...parts: string[]) => parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

/**
 * Validates bodies and headers against an OpenAPI 3.1 document with Ajv's JSON Schema 2020-12
 * build: a component schema by name, the body or headers of one answer (path template, method,
 * status, media type), a request body, an event's data. An answer the document does not list is an
 * error, never a pass.
 */
export class OpenApiValidator {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });

  constructor(private readonly doc: OpenApiDoc) {
    addFormats(this.ajv);
    this.ajv.addSchema({ ...doc, $id: BASE });
  }

  /** The validator of `components.schemas[name]`. */
  schema(name: string): ValidateFunction {
    return this.compiled(pointer('components', 'schemas', name));
  }

  /** The validator of the body of the `status` answer of `method path` in `mediaType`; throws when the document has none. */
  response(method: string, path: string, status: number, mediaType = 'application/json'): ValidateFunction {
    const { response, at } = this.answer(method, path, status);
    if (!response.content?.[mediaType])
      throw new Error(
        `the ${status} answer of ${method.toUpperCase()} ${path} has no ${mediaType} body in the document`,
      );
    return this.compiled(`${at}/${pointer('content', mediaType, 'schema')}`);
  }

  /** The headers the document describes for the `status` answer of `method path`. */
  headers(method: string, path: string, status: number): DocumentedHeader[] {
    const { response, at } = this.answer(method, path, status);
    return Object.entries(response.headers ?? {}).map(([name, h]) => ({
      name,
      required: h.required === true,
      validate: this.compiled(`${at}/${pointer('headers', name, 'schema')}`),
    }));
  }

  /** The validator of the JSON request body of `method path`; throws when the route takes none. */
  requestBody(method: string, path: string): ValidateFunction {
    if (!this.operation(method, path).requestBody?.content['application/json'])
      throw new Error(`the document has no JSON request body for ${method.toUpperCase()} ${path}`);
    return this.compiled(
      pointer('paths', path, method.toLowerCase(), 'requestBody', 'content', 'application/json', 'schema'),
    );
  }

  /** The data schema of an event of the event stream (`x-warren-events`). */
  event(path: string, name: string): ValidateFunction {
    return this.compiled(
      pointer('paths', path, 'get', 'responses', '200', 'content', 'text/event-stream', 'x-warren-events', name),
    );
  }

  private operation(method: string, path: string): Operation {
    const op = this.doc.paths[path]?.[method.toLowerCase()];
    if (!op) throw new Error(`the document has no ${method.toUpperCase()} ${path}`);
    return op;
  }

  /** The answer the document gives for `status` (a shared one followed from its `$ref`), and its JSON pointer. */
  private answer(method: string, path: string, status: number): { response: Response; at: string } {
    const own = this.operation(method, path).responses[String(status)];
    if (!own) throw new Error(`the document lists no ${status} answer of ${method.toUpperCase()} ${path}`);
    if (!own.$ref)
      return { response: own, at: pointer('paths', path, method.toLowerCase(), 'responses', String(status)) };
    return { response: this.doc.components.responses[own.$ref.split('/').pop()!], at: own.$ref.slice(2) };
  }

  private compiled(at: string): ValidateFunction {
    const v = this.ajv.getSchema(`${BASE}#/${at}`);
    if (!v) throw new Error(`no schema at #/${at}`);
    return v;
  }
}

/** `validate`'s errors, one line each, for an assertion's message. */
export function problemsOf(validate: ValidateFunction): string {
  return (validate.errors ?? [])
    .map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`)
    .join('\n');
}
