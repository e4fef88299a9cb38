export * from './model.js';
export * from './diagnostics.js';
export * from './units.js';
