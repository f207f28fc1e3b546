// What the front shows of an instance: moto's record with the status of its phase (or a status a
// test forced), no endpoint while creating, its parameter group's apply status, and a deleting
// instance after moto forgot it.
import { Lifecycles, type Timings } from './lifecycle.js';
import { type Moto } from './moto.js';
import { ApplyStatuses, withApplyStatus } from './parameter-groups.js';
import { field, withoutEndpoint, withStatus, type Scope } from './query.js';

/** An instance as RDS would show it now. */
export interface Shown {
  readonly status: string;
  readonly block: string;
}

export class Instances {
  readonly lifecycles: Lifecycles;
  readonly applying = new ApplyStatuses();
  readonly #forced = new Map<string, string>();
  readonly #availableAt = new Map<string, number>();

  constructor(
    private readonly moto: Moto,
    timings?: Partial<Timings>,
  ) {
    this.lifecycles = new Lifecycles(timings);
  }

  /** Reports `status` for the identifier whatever happens; undefined lifts it. */
  force(id: string, status: string | undefined): void {
    if (status === undefined) this.#forced.delete(id);
    else this.#forced.set(id, status);
  }

  /** When the front first showed the instance `available` (ms since epoch). */
  availableAt(id: string): number | undefined {
    return this.#availableAt.get(id);
  }

  /** A new instance under an identifier: it has not been available yet, and is in sync. */
  created(id: string): void {
    this.#availableAt.delete(id);
    this.applying.clear(id);
  }

  /** An instance's XML block (moto's) as RDS would show it now. */
  shown(moto: string): string {
    const id = (field(moto, 'DBInstanceIdentifier') ?? '').toLowerCase();
    const applyStatus = this.applying.of(id);
    const block = applyStatus ? withApplyStatus(moto, applyStatus) : moto;
    const status = this.#forced.get(id) ?? this.lifecycles.phaseOf(id);
    if (status === undefined) {
      if (field(block, 'DBInstanceStatus') === 'available') this.#firstAvailable(id);
      return block;
    }
    if (status === 'available') this.#firstAvailable(id);
    // NOTE: RDS has no endpoint for an instance until its creation is done
    return status === 'creating'
      ? withoutEndpoint(withStatus(block, status))
      : withStatus(block, status);
  }

  /** The instance now, from moto or a deleting one moto has forgotten; undefined if none. */
  async current(id: string, scope?: Scope): Promise<Shown | undefined> {
    if (!id) return undefined;
    const block = (await this.moto.instance(id, scope)) ?? this.lifecycles.ghost(id);
    if (!block) return undefined;
    const view = this.shown(block);
    return { status: field(view, 'DBInstanceStatus') ?? 'unknown', block: view };
  }

  #firstAvailable(id: string): void {
    if (!this.#availableAt.has(id)) this.#availableAt.set(id, Date.now());
  }
}
