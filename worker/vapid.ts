/**
 * The worker's VAPID key pair: generated on the first start and stored in `delivery.vapid_keys`
 * (readable by service_role only), so every worker instance, the Edge Function and the
 * `get_vapid_public_key()` RPC agree on it and nothing is ever committed to git. The logic lives in
 * the shared module so the Edge Function uses the same.
 */
export { ensureVapidKeys } from '../supabase/functions/_shared/delivery.ts';
