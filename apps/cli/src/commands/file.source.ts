import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import type { FileUploaded } from '@warren/api';
import { UsageError } from '../cli.errors';
import type { CliIo } from '../cli.io';
import type { ControllerClient } from '../http/controller.client';
import { uploadFile } from '../http/files.client';
import { ApiError } from '../http/http.errors';
import { formatBytes } from '../render/units.format';

/** A local file (or standard input, `-`) ready to be streamed to the controller. */
export interface LocalSource {
  /** the path as given, or `-` */
  path: string;
  /** the name sent with the upload (`?name=`): the basename, or `stdin` */
  name: string;
  /** bytes, when known (a regular file); standard input: undefined */
  size: number | undefined;
  /** opens the bytes; called once */
  open(): Readable;
}

/**
 * Checks a local file before anything is sent: it must exist, be readable and be a regular file
 * (a directory or a device is a {@link UsageError}, exit 2). `-` is standard input, refused when it
 * is a terminal or when there is none (a line of `warren shell`).
 */
export async function localSource(path: string, io: CliIo, flag: string): Promise<LocalSource> {
  if (path === '-') {
    const stdin = io.stdin;
    if (!stdin) throw new UsageError(`${flag} - reads standard input, and there is none here; give a file instead`);
    if (stdin.isTTY)
      throw new UsageError(
        `${flag} - reads standard input, which is a terminal: pipe the bytes in (… | warren …) or give a file`,
      );
    return { path, name: 'stdin', size: undefined, open: () => Readable.from(stdin) };
  }
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  if (!info.isFile()) throw new UsageError(`${path}: not a regular file${info.isDirectory() ? ' (a directory)' : ''}`);
  return { path, name: basename(path), size: info.size, open: () => createReadStream(path) };
}

/**
 * Uploads `source` once (`POST /v1/files`, streamed: never read whole into memory) and returns
 * what the controller stored. A `413` becomes a {@link UsageError} (exit 2) naming the file, its
 * size and where the limit is set.
 */
export async function uploadSource(client: ControllerClient, source: LocalSource): Promise<FileUploaded> {
  try {
    return await uploadFile(client, source.open(), source.name, source.size);
  } catch (err) {
    if (err instanceof ApiError && err.status === 413) {
      const what = source.path === '-' ? 'standard input' : source.path;
      const size = source.size === undefined ? '' : ` (${formatBytes(source.size)})`;
      throw new UsageError(
        `${what}${size} is larger than the controller accepts: ${err.messages.join('; ')} (the limit is warren-controller --max-file-size or WARREN_MAX_FILE_SIZE, default 100 MiB)`,
      );
    }
    throw err;
  }
}
