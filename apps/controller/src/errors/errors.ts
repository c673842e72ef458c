/** No task with this id. */
export class TaskNotFoundError extends Error {
  override readonly name = 'TaskNotFoundError';
  constructor(readonly taskId: string) {
    super(`task ${taskId} not found`);
  }
}

/** A request that passed validation but cannot be carried out as asked. */
export class UnprocessableTaskError extends Error {
  override readonly name = 'UnprocessableTaskError';
}

export { BrokerUnavailableError } from '@warren/amqp';
