/** What the app's enhanced forms share. */
import type { SubmitFunction } from '$app/forms';

/**
 * A `use:enhance` callback that reports `busy` while the form submits and, when the answer comes,
 * updates the page without resetting the fields (after an error, what was typed is still there).
 */
export function keepFieldsWhileSubmitting(busy: (submitting: boolean) => void): SubmitFunction {
	return () => {
		busy(true);
		return async ({ update }) => {
			await update({ reset: false });
			busy(false);
		};
	};
}
