export { type StatusServer, type StatusServerOptions, startStatusServer } from './server';
