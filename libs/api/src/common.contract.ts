import type { AuditList } from './audit.contract';
import type { HostAccepted, HostKeyList, HostList, HostRejected } from './hosts.contract';
import type { DryRunAnswer, OutputBytes, TaskAccepted, TaskCancelled, TaskList, TaskView } from './tasks.contract';

/** `GET /v1/whoami` (any role): the token the request carried, so a client (the console) shows only what it may do. */
export interface Whoami {
  /** the token's name, as the audit log names its actor */
  name: string;
  /** `viewer` reads; `operator` also runs, cancels and re-runs tasks; `admin` also reads the audit log and accepts host keys */
  role: 'viewer' | 'operator' | 'admin';
  /** the host patterns the token is limited to; null: every host */
  hostPatterns: string[] | null;
}

/** `GET /healthz` (no token needed): 200 when the broker connection is up, 503 otherwise. */
export interface Health {
  status: 'ok' | 'degraded';
  broker: 'connected' | 'disconnected';
  /** whether the controller's database answered a trivial query just now */
  database: 'ok' | 'unavailable';
}

/**
 * The body of every non-2xx answer. `message` is one string, or for a 400 from validation one
 * string per bad field; `error` is the error's name (`TaskNotFoundError`, `Bad Request`, …).
 */
export interface ApiErrorBody {
  /** the HTTP status again */
  statusCode: number;
  error?: string;
  message: string | string[];
}

/** Any body the controller answers with; for clients' and test fakes' plumbing, where the route is not known. */
export type ApiResponseBody =
  | TaskAccepted
  | DryRunAnswer
  | TaskView
  | TaskList
  | TaskCancelled
  | OutputBytes
  | HostList
  | HostAccepted
  | HostRejected
  | HostKeyList
  | AuditList
  | Health
  | Whoami
  | ApiErrorBody;
