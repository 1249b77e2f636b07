import { nanos, StorageType, type JetStreamManager, type NatsError, type StreamConfig } from 'nats';
import type { Logger } from '../logger.js';

export interface StreamSettings {
  name: string;
  /** Subjects are `<prefix>.<event type>`; the stream holds `<prefix>.>`. */
  subjectPrefix: string;
  duplicateWindowSeconds: number;
}

/** JetStream's code for "stream not found" (JSStreamNotFoundErr). */
const STREAM_NOT_FOUND = 10059;

/**
 * Makes sure the stream exists and takes the events: created when missing (file storage, so it
 * survives a server restart, and our de-duplication window). An existing stream keeps whatever
 * else an operator set (limits, replicas, retention); only a missing subject or another window is
 * brought to ours, since the hub's at-least-once promise rests on both.
 */
export async function ensureStream(jsm: JetStreamManager, s: StreamSettings, logger?: Pick<Logger, 'info'>): Promise<void> {
  const subject = `${s.subjectPrefix}.>`;
  const window = nanos(s.duplicateWindowSeconds * 1000);
  let existing: StreamConfig;
  try {
    existing = (await jsm.streams.info(s.name)).config;
  } catch (err) {
    if ((err as NatsError).api_error?.err_code !== STREAM_NOT_FOUND) throw err;
    await jsm.streams.add({ name: s.name, subjects: [subject], storage: StorageType.File, duplicate_window: window });
    logger?.info({ stream: s.name, subject, duplicateWindowSeconds: s.duplicateWindowSeconds }, 'event stream created');
    return;
  }
  const subjects = existing.subjects ?? [];
  if (subjects.includes(subject) && existing.duplicate_window === window) return;
  await jsm.streams.update(s.name, {
    ...existing,
    subjects: subjects.includes(subject) ? subjects : [...subjects, subject],
    duplicate_window: window,
  });
  logger?.info({ stream: s.name, subject, duplicateWindowSeconds: s.duplicateWindowSeconds }, 'event stream updated');
}
