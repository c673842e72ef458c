import type {
  AcceptHostRequest,
  HostAccepted,
  HostKeyInfo,
  HostKeyList,
  HostList,
  HostRejected,
  HostView,
  RejectHostRequest,
} from '@warren/api';
import {
  arrayOf,
  bool,
  int,
  isoTime,
  type JsonSchema,
  nullable,
  objectSchema,
  oneOfValues,
  ref,
  str,
  stringMap,
} from './json-schema';

const keyId = (description: string) => str(description, { maxLength: 128 });

/** {@link HostView}: one agent in `GET /v1/hosts`. */
export const hostViewSchema = objectSchema<HostView>()({
  properties: {
    host: str(),
    status: oneOfValues(['online', 'offline'], 'offline after three missed heartbeats'),
    labels: stringMap('the labels accepted with the host key; `labels` targeting selects by these only'),
    pendingLabels: nullable(stringMap('the labels the host announces now when they differ from `labels`')),
    version: str("the agent's version"),
    running: int('commands running now', { minimum: 0 }),
    concurrency: int('commands it runs at once at most', { minimum: 0 }),
    lastSeen: isoTime('time of the last heartbeat or goodbye'),
    trust: ref('HostTrust'),
    keyId: nullable(str('fingerprint of its accepted key')),
    pendingKeyIds: arrayOf(str(), 'fingerprints heard lately and not accepted'),
  },
  required: [
    'host',
    'status',
    'labels',
    'pendingLabels',
    'version',
    'running',
    'concurrency',
    'lastSeen',
    'trust',
    'keyId',
    'pendingKeyIds',
  ],
});

/** {@link HostKeyInfo}: one key in `GET /v1/hosts/keys`. */
export const hostKeyInfoSchema = objectSchema<HostKeyInfo>()({
  properties: {
    host: str(),
    keyId: str('fingerprint (`SHA256:…`)'),
    status: oneOfValues(['accepted', 'pending', 'pre-accepted']),
    firstSeen: nullable(isoTime('first heartbeat of this key; null for a pre-accepted key')),
    lastSeen: nullable(isoTime('last heartbeat of this key; null for a pre-accepted key')),
    labels: stringMap('the labels its last heartbeat announced'),
    acceptedLabels: nullable(stringMap('the labels accepted with it; null for a pending key')),
  },
  required: ['host', 'keyId', 'status', 'firstSeen', 'lastSeen', 'labels', 'acceptedLabels'],
});

/** The hosts schemas by component name. */
export const HOSTS_SCHEMAS: Record<string, JsonSchema> = {
  HostTrust: oneOfValues(
    ['accepted', 'pending', 'changed', 'unknown'],
    'whether the controller trusts what a host says',
  ),
  HostView: hostViewSchema,
  HostList: objectSchema<HostList>()({
    properties: { hosts: arrayOf(ref('HostView'), 'sorted by host') },
    required: ['hosts'],
  }),
  HostKeyInfo: hostKeyInfoSchema,
  HostKeyList: objectSchema<HostKeyList>()({
    properties: { keys: arrayOf(ref('HostKeyInfo'), 'sorted by host') },
    required: ['keys'],
  }),
  AcceptHostRequest: objectSchema<AcceptHostRequest>()({
    properties: {
      keyId: keyId(
        'the fingerprint to accept, when the host announced several keys; one not heard lately is pre-accepted',
      ),
    },
    required: [],
  }),
  HostAccepted: objectSchema<HostAccepted>()({
    properties: {
      host: str(),
      keyId: str('the fingerprint now accepted (or pre-accepted)'),
      replaced: nullable(str('the key it replaces')),
      labels: stringMap('the labels now accepted with the key ({} when pre-accepted)'),
      accepted: oneOfValues(['key', 'labels', 'pre-accepted']),
      trust: ref('HostTrust'),
    },
    required: ['host', 'keyId', 'replaced', 'labels', 'accepted', 'trust'],
  }),
  RejectHostRequest: objectSchema<RejectHostRequest>()({
    properties: {
      keyId: keyId('the pending fingerprint to reject, when the host announced several; or the pre-accepted one'),
    },
    required: [],
  }),
  HostRejected: objectSchema<HostRejected>()({
    properties: {
      host: str(),
      keyId: str('the fingerprint rejected'),
      preAccepted: bool('true: it was the pre-accepted key, now withdrawn'),
    },
    required: ['host', 'keyId', 'preAccepted'],
  }),
};
