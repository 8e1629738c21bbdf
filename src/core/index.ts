export * from './errors';
export * from './logger';
export * from './redact';
export * from './text';
