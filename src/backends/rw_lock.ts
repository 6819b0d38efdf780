/**
 * {@linkcode RwLock}: an asynchronous readers–writer lock, first come first
 * served.
 *
 * Internal to the backends; nothing here is exported from `mod.ts`.
 *
 * @module
 */

interface Waiter {
  exclusive: boolean;
  grant: () => void;
}

/**
 * Many shared holders or one exclusive holder at a time. Requests are
 * granted in arrival order: a shared request behind a waiting exclusive one
 * waits too, so a stream of readers can never starve a writer.
 */
export class RwLock {
  #shared = 0;
  #exclusive = false;
  #queue: Waiter[] = [];

  /** Run `task` while holding the lock, shared or exclusive; released however `task` ends. */
  async with<T>(exclusive: boolean, task: () => Promise<T>): Promise<T> {
    await this.#acquire(exclusive);
    try {
      return await task();
    } finally {
      this.#release(exclusive);
    }
  }

  #acquire(exclusive: boolean): Promise<void> {
    if (this.#queue.length === 0 && this.#grantable(exclusive)) {
      this.#take(exclusive);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#queue.push({ exclusive, grant: resolve });
    });
  }

  #grantable(exclusive: boolean): boolean {
    return exclusive ? !this.#exclusive && this.#shared === 0 : !this.#exclusive;
  }

  #take(exclusive: boolean): void {
    if (exclusive) this.#exclusive = true;
    else this.#shared++;
  }

  #release(exclusive: boolean): void {
    if (exclusive) this.#exclusive = false;
    else this.#shared--;
    while (this.#queue.length > 0 && this.#grantable(this.#queue[0].exclusive)) {
      const next = this.#queue.shift()!;
      this.#take(next.exclusive);
      next.grant();
    }
  }
}
