// The service worker, served at /app/sw.js (scope /app/) by web/views.py, which puts two constants above
// this file: RELEASE (a digest of the app's files) and SHELL (the URLs of the app shell to keep).
//
// The shell comes from the cache, so the app opens with no network and loads at once on a second visit; a
// new release is a new sw.js (it is never cached by the browser without asking), which fetches the new shell
// into a cache of its own and drops the old one. The API is never cached here: its answers are no-store
// patient data, and logs made offline wait in IndexedDB, not in this worker.

/* global RELEASE, SHELL */
const CACHE = `tacro-shell-${RELEASE}`;
const SHELL_PATHS = new Set(SHELL);

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((url) => new Request(url, { cache: "reload" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((key) => key.startsWith("tacro-shell-") && key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith("/api/")) return;
  // The app shell for any navigation within the scope (the route is after the #, never sent).
  const path = request.mode === "navigate" && url.pathname === "/app/" ? "/app/" : url.pathname;
  if (!SHELL_PATHS.has(path)) return;
  event.respondWith(
    caches.open(CACHE).then((cache) =>
      cache.match(path).then((cached) => cached || fetch(request).then((response) => {
        if (response.ok) cache.put(path, response.clone());
        return response;
      })),
    ),
  );
});

// --- Reminders (Web Push) ------------------------------------------------------------------------------------
//
// A push is a reminder: {notification_id, occurrence_id, collapse_key, kind, title, body, patient_id,
// regimen_id?}. The server's title and body name no drug but are in the account's language; the notification
// shows the app's own words by kind, in the language the app last used (i18n/*.json, "push.*"), never a drug's
// name. A test push ("send me a test", kind "test") opens More. A dose reminder has two
// buttons that work without opening the app:
//   "Applied": the dose is logged now with the regimen's areas. It goes into the app's IndexedDB queue first
//              (with its own UUID), then POST patients/{id}/sync/; offline it stays queued and the app, or
//              Background Sync, sends it later. A replay is stored once. The reminder is then acknowledged.
//   "Snooze":  POST notifications/{id}/snooze/; offline it waits in the outbox (kv "outbox") and is sent later.
// The session is the app's (IndexedDB kv "session"); an expired access token is refreshed under the same Web
// Lock as the app's, so the worker and a tab never both use one refresh token.

const API = "/api/v1/";
const SNOOZE_MINUTES = 15;
const DOSE_KINDS = ["dose", "dose_follow_up"];
const ROUTES_BY_KIND = {
  dose: "today", dose_follow_up: "today", poem: "poem", skin_check: "skin-check", test: "more",
};

function idb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open("tacro-topical", 1); // the app's database (idb.js), same stores
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

async function stored(store, mode, work) {
  const db = await idb();
  return new Promise((resolve, reject) => {
    const transaction = db.transaction(store, mode);
    const request = work(transaction.objectStore(store));
    transaction.oncomplete = () => {
      db.close();
      resolve(request ? request.result : undefined);
    };
    transaction.onerror = () => reject(transaction.error);
  });
}

const kvGet = (key) => stored("kv", "readonly", (store) => store.get(key));
const kvSet = (key, value) => stored("kv", "readwrite", (store) => store.put(value, key));
const queuePut = (item) => stored("queue", "readwrite", (store) => store.put(item));
const queueDelete = (id) => stored("queue", "readwrite", (store) => store.delete(id));
const queueAll = () => stored("queue", "readonly", (store) => store.getAll());

let catalogue = null;
async function messages() {
  const language = (await kvGet("language")) || "en";
  if (!catalogue || catalogue.language !== language) {
    const url = `/static/web/i18n/${language}.json`;
    const cached = await caches.match(url);
    const entries = await (cached || (await fetch(url))).json();
    catalogue = { language, entries, dir: language === "ar" ? "rtl" : "ltr" };
  }
  return catalogue;
}

function say(text, vars = {}) {
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in vars ? String(vars[name]) : match));
}

/** The reminder's words by kind, for a caregiver with the child's name: never the drug's name. */
async function wording(payload) {
  const { entries, language, dir } = await messages();
  const me = await kvGet("me");
  const patient = (me?.patients || []).find((candidate) => candidate.id === payload.patient_id);
  const kind = entries[`push.title.${payload.kind}`] ? payload.kind : "other";
  const child = me?.role === "caregiver" && patient ? ".child" : "";
  const vars = { name: patient?.first_name || "" };
  return {
    title: say(entries[`push.title.${kind}${child}`] || entries[`push.title.${kind}`], vars),
    body: say(entries[`push.body.${kind}${child}`] || entries[`push.body.${kind}`] || "", vars),
    entries,
    language,
    dir,
  };
}

/** Show a reminder. Also called with a payload by the tests (a real push needs a push service). */
async function showReminder(payload) {
  const words = await wording(payload);
  const actions = DOSE_KINDS.includes(payload.kind) && payload.regimen_id
    ? [
      { action: "applied", title: words.entries["push.action.applied"] },
      { action: "snooze", title: say(words.entries["push.action.snooze"], { minutes: SNOOZE_MINUTES }) },
    ]
    : [];
  await self.registration.showNotification(words.title, {
    body: words.body,
    tag: payload.collapse_key || payload.occurrence_id,
    lang: words.language,
    dir: words.dir,
    icon: "/static/web/icons/icon-192.png",
    actions,
    data: {
      notification_id: payload.notification_id,
      patient_id: payload.patient_id,
      regimen_id: payload.regimen_id,
      kind: payload.kind,
    },
  });
}

self.addEventListener("push", (event) => {
  let payload = {};
  try {
    payload = event.data ? event.data.json() : {};
  } catch {
    payload = {};
  }
  event.waitUntil(showReminder(payload));
});

// --- Calling the API as the signed-in user ---

class SwOffline extends Error {}
class SwSignIn extends Error {}

function tokenExpiresSoon(token) {
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return payload.exp * 1000 < Date.now() + 30_000;
  } catch {
    return true;
  }
}

async function send(method, path, body, access) {
  const headers = { Accept: "application/json", "Accept-Language": (await kvGet("language")) || "en" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (access) headers.Authorization = `Bearer ${access}`;
  try {
    return await fetch(API + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "omit", cache: "no-store",
    });
  } catch {
    throw new SwOffline();
  }
}

function refreshSession(stale) {
  const work = async () => {
    const current = await kvGet("session");
    if (!current) return null;
    if (current.refresh !== stale.refresh) return current; // a tab rotated it meanwhile
    const response = await send("POST", "auth/token/refresh/", { refresh: current.refresh });
    if (response.ok) {
      const pair = await response.json();
      const next = { ...current, access: pair.access, refresh: pair.refresh };
      await kvSet("session", next);
      return next;
    }
    if (response.status === 400 || response.status === 401) {
      await stored("kv", "readwrite", (store) => store.delete("session"));
      return null;
    }
    throw new SwOffline(); // 429, 5xx: the session may still be good; try later
  };
  return navigator.locks ? navigator.locks.request("tacro-topical-refresh", work) : work();
}

async function call(method, path, body) {
  let session = await kvGet("session");
  if (!session) throw new SwSignIn();
  if (tokenExpiresSoon(session.access)) session = await refreshSession(session);
  if (!session) throw new SwSignIn();
  let response = await send(method, path, body, session.access);
  if (response.status === 401) {
    session = await refreshSession(session);
    if (!session) throw new SwSignIn();
    response = await send(method, path, body, session.access);
  }
  if (response.status === 401) throw new SwSignIn();
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { detail: text };
  }
  return { status: response.status, ok: response.ok, body: parsed };
}

// --- Acting on a reminder ---

async function tellTheApp() {
  for (const client of await self.clients.matchAll({ type: "window" })) client.postMessage({ type: "queue-changed" });
}

async function regimenAreas(patient, regimen) {
  const cachedPage = await kvGet(`get:patients/${patient}/regimens/`); // kept by the Today screen
  const known = cachedPage?.results?.find((candidate) => candidate.id === regimen);
  if (known) return known.body_areas;
  const answer = await call("GET", `patients/${patient}/regimens/${regimen}/`);
  return answer.ok ? answer.body.body_areas : null;
}

/** Log the dose now: queued first, then sent; then acknowledge the reminder. Answers "sent" or "waiting". */
async function logDose(data) {
  const session = await kvGet("session");
  if (!session) throw new SwSignIn();
  const areas = await regimenAreas(data.patient_id, data.regimen_id);
  if (!areas || !areas.length) throw new SwOffline();
  const entry = { id: crypto.randomUUID(), applied_at: new Date().toISOString(), regimen: data.regimen_id, body_areas: areas };
  await queuePut({ id: entry.id, kind: "applications", patient: data.patient_id, owner: session.email, body: entry,
    state: "waiting", queuedAt: new Date().toISOString() });
  await tellTheApp();
  await outboxAdd({ type: "ack", notification: data.notification_id });
  try {
    await flushOutbox();
  } catch (error) {
    if (!(error instanceof SwOffline)) throw error;
    await laterOnline(); // it is on this phone: sent when the network is back
  }
  return (await queueAll()).some((item) => item.id === entry.id) ? "waiting" : "sent";
}

async function outboxAdd(action) {
  const outbox = (await kvGet("outbox")) || [];
  outbox.push({ ...action, id: crypto.randomUUID(), at: new Date().toISOString() });
  await kvSet("outbox", outbox);
}

/**
 * Send what a notification's buttons left waiting: the queued logs of the signed-in account (created or
 * duplicate leave the queue; anything else stays for the app, which shows it), then snoozes and acks.
 * One flush at a time across the worker and the tabs (Web Locks).
 */
function flushOutbox() {
  const work = async () => {
    const session = await kvGet("session");
    if (!session) return;
    let changed = false;
    const mine = (await queueAll()).filter((item) => item.state === "waiting" && item.owner === session.email);
    const byPatient = new Map();
    for (const item of mine) byPatient.set(item.patient, [...(byPatient.get(item.patient) || []), item]);
    for (const [patient, items] of byPatient) {
      const batch = {};
      for (const item of items) (batch[item.kind] ||= []).push(item.body);
      const answer = await call("POST", `patients/${patient}/sync/`, batch);
      if (!answer.ok) continue;
      for (const kind of Object.keys(batch)) {
        const sent = items.filter((item) => item.kind === kind);
        for (const [index, result] of (answer.body[kind] || []).entries()) {
          if (result.status === "created" || result.status === "duplicate") {
            await queueDelete(sent[index].id);
            changed = true;
          }
        }
      }
    }
    let outbox = (await kvGet("outbox")) || [];
    for (const action of [...outbox]) {
      const path = `notifications/${action.notification}/${action.type}/`;
      const answer = await call("POST", path, action.type === "snooze" ? { minutes: action.minutes } : undefined);
      // Done, or never to be done (404: not this account's, 400): either way it leaves the outbox.
      if (answer.ok || (answer.status >= 400 && answer.status < 500 && answer.status !== 429)) {
        outbox = ((await kvGet("outbox")) || []).filter((kept) => kept.id !== action.id);
        await kvSet("outbox", outbox);
        changed = true;
      }
    }
    if (changed) await tellTheApp();
  };
  return navigator.locks ? navigator.locks.request("tacro-topical-outbox", work) : work();
}

async function laterOnline() {
  try {
    await self.registration.sync?.register("tacro-outbox"); // Background Sync where the browser has it
  } catch {
    // Not offered (or not allowed): the app sends it when next opened.
  }
}

async function openApp(route) {
  const url = `/app/#/${route}`;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const existing = windows.find((client) => new URL(client.url).pathname.startsWith("/app/"));
  if (existing) {
    await existing.focus();
    return existing.navigate ? existing.navigate(url).catch(() => null) : null;
  }
  return self.clients.openWindow(url);
}

async function confirm(key, data, vars = {}) {
  const { entries, language, dir } = await messages();
  await self.registration.showNotification(entries[`push.${key}.title`], {
    body: say(entries[`push.${key}.body`], vars),
    tag: `${data.notification_id}-${key}`,
    lang: language,
    dir,
    icon: "/static/web/icons/icon-192.png",
    silent: true,
    data: { ...data, kind: "confirmation" },
  });
}

/** A reminder's button, or the reminder itself, was clicked. Also called by the tests with a notification. */
async function handleNotificationClick(notification, action) {
  const data = notification.data || {};
  notification.close();
  if (data.kind === "confirmation") return openApp("today");
  if (action === "applied") {
    try {
      const outcome = await logDose(data);
      return confirm(outcome === "sent" ? "logged" : "logged_waiting", data);
    } catch (error) {
      if (error instanceof SwOffline) {
        await laterOnline();
        return confirm("log_failed", data);
      }
      return openApp("sign-in");
    }
  }
  if (action === "snooze") {
    await outboxAdd({ type: "snooze", notification: data.notification_id, minutes: SNOOZE_MINUTES });
    try {
      await flushOutbox();
      return confirm("snoozed", data, { minutes: SNOOZE_MINUTES });
    } catch (error) {
      if (error instanceof SwOffline) {
        await laterOnline();
        return confirm("snoozed", data, { minutes: SNOOZE_MINUTES });
      }
      return openApp("sign-in");
    }
  }
  return openApp(ROUTES_BY_KIND[data.kind] || "inbox");
}

self.addEventListener("notificationclick", (event) => {
  event.waitUntil(handleNotificationClick(event.notification, event.action));
});

self.addEventListener("sync", (event) => {
  if (event.tag === "tacro-outbox") event.waitUntil(flushOutbox());
});

self.addEventListener("message", (event) => {
  if (event.data?.type === "flush-outbox") event.waitUntil(flushOutbox().catch(() => null));
});
