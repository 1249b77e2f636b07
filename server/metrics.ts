import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per hub instance, so tests can run several hubs in one process. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tollway_' });
  return {
    registry,
    payments: new Counter({
      name: 'tollway_payments_total',
      help: 'Payments entering each status',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'tollway_http_request_duration_seconds',
      help: 'HTTP request latency by route and status class',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    outboxLag: new Gauge({
      name: 'tollway_outbox_lag_seconds',
      help: 'Age of the last outbox event when it was delivered',
      registers: [registry],
    }),
    webhookDeliveries: new Counter({
      name: 'tollway_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome: delivered, retrying (failed, retry scheduled), failed (gave up), disabled (410 Gone)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    socketClients: new Gauge({
      name: 'tollway_socket_clients',
      help: 'Connected Socket.IO clients on this process',
      registers: [registry],
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
