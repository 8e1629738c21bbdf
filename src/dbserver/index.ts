export { type EmbeddedCouch, type EmbeddedCouchOptions, startEmbeddedCouch } from './embedded';
