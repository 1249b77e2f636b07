import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.js';

describe('configuration', () => {
  it('has working defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 8402, host: '127.0.0.1', publicUrl: 'http://127.0.0.1:8402', dataDir: './data', dev: false, corsOrigins: [] });
    expect(c.databaseUrl).toBeUndefined();
  });
  it('reads every variable', () => {
    const c = loadConfig({
      PORT: '9000',
      HOST: '0.0.0.0',
      TOLLWAY_PUBLIC_URL: 'https://hub.example/',
      TOLLWAY_DEV: '1',
      TOLLWAY_ADMIN_TOKEN: 'a'.repeat(20),
      DATABASE_URL: 'postgres://u@h/db',
      REDIS_URL: 'redis://127.0.0.1:6379',
      TOLLWAY_CORS_ORIGINS: 'https://a.example, https://b.example',
      TOLLWAY_PAYMENT_TIMEOUT: '60',
    });
    expect(c).toMatchObject({ port: 9000, publicUrl: 'https://hub.example', dev: true, databaseUrl: 'postgres://u@h/db', corsOrigins: ['https://a.example', 'https://b.example'], paymentTimeout: 60 });
  });
  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['TOLLWAY_DEV', 'maybe'],
    ['TOLLWAY_ADMIN_TOKEN', 'short'],
    ['DATABASE_URL', 'mysql://x'],
    ['REDIS_URL', 'http://x'],
    ['TOLLWAY_PUBLIC_URL', 'not a url'],
    ['TOLLWAY_LOG_LEVEL', 'loud'],
    ['TOLLWAY_PAYMENT_TIMEOUT', '-5'],
  ])('stops on a bad %s and names it', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(name));
  });
});
