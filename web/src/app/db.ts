/**
 * A thin promise wrapper over IndexedDB. Every call is its own transaction: IndexedDB commits a
 * transaction as soon as it is idle, so one cannot span an `await` on anything else (crypto, fetch).
 * Callers that must read, compute and write atomically serialise themselves (see `Mutex`).
 */

function done<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error("IndexedDB request failed"));
  });
}

/** What a database's stores are, applied on first open. */
export type Upgrade = (db: IDBDatabase) => void;

export class Db {
  private constructor(private readonly db: IDBDatabase) {}

  static open(name: string, version: number, upgrade: Upgrade): Promise<Db> {
    const request = indexedDB.open(name, version);
    request.onupgradeneeded = () => upgrade(request.result);
    return done(request).then((db) => new Db(db));
  }

  static remove(name: string): Promise<void> {
    return done(indexedDB.deleteDatabase(name)).then(() => undefined);
  }

  close(): void {
    this.db.close();
  }

  #store(name: string, mode: IDBTransactionMode): IDBObjectStore {
    return this.db.transaction(name, mode).objectStore(name);
  }

  get<T>(store: string, key: IDBValidKey): Promise<T | undefined> {
    return done(this.#store(store, "readonly").get(key)) as Promise<T | undefined>;
  }

  async put(store: string, value: unknown, key?: IDBValidKey): Promise<void> {
    await done(this.#store(store, "readwrite").put(value, key));
  }

  async delete(store: string, key: IDBValidKey): Promise<void> {
    await done(this.#store(store, "readwrite").delete(key));
  }

  /** Every value of `store`, or of its `index` within `range`, in key order. */
  all<T>(store: string, index?: string, range?: IDBKeyRange): Promise<T[]> {
    const source = this.#store(store, "readonly");
    const target = index === undefined ? source : source.index(index);
    return done(target.getAll(range)) as Promise<T[]>;
  }

  /** Writes several values to several stores in one transaction: all land or none. */
  async batch(writes: readonly Write[]): Promise<void> {
    const names = [...new Set(writes.map((w) => w.store))];
    const tx = this.db.transaction(names, "readwrite");
    for (const write of writes) tx.objectStore(write.store).put(write.value, write.key);
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
      tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
    });
  }
}

/** One value to put in one store (under `key` for a store without a key path). */
export interface Write {
  readonly store: string;
  readonly value: unknown;
  readonly key?: IDBValidKey;
}

/** Runs async sections one at a time, in call order. */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(section: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(section, section);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
