/** Prints the stack's URLs and keys the way `supabase status` does. */
import { databaseUrl, type StackConfig } from './config.ts';

export function formatStatus(config: StackConfig, apiUrl: string, appUrl?: string): string {
	const rows: [string, string][] = [
		['API URL', apiUrl],
		['REST URL', `${apiUrl}/rest/v1`],
		['Auth URL', `${apiUrl}/auth/v1`],
		['Realtime URL', `${apiUrl.replace(/^http/, 'ws')}/realtime/v1`],
		['Storage URL', `${apiUrl}/storage/v1`],
		['DB URL', databaseUrl(config)],
		...(appUrl ? ([['App URL', appUrl]] as [string, string][]) : []),
		['Publishable key', config.publishableKey],
		['Secret key', config.secretKey],
		['JWT secret', config.jwtSecret],
		['anon key', config.anonKey],
		['service_role key', config.serviceRoleKey]
	];
	const width = Math.max(...rows.map(([k]) => k.length));
	return rows.map(([k, v]) => `${k.padStart(width)}: ${v}`).join('\n');
}
