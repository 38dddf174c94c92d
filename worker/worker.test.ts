import { afterAll, beforeAll, expect, test } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@parley/stack/testing/index.ts';
import { poolDatabase } from './worker.ts';

let database: TestDatabase;
let pool: pg.Pool;
beforeAll(async () => {
	database = await createTestDatabase('platform');
	pool = new pg.Pool({ connectionString: database.url, max: 1 });
});
afterAll(async () => {
	await pool.end();
	await database.drop();
});

test('a transaction whose connection dies rejects without ending the process; the next one gets a fresh connection', async () => {
	const db = poolDatabase(pool);
	const first = await db.query('select pg_backend_pid() as pid');
	await expect(
		db.transaction((tx) => tx.query('select pg_terminate_backend(pg_backend_pid())'))
	).rejects.toThrow(/terminating connection/);
	// Let the closed socket report itself: unheard, that report would be an uncaught error.
	await new Promise((r) => setTimeout(r, 100));
	const next = await db.transaction((tx) => tx.query('select pg_backend_pid() as pid'));
	expect(next.rows[0].pid).not.toBe(first.rows[0].pid);
});
