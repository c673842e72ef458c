/**
 * File transfer over HTTP (issue 16): upload a file once (`POST /v1/files`), then send it with a
 * task (`put` in `POST /v1/tasks`, `warren cp`), feed it to a command's stdin (`stdin`,
 * `warren run --stdin`), or read a file from hosts (`get`, `warren fetch`) and download each
 * host's copy (`GET /v1/tasks/:id/results/:host/file`). See docs/files.md.
 */

/**
 * `201` answer of `POST /v1/files` (body: the file's bytes, `Content-Type:
 * application/octet-stream`; optional query `name`, its file name, for display). `200` with the same
 * body when a file with the same SHA-256 is already stored. A body over the controller's
 * `--max-file-size` is a `413`.
 */
export interface FileUploaded {
  /** lowercase hex SHA-256 of the bytes: the file's id in `put.file` and `stdin` */
  sha256: string;
  /** bytes */
  size: number;
  /** the `name` given at upload (the first one, for a file uploaded twice); null if none */
  name: string | null;
  /** chunks it is sent to agents in */
  chunks: number;
  /** ISO time it was first stored */
  createdAt: string;
}

/** `put` of `POST /v1/tasks`: write an uploaded file at `dest` on every host (instead of `command`). */
export interface PutRequest {
  /** SHA-256 of a file uploaded with `POST /v1/files` (else 422; a dry run needs no upload) */
  file: string;
  /** absolute path of the destination file on each host */
  dest: string;
  /** octal permission bits, `"0644"` or `"644"`; default 0644 for a new file, an existing one keeps its own */
  mode?: string;
  /** `user` or `user:group` owning the file; default the user the agent's policy runs as */
  owner?: string;
  /** create missing parent directories; default false (a missing directory fails that host) */
  mkdir?: boolean;
}

/** `get` of `POST /v1/tasks`: read `path` on every host and keep each host's copy (instead of `command`). */
export interface GetRequest {
  /** absolute path of the file on each host */
  path: string;
  /** bytes; a larger file fails that host unread; default and most: the controller's `--max-file-size` */
  maxBytes?: number;
}

/** What a task carries besides, or instead of, a shell command, as {@link TaskTransferView} shows it. */
export type TaskTransferView =
  | {
      op: 'put';
      /** SHA-256 of the uploaded file */
      file: string;
      /** its name at upload, or null */
      name: string | null;
      /** bytes */
      size: number;
      dest: string;
      /** octal, e.g. `"0644"`; null: the default */
      mode: string | null;
      owner: string | null;
      group: string | null;
      mkdir: boolean;
    }
  | {
      op: 'get';
      path: string;
      /** bytes */
      maxBytes: number;
    };

/** A task's stdin (`warren run --stdin`): the uploaded file fed to every host's command. */
export interface TaskStdinView {
  /** SHA-256 of the uploaded file */
  file: string;
  /** bytes */
  size: number;
}

/** The file of a put, get or stdin invocation that succeeded, as its agent reported it. */
export interface HostFile {
  /** lowercase hex SHA-256 (put: the destination's content; get: the file sent back) */
  sha256: string;
  /** bytes */
  size: number;
  /** put: false when the destination already held this content and nothing was written; else false for get and stdin */
  changed: boolean;
}
