/** Wire protocol version carried in every message as `v`; a receiver rejects any other value. */
export const PROTOCOL_VERSION = 1 as const;

/** Value of the AMQP `app_id` property on everything Warren publishes. */
export const APP_ID = 'warren';

/** Version of this Warren build, reported by agents in presence heartbeats. */
export const WARREN_VERSION = '0.1.0';
