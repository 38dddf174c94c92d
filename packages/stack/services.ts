/** Starts the stack's HTTP services (Auth, REST, Realtime, Storage) behind one gateway. */
import type { StackConfig } from './config.ts';
import { startGateway, type Gateway } from './gateway.ts';
import { createAuthService } from './auth/index.ts';
import { createRestService } from './rest/index.ts';
import { createRealtimeService } from './realtime/index.ts';
import { createStorageService } from './storage/index.ts';

/** What every service factory receives. */
export interface ServiceDeps {
	config: StackConfig;
	/** Superuser connection string of the project database. */
	dbUrl: string;
	log?: (service: string, message: string) => void;
	/** Folder of Storage's objects (default: `storage` in the data folder). */
	storageDir?: string;
}

export async function startServices(
	deps: ServiceDeps,
	options: { port?: number; host?: string } = {}
): Promise<Gateway> {
	return startGateway(
		deps.config,
		{
			auth: createAuthService(deps),
			rest: createRestService(deps),
			realtime: createRealtimeService(deps),
			storage: createStorageService(deps)
		},
		options
	);
}
