/**
 * The Tollway pay button: the entry `npm run build:snippet` bundles into tollway.js, which the hub
 * serves at /tollway.js.
 *
 *   <script src="https://hub.example/tollway.js" data-merchant="m_…" data-price="1500000000000000"
 *           data-asset="SOVR" data-description="One article"></script>
 *
 * Attributes: data-merchant (required), data-price (base units, required), data-asset (SOVR | BTC,
 * default SOVR), data-description, data-resource (the URL paid for; default this page),
 * data-label (button text), data-target (CSS selector to render into; default right after the
 * script element), data-install-url (where to get the extension), data-hub (default: where this
 * script came from).
 *
 * With data-slots (where the merchant mounted slots(), e.g. "/slots") it renders the join dialog of
 * prepaid slots instead (./slots.ts); data-label names its button, data-purpose what a slot is for.
 */
import { boot } from './boot.js';

// Read now: document.currentScript is null once this script has finished running.
const script = document.currentScript;
boot(script instanceof HTMLScriptElement ? script : null, window);
