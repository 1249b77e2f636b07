/** The button and its status line, styled inline so a merchant's page needs no stylesheet. */
import type { Config } from './config.js';

export interface ButtonUi {
  button: HTMLButtonElement;
  /** Replaces the status line with `text` followed by `parts` (links, text nodes). */
  say(text: string, parts?: Node[]): void;
}

export function el<K extends keyof HTMLElementTagNameMap>(doc: Document, tag: K, style: string, text = ''): HTMLElementTagNameMap[K] {
  const e = doc.createElement(tag);
  if (style) e.setAttribute('style', style);
  if (text) e.textContent = text;
  return e;
}

/** Renders into `data-target`, else right after the script element (or at the end of the body for a script in the head). */
export function render(doc: Document, script: HTMLScriptElement, config: Config | null): ButtonUi {
  const box = el(
    doc,
    'div',
    'font:15px/1.45 system-ui,sans-serif;margin:1rem 0;padding:.9rem 1rem;border:1px solid #d8d8e0;border-radius:10px;background:#fafaff;max-width:34rem',
  );
  box.className = 'tollway-pay';
  const button = el(
    doc,
    'button',
    'font:inherit;font-weight:600;padding:.55rem 1.1rem;border:0;border-radius:8px;background:#4b3fd8;color:#fff;cursor:pointer',
    config ? config.label : 'Pay with Tollway',
  );
  button.type = 'button';
  button.className = 'tollway-pay__button';
  const status = el(doc, 'div', 'margin-top:.5rem;color:#444');
  status.className = 'tollway-pay__status';
  status.setAttribute('role', 'status');
  status.setAttribute('aria-live', 'polite');
  box.appendChild(button);
  box.appendChild(status);
  const target = config?.target ? doc.querySelector(config.target) : null;
  if (target) target.appendChild(box);
  else if (script.parentNode && script.parentNode !== doc.head) script.parentNode.insertBefore(box, script.nextSibling);
  else doc.body.appendChild(box);
  return {
    button,
    say(text, parts = []) {
      status.textContent = '';
      if (text) status.appendChild(doc.createTextNode(text));
      for (const p of parts) status.appendChild(p);
    },
  };
}
