/**
 * The icons the pages draw, as inline SVG (no icon font, no request): 24×24 outlines that take
 * the text colour and size (`.icon` is 1em).
 */
import type { JSX } from 'preact';

const PATHS = {
  copy: 'M9 9h10v10H9zM5 15V5h10',
  check: 'M5 12l5 5 9-10',
  back: 'M15 5l-7 7 7 7',
  next: 'M9 5l7 7-7 7',
  external: 'M14 4h6v6M20 4l-9 9M18 14v6H4V6h6',
  lock: 'M6 11h12v9H6zM9 11V8a3 3 0 0 1 6 0v3',
  settings:
    'M12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6zM12 2v3M12 19v3M4.2 4.2l2.1 2.1M17.7 17.7l2.1 2.1M2 12h3M19 12h3M4.2 19.8l2.1-2.1M17.7 6.3l2.1-2.1',
  plus: 'M12 5v14M5 12h14',
  download: 'M12 4v11M7 10l5 5 5-5M5 20h14',
  alert: 'M12 3l10 18H2zM12 10v5M12 18v.5',
  offline: 'M3 3l18 18M8.5 16.5a5 5 0 0 1 7 0M5 13a10 10 0 0 1 5-2.7M14 10.3A10 10 0 0 1 19 13M2 9.5a15 15 0 0 1 4-2.6',
  budget: 'M4 7h16v12H4zM4 11h16M8 15h3',
  refresh: 'M20 11a8 8 0 1 0-2.3 5.7M20 5v6h-6',
  wallet: 'M3 7h18v13H3zM3 7l3-4h12l3 4M16 13h2',
} as const;

export type IconName = keyof typeof PATHS;

/** Always decorative: the button or text around it carries the name. */
export function Icon({ name }: { name: IconName }) {
  return (
    <svg
      class="icon"
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      stroke-width="2"
      stroke-linecap="round"
      stroke-linejoin="round"
      aria-hidden="true"
    >
      <path d={PATHS[name]} />
    </svg>
  );
}

/**
 * A small picture of an address, always the same for the same address: a 5×5 mirrored grid and a
 * hue taken from its hex digits. It lets a person notice at a glance that the account changed;
 * it is not a check (the address is shown beside it).
 */
export function Identicon({ address, size = 32, label }: { address: string; size?: number; label: string }) {
  const hex = address.toLowerCase().replace(/^0x/, '').padEnd(40, '0');
  const hue = Number.parseInt(hex.slice(0, 3), 16) % 360;
  const cells: JSX.Element[] = [];
  for (let y = 0; y < 5; y++) {
    for (let x = 0; x < 3; x++) {
      // 15 digits pick the 15 cells of the left half and middle; the right half mirrors them.
      if (Number.parseInt(hex[3 + y * 3 + x]!, 16) % 2 === 0) continue;
      cells.push(<rect key={`${x}-${y}`} x={x + 1} y={y + 1} width="1" height="1" />);
      if (x < 2) cells.push(<rect key={`m${x}-${y}`} x={5 - x} y={y + 1} width="1" height="1" />);
    }
  }
  return (
    <svg class="identicon" width={size} height={size} viewBox="0 0 7 7" role="img" aria-label={label} shape-rendering="crispEdges">
      <rect width="7" height="7" rx="1.4" fill={`hsl(${hue} 45% 90%)`} />
      <g fill={`hsl(${hue} 60% 38%)`}>{cells}</g>
    </svg>
  );
}
