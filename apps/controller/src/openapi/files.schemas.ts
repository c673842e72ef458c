import type { FileUploaded, GetRequest, HostFile, PutRequest, TaskStdinView, TaskTransferView } from '@warren/api';
import { MAX_FILE_BYTES, SHA256_HEX_PATTERN } from '@warren/protocol';
import { MODE_PATTERN, OWNER_PATTERN } from '../tasks/dto/transfer.dto';
import { bool, int, isoTime, type JsonSchema, nullable, objectSchema, str } from './json-schema';

const sha256 = (description: string) => str(description, { pattern: SHA256_HEX_PATTERN.source });
const bytes = (description = 'bytes') => int(description, { minimum: 0 });
const path = (description: string) => str(description, { pattern: '^/' });

/** {@link PutRequest}: `put` of `CreateTaskRequest`. */
export const putRequestSchema = objectSchema<PutRequest>()({
  description: 'Write an uploaded file on every host (`warren cp`), instead of `command`.',
  properties: {
    file: sha256(
      'SHA-256 of a file uploaded with `POST /v1/files` (else 422 `no uploaded file <sha>`, except in a dry run)',
    ),
    dest: path('absolute path of the destination file on each host (no `..`, not ending in `/`)'),
    mode: str('octal permission bits, `0644` or `644`; default 0644 for a new file, an existing one keeps its own', {
      pattern: MODE_PATTERN.source,
    }),
    owner: str("`user` or `user:group`; default the user the agent's policy runs as", {
      pattern: OWNER_PATTERN.source,
    }),
    mkdir: bool('create missing parent directories; default false'),
  },
  required: ['file', 'dest'],
});

/** {@link GetRequest}: `get` of `CreateTaskRequest`. */
export const getRequestSchema = objectSchema<GetRequest>()({
  description:
    'Read a file on every host (`warren fetch`), instead of `command`; each copy at `.../results/{host}/file`.',
  properties: {
    path: path('absolute path of the file on each host'),
    maxBytes: int("bytes; a larger file fails that host unread; default and most: the controller's `--max-file-size`", {
      minimum: 0,
      maximum: MAX_FILE_BYTES,
    }),
  },
  required: ['path'],
});

/** The file schemas (request parts and answers) by component name. */
export const FILE_SCHEMAS: Record<string, JsonSchema> = {
  PutRequest: putRequestSchema,
  GetRequest: getRequestSchema,
  FileUploaded: objectSchema<FileUploaded>()({
    description: 'A file stored by `POST /v1/files` (201), or found already stored (200).',
    properties: {
      sha256: sha256("the file's id in `put.file` and `stdin`"),
      size: bytes(),
      name: nullable(str('the `name` given at its first upload')),
      chunks: int('512 KiB chunks it is sent in', { minimum: 0 }),
      createdAt: isoTime('when first stored'),
    },
    required: ['sha256', 'size', 'name', 'chunks', 'createdAt'],
  }),
  TaskTransferView: {
    description: 'The file transfer a task is instead of a command.',
    oneOf: [
      objectSchema<Extract<TaskTransferView, { op: 'put' }>>()({
        properties: {
          op: { const: 'put' },
          file: sha256('SHA-256 of the uploaded file'),
          name: nullable(str('its name at upload')),
          size: bytes(),
          dest: str(),
          mode: nullable(str('octal, e.g. `0644`; null: the default')),
          owner: nullable(str()),
          group: nullable(str()),
          mkdir: bool(),
        },
        required: ['op', 'file', 'name', 'size', 'dest', 'mode', 'owner', 'group', 'mkdir'],
      }),
      objectSchema<Extract<TaskTransferView, { op: 'get' }>>()({
        properties: { op: { const: 'get' }, path: str(), maxBytes: bytes() },
        required: ['op', 'path', 'maxBytes'],
      }),
    ],
  },
  TaskStdinView: objectSchema<TaskStdinView>()({
    description: "The uploaded file fed to every host's command on its standard input.",
    properties: { file: sha256('SHA-256 of the uploaded file'), size: bytes() },
    required: ['file', 'size'],
  }),
  HostFile: objectSchema<HostFile>()({
    description: 'The file of a put, get or stdin invocation that succeeded, as its agent reported it.',
    properties: {
      sha256: sha256("put: the destination's content; get: the file sent back"),
      size: bytes(),
      changed: bool('put: false when the destination already held this content; get and stdin: false'),
    },
    required: ['sha256', 'size', 'changed'],
  }),
};
