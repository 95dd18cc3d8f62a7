// The public API, /api/v1/, with JWT: a short access token and a refresh token that works once.
//
// Where the tokens live: IndexedDB on this device. An installed PWA must stay signed in across restarts and
// its service worker must be able to read them, which rules out memory-only storage; an HttpOnly cookie is
// not what the API offers (it answers tokens in JSON). The trade-off: a script running on this origin could
// read them. The strict CSP (our own scripts only, nothing inline, no other host) is what keeps foreign
// script off this origin; refresh tokens work once and a reused one ends the whole session, and signing out
// revokes the session on the server and deletes the tokens here.

import { kv } from "./idb.js";
import { language } from "./i18n.js";

const BASE = "/api/v1/";
const SESSION_KEY = "session";
const LAST_EMAIL_KEY = "last-email";
const EARLY_REFRESH_SECONDS = 30;

/** The API answered with an error; `body` is its JSON (field errors, or {detail}). */
export class ApiError extends Error {
  constructor(status, body) {
    super(`API ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

/** No network (or the server could not be reached): what was saved stays queued on the device. */
export class Offline extends Error {}

/** The session ended (expired, revoked, signed out elsewhere): the user must sign in again. */
export class SignInNeeded extends Error {}

export async function loadSession() {
  return (await kv.get(SESSION_KEY)) || null;
}

async function saveSession(session) {
  await kv.set(SESSION_KEY, session);
}

export async function endLocalSession() {
  // Who it was stays known: the sign-in screen offers the address, and the entries this person left
  // waiting are counted and kept for them until they sign in again.
  const ended = await loadSession();
  if (ended?.email) await kv.set(LAST_EMAIL_KEY, ended.email);
  await kv.delete(SESSION_KEY);
}

/** The address of the session that ended last on this device (or null). */
export async function lastEmail() {
  return (await kv.get(LAST_EMAIL_KEY)) || null;
}

function expiresSoon(token) {
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return payload.exp * 1000 < Date.now() + EARLY_REFRESH_SECONDS * 1000;
  } catch {
    return true;
  }
}

async function send(method, path, body, access) {
  const headers = { Accept: "application/json", "Accept-Language": language() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (access) headers.Authorization = `Bearer ${access}`;
  try {
    // credentials: "omit": a clinician's admin session cookie in the same browser must never speak for the app.
    return await fetch(path.startsWith("/") ? path : BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new Offline();
  }
}

async function answer(response) {
  if (response.status === 204 || response.status === 205) return null;
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { detail: text };
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

// One refresh at a time, across every tab and the service worker (Web Locks): refresh tokens rotate, and
// two tabs sending the same one would look like a stolen token to the server, which then ends the session.
let refreshing = null;

function refresh(stale) {
  if (!refreshing) {
    const work = async () => {
      const current = await loadSession();
      if (!current) return null;
      if (current.refresh !== stale.refresh) return current; // another tab rotated it meanwhile
      const response = await send("POST", "auth/token/refresh/", { refresh: current.refresh });
      if (response.ok) {
        const pair = await response.json();
        const next = { ...current, access: pair.access, refresh: pair.refresh };
        await saveSession(next);
        return next;
      }
      if (response.status === 400 || response.status === 401) {
        await endLocalSession();
        return null;
      }
      return answer(response); // throws: 429, 503 ... the session may still be good
    };
    const locked = navigator.locks ? navigator.locks.request("tacro-topical-refresh", work) : work();
    refreshing = locked.finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/** A call as the signed-in user: refreshes the access token when needed, once, and retries once. */
export async function api(method, path, body) {
  let session = await loadSession();
  if (!session) throw new SignInNeeded();
  if (expiresSoon(session.access)) {
    session = await refresh(session);
    if (!session) throw new SignInNeeded();
  }
  let response = await send(method, path, body, session.access);
  if (response.status === 401) {
    session = await refresh(session);
    if (!session) throw new SignInNeeded();
    response = await send(method, path, body, session.access);
    if (response.status === 401) {
      await endLocalSession();
      throw new SignInNeeded();
    }
  }
  return answer(response);
}

/** A call that needs no credentials (sign-in, register, password reset, e-mail confirmation). */
export async function anonymous(method, path, body) {
  return answer(await send(method, path, body));
}

export async function signIn(email, password) {
  const pair = await anonymous("POST", "auth/token/", { email, password });
  await saveSession({ access: pair.access, refresh: pair.refresh, email });
}

/** Revoke this session on the server, then forget it here (even if the server cannot be reached). */
export async function signOut() {
  const session = await loadSession();
  try {
    if (session) await anonymous("POST", "auth/logout/", { refresh: session.refresh });
  } finally {
    await endLocalSession();
  }
}

/** Every page of a list (cursor pagination), following `next`. */
export async function allPages(path, limit = 20) {
  const results = [];
  let next = path;
  for (let page = 0; next && page < limit; page += 1) {
    const body = await api("GET", next);
    results.push(...body.results);
    const url = body.next ? new URL(body.next, location.origin) : null;
    next = url ? url.pathname + url.search : null;
  }
  return results;
}
