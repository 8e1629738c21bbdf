export { type CouchCluster, type CouchClusterOptions, startCouchCluster } from './cluster';
export { type EmbeddedCouch, type EmbeddedCouchOptions, startEmbeddedCouch } from './embedded';
