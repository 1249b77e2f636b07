export {
  appendEvent,
  appendOutboxEvent,
  appendTopupEvent,
  eventsSince,
  isDepositEvent,
  isPaymentEvent,
  isTopupEvent,
  isWebhookEvent,
  purgeDispatched,
  type OutboxEvent,
  type OutboxRecord,
} from './outbox.js';
export { createOutboxDispatcher, type OutboxDispatcher, type OutboxDispatcherOptions, type OutboxSink } from './dispatcher.js';
export {
  createSocketNotifier,
  INVALID_TOKEN_TYPE,
  userRoom,
  type NotifyServer,
  type ServerToClientEvents,
  type SocketNotifier,
  type SocketNotifierOptions,
} from './socket.js';
