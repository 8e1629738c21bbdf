export { startEmbeddedCouch, type EmbeddedCouch, type EmbeddedCouchOptions } from './embedded';
