/**
 * A few promise helpers over IndexedDB, shared by the key ring and the outbox. The factory is a
 * parameter so tests (and non-browser code) can pass `fake-indexeddb`.
 */

/** The global `indexedDB`, or an error that says why there is none (SSR, old runtimes). */
export function defaultIndexedDB(): IDBFactory {
	if (typeof indexedDB === 'undefined') throw new Error('IndexedDB is not available here');
	return indexedDB;
}

/** Resolves with a request's result. */
export function request<T>(req: IDBRequest<T>): Promise<T> {
	return new Promise((resolve, reject) => {
		req.onsuccess = () => resolve(req.result);
		req.onerror = () => reject(req.error);
	});
}

/** Opens (and creates or upgrades) a database whose stores are all keyed by `keyPath`. */
export function openDatabase(
	factory: IDBFactory,
	name: string,
	version: number,
	upgrade: (db: IDBDatabase) => void
): Promise<IDBDatabase> {
	return new Promise((resolve, reject) => {
		const req = factory.open(name, version);
		req.onupgradeneeded = () => upgrade(req.result);
		req.onsuccess = () => {
			const db = req.result;
			// Another tab upgrading the schema must not be blocked by us.
			db.onversionchange = () => db.close();
			resolve(db);
		};
		req.onerror = () => reject(req.error);
		req.onblocked = () => reject(new Error(`IndexedDB ${name} is blocked by another tab`));
	});
}

/** Runs `work` in one transaction and resolves once it has committed. */
export function transaction<T>(
	db: IDBDatabase,
	store: string,
	mode: IDBTransactionMode,
	work: (store: IDBObjectStore) => IDBRequest<T> | void
): Promise<T | undefined> {
	return new Promise((resolve, reject) => {
		const tx = db.transaction(store, mode);
		const req = work(tx.objectStore(store));
		tx.oncomplete = () => resolve(req ? req.result : undefined);
		tx.onerror = () => reject(tx.error);
		tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
	});
}
