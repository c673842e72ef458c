import { Readable } from 'node:stream';
import { Controller, Get, Param, Query, Res, StreamableFile } from '@nestjs/common';
import type { OutputBytes, OutputStream } from '@warren/api';
import type { Response } from 'express';
import { Roles } from '../auth/auth.decorators';
import { ClientIp, CurrentPrincipal, type Principal } from '../auth/principal';
import { BadQueryError } from '../errors/errors';
import { FetchedFileReader } from './fetched-file.reader';
import { TaskOutputReader } from './task-output.reader';

/**
 * The response headers that say what the bytes of a stream are: the invocation's state, whether
 * they are UTF-8 (`true`, `false`, `unknown` for an agent before exact capture), how many the
 * command wrote in all, and whether that is more than these.
 */
export const OUTPUT_HEADERS = {
  state: 'Warren-State',
  utf8: 'Warren-Utf8',
  totalBytes: 'Warren-Total-Bytes',
  truncated: 'Warren-Truncated',
} as const;

/** The response headers of a fetched file: its SHA-256 (lowercase hex) and size in bytes. */
export const FILE_HEADERS = { sha256: 'Warren-SHA256', size: 'Warren-Size' } as const;

/**
 * One host's output streams, exactly: `GET /v1/tasks/:id/results/:host/stdout` (and `stderr`)
 * answers the kept bytes as `application/octet-stream`, or with `?encoding=base64` as JSON
 * ({@link OutputBytes}). A viewer token suffices, within its host patterns, as for the task.
 * A get task's file of one host: `GET /v1/tasks/:id/results/:host/file` (role operator), the bytes
 * with {@link FILE_HEADERS}, or 409 (see {@link FetchedFileReader}).
 */
@Controller('v1/tasks')
export class TaskResultsController {
  constructor(
    private readonly outputs: TaskOutputReader,
    private readonly fetched: FetchedFileReader,
  ) {}

  @Get(':id/results/:host/file')
  @Roles('operator')
  async file(
    @Param('id') id: string,
    @Param('host') host: string,
    @CurrentPrincipal() principal: Principal,
    @ClientIp() source: string | null,
    @Res({ passthrough: true }) res: Response,
  ): Promise<StreamableFile> {
    const f = await this.fetched.read(id, host, { principal, source });
    res.setHeader(FILE_HEADERS.sha256, f.sha256);
    res.setHeader(FILE_HEADERS.size, String(f.size));
    // The task and host exist (the read above found them), so both are ids: safe in a quoted filename.
    return new StreamableFile(Readable.from(f.bytes()), {
      type: 'application/octet-stream',
      length: f.size,
      disposition: `attachment; filename="${id}.${host}.file"`,
    });
  }

  @Get(':id/results/:host/stdout')
  @Roles('viewer')
  stdout(
    @Param('id') id: string,
    @Param('host') host: string,
    @Query('encoding') encoding: unknown,
    @CurrentPrincipal() principal: Principal,
    @ClientIp() source: string | null,
    @Res({ passthrough: true }) res: Response,
  ): Promise<StreamableFile | OutputBytes> {
    return this.answer(id, host, 'stdout', encoding, { principal, source }, res);
  }

  @Get(':id/results/:host/stderr')
  @Roles('viewer')
  stderr(
    @Param('id') id: string,
    @Param('host') host: string,
    @Query('encoding') encoding: unknown,
    @CurrentPrincipal() principal: Principal,
    @ClientIp() source: string | null,
    @Res({ passthrough: true }) res: Response,
  ): Promise<StreamableFile | OutputBytes> {
    return this.answer(id, host, 'stderr', encoding, { principal, source }, res);
  }

  private async answer(
    id: string,
    host: string,
    stream: OutputStream,
    encoding: unknown,
    caller: { principal: Principal; source: string | null },
    res: Response,
  ): Promise<StreamableFile | OutputBytes> {
    if (encoding !== undefined && encoding !== 'base64')
      throw new BadQueryError('encoding must be base64, or absent for the bytes themselves');
    const out = await this.outputs.read(id, host, stream, caller);
    if (encoding === 'base64') {
      const { state, utf8, totalBytes, truncated } = out;
      return { host, stream, state, encoding, data: out.bytes.toString('base64'), utf8, totalBytes, truncated };
    }
    res.setHeader(OUTPUT_HEADERS.state, out.state);
    res.setHeader(OUTPUT_HEADERS.utf8, out.utf8 === null ? 'unknown' : String(out.utf8));
    res.setHeader(OUTPUT_HEADERS.totalBytes, String(out.totalBytes));
    res.setHeader(OUTPUT_HEADERS.truncated, String(out.truncated));
    // The task and host exist (the read above found them), so both are ids: safe in a quoted filename.
    return new StreamableFile(out.bytes, {
      type: 'application/octet-stream',
      length: out.bytes.length,
      disposition: `attachment; filename="${id}.${host}.${stream}"`,
    });
  }
}
