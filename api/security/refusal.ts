import type { ServiceDefinition, UntypedServiceImplementation, sendUnaryData } from '@grpc/grpc-js';
import type { BrokerError } from '../../core/index.js';
import { toWireError } from '../grpc/status.js';

/** toWireError logs only unexpected failures; a refusal is a BrokerError, so nothing is logged. */
const noLogger = { error: () => undefined };

/**
 * Handlers for every method of a service that answer each call with the error `refusal` makes (a unary or
 * client-streaming call through its callback, a server-streaming one as the stream's status), touching nothing else.
 */
export function refuseAll(definition: ServiceDefinition, refusal: () => BrokerError): UntypedServiceImplementation {
  const handlers: UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(definition)) {
    handlers[name] = method.responseStream
      ? (call: { emit(event: 'error', err: unknown): boolean }) => call.emit('error', toWireError(refusal(), noLogger))
      : (_call: unknown, callback: sendUnaryData<unknown>) => callback(toWireError(refusal(), noLogger));
  }
  return handlers;
}
