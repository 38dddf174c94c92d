/**
 * The `Prefer` header: PostgREST's request preferences (return, count, resolution, missing, tx,
 * handling, max-affected, params, timezone), with those it does not understand kept so that
 * `handling=strict` can refuse them.
 */

export interface Preferences {
	return?: 'minimal' | 'headers-only' | 'representation';
	count?: 'exact' | 'planned' | 'estimated';
	resolution?: 'merge-duplicates' | 'ignore-duplicates';
	missing?: 'default' | 'null';
	tx?: 'commit' | 'rollback';
	handling?: 'strict' | 'lenient';
	maxAffected?: number;
	params?: 'single-object';
	timezone?: string;
	/** Preferences understood, echoed in `Preference-Applied`. */
	applied: string[];
	invalid: string[];
}

/** Parses `Prefer` headers (comma- or header-separated `key=value` items). */
export function parsePrefer(header: string | string[] | undefined): Preferences {
	const out: Preferences = { applied: [], invalid: [] };
	const items = (Array.isArray(header) ? header.join(',') : (header ?? ''))
		.split(/[,;]/)
		.map((s) => s.trim())
		.filter(Boolean);
	for (const item of items) {
		const [k, v = ''] = item.split('=', 2).map((s) => s.trim());
		const ok = (cond: boolean) => (cond ? true : (out.invalid.push(item), false));
		switch (k) {
			case 'return':
				if (ok(['minimal', 'headers-only', 'representation'].includes(v))) out.return = v as 'minimal';
				break;
			case 'count':
				if (ok(['exact', 'planned', 'estimated'].includes(v))) out.count = v as 'exact';
				break;
			case 'resolution':
				if (ok(['merge-duplicates', 'ignore-duplicates'].includes(v)))
					out.resolution = v as 'merge-duplicates';
				break;
			case 'missing':
				if (ok(['default', 'null'].includes(v))) out.missing = v as 'default';
				break;
			case 'tx':
				if (ok(['commit', 'rollback'].includes(v))) out.tx = v as 'commit';
				break;
			case 'handling':
				if (ok(['strict', 'lenient'].includes(v))) out.handling = v as 'strict';
				break;
			case 'max-affected':
				if (ok(/^\d{1,15}$/.test(v))) out.maxAffected = Number(v);
				break;
			case 'params':
				if (ok(v === 'single-object')) out.params = 'single-object';
				break;
			case 'timezone':
				if (ok(/^[A-Za-z0-9_+\-/]{1,64}$/.test(v))) out.timezone = v;
				break;
			default:
				out.invalid.push(item);
		}
	}
	return out;
}
