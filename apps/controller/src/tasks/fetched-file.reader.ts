import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { chunkCount } from '@warren/protocol';
import type { Caller } from '../auth/principal';
import { FileNotAvailableError, HostNotInTaskError, TaskNotFoundError } from '../errors/errors';
import { FILE_STORE, type FileStore } from '../store/file-store.port';
import { TASK_STORE, type TaskStore } from '../store/task-store.port';
import { TaskReader } from './task-reader.service';

/** A host's fetched file, checked whole: read its bytes with {@link FetchedFile.bytes}. */
export interface FetchedFile {
  /** lowercase hex SHA-256, as the agent reported it and the stored chunks hash to */
  sha256: string;
  /** bytes */
  size: number;
  /** its chunks in order, read from the store one at a time */
  bytes(): AsyncGenerator<Buffer>;
}

/**
 * Reads one host's copy of a get task's file (`GET /v1/tasks/:id/results/:host/file`): the same
 * checks as reading the task (404 unknown task, 403 a host outside the token's patterns), 404 for a
 * host the task does not have, then 409 ({@link FileNotAvailableError}) when the task is not a
 * get, the host did not succeed, its chunks are not all stored yet (`incomplete`: the CLI retries),
 * or they do not hash to what the agent reported. The file is hashed from the store before it is
 * answered (one chunk in memory at a time), so a 200 always carries the bytes the agent signed.
 */
@Injectable()
export class FetchedFileReader {
  constructor(
    @Inject(TASK_STORE) private readonly store: TaskStore,
    @Inject(FILE_STORE) private readonly files: FileStore,
    private readonly reader: TaskReader,
  ) {}

  async read(taskId: string, host: string, caller: Caller): Promise<FetchedFile> {
    const task = await this.store.getTask(taskId);
    if (!task) throw new TaskNotFoundError(taskId);
    await this.reader.checkReadable(taskId, caller);
    const inv = (await this.store.getInvocations(taskId)).find((r) => r.host === host);
    if (!inv) throw new HostNotInTaskError(taskId, host);
    if (task.transfer?.op !== 'get') throw new FileNotAvailableError(`task ${taskId} is not a get: it fetched no file`);
    if (inv.state !== 'succeeded' || !inv.file)
      throw new FileNotAvailableError(
        `${host} did not succeed (${inv.state}${inv.reason ? `: ${inv.reason}` : ''}): there is no file of it`,
      );
    const { sha256, size } = inv.file;
    const n = chunkCount(size);
    const stored = await this.files.fetchedProgress(inv.id);
    if (stored.count < n)
      throw new FileNotAvailableError(`incomplete: ${stored.count} of ${n} chunks of ${host}'s file are stored; retry`);
    const read = async function* (files: FileStore): AsyncGenerator<Buffer> {
      for (let i = 0; i < n; i++) {
        const chunk = await files.readFetchedChunk(inv.id, i);
        if (!chunk) throw new FileNotAvailableError(`incomplete: chunk ${i} of ${host}'s file is missing; retry`);
        yield chunk;
      }
    };
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of read(this.files)) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    if (bytes !== size || hash.digest('hex') !== sha256)
      throw new FileNotAvailableError(
        `the chunks stored for ${host} (${bytes} bytes) do not match the file it reported (${size} bytes, SHA-256 ${sha256})`,
      );
    return { sha256, size, bytes: () => read(this.files) };
  }
}
