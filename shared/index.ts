export * from './amount.js';
export * from './api.js';
export * from './assets.js';
export * from './binding.js';
export * from './problem.js';
export * from './challenge.js';
export * from './url.js';
