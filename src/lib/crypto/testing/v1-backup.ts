/**
 * A v1 key backup written by the PBKDF2 code that backup.ts replaced (e2ee.ts's encryptBackup at
 * 310,000 iterations), of a throwaway test identity, under `passphrase`. Tests use it to check
 * that old backups still open and are upgraded.
 */
import type { KeyBackupV1 } from '../backup.ts';

export const V1_BACKUP = {
	secretKey: 'ExP83RL7nZm9DzTAYj+VD0K1QOMAR0kGBKoEmG/mACk=',
	publicKey: 'jJIfAp9zPlIlnhpKui0QetL1k2UgMbgyHKJMb8py2is=',
	passphrase: 'correct horse battery staple',
	backup: {
		v: 1,
		kdf: 'PBKDF2-SHA-256',
		salt: 'WjZo+j1y+OAgzq0I9tzJ+Q==',
		iterations: 310000,
		nonce: 'VhqtEVEIDylhJKb0u+4xDBtwebHt/K6F',
		ciphertext: 'gQHOLz1COVpl+XHGjwbTFzURM9fhfym/XtDKgtXb6h2QZ69swp+KzdO9/RaQUNk9'
	} satisfies KeyBackupV1
};
