/**
 * Test support: builds replication protocol bytes the way the server writes them (pgoutput
 * messages, and the XLogData frames that carry them), so pgoutput.ts and the replication stream
 * are tested without a server.
 */

export class Writer {
	parts: Buffer[] = [];
	byte(v: number | string) {
		this.parts.push(Buffer.from([typeof v === 'string' ? v.charCodeAt(0) : v]));
		return this;
	}
	int16(v: number) {
		const b = Buffer.alloc(2);
		b.writeInt16BE(v);
		this.parts.push(b);
		return this;
	}
	int32(v: number) {
		const b = Buffer.alloc(4);
		b.writeInt32BE(v);
		this.parts.push(b);
		return this;
	}
	int64(v: bigint) {
		const b = Buffer.alloc(8);
		b.writeBigUInt64BE(v);
		this.parts.push(b);
		return this;
	}
	cstring(v: string) {
		this.parts.push(Buffer.from(v + '\0'));
		return this;
	}
	text(v: string) {
		const bytes = Buffer.from(v);
		return this.byte('t').int32(bytes.length).raw(bytes);
	}
	raw(b: Buffer) {
		this.parts.push(b);
		return this;
	}
	done() {
		return Buffer.concat(this.parts);
	}
}

/** An XLogData frame carrying one pgoutput message. */
export function xlogData(message: Buffer, walEnd = 0n): Buffer {
	return new Writer().byte('w').int64(0n).int64(walEnd).int64(0n).raw(message).done();
}
