/** What the unlock frame tells the popup (never the password): the key is about to be in session storage. */
export const UNLOCKED = 'tollway.unlocked-in-frame';
