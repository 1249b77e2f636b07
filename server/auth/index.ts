export * from './keys.js';
export * from './tokens.js';
export * from './siwe.js';
export * from './refresh.js';
export * from './users.js';
export * from './service.js';
