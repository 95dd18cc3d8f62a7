// A few lines over IndexedDB: one database, three stores.
//   kv:      the session (tokens), the last answers needed to open the app offline (me, regimens)
//   queue:   every log the user saved, until the server has it (keyed by the log's own UUID)
//   notices: what the server kept when a replay conflicted (shown until the user dismisses it)
// Stored on this device only, and cleared on sign-out (except entries still waiting to be sent).

const DB_NAME = "tacro-topical";
const DB_VERSION = 1;
let opening = null;

function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains("kv")) db.createObjectStore("kv");
        if (!db.objectStoreNames.contains("queue")) db.createObjectStore("queue", { keyPath: "id" });
        if (!db.objectStoreNames.contains("notices")) db.createObjectStore("notices", { keyPath: "id" });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  return opening;
}

function run(store, mode, work) {
  return open().then(
    (db) =>
      new Promise((resolve, reject) => {
        const transaction = db.transaction(store, mode);
        const request = work(transaction.objectStore(store));
        transaction.oncomplete = () => resolve(request ? request.result : undefined);
        transaction.onerror = () => reject(transaction.error);
        transaction.onabort = () => reject(transaction.error);
      }),
  );
}

export const kv = {
  get: (key) => run("kv", "readonly", (store) => store.get(key)),
  set: (key, value) => run("kv", "readwrite", (store) => store.put(value, key)),
  delete: (key) => run("kv", "readwrite", (store) => store.delete(key)),
  clear: () => run("kv", "readwrite", (store) => store.clear()),
};

export function table(name) {
  return {
    all: () => run(name, "readonly", (store) => store.getAll()),
    get: (id) => run(name, "readonly", (store) => store.get(id)),
    put: (value) => run(name, "readwrite", (store) => store.put(value)),
    delete: (id) => run(name, "readwrite", (store) => store.delete(id)),
    clear: () => run(name, "readwrite", (store) => store.clear()),
  };
}
