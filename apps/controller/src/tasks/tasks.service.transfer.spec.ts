import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { UnprocessableTaskError } from '../errors/errors';
import type { FileStore } from '../store/file-store.port';
import { admin, caller, finish, service } from './tasks.service.fixtures';

/** Uploads `text` into `files` as the upload route would, and gives its SHA-256. */
async function upload(files: FileStore, text: string, name = 'motd'): Promise<string> {
  const bytes = Buffer.from(text);
  const sha = createHash('sha256').update(bytes).digest('hex');
  await files.beginUpload('u', 1);
  await files.putUploadChunk('u', 0, bytes);
  await files.commitUpload('u', { sha256: sha, size: bytes.length, name, chunks: [sha], createdAt: 1, createdBy: 'x' });
  return sha;
}

const MISSING = 'f'.repeat(64);

describe('TasksService: put, get and stdin tasks', () => {
  it('stores a put with its file, mode and owner, described as `put <dest>`, and audits who, hash, name, dest and hosts', async () => {
    const { svc, store, files, audited } = service(true);
    const sha = await upload(files, 'hello\n');
    const created = await svc.create(
      { hosts: ['web1', 'web2'], put: { file: sha, dest: '/etc/motd', mode: '640', owner: 'www-data:adm' } },
      caller('alice'),
    );
    expect(await store.getTask(created.id)).toMatchObject({
      command: 'put /etc/motd',
      transfer: {
        op: 'put',
        file: sha,
        name: 'motd',
        size: 6,
        dest: '/etc/motd',
        mode: 0o640,
        owner: 'www-data',
        group: 'adm',
        mkdir: false,
      },
      stdin: null,
    });
    expect(audited).toEqual([
      expect.objectContaining({
        actor: 'alice',
        action: 'task.create',
        decision: 'allowed',
        taskId: created.id,
        hosts: ['web1', 'web2'],
        command: 'put /etc/motd',
        detail: {
          transfer: 'put',
          sha256: sha,
          name: 'motd',
          size: 6,
          dest: '/etc/motd',
          mode: '0640',
          owner: 'www-data:adm',
        },
      }),
    ]);
  });

  it('refuses a put or stdin of a file never uploaded with 422 "no uploaded file <sha>", storing and sending nothing', async () => {
    const { svc, store, dispatched } = service(true);
    const put = svc.create({ hosts: ['web1'], put: { file: MISSING, dest: '/etc/motd' } }, admin);
    await expect(put).rejects.toBeInstanceOf(UnprocessableTaskError);
    await expect(put).rejects.toThrow(`no uploaded file ${MISSING}`);
    await expect(svc.create({ command: 'cat', stdin: MISSING, hosts: ['web1'] }, admin)).rejects.toThrow(
      `no uploaded file ${MISSING}`,
    );
    expect(await store.listTasks(10)).toEqual([]);
    expect(dispatched).toEqual([]);
  });

  it('previews the target of a put or stdin before its file is uploaded (warren cp --dry-run uploads nothing)', async () => {
    const { svc, store, dispatched } = service(true);
    const dry = await svc.dryRun({ hosts: ['web1', 'web2'], put: { file: MISSING, dest: '/x' } }, admin);
    expect(dry).toMatchObject({ dryRun: true, hosts: ['web1', 'web2'], count: 2 });
    const stdin = await svc.dryRun({ command: 'cat', stdin: MISSING, hosts: ['web1'] }, admin);
    expect(stdin).toMatchObject({ dryRun: true, hosts: ['web1'], count: 1 });
    expect(await store.listTasks(10)).toEqual([]);
    expect(dispatched).toEqual([]);
  });

  it('gives a get the controller’s --max-file-size as its cap, and refuses a larger one with 422', async () => {
    const { svc, store, audited } = service(true);
    const created = await svc.create({ hosts: ['web1'], get: { path: '/var/log/syslog' } }, admin);
    expect(await store.getTask(created.id)).toMatchObject({
      command: 'get /var/log/syslog',
      transfer: { op: 'get', path: '/var/log/syslog', maxBytes: 1024 * 1024 },
    });
    expect(audited[0].detail).toEqual({ transfer: 'get', path: '/var/log/syslog', maxBytes: 1024 * 1024 });
    await expect(
      svc.create({ hosts: ['web1'], get: { path: '/x', maxBytes: 1024 * 1024 + 1 } }, admin),
    ).rejects.toThrow("get.maxBytes 1048577 is over the controller's --max-file-size of 1048576");
  });

  it('keeps a command’s stdin file, and a re-run sends the same transfer and stdin again', async () => {
    const { svc, store, files } = service(true);
    const sha = await upload(files, 'input');
    const run = await svc.create({ command: 'sha256sum', stdin: sha, hosts: ['web1'] }, admin);
    expect(await store.getTask(run.id)).toMatchObject({
      command: 'sha256sum',
      transfer: null,
      stdin: { file: sha, size: 5 },
    });
    await finish(store, run.id, 'web1', 'failed');
    const again = await svc.rerun(run.id, {}, admin);
    expect(await store.getTask(again.id)).toMatchObject({ stdin: { file: sha, size: 5 } });
    const put = await svc.create({ hosts: ['web1'], put: { file: sha, dest: '/tmp/x', mkdir: true } }, admin);
    await finish(store, put.id, 'web1', 'failed');
    const rerunPut = await svc.rerun(put.id, {}, admin);
    expect((await store.getTask(rerunPut.id))?.transfer).toEqual((await store.getTask(put.id))?.transfer);
  });

  it('dry-runs a put: the target, nothing stored', async () => {
    const { svc, store, files } = service(true);
    const sha = await upload(files, 'x');
    const dry = await svc.dryRun({ hosts: ['web1', 'web2'], put: { file: sha, dest: '/x' } }, admin);
    expect(dry).toMatchObject({ dryRun: true, hosts: ['web1', 'web2'], count: 2 });
    expect(await store.listTasks(10)).toEqual([]);
  });
});
