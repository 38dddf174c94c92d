/**
 * What the device's cryptography costs per message, in this Node (the browser runs the same
 * WebCrypto and tweetnacl code): sealing and opening a message, signing it and checking its
 * signature (the end-to-end cost shows in app.bench.ts's Enter → painted), a safety number, and
 * opening a key backup (Argon2id at the parameters new backups use).
 */
import { decryptBackup, encryptBackup } from '../src/lib/crypto/backup.ts';
import { generateIdentity, newConversationKey, openText, sealText } from '../src/lib/crypto/e2ee.ts';
import { safetyNumber } from '../src/lib/crypto/safety-number.ts';
import {
	checkSignature,
	signFields,
	signingKeyOf,
	signingPublicKeyOf,
	type SignedFields
} from '../src/lib/crypto/signing.ts';
import { percentile, report } from './support.ts';

const ROUNDS = 2000;

async function time(run: () => unknown | Promise<unknown>, rounds = ROUNDS): Promise<number[]> {
	const samples: number[] = [];
	for (let i = 0; i < rounds; i++) {
		const start = performance.now();
		await run();
		samples.push(performance.now() - start);
	}
	return samples;
}

function figures(samples: number[]) {
	return {
		p50_ms: percentile(samples, 50).toFixed(3),
		p95_ms: percentile(samples, 95).toFixed(3),
		rounds: samples.length
	};
}

const identity = generateIdentity();
const key = await signingKeyOf(identity.secretKey);
const conversationKey = newConversationKey();
const text = 'A message of a typical length, about as long as what people send in a chat.';
const sealed = sealText(conversationKey, text);
const fields: SignedFields = {
	kind: 'message',
	conversationId: crypto.randomUUID(),
	epoch: 1,
	clientId: crypto.randomUUID(),
	messageType: 'text',
	senderId: crypto.randomUUID(),
	replyToId: null,
	nonce: sealed.nonce,
	ciphertext: sealed.ciphertext,
	attachment: null
};
const sig = await signFields(key, fields);
// Warm the verifying key's import cache, as a conversation's second message finds it.
await checkSignature(fields, sig, [key.publicKey]);

report('seal one message (secretbox)', figures(await time(() => sealText(conversationKey, text))));
report(
	'open one message (secretbox)',
	figures(await time(() => openText(conversationKey, sealed.ciphertext, sealed.nonce)))
);
report('sign one message (Ed25519, WebCrypto)', figures(await time(() => signFields(key, fields))));
report(
	'verify one message (Ed25519, WebCrypto)',
	figures(await time(() => checkSignature(fields, sig, [key.publicKey])))
);
const other = generateIdentity();
const parties = [
	{ userId: 'a', signingKey: signingPublicKeyOf(identity.secretKey), publicKey: identity.publicKey },
	{ userId: 'b', signingKey: signingPublicKeyOf(other.secretKey), publicKey: other.publicKey }
] as const;
report('safety number of two people', figures(await time(() => safetyNumber(...parties), 20)));
const backup = await encryptBackup(identity.secretKey, 'correct horse battery staple');
report(
	'open a key backup (Argon2id, new backups)',
	figures(await time(() => decryptBackup(backup, 'correct horse battery staple'), 5))
);
