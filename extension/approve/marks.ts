/**
 * The User Timing mark the approval window sets once the first request waiting for a decision has
 * been painted. `npm run bench -- extension` times 402 → window by it.
 */
export const SHOWN_MARK = 'tollway:approval-shown';
