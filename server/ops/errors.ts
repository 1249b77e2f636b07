/** A refusal of an operator's command, with a message meant for them (no stack trace). */
export class OpsError extends Error {}
