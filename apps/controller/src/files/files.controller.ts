import { Controller, HttpCode, Post, Query, Req, Res } from '@nestjs/common';
import type { FileUploaded } from '@warren/api';
import type { Request, Response } from 'express';
import { AuditAs, Roles } from '../auth/auth.decorators';
import { ClientIp, CurrentPrincipal, type Principal } from '../auth/principal';
import { BadQueryError, BodyTooLargeError, UnsupportedMediaTypeError } from '../errors/errors';
import { FileUploadService } from './file-upload.service';

/** chars; the longest `name` an upload may give */
export const FILE_NAME_MAX = 255;

/** The path of the upload route, whose body the JSON body parser leaves alone (see `json-body.ts`). */
export const FILES_PATH = '/v1/files';

/** A printable name of at most {@link FILE_NAME_MAX} characters, or null when none is given; 400 otherwise. */
export function uploadName(name: unknown): string | null {
  if (name === undefined || name === '') return null;
  if (typeof name !== 'string' || name.length > FILE_NAME_MAX || /[\u0000-\u001f\u007f]/.test(name))
    throw new BadQueryError(`name must be a printable file name of at most ${FILE_NAME_MAX} characters`);
  return name;
}

/**
 * `POST /v1/files?name=<basename>`: the body is the file's bytes (`application/octet-stream`, or no
 * Content-Type), streamed into the database (see {@link FileUploadService}). 201 `FileUploaded` when
 * stored, 200 when a file with the same SHA-256 already was; 413 past `--max-file-size` (at once
 * when the Content-Length says so, else as soon as the body passes it), 415 another Content-Type.
 * Role operator: uploading is the first half of sending a file.
 */
@Controller('v1/files')
export class FilesController {
  constructor(private readonly uploads: FileUploadService) {}

  @Post()
  @HttpCode(201)
  @Roles('operator')
  @AuditAs('file.upload')
  async upload(
    @Query('name') name: unknown,
    @Req() req: Request,
    @CurrentPrincipal() principal: Principal,
    @ClientIp() source: string | null,
    @Res({ passthrough: true }) res: Response,
  ): Promise<FileUploaded> {
    const shownName = uploadName(name);
    const type = req.headers['content-type'];
    if (type !== undefined && req.is('application/octet-stream') === false)
      throw new UnsupportedMediaTypeError(
        `the body must be the file's bytes: Content-Type application/octet-stream, got ${JSON.stringify(type).slice(0, 100)}`,
      );
    const declared = Number(req.headers['content-length']);
    // Answered at once; Node then discards the rest of the body (within --http-request-timeout)
    // rather than closing on a client still sending, whose TCP reset could lose the 413 itself.
    if (Number.isFinite(declared) && declared > this.uploads.limit)
      throw new BodyTooLargeError(
        `the file is larger than the controller's --max-file-size of ${this.uploads.limit} bytes`,
      );
    const { file, created } = await this.uploads.upload(req, shownName, { principal, source });
    if (!created) res.status(200);
    return file;
  }
}
