// The public entry point of core/: siblings import from here, never from deep paths.
export * from './errors.js';
export * from './subject.js';
export * from './record.js';
export * from './expiry.js';
export * from './segment.js';
export * from './subject-info.js';
export * from './log.js';
export * from './cold-store.js';
export * from './config.js';
export * from './cursor-batches.js';
