// The public entry point of core/: siblings import from here, never from deep paths.
export * from './errors.js';
export * from './subject.js';
export * from './record.js';
export * from './expiry.js';
export * from './segment.js';
export * from './subject-info.js';
export * from './read-limits.js';
export * from './tail-cursor.js';
export * from './log-writer.js';
export * from './log-reader.js';
export * from './segment-store.js';
export * from './log-observer.js';
export * from './log.js';
export * from './cold-store.js';
export * from './partitioning.js';
export * from './config/index.js';
export * from './cursor-batches.js';
