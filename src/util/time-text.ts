/**
 * @module util/time-text
 * A moment as AnyLog's commands show it: `YYYY-MM-DD HH:MM:SS`, in UTC.
 */

/** `2026-12-05 09:14:30` for a Date (UTC, whole seconds). */
export const timeText = (d: Date): string => d.toISOString().slice(0, 19).replace("T", " ");
