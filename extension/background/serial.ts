/**
 * Runs async tasks one after another. chrome.storage has no transactions, so every
 * read-modify-write of the approval queue goes through one of these: two 402s arriving together
 * must not both read the old queue and each write back a queue missing the other.
 */
export type Serial = <T>(task: () => Promise<T>) => Promise<T>;

export function createSerial(): Serial {
  let tail: Promise<unknown> = Promise.resolve();
  return (task) => {
    const run = tail.then(task, task);
    tail = run.catch(() => undefined);
    return run;
  };
}
