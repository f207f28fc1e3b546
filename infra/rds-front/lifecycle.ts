// Each instance's life as real RDS shows it: states that take time, where moto is instant. An
// accepted call starts a phase (`creating`, `modifying`, `deleting`, ...) that lasts as long as
// the instance's timings say, then moves on by the table below; an instance with no phase left
// shows whatever moto says.
import { withStatus } from './query.js';

export interface Timings {
  readonly creatingMs: number;
  readonly backingUpMs: number;
  readonly modifyingMs: number;
  readonly deletingMs: number;
}

export const INSTANT: Timings = { creatingMs: 0, backingUpMs: 0, modifyingMs: 0, deletingMs: 0 };

/** What follows a phase once its time is up; phases not named here end in `available`. */
const NEXT: Readonly<Record<string, { readonly phase: string; ms(t: Timings): number } | 'gone'>> =
  {
    creating: { phase: 'backing-up', ms: (t) => t.backingUpMs },
    deleting: 'gone',
  };

interface Life {
  phase: string;
  until: number;
  readonly timings: Timings;
  /** a deleting instance as it was shown last: moto has already forgotten it */
  readonly ghost?: string;
}

export class Lifecycles {
  #defaults: Timings;
  readonly #byPrefix: { readonly match: string; readonly timings: Timings }[] = [];
  readonly #lives = new Map<string, Life>();

  constructor(timings?: Partial<Timings>) {
    this.#defaults = { ...INSTANT, ...timings };
  }

  /** The timings of identifiers starting with `match` (the latest setting wins), or of all. */
  setTimings(timings: Partial<Timings>, match?: string): void {
    const merged = { ...(match ? this.timingsFor(match) : this.#defaults), ...timings };
    if (match) this.#byPrefix.unshift({ match, timings: merged });
    else this.#defaults = merged;
  }

  timingsFor(id: string): Timings {
    return this.#byPrefix.find((t) => id.startsWith(t.match))?.timings ?? this.#defaults;
  }

  /** Starts a phase of `id` that lasts `ms(timings)`; `ghost` shows a deleting instance. */
  begin(id: string, phase: string, ms: (t: Timings) => number, ghost?: string): void {
    const timings = this.timingsFor(id);
    const until = Date.now() + ms(timings);
    this.#lives.set(id, { phase, until, timings, ...(ghost ? { ghost } : {}) });
  }

  /** Starts the deletion of an instance last shown as `shown`: it stays visible meanwhile. */
  beginDeleting(id: string, shown: string): void {
    this.begin(id, 'deleting', (t) => t.deletingMs, withStatus(shown, 'deleting'));
  }

  /** The phase the front shows now, moved on as far as time says; undefined when none. */
  phaseOf(id: string): string | undefined {
    const life = this.#lives.get(id);
    if (!life) return undefined;
    const now = Date.now();
    while (now >= life.until) {
      const next = NEXT[life.phase];
      if (next === 'gone') {
        this.#lives.delete(id);
        return undefined;
      }
      life.phase = next?.phase ?? 'available';
      life.until = next ? life.until + next.ms(life.timings) : Number.POSITIVE_INFINITY;
    }
    return life.phase;
  }

  /** The deleting instances (only `id`'s when given) as they were shown last. */
  ghosts(id?: string): string[] {
    return [...this.#lives.entries()]
      .filter(([ghostId, life]) => life.ghost && this.phaseOf(ghostId) === 'deleting')
      .filter(([ghostId]) => !id || ghostId === id)
      .map(([, life]) => life.ghost ?? '');
  }

  /** A deleting instance as it was shown last, while it is still deleting. */
  ghost(id: string): string | undefined {
    return this.phaseOf(id) === 'deleting' ? this.#lives.get(id)?.ghost : undefined;
  }
}
