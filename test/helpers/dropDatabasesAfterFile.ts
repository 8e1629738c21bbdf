import { afterAll } from 'vitest';
import { dropTrackedDatabases } from './couch';

/**
 * vitest setupFiles: runs in every test file before its own code, so this afterAll belongs to the
 * file's root suite and runs after the file's own afterAll hooks (hooks run as a stack): every
 * database the file made (createTestDatabase, trackDatabase) is dropped, whatever its tests did.
 */
afterAll(dropTrackedDatabases);
