/** Injection token of a daemon's root pino logger; services log through `.child({ component })` of it. */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');
