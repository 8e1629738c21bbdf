/*
 * Durations as people read them, one function per place they are shown: in a sentence (doctor,
 * proxy lifetimes), in a table column (status, the web page), and a wait measured in ms (staging).
 */

/** `45 s`, `5 min`, `2 h 10 min`, `3 d 4 h`. */
export function durationInWords(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  // Round once to the unit shown, then split: 86399 s is 24 h 0 min, never 23 h 60 min.
  const minutes = Math.round(s / 60);
  if (minutes < 60) return `${minutes} min`;
  if (minutes < 48 * 60) {
    const min = minutes % 60;
    return min ? `${Math.floor(minutes / 60)} h ${min} min` : `${Math.floor(minutes / 60)} h`;
  }
  const hours = Math.round(s / 3600);
  const d = Math.floor(hours / 24);
  return hours % 24 ? `${d} d ${hours % 24} h` : `${d} d`;
}

/** `3725` -> `1h 02m`; `65` -> `1m 05s`; `4` -> `4s`; `2.345` -> `2.3s`; `0.042` -> `0.04s`. */
export function durationCompact(seconds: number): string {
  // Short phases (a cached sandbox, a local input) keep their fraction: `0s` would hide them.
  if (seconds > 0 && seconds < 10) return `${Number(seconds.toFixed(seconds < 1 ? 2 : 1))}s`;
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (d > 0) return `${d}d ${pad(h)}h`;
  if (h > 0) return `${h}h ${pad(m)}m`;
  if (m > 0) return `${m}m ${pad(sec)}s`;
  return `${sec}s`;
}

/** `0.2 s`, `45 s`, `3600 s`: whole seconds from 10 s on, one decimal below. */
export function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${s >= 10 ? Math.round(s) : Number(s.toFixed(1))} s`;
}
