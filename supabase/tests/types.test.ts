/**
 * The drift check of the generated database types: types generated from a fresh app database (the
 * platform layer and every migration) must equal the checked-in `src/lib/database.types.ts`, so a
 * migration cannot change the contract without the types (and the code they check) following.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { createTestDatabase, type TestDatabase } from '@parley/stack/testing/index.ts';
import { generateTypes, TYPES_PATH } from '../../scripts/gen-types.ts';

let database: TestDatabase;
beforeAll(async () => {
	database = await createTestDatabase('app');
});
afterAll(async () => {
	await database?.drop();
});

test('src/lib/database.types.ts matches the migrations', async () => {
	const generated = await generateTypes(database.url);
	expect(generated, 'database types are stale: run npm run gen:types').toBe(readFileSync(TYPES_PATH, 'utf8'));
}, 120_000);
