export * from './clockOffset';
export * from './closedPipe';
export * from './errors';
export * from './logger';
export * from './pool';
export * from './redact';
export * from './serverClock';
export * from './text';
