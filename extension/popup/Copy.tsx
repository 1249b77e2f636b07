/** A small "copy" button: the value goes to the clipboard, and the icon says it went. */
import { useState } from 'preact/hooks';
import { t } from '../common/i18n.js';
import { Icon } from '../common/icons.js';

export function CopyButton({ value, what, testId }: { value: string; what: string; testId?: string }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    await navigator.clipboard.writeText(value);
    setDone(true);
    setTimeout(() => setDone(false), 1500);
  };
  return (
    <button
      type="button"
      class="btn-ghost btn-icon"
      aria-label={t('common_copy_what', what)}
      title={done ? t('common_copied') : t('common_copy_what', what)}
      data-testid={testId}
      onClick={() => void copy()}
    >
      <Icon name={done ? 'check' : 'copy'} />
    </button>
  );
}
