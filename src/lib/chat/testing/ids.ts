/**
 * Readable ids for tests that are also GUIDs, as the live payload decoders (live-payloads.ts)
 * require of every id: `testId('bob')` is `00000000-0000-0000-0000-000000626f62`, the name's bytes
 * in hex at the end.
 */

/** The GUID named after `name` (at most 16 bytes of UTF-8). */
export function testId(name: string): string {
	const bytes = [...new TextEncoder().encode(name)];
	if (bytes.length > 16) throw new Error(`testId: "${name}" is longer than 16 bytes`);
	const hex = bytes
		.map((b) => b.toString(16).padStart(2, '0'))
		.join('')
		.padStart(32, '0');
	return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join('-');
}
