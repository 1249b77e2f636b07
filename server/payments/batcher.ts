/**
 * Collects work that arrives close together and hands it on in batches. What arrives within one
 * turn of the event loop goes into one batch; while `maxInFlight` batches are running, what arrives
 * waits and goes into the next one (at most `maxSize` items each). Under light load a batch is one
 * item and waits for nothing but the end of the current turn.
 */
export interface BatcherOptions {
  maxSize: number;
  maxInFlight: number;
}

/**
 * `run` answers each item of its batch, in order, with a value or a promise of one (an item it
 * passes on to slower work need not hold up the next batch). If `run` itself rejects, every item of
 * that batch is rejected with its error.
 */
export function createBatcher<T, R>(run: (items: T[]) => Promise<Array<R | Promise<R>>>, opts: BatcherOptions) {
  interface Waiting {
    item: T;
    resolve(value: R | Promise<R>): void;
    reject(err: unknown): void;
  }
  let queue: Waiting[] = [];
  let inFlight = 0;
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    while (inFlight < opts.maxInFlight && queue.length > 0) {
      const batch = queue.length <= opts.maxSize ? queue : queue.slice(0, opts.maxSize);
      queue = batch === queue ? [] : queue.slice(opts.maxSize);
      inFlight++;
      run(batch.map((w) => w.item))
        .then(
          (answers) => {
            for (let i = 0; i < batch.length; i++) batch[i]!.resolve(answers[i] as R | Promise<R>);
          },
          (err: unknown) => {
            for (const w of batch) w.reject(err);
          },
        )
        .finally(() => {
          inFlight--;
          flush();
        });
    }
  }

  return {
    submit(item: T): Promise<R> {
      return new Promise<R>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        // setImmediate runs after the poll phase: every request read in this turn joins the batch.
        if (!scheduled && inFlight < opts.maxInFlight) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    /** Items waiting and batches running, for tests and metrics. */
    get pending(): { queued: number; inFlight: number } {
      return { queued: queue.length, inFlight };
    },
  };
}
