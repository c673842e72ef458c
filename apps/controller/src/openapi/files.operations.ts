import { FILE_HEADERS } from '../tasks/task-results.controller';
import { ref, str } from './json-schema';
import { json, type OperationTable } from './operation-doc';

const bytes = { type: 'string', contentMediaType: 'application/octet-stream' };

/** The file transfer routes (issue 16, docs/files.md). */
export const FILE_OPERATIONS: OperationTable = {
  'POST /v1/files': {
    operationId: 'uploadFile',
    summary: 'Upload a file once, to send it with `put` or `stdin` in `POST /v1/tasks`',
    description:
      "The body is the file's bytes (`application/octet-stream`), streamed into the controller's database in 512 KiB " +
      'chunks: any controller can send it, and a task can be re-run. 201 when stored, 200 when a file with the same ' +
      "SHA-256 already was. 413 past the controller's `--max-file-size` (default 100 MiB): at once when the " +
      'Content-Length says so, else as soon as the body passes it (the rest of the body is read and discarded). A client that goes ' +
      'away mid-body leaves nothing stored. Audited (`file.upload`).',
    query: {
      name: { description: 'the file name, for display (printable, at most 255 characters)', schema: str() },
    },
    rawBody: { 'application/octet-stream': { schema: bytes } },
    responses: {
      201: { description: 'stored', content: json(ref('FileUploaded')) },
      200: { description: "already stored (the first upload's name and time)", content: json(ref('FileUploaded')) },
    },
    errors: [413, 415],
  },
  'GET /v1/tasks/{id}/results/{host}/file': {
    operationId: 'getFetchedFile',
    summary: "One host's copy of the file a get task (`warren fetch`) read",
    description:
      'The bytes as `application/octet-stream`, checked against the SHA-256 the agent reported before they are ' +
      'answered. 409 when the task is not a get, the host did not succeed, or its chunks are still arriving ' +
      '(message starting `incomplete`: retry).',
    path: {
      id: { description: 'the task id (`t_…`)', schema: str() },
      host: { description: 'a host of the task', schema: str() },
    },
    responses: {
      200: {
        description: "the host's file",
        content: { 'application/octet-stream': { schema: bytes } },
        headers: {
          [FILE_HEADERS.sha256]: {
            description: "the file's SHA-256, lowercase hex",
            schema: str(undefined, { pattern: '^[0-9a-f]{64}$' }),
            required: true,
          },
          [FILE_HEADERS.size]: {
            description: 'its size in bytes',
            schema: str(undefined, { pattern: '^[0-9]+$' }),
            required: true,
          },
        },
      },
    },
    errors: [404, 409],
  },
};
