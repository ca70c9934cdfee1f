/** A small key-value store over one IndexedDB object store; each call is one transaction. */
export class IdbStore {
  private db: Promise<IDBDatabase> | undefined;

  constructor(
    private readonly dbName: string,
    private readonly storeName: string,
  ) {}

  async get<T>(key: string): Promise<T | undefined> {
    const request = (await this.transaction('readonly')).get(key);
    return (await done(request)) as T | undefined;
  }

  async put(key: string, value: unknown): Promise<void> {
    await done((await this.transaction('readwrite')).put(value, key));
  }

  async delete(key: string): Promise<void> {
    await done((await this.transaction('readwrite')).delete(key));
  }

  private async transaction(mode: IDBTransactionMode): Promise<IDBObjectStore> {
    this.db ??= new Promise((resolve, reject) => {
      const request = indexedDB.open(this.dbName, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(this.storeName);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(new Error(`cannot open IndexedDB ${this.dbName}: ${String(request.error)}`));
    });
    return (await this.db).transaction(this.storeName, mode).objectStore(this.storeName);
  }
}

function done<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(new Error(`IndexedDB request failed: ${String(request.error)}`));
  });
}
