// Reminders by Web Push on this phone: subscribe with the server's VAPID key, register the subscription as a
// device (POST devices/, platform webpush), and undo both. The service worker (sw.js) shows the reminders and
// acts on their "Applied" and "Snooze" buttons; this module sets the subscription up, and asks the server for a
// test push to this phone (POST devices/{id}/test/).

import { anonymous, api, ApiError } from "./api.js";
import { kv } from "./idb.js";

const PUSH_KEY = "push"; // {device, endpoint, key}: the device id the server gave this subscription

export function pushSupported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

function keyBytes(base64url) {
  const padded = base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (base64url.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (char) => char.charCodeAt(0));
}

function sameKey(subscription, key) {
  const current = subscription.options?.applicationServerKey;
  if (!current) return true; // the browser does not say: trust the record we kept
  const wanted = keyBytes(key);
  const have = new Uint8Array(current);
  return have.length === wanted.length && have.every((byte, index) => byte === wanted[index]);
}

/** Where this phone stands: "unsupported", "denied", "unavailable" (no key on the server), "on" or "off". */
export async function pushStatus() {
  if (!pushSupported()) return "unsupported";
  if (Notification.permission === "denied") return "denied";
  const registration = await navigator.serviceWorker.getRegistration("/app/");
  const subscription = registration ? await registration.pushManager.getSubscription() : null;
  const kept = await kv.get(PUSH_KEY);
  return subscription && kept && kept.endpoint === subscription.endpoint ? "on" : "off";
}

/** Ask for permission, subscribe with the server's key, and register the subscription. Answers the new status. */
export async function turnOn() {
  const permission = await Notification.requestPermission();
  if (permission !== "granted") return permission === "denied" ? "denied" : "off";
  let key;
  try {
    ({ public_key: key } = await anonymous("GET", "push/vapid-public-key/"));
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return "unavailable";
    throw error;
  }
  const registration = await navigator.serviceWorker.ready;
  let subscription = await registration.pushManager.getSubscription();
  if (subscription && !sameKey(subscription, key)) {
    await subscription.unsubscribe(); // made with a key the server no longer signs with: it would stay silent
    subscription = null;
  }
  if (!subscription) {
    subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
  }
  const device = await api("POST", "devices/", { platform: "webpush", token: subscription.toJSON() });
  await kv.set(PUSH_KEY, { device: device.id, endpoint: subscription.endpoint, key });
  return "on";
}

/** Stop push to this phone: the server forgets the device, the browser the subscription. */
export async function turnOff() {
  const kept = await kv.get(PUSH_KEY);
  if (kept?.device) {
    try {
      await api("DELETE", `devices/${kept.device}/`);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error; // already gone is fine
    }
  }
  await kv.delete(PUSH_KEY);
  const registration = await navigator.serviceWorker.getRegistration("/app/");
  const subscription = registration ? await registration.pushManager.getSubscription() : null;
  if (subscription) await subscription.unsubscribe();
  return "off";
}

/** Ask the server to push a test reminder to this phone: "sent", or "refused" (the server no longer has this
 * device, or cannot push to it now). Network trouble throws. */
export async function sendTest() {
  const kept = await kv.get(PUSH_KEY);
  if (!kept?.device) return "refused";
  try {
    await api("POST", `devices/${kept.device}/test/`);
    return "sent";
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 409)) return "refused";
    throw error;
  }
}

/** Ask the service worker to send what a notification's button could not (offline): snoozes and acknowledgements. */
export function flushNotificationActions() {
  navigator.serviceWorker?.controller?.postMessage({ type: "flush-outbox" });
}
