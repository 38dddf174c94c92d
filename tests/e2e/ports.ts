/**
 * Where the end-to-end run's app, API and database listen. The defaults are the Supabase CLI's;
 * `PARLEY_APP_PORT`, `PARLEY_API_PORT` and `PARLEY_DB_PORT` move them so two checkouts can run
 * their specs at once.
 */
const port = (name: string, fallback: number) => Number(process.env[name] || fallback);

export const APP_PORT = port('PARLEY_APP_PORT', 5173);
export const API_PORT = port('PARLEY_API_PORT', 54321);
export const DB_PORT = port('PARLEY_DB_PORT', 54322);
export const APP_URL = `http://127.0.0.1:${APP_PORT}`;
export const API_URL = `http://127.0.0.1:${API_PORT}`;
