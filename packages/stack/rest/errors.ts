/**
 * The REST API's error catalogue: PostgREST's error shape (`{code, message, details, hint}`) and
 * one named constructor per error the REST layer raises itself (PGRSTxxx codes, with PostgREST's
 * statuses and wording), so that a code and its message are written in one place. Errors that
 * PostgreSQL reports are mapped in pg-errors.ts.
 */

/** The JSON body PostgREST answers errors with. */
export interface ErrorBody {
	code: string;
	message: string;
	details: unknown;
	hint: string | null;
}

/** An error raised by the REST layer itself (PGRSTxxx codes) with its HTTP status. */
export class ApiError extends Error {
	override name = 'ApiError';
	readonly status: number;
	readonly code: string;
	readonly details: unknown;
	readonly hint: string | null;
	readonly headers: Record<string, string>;
	constructor(
		status: number,
		code: string,
		message: string,
		details: unknown = null,
		hint: string | null = null,
		headers: Record<string, string> = {}
	) {
		super(message);
		this.status = status;
		this.code = code;
		this.details = details;
		this.hint = hint;
		this.headers = headers;
	}
	get body(): ErrorBody {
		return { code: this.code, message: this.message, details: this.details, hint: this.hint };
	}
}

const notEmbeddedHint = (name: string) =>
	`Verify that '${name}' is included in the 'select' query parameter.`;
const parameterList = (keys: string[]) => [...keys].sort().join(', ');

/** The errors of the REST layer, by what went wrong. */
export const errors = {
	// Requests: path, method, headers, body.
	/** PGRST100: a query parameter that does not parse. */
	parse: (what: string, details: string | null = null) =>
		new ApiError(400, 'PGRST100', `"failed to parse ${what}"`, details),
	invalidCast: (cast: string) => new ApiError(400, 'PGRST100', `invalid cast ${cast}`),
	embedIsFilter: (value: string) =>
		new ApiError(400, 'PGRST100', `"failed to parse filter (is.${value})" on an embedded resource`),
	rpcMethod: (method: string) => new ApiError(405, 'PGRST101', `Cannot use the ${method} method on RPC`),
	/** PGRST102: a body that is not the JSON the request needs. */
	invalidBody: (details: string | null = null) =>
		new ApiError(400, 'PGRST102', 'Empty or invalid json', details),
	keysMismatch: () => new ApiError(400, 'PGRST102', 'All object keys must match'),
	rangeNotSatisfiable: (details: string | null, total: number | null) =>
		new ApiError(416, 'PGRST103', 'Requested range not satisfiable', details, null, {
			'content-range': `*/${total ?? '*'}`
		}),
	invalidSchema: (schema: string, exposed: string[]) =>
		new ApiError(
			406,
			'PGRST106',
			`Invalid schema: ${schema}`,
			null,
			`Only the following schemas are exposed: ${exposed.join(', ')}`
		),
	notAcceptable: (accept: string) =>
		new ApiError(406, 'PGRST107', `None of these media types are available: ${accept}`),
	unsupportedContentType: (type: string) =>
		new ApiError(415, 'PGRST107', `Content-Type not acceptable: ${type}`),
	notEmbedded: (name: string) =>
		new ApiError(
			400,
			'PGRST108',
			`'${name}' is not an embedded resource in this request`,
			null,
			notEmbeddedHint(name)
		),
	singularity: (rows: number) =>
		new ApiError(
			406,
			'PGRST116',
			'Cannot coerce the result to a single JSON object',
			`The result contains ${rows} rows`
		),
	unsupportedMethod: (method: string) => new ApiError(405, 'PGRST117', `Unsupported HTTP method: ${method}`),
	relatedOrderNotToOne: (parent: string, relation: string) =>
		new ApiError(
			400,
			'PGRST118',
			`A related order on '${relation}' is not possible`,
			`'${parent}' and '${relation}' do not form a many-to-one or one-to-one relationship`
		),
	invalidPreferences: (invalid: string[]) =>
		new ApiError(
			400,
			'PGRST122',
			'Invalid preferences given with handling=strict',
			`Invalid preferences: ${invalid.join(', ')}`
		),
	aggregatesNotAllowed: () => new ApiError(400, 'PGRST123', 'Use of aggregate functions is not allowed'),
	maxAffected: (rows: string) =>
		new ApiError(
			400,
			'PGRST124',
			'Query result exceeds max-affected preference constraint',
			`The query affects ${rows} rows`
		),
	invalidPath: () => new ApiError(404, 'PGRST125', 'Invalid path specified in request URL'),
	/** PGRST127: syntax PostgREST has but this server does not implement; never silently ignored. */
	unsupported: (feature: string) =>
		new ApiError(400, 'PGRST127', 'Feature not implemented', `${feature} is not supported by this server`),
	/** PGRST127 with the reason as the details. */
	notImplemented: (details: string) => new ApiError(400, 'PGRST127', 'Feature not implemented', details),
	payloadTooLarge: (limit: number) =>
		new ApiError(413, 'PGRST413', 'Payload Too Large', `The request body is over ${limit} bytes`),

	// The schema cache: names a request uses that the database does not have.
	noRelationship: (parent: { name: string; schema: string }, name: string, hint: string | undefined) =>
		new ApiError(
			400,
			'PGRST200',
			`Could not find a relationship between '${parent.name}' and '${name}' in the schema cache`,
			`Searched for a foreign key relationship between '${parent.name}' and '${name}'${hint ? ` using the hint '${hint}'` : ''} in the schema '${parent.schema}', but no matches were found.`,
			null
		),
	ambiguousRelationship: (parent: string, name: string, details: unknown[], hints: string[]) =>
		new ApiError(
			300,
			'PGRST201',
			`Could not embed because more than one relationship was found for '${parent}' and '${name}'`,
			details,
			`Try changing '${name}' to one of the following: ${hints.map((h) => `'${name}!${h}'`).join(', ')}. Find the desired relationship in the 'details' key.`
		),
	noFunction: (schema: string, name: string, keys: string[], hint: string | null) => {
		const list = parameterList(keys);
		return new ApiError(
			404,
			'PGRST202',
			`Could not find the function ${schema}.${name}${list ? `(${list})` : ' without parameters'} in the schema cache`,
			`Searched for the function ${schema}.${name}${list ? ` with parameters ${list}` : ' without parameters'} or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.`,
			hint
		);
	},
	ambiguousFunction: (signatures: string[]) =>
		new ApiError(
			300,
			'PGRST203',
			`Could not choose the best candidate function between: ${signatures.join(', ')}`,
			null,
			'Try renaming the parameters or the function itself in the database so function overloading can be resolved'
		),
	noPayloadColumn: (table: string, column: string) =>
		new ApiError(400, 'PGRST204', `Could not find the '${column}' column of '${table}' in the schema cache`),
	noTable: (schema: string, name: string, close: string | undefined) =>
		new ApiError(
			404,
			'PGRST205',
			`Could not find the table '${schema}.${name}' in the schema cache`,
			null,
			close ? `Perhaps you meant the table '${schema}.${close}'` : null
		),
	/** 42703, as PostgREST reports a column the schema cache lacks. */
	noColumn: (table: string, column: string, close: string | undefined) =>
		new ApiError(
			400,
			'42703',
			`column ${table}.${column} does not exist`,
			null,
			close ? `Perhaps you meant to reference the column "${table}.${close}".` : null
		),

	// The token.
	jwtInvalid: () =>
		new ApiError(401, 'PGRST301', 'No suitable key or wrong key type', null, null, {
			'www-authenticate': 'Bearer error="invalid_token"'
		}),
	jwtExpired: () =>
		new ApiError(401, 'PGRST303', 'JWT expired', null, null, { 'www-authenticate': 'Bearer' }),

	/** PGRST000: anything else, logged by the service. */
	unexpected: () => new ApiError(500, 'PGRST000', 'An unexpected error occurred')
};
